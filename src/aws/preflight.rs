//! The preflight's calls, none with effect: EC2 with `DryRun=true` (its answer
//! `DryRunOperation` means allowed), one-item reads where a service has no DryRun, the
//! topic's attributes instead of a publish, and the bucket's steps on the one test
//! object. Every answer is turned into the core's plain data, errors keeping AWS's code.

use anyhow::anyhow;
use aws_sdk_ec2::types::{
    ImageAttributeName, LaunchPermission, LaunchPermissionModifications, ResourceType, Tag, TagSpecification,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use chrono::{DateTime, Duration, Utc};

use super::{Clients, error_code, error_text};
use crate::core::create::{PERIOD_TAG, period_label, period_of};
use crate::core::preflight::{Answer, Identity, Permission, Refusal, S3Refusal};
use crate::core::retire::STAGE_TAG;

/// EC2's answer to a DryRun request the caller may make.
const DRY_RUN_OPERATION: &str = "DryRunOperation";

/// What a permission is asked about and with (the configuration's own values, so EC2
/// judges the request the phases will send).
#[derive(Clone, Copy)]
pub struct Ask<'a> {
    pub image_id: &'a str,
    pub snapshot_id: &'a str,
    pub now: DateTime<Utc>,
    pub resource_types: &'a [String],
    pub version_depth: u32,
    pub account_ids: &'a [String],
    pub delete_snapshots: bool,
    /// The caller's account: the launch permission a dry-run ModifyImageAttribute adds.
    pub own_account: &'a str,
}

fn refusal<E, R>(e: &SdkError<E, R>) -> Refusal
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    Refusal::new(error_code(e), error_text(e))
}

fn dry_run_answer<T, E, R>(result: Result<T, SdkError<E, R>>) -> Answer
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Answer::Succeeded,
        Err(e) if error_code(&e) == Some(DRY_RUN_OPERATION) => Answer::Allowed,
        Err(e) => Answer::Refused(refusal(&e)),
    }
}

/// An error the product's own edges made (`<action> failed: <Code>: <message>`, see
/// [`error_text`]) as a refusal with its code, for the reads preflight shares with the
/// phases.
pub fn refusal_of(e: &anyhow::Error) -> Refusal {
    let text = format!("{e:#}");
    let code = text.split_once(" failed: ").and_then(|(_, rest)| rest.split_once(": ")).map(|(code, _)| code);
    let code = code.filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '.'));
    Refusal::new(code, text.clone())
}

/// `sts:GetCallerIdentity`: needs no permission, so it tests the credentials alone.
pub async fn identity(clients: &Clients) -> Result<Identity, Refusal> {
    let me = clients.sts.get_caller_identity().send().await.map_err(|e| refusal(&e))?;
    match (me.account(), me.arn()) {
        (Some(account), Some(arn)) if !account.is_empty() => Ok(Identity { account: account.into(), arn: arn.into() }),
        _ => Err(Refusal::new(None, "sts:GetCallerIdentity returned no account id")),
    }
}

