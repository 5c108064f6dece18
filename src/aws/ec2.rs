//! EC2: the owner's AMIs and the image usage report API.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, anyhow};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, ImageUsageResourceTypeOptionRequest, ImageUsageResourceTypeRequest, ResourceType, Tag, TagSpecification,
};
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::{error_code, error_text};
use crate::core::create::CreateOutcome;
use crate::core::create::{PERIOD_TAG, TagFilters, period_label};
use crate::core::model::{
    Ami, BlockDevice, LaunchPermissions, Lifecycle, MalformedReport, ProductCode, REPORT_RESOURCE_TYPES,
    RESOURCE_TYPE_LAUNCH_TEMPLATE, ReportListing, ReportState, ResourceTypeOption, ResourceTypeSpec, Tags, UsageEntry,
    UsageReport,
};

/// DescribeImages accepts at most this many values in one filter.
const IMAGE_ID_BATCH: usize = 200;

fn filter(name: impl Into<String>, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    let mut f = Filter::builder().name(name);
    for v in values {
        f = f.values(v);
    }
    f.build()
}

pub(super) fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect()
}

pub(super) fn to_chrono(t: &aws_smithy_types::DateTime) -> anyhow::Result<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos()).ok_or_else(|| anyhow!("timestamp {t} is out of range"))
}

fn parse_ec2_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn ami_of(i: &aws_sdk_ec2::types::Image) -> Option<Ami> {
    let image_id = i.image_id()?.to_string();
    let usage_operation = i.usage_operation().map(str::to_string);
    Some(Ami {
        owner_id: i.owner_id().map(str::to_string),
        name: i.name().unwrap_or_default().to_string(),
        description: i.description().map(str::to_string),
        creation_date: i.creation_date().and_then(parse_ec2_time),
        state: i.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        architecture: i.architecture().map(|a| a.as_str().to_string()),
        platform_details: i.platform_details().map(str::to_string),
        billing_products: Ami::billing_products_of(usage_operation.as_deref()),
        usage_operation,
        tags: tags_of(i.tags()),
        product_codes: i
            .product_codes()
            .iter()
            .map(|c| ProductCode {
                product_code_id: c.product_code_id().unwrap_or_default().to_string(),
                product_code_type: c.product_code_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
            })
            .collect(),
        block_devices: i
            .block_device_mappings()
            .iter()
            .map(|m| BlockDevice {
                device_name: m.device_name().unwrap_or_default().to_string(),
                snapshot_id: m.ebs().and_then(|e| e.snapshot_id()).map(str::to_string),
                volume_size_gib: m.ebs().and_then(|e| e.volume_size()).map(i64::from),
            })
            .collect(),
        lifecycle: lifecycle_of(i),
        image_id,
    })
}

fn lifecycle_of(i: &aws_sdk_ec2::types::Image) -> Lifecycle {
    Lifecycle {
        last_launched: i.last_launched_time().and_then(parse_ec2_time),
        deregistration_protection: i.deregistration_protection().map(str::to_string),
        deprecation_time: i.deprecation_time().and_then(parse_ec2_time),
        image_allowed: i.image_allowed(),
        source_image_id: i.source_image_id().map(str::to_string),
    }
}

/// The AMIs this account owns that match the tag filters (server-side filtering; the
/// core re-checks the tags), disabled ones included.
pub async fn owned_images(ec2: &Client, filters: &TagFilters) -> anyhow::Result<Vec<Ami>> {
    // IncludeDisabled: a disabled AMI must keep its verdict (see `is_selectable_state`).
    let mut req = ec2.describe_images().owners("self").include_disabled(true);
    for f in &filters.0 {
        req = req.filters(filter(format!("tag:{}", f.key), f.values.clone()));
    }
    every_image(req).await
}

/// The AMIs this account owns that carry the tag `key` (any value), disabled ones included.
pub async fn tagged_images(ec2: &Client, key: &str) -> anyhow::Result<Vec<Ami>> {
    let req = ec2.describe_images().owners("self").include_disabled(true).filters(filter("tag-key", [key]));
    every_image(req).await
}

