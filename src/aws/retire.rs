//! The retirement pipeline's mutating EC2 calls, one per [`Call`], and what it reads
//! around them: the Recycle Bin rules (`rbin:ListRules`, then `rbin:GetRule` for each
//! rule's tags, status and retention, which ListRules' summaries do not carry), the
//! snapshots' tags, an AMI's exit time from the Recycle Bin, and the AMIs outside the
//! selection it still answers for. Errors keep AWS's code.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;
use aws_sdk_ec2::types::{Filter, LaunchPermission, LaunchPermissionModifications, PermissionGroup, Tag};
use chrono::{DateTime, Utc};

use super::ec2::{images_by_id, tagged_images, tags_of, to_chrono};
use super::{Clients, error_code, error_text};
use crate::core::model::{Ami, LaunchPermissions, Tags};
use crate::core::retire::{Call, RecycleBinRule, STAGE_TAG, SnapshotResult};
use crate::core::verdict::TagMatch;

/// DescribeSnapshots accepts at most this many values in one filter.
const SNAPSHOT_ID_BATCH: usize = 200;

fn failed<E, R>(action: &str, e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> anyhow::Error
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    anyhow!("{action} failed: {}", error_text(e))
}

fn smithy_time(t: chrono::DateTime<chrono::Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(t.timestamp())
}

fn added(p: &LaunchPermissions) -> LaunchPermissionModifications {
    let mut add: Vec<LaunchPermission> = Vec::new();
    add.extend(p.accounts.iter().map(|a| LaunchPermission::builder().user_id(a).build()));
    add.extend(p.organizations.iter().map(|a| LaunchPermission::builder().organization_arn(a).build()));
    add.extend(p.organizational_units.iter().map(|a| LaunchPermission::builder().organizational_unit_arn(a).build()));
    if p.public {
        add.push(LaunchPermission::builder().group(PermissionGroup::All).build());
    }
    LaunchPermissionModifications::builder().set_add(Some(add)).build()
}

/// Makes one call for `image_id`; a deregistration answers its `DeleteSnapshotResults`
/// (`None` when a refusal means the AMI was already gone: [`Call::refusal_means_done`]).
pub async fn call(clients: &Clients, image_id: &str, call: &Call) -> anyhow::Result<Option<Vec<SnapshotResult>>> {
    let ec2 = &clients.ec2;
    let done = match call {
        Call::EnableDeprecation { deprecate_at } => {
            let req = ec2.enable_image_deprecation().image_id(image_id).deprecate_at(smithy_time(*deprecate_at));
            req.send().await.map(drop).map_err(|e| failed("ec2:EnableImageDeprecation", &e))
        }
        Call::DisableDeprecation => ec2
            .disable_image_deprecation()
            .image_id(image_id)
            .send()
            .await
            .map(drop)
            .map_err(|e| failed("ec2:DisableImageDeprecation", &e)),
        Call::Disable => {
            ec2.disable_image().image_id(image_id).send().await.map(drop).map_err(|e| failed("ec2:DisableImage", &e))
        }
        Call::Enable => {
            ec2.enable_image().image_id(image_id).send().await.map(drop).map_err(|e| failed("ec2:EnableImage", &e))
        }
        Call::AddLaunchPermissions { permissions } => ec2
            .modify_image_attribute()
            .image_id(image_id)
            .launch_permission(added(permissions))
            .send()
            .await
            .map(drop)
            .map_err(|e| failed("ec2:ModifyImageAttribute", &e)),
        Call::Deregister { delete_snapshots } => return deregister(clients, image_id, call, *delete_snapshots).await,
        Call::Tag { value } => ec2
            .create_tags()
            .resources(image_id)
            .tags(Tag::builder().key(STAGE_TAG).value(value).build())
            .send()
            .await
            .map(drop)
            .map_err(|e| failed("ec2:CreateTags", &e)),
        Call::Untag => ec2
            .delete_tags()
            .resources(image_id)
            .tags(Tag::builder().key(STAGE_TAG).build())
            .send()
            .await
            .map(drop)
            .map_err(|e| failed("ec2:DeleteTags", &e)),
    };
    done.map(|()| None)
}

async fn deregister(
    clients: &Clients,
    image_id: &str,
    call: &Call,
    delete_snapshots: bool,
) -> anyhow::Result<Option<Vec<SnapshotResult>>> {
    let req = clients.ec2.deregister_image().image_id(image_id).delete_associated_snapshots(delete_snapshots);
    match req.send().await {
        Ok(out) => Ok(Some(
            out.delete_snapshot_results()
                .iter()
                .map(|r| SnapshotResult {
                    snapshot_id: r.snapshot_id().unwrap_or_default().to_string(),
                    return_code: r.return_code().map(|c| c.as_str().to_string()).unwrap_or_default(),
                })
                .collect(),
        )),
        Err(e) if call.refusal_means_done(error_code(&e)) => Ok(None),
        Err(e) => Err(failed("ec2:DeregisterImage", &e)),
    }
}