/// Asks for one permission without effect.
pub async fn ask(clients: &Clients, p: Permission, a: &Ask<'_>) -> Answer {
    let ec2 = &clients.ec2;
    let image = a.image_id;
    match p {
        Permission::CreateImageUsageReport => {
            let tags = TagSpecification::builder()
                .resource_type(ResourceType::ImageUsageReport)
                .tags(Tag::builder().key(PERIOD_TAG).value(period_label(period_of(a.now))).build())
                .build();
            let types = a.resource_types.iter().map(|t| super::ec2::resource_type_request(t, a.version_depth));
            let req = ec2
                .create_image_usage_report()
                .dry_run(true)
                .image_id(image)
                .set_resource_types(Some(types.collect()))
                .set_account_ids((!a.account_ids.is_empty()).then(|| a.account_ids.to_vec()))
                .tag_specifications(tags);
            dry_run_answer(req.send().await)
        }
        Permission::DescribeImageUsageReports => {
            dry_run_answer(ec2.describe_image_usage_reports().dry_run(true).send().await)
        }
        Permission::DescribeImageUsageReportEntries => {
            dry_run_answer(ec2.describe_image_usage_report_entries().dry_run(true).send().await)
        }
        Permission::DescribeImageReferences => dry_run_answer(
            ec2.describe_image_references()
                .dry_run(true)
                .image_ids(image)
                .include_all_resource_types(true)
                .send()
                .await,
        ),
        Permission::DescribeImageAttribute => dry_run_answer(
            ec2.describe_image_attribute()
                .dry_run(true)
                .image_id(image)
                .attribute(ImageAttributeName::LastLaunchedTime)
                .send()
                .await,
        ),
        Permission::DescribeSpotFleetRequests => {
            dry_run_answer(ec2.describe_spot_fleet_requests().dry_run(true).send().await)
        }
        Permission::DescribeFleets => dry_run_answer(ec2.describe_fleets().dry_run(true).send().await),
        Permission::DescribeLaunchConfigurations => {
            // Auto Scaling has no DryRun: one item of a read.
            match clients.autoscaling.describe_launch_configurations().max_records(1).send().await {
                Ok(_) => Answer::Succeeded,
                Err(e) => Answer::Refused(refusal(&e)),
            }
        }
        _ => ask_retirement(clients, p, a).await,
    }
}

async fn ask_retirement(clients: &Clients, p: Permission, a: &Ask<'_>) -> Answer {
    let ec2 = &clients.ec2;
    let image = a.image_id;
    let stage = || Tag::builder().key(STAGE_TAG);
    match p {
        Permission::EnableImageDeprecation => {
            let at = aws_smithy_types::DateTime::from_secs((a.now + Duration::days(30)).timestamp());
            dry_run_answer(ec2.enable_image_deprecation().dry_run(true).image_id(image).deprecate_at(at).send().await)
        }
        Permission::DisableImageDeprecation => {
            dry_run_answer(ec2.disable_image_deprecation().dry_run(true).image_id(image).send().await)
        }
        Permission::DisableImage => dry_run_answer(ec2.disable_image().dry_run(true).image_id(image).send().await),
        Permission::EnableImage => dry_run_answer(ec2.enable_image().dry_run(true).image_id(image).send().await),
        Permission::DeregisterImage => dry_run_answer(
            ec2.deregister_image()
                .dry_run(true)
                .image_id(image)
                .delete_associated_snapshots(a.delete_snapshots)
                .send()
                .await,
        ),
        Permission::TagStage => dry_run_answer(
            ec2.create_tags().dry_run(true).resources(image).tags(stage().value("preflight").build()).send().await,
        ),
        Permission::UntagStage => {
            dry_run_answer(ec2.delete_tags().dry_run(true).resources(image).tags(stage().build()).send().await)
        }
        Permission::DeleteSnapshot => {
            dry_run_answer(ec2.delete_snapshot().dry_run(true).snapshot_id(a.snapshot_id).send().await)
        }
        Permission::ModifyImageAttribute => {
            let add = LaunchPermission::builder().user_id(a.own_account).build();
            let change = LaunchPermissionModifications::builder().add(add).build();
            dry_run_answer(
                ec2.modify_image_attribute().dry_run(true).image_id(image).launch_permission(change).send().await,
            )
        }
        Permission::DescribeSnapshots => {
            dry_run_answer(ec2.describe_snapshots().dry_run(true).owner_ids("self").max_results(5).send().await)
        }
        Permission::ListImagesInRecycleBin => {
            dry_run_answer(ec2.list_images_in_recycle_bin().dry_run(true).max_results(5).send().await)
        }
        other => Answer::Refused(Refusal::new(None, format!("{} is not a retirement call", other.action()))),
    }
}