/// The owner's AMIs among `ids`; a deregistered AMI is simply absent (an `image-id`
/// filter, unlike ImageIds, does not fail the whole call for one missing id).
pub async fn images_by_id(ec2: &Client, ids: &BTreeSet<String>) -> anyhow::Result<BTreeMap<String, Ami>> {
    let ids: Vec<&String> = ids.iter().collect();
    let mut found = BTreeMap::new();
    for chunk in ids.chunks(IMAGE_ID_BATCH) {
        let mut pages = ec2
            .describe_images()
            .owners("self")
            .include_disabled(true)
            .filters(filter("image-id", chunk.iter().map(|s| s.as_str())))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| anyhow!("ec2:DescribeImages failed: {}", error_text(&e)))?;
            for ami in page.images().iter().filter_map(ami_of) {
                found.insert(ami.image_id.clone(), ami);
            }
        }
    }
    Ok(found)
}

pub struct CreateRequest<'a> {
    pub image_id: &'a str,
    pub client_token: &'a str,
    pub period: NaiveDate,
    pub version_depth: u32,
    pub account_ids: &'a [String],
    /// `REPORT_RESOURCE_TYPES` (validated against `core::model::REPORT_RESOURCE_TYPES`).
    pub resource_types: &'a [String],
}

pub(super) fn resource_type_request(resource_type: &str, version_depth: u32) -> ImageUsageResourceTypeRequest {
    let request = ImageUsageResourceTypeRequest::builder().resource_type(resource_type);
    if resource_type != RESOURCE_TYPE_LAUNCH_TEMPLATE {
        return request.build();
    }
    request
        .resource_type_options(
            ImageUsageResourceTypeOptionRequest::builder()
                .option_name("version-depth")
                .option_values(version_depth.to_string())
                .build(),
        )
        .build()
}

pub async fn create_report(ec2: &Client, r: &CreateRequest<'_>) -> CreateOutcome {
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::ImageUsageReport)
        .tags(Tag::builder().key(PERIOD_TAG).value(period_label(r.period)).build())
        .build();
    let mut req = ec2
        .create_image_usage_report()
        .image_id(r.image_id)
        .set_resource_types(Some(r.resource_types.iter().map(|t| resource_type_request(t, r.version_depth)).collect()))
        .client_token(r.client_token)
        .tag_specifications(tags);
    for a in r.account_ids {
        req = req.account_ids(a);
    }
    match req.send().await {
        Ok(out) => CreateOutcome::of_answer(out.report_id()),
        Err(e) => CreateOutcome::of_refusal(error_code(&e), error_text(&e), r.resource_types),
    }
}

fn report_of(r: &aws_sdk_ec2::types::ImageUsageReport) -> anyhow::Result<UsageReport> {
    let report_id = r.report_id().context("a report without ReportId")?.to_string();
    let missing = |field: &str| anyhow!("report {report_id} has no {field}");
    Ok(UsageReport {
        image_id: r.image_id().ok_or_else(|| missing("ImageId"))?.to_string(),
        state: ReportState::parse(r.state().ok_or_else(|| missing("State"))?),
        state_reason: r.state_reason().map(str::to_string),
        resource_types: r
            .resource_types()
            .iter()
            .map(|t| ResourceTypeSpec {
                resource_type: t.resource_type().unwrap_or_default().to_string(),
                options: t
                    .resource_type_options()
                    .iter()
                    .map(|o| ResourceTypeOption {
                        name: o.option_name().unwrap_or_default().to_string(),
                        values: o.option_values().to_vec(),
                    })
                    .collect(),
            })
            .collect(),
        account_ids: r.account_ids().to_vec(),
        creation_time: to_chrono(r.creation_time().ok_or_else(|| missing("CreationTime"))?)?,
        expiration_time: to_chrono(r.expiration_time().ok_or_else(|| missing("ExpirationTime"))?)?,
        tags: tags_of(r.tags()),
        report_id,
    })
}

