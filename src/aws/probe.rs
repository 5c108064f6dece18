//! A member account's probe of the AMIs other accounts share with it: which AMIs of
//! the configured owners it can see (deprecated ones included, and by id those it knew
//! before), and which of its own resources reference them (the owner's check of
//! `references.rs`, run in the member: DescribeImageReferences, Auto Scaling launch
//! configurations, Spot Fleet requests and EC2 Fleets; `member_scan.rs` for the scans
//! by id).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;
use futures::StreamExt;

use super::references::{IMAGE_ID_BATCH, ReferencesById, Refusal, launch_configurations, references};
use super::{Clients, error_code, error_text};
use crate::core::verdict::member_probe::by_id_refusal_means_absent;

/// The AMIs of `owners` this account can see (shared with it, with its organisation,
/// or public): image id → owner account id. DescribeImages `Owners` names them, with
/// `IncludeDeprecated` (without it AWS hides a deprecated AMI from every account but
/// its owner); visibility is EC2's own rule, so the probe sees what the account can use.
pub async fn shared_images(clients: &Clients, owners: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut pages = clients
        .ec2
        .describe_images()
        .set_owners(Some(owners.to_vec()))
        .include_deprecated(true)
        .into_paginator()
        .page_size(1000)
        .send();
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

/// DescribeImages takes this many ids per by-id call.
const BY_ID_BATCH: usize = 100;

/// The AMIs among `ids` of `owners` this account can describe by id (a deprecated AMI is
/// returned to a non-owner named by id; a disabled or unshared one is simply absent).
/// A batch refused for an id it cannot describe (`InvalidAMIID.*`) is asked again one
/// id at a time, and such an id is absent; any other refusal fails the probe.
pub async fn images_by_id(
    clients: &Clients,
    ids: &[String],
    owners: &[String],
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut found = BTreeMap::new();
    for chunk in ids.chunks(BY_ID_BATCH) {
        match describe_ids(clients, chunk).await {
            Ok(images) => found.extend(images),
            Err(code) if by_id_refusal_means_absent(code.0.as_deref()) => {
                for id in chunk {
                    match describe_ids(clients, std::slice::from_ref(id)).await {
                        Ok(images) => found.extend(images),
                        Err(code) if by_id_refusal_means_absent(code.0.as_deref()) => {}
                        Err(e) => return Err(anyhow!("ec2:DescribeImages (by id) failed: {}", e.1)),
                    }
                }
            }
            Err(e) => return Err(anyhow!("ec2:DescribeImages (by id) failed: {}", e.1)),
        }
    }
    found.retain(|_, owner| owners.contains(owner));
    Ok(found)
}

/// A refusal's code and text.
struct Refused(Option<String>, String);

async fn describe_ids(clients: &Clients, ids: &[String]) -> Result<BTreeMap<String, String>, Refused> {
    let out = clients
        .ec2
        .describe_images()
        .set_image_ids(Some(ids.to_vec()))
        .include_deprecated(true)
        .send()
        .await
        .map_err(|e| Refused(error_code(&e).map(str::to_string), error_text(&e)))?;
    Ok(out.images().iter().filter_map(|i| Some((i.image_id()?.to_string(), i.owner_id()?.to_string()))).collect())
}

/// DescribeImageReferences for AMIs this account cannot describe (in an owner's
/// retirement list): the references found, and the ids it answered for. AWS documents
/// that it reports the caller's resources "regardless of whether the AMIs are public or
/// private, or who owns them"; an id it refuses (`InvalidAMIID.*`, asked again alone)
/// counts as not answered, so its instances are not claimed as checked.
pub async fn references_by_id_alone(
    clients: &Clients,
    ids: &[String],
    version_depth: u32,
) -> anyhow::Result<(ReferencesById, BTreeSet<String>)> {
    let (mut found, mut answered) = (ReferencesById::new(), BTreeSet::new());
    for chunk in ids.chunks(IMAGE_ID_BATCH) {
        let attempts: Vec<&[String]> = match references(&clients.ec2, chunk, version_depth).await {
            Ok(refs) => {
                found.extend(refs);
                answered.extend(chunk.iter().cloned());
                continue;
            }
            Err(e) if refused_for_an_id(&e) => chunk.chunks(1).collect(),
            Err(e) => return Err(e),
        };
        for one in attempts {
            match references(&clients.ec2, one, version_depth).await {
                Ok(refs) => {
                    found.extend(refs);
                    answered.extend(one.iter().cloned());
                }
                Err(e) if refused_for_an_id(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok((found, answered))
}

fn refused_for_an_id(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Refusal>().is_some_and(|r| by_id_refusal_means_absent(r.code.as_deref()))
}

/// This account's resources referencing each image: DescribeImageReferences for
/// `image_ids` (the AMIs it describes), launch configurations and fleets for those and
/// `also` (the AMIs in retirement it cannot describe). Any failed call fails the probe:
/// facts written from a partial answer would claim checks that were not made.
pub async fn member_references(
    clients: &Clients,
    image_ids: &[String],
    also: &[String],
    version_depth: u32,
    concurrency: usize,
) -> anyhow::Result<ReferencesById> {
    if image_ids.is_empty() && also.is_empty() {
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
    found.retain(|id, _| image_ids.contains(id) || also.contains(id));
    for batch in batches {
        for (id, refs) in batch? {
            found.entry(id).or_default().extend(refs);
        }
    }
    Ok(found)
}