/// When the Recycle Bin lets a deregistered AMI go (`ListImagesInRecycleBin`'s
/// `RecycleBinExitTime`); `None` when it is not listed.
pub async fn recycle_bin_exit(clients: &Clients, image_id: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
    let out = clients
        .ec2
        .list_images_in_recycle_bin()
        .image_ids(image_id)
        .send()
        .await
        .map_err(|e| failed("ec2:ListImagesInRecycleBin", &e))?;
    let listed = out.images().iter().find(|i| i.image_id() == Some(image_id));
    listed.and_then(|i| i.recycle_bin_exit_time()).map(to_chrono).transpose()
}

/// The tags of the account's snapshots among `ids` (a snapshot not found is absent).
pub async fn snapshot_tags(clients: &Clients, ids: &BTreeSet<String>) -> anyhow::Result<BTreeMap<String, Tags>> {
    let ids: Vec<&String> = ids.iter().collect();
    let mut found = BTreeMap::new();
    for chunk in ids.chunks(SNAPSHOT_ID_BATCH) {
        let filter =
            Filter::builder().name("snapshot-id").set_values(Some(chunk.iter().map(|s| (*s).clone()).collect()));
        let mut pages =
            clients.ec2.describe_snapshots().owner_ids("self").filters(filter.build()).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("ec2:DescribeSnapshots", &e))?;
            for s in page.snapshots() {
                if let Some(id) = s.snapshot_id() {
                    found.insert(id.to_string(), tags_of(s.tags()));
                }
            }
        }
    }
    Ok(found)
}

/// The AMIs outside the selection the pipeline still answers for: those carrying the
/// stage tag, and those among `record_ids` (its records of AMIs not selected).
pub async fn staged_images(clients: &Clients, record_ids: &BTreeSet<String>) -> anyhow::Result<Vec<Ami>> {
    let mut amis: BTreeMap<String, Ami> =
        tagged_images(&clients.ec2, STAGE_TAG).await?.into_iter().map(|a| (a.image_id.clone(), a)).collect();
    let missing: BTreeSet<String> = record_ids.iter().filter(|id| !amis.contains_key(*id)).cloned().collect();
    if !missing.is_empty() {
        amis.extend(images_by_id(&clients.ec2, &missing).await?);
    }
    Ok(amis.into_values().collect())
}

fn tag_matches(tags: &[aws_sdk_rbin::types::ResourceTag]) -> Vec<TagMatch> {
    tags.iter()
        .map(|t| TagMatch {
            key: t.resource_tag_key().to_string(),
            value: t.resource_tag_value().filter(|v| !v.is_empty()).map(str::to_string),
        })
        .collect()
}

/// Every `EC2_IMAGE` retention rule of the account in the client's Region and, when
/// `snapshots`, every `EBS_SNAPSHOT` one.
pub async fn rules(clients: &Clients, snapshots: bool) -> anyhow::Result<Vec<RecycleBinRule>> {
    use aws_sdk_rbin::types::ResourceType;
    let kinds: &[ResourceType] =
        if snapshots { &[ResourceType::Ec2Image, ResourceType::EbsSnapshot] } else { &[ResourceType::Ec2Image] };
    let rbin = &clients.rbin;
    let mut ids = Vec::new();
    for kind in kinds {
        let mut pages = rbin.list_rules().resource_type(kind.clone()).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("rbin:ListRules", &e))?;
            ids.extend(page.rules().iter().filter_map(|r| r.identifier().map(str::to_string)));
        }
    }
    let mut rules = Vec::with_capacity(ids.len());
    for id in ids {
        let rule = rbin.get_rule().identifier(&id).send().await.map_err(|e| failed("rbin:GetRule", &e))?;
        let days = rule.retention_period().filter(|p| p.retention_period_unit().as_str() == "DAYS");
        rules.push(RecycleBinRule {
            identifier: id,
            resource_type: rule.resource_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
            status: rule.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            lock_state: rule.lock_state().map(|s| s.as_str().to_string()),
            retention_days: days.and_then(|p| u32::try_from(p.retention_period_value()).ok()),
            resource_tags: tag_matches(rule.resource_tags()),
            exclude_resource_tags: tag_matches(rule.exclude_resource_tags()),
        });
    }
    Ok(rules)
}