async fn describe_reports(ec2: &Client, filters: Vec<Filter>) -> anyhow::Result<ReportListing> {
    let mut pages = ec2.describe_image_usage_reports().set_filters(Some(filters)).into_paginator().send();
    let mut listing = ReportListing::default();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("ec2:DescribeImageUsageReports failed: {}", error_text(&e)))?;
        for r in page.image_usage_reports() {
            match report_of(r) {
                Ok(report) => listing.reports.push(report),
                Err(e) => listing.malformed.push(MalformedReport {
                    report_id: r.report_id().map(str::to_string),
                    image_id: r.image_id().map(str::to_string),
                    problem: format!("ec2:DescribeImageUsageReports returned an unusable report: {e:#}"),
                }),
            }
        }
    }
    Ok(listing)
}

/// Every report this tool created that EC2 still holds (at most 30 days of them).
pub async fn our_reports(ec2: &Client) -> anyhow::Result<ReportListing> {
    describe_reports(ec2, vec![filter("tag-key", [PERIOD_TAG])]).await
}

/// Image ids that already have a report of ours in `period`; a malformed one counts
/// too when it names its image (creating another would only be refused or doubled).
pub async fn reported_in_period(ec2: &Client, period: NaiveDate) -> anyhow::Result<BTreeSet<String>> {
    let listing = describe_reports(ec2, vec![filter(format!("tag:{PERIOD_TAG}"), [period_label(period)])]).await?;
    let malformed = listing.malformed.into_iter().filter_map(|m| m.image_id);
    Ok(listing.reports.into_iter().map(|r| r.image_id).chain(malformed).collect())
}

/// Moves the SDK's strings into the entry rather than copying them: collect converts
/// every entry of every report.
fn entry_of(e: aws_sdk_ec2::types::ImageUsageReportEntry, report: &UsageReport) -> anyhow::Result<UsageEntry> {
    let account_id = e.account_id.context("an entry without AccountId")?;
    let resource_type = e.resource_type.context("an entry without ResourceType")?;
    let report_id = e.report_id.unwrap_or_else(|| report.report_id.clone());
    if report_id != report.report_id {
        anyhow::bail!("an entry of report {report_id} in the answer for report {}", report.report_id);
    }
    Ok(UsageEntry {
        report_id,
        image_id: e.image_id.unwrap_or_else(|| report.image_id.clone()),
        account_id,
        resource_type,
        usage_count: e.usage_count.context("an entry without UsageCount")?,
        report_creation_time: match e.report_creation_time {
            Some(t) => to_chrono(&t)?,
            None => report.creation_time,
        },
    })
}

/// A report's entries, one page at a time as EC2 returns them, so that the caller can
/// stream them on (to a gzip encoder and S3) with memory flat in the report's size.
pub fn entry_pages<'a>(ec2: &Client, report: &'a UsageReport) -> BoxStream<'a, anyhow::Result<Vec<UsageEntry>>> {
    let pages = ec2.describe_image_usage_report_entries().report_ids(&report.report_id).into_paginator().send();
    futures::stream::unfold(pages, move |mut pages| async move {
        let page = pages.next().await?.map_err(|e| {
            anyhow!("ec2:DescribeImageUsageReportEntries for {} failed: {}", report.report_id, error_text(&e))
        });
        let entries = page.and_then(|page| {
            page.image_usage_report_entries
                .unwrap_or_default()
                .into_iter()
                .map(|e| entry_of(e, report))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(|| {
                    format!("ec2:DescribeImageUsageReportEntries returned an unusable entry for {}", report.report_id)
                })
        });
        if let Ok(entries) = &entries {
            let unknown = unknown_resource_types(entries);
            if !unknown.is_empty() {
                tracing::warn!(
                    report_id = %report.report_id,
                    resource_types = ?unknown,
                    "entries of an unknown resource type: archived as EC2 returned them and counted in total_usage"
                );
            }
        }
        Some((entries, pages))
    })
    .boxed()
}