/// `sns:GetTopicAttributes`: the topic exists and is within reach; nothing is sent.
pub async fn topic(clients: &Clients, arn: &str) -> Result<(), Refusal> {
    clients.sns.get_topic_attributes().topic_arn(arn).send().await.map(drop).map_err(|e| refusal(&e))
}

/// One `ce:GetReservationUtilization` call over the last 7 days (USD 0.01).
pub async fn reservations(clients: &Clients, now: DateTime<Utc>) -> Result<(), Refusal> {
    let [week, _] = crate::core::digest::ri_periods(now);
    let mut calls_left = 1;
    super::cost_explorer::reservation_utilization(&clients.cost_explorer(), &week, &mut calls_left)
        .await
        .map(drop)
        .map_err(|e| Refusal::new(e.code.as_deref(), e.text))
}

fn s3_refusal<E>(e: &SdkError<E, HttpResponse>) -> S3Refusal
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let response = e.raw_response();
    S3Refusal {
        refusal: refusal(e),
        status: response.map_or(0, |r| r.status().as_u16()),
        bucket_region_header: response.and_then(|r| r.headers().get("x-amz-bucket-region")).map(str::to_string),
        body: response
            .and_then(|r| r.body().bytes())
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default(),
    }
}

/// Lists one key under the archive prefix: ListBucket within the prefix, and the
/// bucket's Region (a request signed for another one is refused).
pub async fn list_prefix(clients: &Clients, bucket: &str, prefix: &str) -> Result<(), S3Refusal> {
    let req = clients.s3.list_objects_v2().bucket(bucket).prefix(format!("{prefix}/")).max_keys(1);
    req.send().await.map(drop).map_err(|e| s3_refusal(&e))
}

/// Writes the test object only if its key is absent; returns its ETag, if S3 sent one.
pub async fn put_test_object(
    clients: &Clients,
    bucket: &str,
    key: &str,
    body: String,
) -> Result<Option<String>, S3Refusal> {
    let req = clients.s3.put_object().bucket(bucket).key(key).if_none_match("*").content_type("text/plain");
    let out = req.body(ByteStream::from(body.into_bytes())).send().await.map_err(|e| s3_refusal(&e))?;
    Ok(out.e_tag().map(str::to_string))
}

/// Reads the test object back (GetObject, which collect's state read needs).
pub async fn get_test_object(clients: &Clients, bucket: &str, key: &str) -> Result<(), S3Refusal> {
    let out = clients.s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| s3_refusal(&e))?;
    out.body.collect().await.map(drop).map_err(|e| S3Refusal {
        refusal: Refusal::new(None, anyhow!("reading s3://{bucket}/{key} failed: {e}").to_string()),
        status: 200,
        bucket_region_header: None,
        body: String::new(),
    })
}

/// Deletes the test object only if it is still the one written (If-Match its ETag), or
/// without an ETag only if it exists (`If-Match: *`).
pub async fn delete_test_object(
    clients: &Clients,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
) -> Result<(), S3Refusal> {
    let req = clients.s3.delete_object().bucket(bucket).key(key).if_match(etag.unwrap_or("*"));
    req.send().await.map(drop).map_err(|e| s3_refusal(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_of_an_edge_error_is_read_back_only_when_it_is_one() {
        let denied = refusal_of(&anyhow!("rbin:ListRules failed: AccessDeniedException: not authorized"));
        assert_eq!(denied.code.as_deref(), Some("AccessDeniedException"));
        assert_eq!(denied.message, "rbin:ListRules failed: AccessDeniedException: not authorized");
        let dotted = refusal_of(&anyhow!("ec2:DescribeImages failed: InvalidAMIID.Malformed: bad"));
        assert_eq!(dotted.code.as_deref(), Some("InvalidAMIID.Malformed"));
        let transport = refusal_of(&anyhow!("ec2:DescribeImages failed: dispatch failure: io error: refused"));
        assert_eq!(transport.code, None);
        assert_eq!(refusal_of(&anyhow!("no AWS Region configured")).code, None);
    }
}
