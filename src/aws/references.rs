//! Use of AMIs inside the owner account, which usage reports leave out:
//! DescribeImageReferences (instances, launch templates to the configured version
//! depth, SSM parameters, Image Builder recipes), Auto Scaling launch configurations
//! (which neither usage reports nor DescribeImageReferences cover) and the AMI's
//! `lastLaunchedTime`.

use std::collections::BTreeMap;

use anyhow::anyhow;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    ImageAttributeName, ImageReferenceOptionName, ImageReferenceResourceType, ResourceTypeOption, ResourceTypeRequest,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::{Clients, error_text};
use crate::core::verdict::OWNER_KINDS;
use crate::core::verdict::{OwnerCheck, OwnerFacts, OwnerReference};

/// DescribeImageReferences accepts at most this many image ids per call.
pub(super) const IMAGE_ID_BATCH: usize = 10;

/// Instance states that count as use: a stopped instance starts again from its AMI; a
/// terminated or terminating one never does.
const LIVE_INSTANCE_STATES: [&str; 4] = ["pending", "running", "stopping", "stopped"];

fn resource_types(version_depth: u32) -> Vec<ResourceTypeRequest> {
    let option = |name: ImageReferenceOptionName, values: &[&str]| {
        values.iter().fold(ResourceTypeOption::builder().option_name(name), |b, v| b.option_values(*v)).build()
    };
    let plain = |t: ImageReferenceResourceType| ResourceTypeRequest::builder().resource_type(t).build();
    vec![
        ResourceTypeRequest::builder()
            .resource_type(ImageReferenceResourceType::Ec2Instance)
            .resource_type_options(option(ImageReferenceOptionName::StateName, &LIVE_INSTANCE_STATES))
            .build(),
        ResourceTypeRequest::builder()
            .resource_type(ImageReferenceResourceType::Ec2LaunchTemplate)
            .resource_type_options(option(ImageReferenceOptionName::VersionDepth, &[&version_depth.to_string()]))
            .build(),
        plain(ImageReferenceResourceType::SsmParameter),
        plain(ImageReferenceResourceType::ImageBuilderImageRecipe),
        plain(ImageReferenceResourceType::ImageBuilderContainerRecipe),
    ]
}

pub(super) type ReferencesById = BTreeMap<String, Vec<OwnerReference>>;

/// DescribeImageReferences' refusal, with its code (the member probe reads it: see
/// `core::verdict::member_probe::by_id_refusal_means_absent`).
#[derive(Debug)]
pub(super) struct Refusal {
    pub code: Option<String>,
    text: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Refusal {}

/// The owner account's resources referencing each image (at most 10 ids per call).
pub(super) async fn references(
    ec2: &Client,
    image_ids: &[String],
    version_depth: u32,
) -> anyhow::Result<ReferencesById> {
    // Every type AWS has (`IncludeAllResourceTypes`), the explicit options overriding
    // its defaults (instance states without `terminated`, the configured version depth).
    let mut pages = ec2
        .describe_image_references()
        .set_image_ids(Some(image_ids.to_vec()))
        .include_all_resource_types(true)
        .set_resource_types(Some(resource_types(version_depth)))
        .into_paginator()
        .send();
    let mut found: BTreeMap<String, Vec<OwnerReference>> = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Refusal {
            code: super::error_code(&e).map(str::to_string),
            text: format!("ec2:DescribeImageReferences failed: {}", error_text(&e)),
        })?;
        for r in page.image_references() {
            let (Some(image_id), Some(arn)) = (r.image_id(), r.arn()) else {
                anyhow::bail!("ec2:DescribeImageReferences returned a reference without ImageId or Arn");
            };
            let reference = OwnerReference::of_answer(r.resource_type().map(|t| t.as_str()), arn);
            found.entry(image_id.to_string()).or_default().push(reference);
        }
    }
    Ok(found)
}

/// When the AMI last launched an instance (AWS reports it with up to 24 h delay).
async fn last_launched(ec2: &Client, image_id: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
    let out = ec2
        .describe_image_attribute()
        .image_id(image_id)
        .attribute(ImageAttributeName::LastLaunchedTime)
        .send()
        .await
        .map_err(|e| anyhow!("ec2:DescribeImageAttribute lastLaunchedTime failed: {}", error_text(&e)))?;
    match out.last_launched_time().and_then(|v| v.value()).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| anyhow!("lastLaunchedTime {v:?} of {image_id} is not a timestamp: {e}")),
    }
}