/// Resource types this version did not ask for. Their entries are still archived (the
/// archive is a faithful copy of the report) and count as usage, so an AMI used only
/// through a resource type added to EC2 later is never taken for unused.
fn unknown_resource_types(entries: &[UsageEntry]) -> BTreeSet<&str> {
    entries.iter().map(|e| e.resource_type.as_str()).filter(|t| !REPORT_RESOURCE_TYPES.contains(t)).collect()
}

/// The AMI's launch permissions (DescribeImageAttribute `launchPermission`, owner only).
pub async fn launch_permissions(ec2: &Client, image_id: &str) -> anyhow::Result<LaunchPermissions> {
    let answer = ec2
        .describe_image_attribute()
        .image_id(image_id)
        .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
        .send()
        .await
        .map_err(|e| anyhow!("ec2:DescribeImageAttribute launchPermission of {image_id} failed: {}", error_text(&e)))?;
    let mut out = LaunchPermissions::default();
    for p in answer.launch_permissions() {
        if let Some(id) = p.user_id() {
            out.accounts.push(id.to_string());
        }
        if let Some(arn) = p.organization_arn() {
            out.organizations.push(arn.to_string());
        }
        if let Some(arn) = p.organizational_unit_arn() {
            out.organizational_units.push(arn.to_string());
        }
        if p.group() == Some(&aws_sdk_ec2::types::PermissionGroup::All) {
            out.public = true;
        }
    }
    Ok(out)
}

/// Every page of a DescribeImages request, as the core's AMIs.
async fn every_image(
    req: aws_sdk_ec2::operation::describe_images::builders::DescribeImagesFluentBuilder,
) -> anyhow::Result<Vec<Ami>> {
    let mut pages = req.into_paginator().page_size(1000).send();
    let mut amis = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("ec2:DescribeImages failed: {}", error_text(&e)))?;
        amis.extend(page.images().iter().filter_map(ami_of));
    }
    Ok(amis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(resource_type: &str) -> UsageEntry {
        UsageEntry {
            report_id: "amiur-1".into(),
            image_id: "ami-1".into(),
            account_id: "111122223333".into(),
            resource_type: resource_type.into(),
            usage_count: 1,
            report_creation_time: DateTime::from_timestamp(0, 0).unwrap(),
        }
    }

    #[test]
    fn only_resource_types_not_requested_are_unknown() {
        let entries = [
            entry("ec2:Instance"),
            entry("ec2:LaunchTemplate"),
            entry("imagebuilder:ImageRecipe"),
            entry("imagebuilder:ContainerRecipe"),
            entry("ec2:SomethingNew"),
            entry("ec2:SomethingNew"),
        ];
        assert_eq!(unknown_resource_types(&entries).into_iter().collect::<Vec<_>>(), vec!["ec2:SomethingNew"]);
        assert!(unknown_resource_types(&entries[..4]).is_empty());
    }

    #[tokio::test]
    async fn launch_permissions_of_every_kind_are_read() {
        let fake = crate::aws::fake::Fake::new(aws_smithy_types::retry::RetryConfig::disabled(), |call| {
            assert_eq!(call.param("Attribute"), Some("launchPermission"));
            crate::aws::fake::Answer::ok(
                r#"<DescribeImageAttributeResponse><imageId>ami-1</imageId><launchPermission>
                <item><userId>111111111111</userId></item>
                <item><group>all</group></item>
                <item><organizationArn>arn:aws:organizations::123456789012:organization/o-abc</organizationArn></item>
                <item><organizationalUnitArn>arn:aws:organizations::123456789012:ou/o-abc/ou-1</organizationalUnitArn></item>
                </launchPermission></DescribeImageAttributeResponse>"#,
            )
        });
        let p = launch_permissions(&fake.clients.ec2, "ami-1").await.unwrap();
        assert_eq!(p.accounts, ["111111111111"]);
        assert_eq!(p.organizations, ["arn:aws:organizations::123456789012:organization/o-abc"]);
        assert_eq!(p.organizational_units, ["arn:aws:organizations::123456789012:ou/o-abc/ou-1"]);
        assert!(p.public && !p.is_empty());
    }
}
