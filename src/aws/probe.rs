//! A member account's probe of the AMIs other accounts share with it: which AMIs of
//! the configured owners it can see, and which of its own resources reference them
//! (the owner's check of `references.rs`, run in the member: DescribeImageReferences,
//! Auto Scaling launch configurations, Spot Fleet requests and EC2 Fleets).

use std::collections::BTreeMap;

use anyhow::anyhow;
use futures::StreamExt;

use super::references::{IMAGE_ID_BATCH, ReferencesById, launch_configurations, references};
use super::{Clients, error_text};

/// The AMIs of `owners` this account can see (shared with it, with its organisation,
/// or public): image id → owner account id. DescribeImages `Owners` names them;
/// visibility is EC2's own rule, so the probe sees exactly what the account can launch.
pub async fn shared_images(clients: &Clients, owners: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut pages =
        clients.ec2.describe_images().set_owners(Some(owners.to_vec())).into_paginator().page_size(1000).send();
    let mut images = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| anyhow!("ec2:DescribeImages (owners {}) failed: {}", owners.join(","), error_text(&e)))?;
        for i in page.images() {
            if let (Some(id), Some(owner)) = (i.image_id(), i.owner_id()) {
                images.insert(id.to_string(), owner.to_string());
            }
        }
    }
    Ok(images)
}

/// This account's resources referencing each image. Any failed call fails the probe:
/// facts written from a partial answer would claim checks that were not made.
pub async fn member_references(
    clients: &Clients,
    image_ids: &[String],
    version_depth: u32,
    concurrency: usize,
) -> anyhow::Result<ReferencesById> {
    if image_ids.is_empty() {
        return Ok(ReferencesById::new());
    }
    let ec2 = &clients.ec2;
    let batches: Vec<anyhow::Result<ReferencesById>> = futures::stream::iter(image_ids.chunks(IMAGE_ID_BATCH))
        .map(|chunk| references(ec2, chunk, version_depth))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut found = launch_configurations(clients).await?;
    for (id, refs) in super::fleets::fleet_references(ec2).await? {
        found.entry(id).or_default().extend(refs);
    }
    found.retain(|id, _| image_ids.binary_search(id).is_ok());
    for batch in batches {
        for (id, refs) in batch? {
            found.entry(id).or_default().extend(refs);
        }
    }
    Ok(found)
}