/// Every launch configuration of the account that names an image, by image id. One
/// paged listing per run: an Auto Scaling group at desired capacity 0 launches from it
/// later, so a configuration counts as use whether or not a group uses it now.
pub(super) async fn launch_configurations(clients: &Clients) -> anyhow::Result<ReferencesById> {
    let mut pages = clients.autoscaling.describe_launch_configurations().into_paginator().page_size(100).send();
    let mut found = ReferencesById::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("autoscaling:DescribeLaunchConfigurations failed: {}", error_text(&e)))?;
        for lc in page.launch_configurations() {
            let (Some(image_id), Some(name)) = (lc.image_id(), lc.launch_configuration_name()) else { continue };
            found.entry(image_id.to_string()).or_default().push(OwnerReference {
                resource_type: "autoscaling:LaunchConfiguration".into(),
                arn: lc.launch_configuration_arn().unwrap_or(name).to_string(),
            });
        }
    }
    Ok(found)
}

/// `lastLaunchedTime` of each image: from DescribeImages' answer where it had one,
/// else one DescribeImageAttribute call.
async fn launch_times(
    ec2: &Client,
    image_ids: &[String],
    known: &BTreeMap<&str, DateTime<Utc>>,
    concurrency: usize,
) -> BTreeMap<String, anyhow::Result<Option<DateTime<Utc>>>> {
    futures::stream::iter(image_ids)
        .map(|id| async move {
            match known.get(id.as_str()) {
                Some(t) => (id.clone(), Ok(Some(*t))),
                None => (id.clone(), last_launched(ec2, id).await),
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// The owner-account check of each image. A failure makes that image's check
/// `Failed` (its verdict `unknown`) instead of failing the run.
pub async fn owner_checks(
    clients: &Clients,
    image_ids: &[String],
    known_launch: &BTreeMap<&str, DateTime<Utc>>,
    version_depth: u32,
    concurrency: usize,
) -> BTreeMap<String, OwnerCheck> {
    let ec2 = &clients.ec2;
    let batches: Vec<(&[String], anyhow::Result<ReferencesById>)> =
        futures::stream::iter(image_ids.chunks(IMAGE_ID_BATCH))
            .map(|chunk| async move { (chunk, references(ec2, chunk, version_depth).await) })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    let configurations = launch_configurations(clients).await;
    let fleets = super::fleets::fleet_references(ec2).await;
    let launched = launch_times(ec2, image_ids, known_launch, concurrency).await;
    let mut checks = BTreeMap::new();
    for (chunk, refs) in batches {
        for id in chunk {
            let check = match (&refs, &configurations, &fleets, &launched[id]) {
                (Err(e), _, _, _) | (_, Err(e), _, _) | (_, _, Err(e), _) | (_, _, _, Err(e)) => {
                    tracing::warn!(image_id = %id, error = %format!("{e:#}"), "owner-account check failed");
                    OwnerCheck::Failed(format!("{e:#}"))
                }
                (Ok(refs), Ok(lcs), Ok(fleets), Ok(last)) => OwnerCheck::Checked(OwnerFacts {
                    references: [refs.get(id), lcs.get(id), fleets.get(id)]
                        .into_iter()
                        .flatten()
                        .flatten()
                        .cloned()
                        .collect(),
                    last_launched: *last,
                    kinds: OWNER_KINDS.iter().map(|k| k.to_string()).collect(),
                }),
            };
            checks.insert(id.clone(), check);
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake::{Answer, Fake};

    #[tokio::test]
    async fn every_type_is_asked_with_the_explicit_options_and_an_unknown_type_counts_as_a_reference() {
        let fake = Fake::new(aws_smithy_types::retry::RetryConfig::disabled(), |call| {
            assert_eq!(call.action, "DescribeImageReferences");
            assert_eq!(call.param("IncludeAllResourceTypes"), Some("true"));
            assert_eq!(call.param("ResourceType.1.ResourceType"), Some("ec2:Instance"));
            assert_eq!(call.param("ResourceType.1.ResourceTypeOption.1.OptionName"), Some("state-name"));
            assert_eq!(call.param("ResourceType.1.ResourceTypeOption.1.OptionValue.4"), Some("stopped"));
            assert_eq!(call.param("ResourceType.2.ResourceTypeOption.1.OptionValue.1"), Some("7"));
            Answer::ok(
                "<DescribeImageReferencesResponse><imageReferenceSet>\
                 <item><imageId>ami-1</imageId><resourceType>ec2:SomethingNew</resourceType><arn>arn:aws:new:1</arn></item>\
                 <item><imageId>ami-1</imageId><arn>arn:aws:untyped:1</arn></item>\
                 <item><imageId>ami-2</imageId><resourceType>ssm:Parameter</resourceType><arn>arn:aws:ssm:p</arn></item>\
                 </imageReferenceSet></DescribeImageReferencesResponse>",
            )
        });
        let found = references(&fake.clients.ec2, &["ami-1".into(), "ami-2".into()], 7).await.unwrap();
        let types = |id: &str| found[id].iter().map(|r| r.resource_type.as_str()).collect::<Vec<_>>();
        assert_eq!(types("ami-1"), ["ec2:SomethingNew", "unknown"]);
        assert_eq!(types("ami-2"), ["ssm:Parameter"]);
    }
}
