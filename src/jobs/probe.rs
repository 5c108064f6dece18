//! probe (member account, organisation mode, daily): which of this account's resources
//! reference the AMIs its owners shared with it, or that its owners are retiring. One
//! facts object per run in the `references` dataset under the member's own prefix
//! (`core::verdict::member_facts`), written once (`If-None-Match: *`); the owner's
//! collect reads it for its verdicts. A failed call writes nothing: missing facts make
//! the owner's verdict `unknown`, the safe side.
//!
//! Steps: the owners' retirement lists (`core::verdict::member_probe`), the AMIs it can
//! see (deprecated ones included), by id those its previous facts listed or that are in
//! retirement, the Allowed AMIs settings, then the references: DescribeImageReferences,
//! launch configurations and fleets, and, when an owner is retiring AMIs, the scans by
//! id (SSM parameters, launch templates, Image Builder recipes).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use chrono::Duration;
use serde::Serialize;

use super::Run;
use crate::aws::{member_scan, probe, s3};
use crate::core::archive::jsonl;
use crate::core::verdict::member_facts::{
    ProbeRun, ProbedImage, decode_rows, fresh_objects, fresh_start_after, org_prefix_of, probe_rows, references_object,
};
use crate::core::verdict::member_probe::{
    RetiringImage, by_id_lookups, decode_retiring, kinds_checked, owner_retiring_object, references_to,
};
use crate::core::verdict::{AllowedImages, OwnerReference};

#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeSummary {
    pub owners: Vec<String>,
    /// AMIs of those owners probed, each one a row of the object.
    pub images_probed: usize,
    /// Of those, AMIs found by id only (deprecated and not listed, or known before).
    pub described_by_id: usize,
    /// AMIs in the owners' retirement lists.
    pub in_retirement: usize,
    /// Of those, AMIs this account cannot describe (disabled, unshared): scanned by id.
    pub not_describable: usize,
    /// Resources of this account referencing them.
    pub references_found: usize,
    /// AMIs with at least one reference.
    pub images_referenced: usize,
    /// This account's Allowed AMIs state (`disabled`, `audit-mode`, `enabled`), if read.
    pub allowed_images: Option<String>,
    pub object: String,
    /// False when an earlier run with the same clock wrote the object already.
    pub written: bool,
}

/// How far back the probe looks for its own previous facts (the AMIs it looks up by id).
const PREVIOUS_FACTS_DAYS: i64 = 40;

pub async fn run(r: &Run<'_>) -> anyhow::Result<ProbeSummary> {
    let owners = r.config.require_probe_owners()?;
    let bucket = r.config.require_bucket()?;
    let run =
        ProbeRun { account_id: r.clients.account_id().await?, region: r.clients.region.clone(), probed_at: r.now };
    let retiring = retiring_lists(r, bucket, owners).await?;
    let mut images = probe::shared_images(r.clients, owners).await?;
    let listed = images.len();
    let stages: BTreeMap<String, RetiringImage> = retiring.iter().map(|(id, (_, i))| (id.clone(), i.clone())).collect();
    let lookups = by_id_lookups(&previous_ids(r, bucket).await, &stages, &images);
    images.extend(probe::images_by_id(r.clients, &lookups, owners).await?);
    let hidden: Vec<String> = retiring.keys().filter(|id| !images.contains_key(*id)).cloned().collect();
    let allowed = allowed_images(r).await;
    let (found, answered) = references(r, &run.account_id, &images, &hidden, !retiring.is_empty()).await?;
    let mut probed: BTreeMap<String, ProbedImage> =
        images.iter().map(|(id, owner)| (id.clone(), ProbedImage::described(owner))).collect();
    for id in &hidden {
        let owner = retiring[id].0.clone();
        let checked = kinds_checked(false, answered.contains(id));
        probed.insert(id.clone(), ProbedImage { owner, described: false, retirement_stage: None, checked });
    }
    for (id, image) in &mut probed {
        image.retirement_stage = stages.get(id).map(|i| i.stage.clone());
    }
    let rows = probe_rows(&run, &probed, &found, allowed.as_ref());
    let key = references_object(&r.config.archive_prefix, &run.region, run.probed_at);
    let outcome = s3::put_if_absent(&r.clients.s3, bucket, &key, jsonl::encode(&rows)?).await?;
    let summary = ProbeSummary {
        owners: owners.to_vec(),
        images_probed: rows.len(),
        described_by_id: images.len() - listed,
        in_retirement: retiring.len(),
        not_describable: hidden.len(),
        references_found: rows.iter().map(|row| row.references.len()).sum(),
        images_referenced: rows.iter().filter(|row| !row.references.is_empty()).count(),
        allowed_images: allowed.map(|a| a.state),
        object: key,
        written: outcome == s3::PutOutcome::Written,
    };
    tracing::info!(images = summary.images_probed, references = summary.references_found, object = %summary.object, "probe facts archived");
    Ok(summary)
}

/// Every AMI in the configured owners' retirement lists: id → (owner, its entry). A
/// missing list is an owner retiring nothing; an unreadable or malformed one fails the
/// probe (facts without it could miss a reference to an AMI the owner is disabling).
async fn retiring_lists(
    r: &Run<'_>,
    bucket: &str,
    owners: &[String],
) -> anyhow::Result<BTreeMap<String, (String, RetiringImage)>> {
    let Some(org) = org_prefix_of(&r.config.archive_prefix) else {
        tracing::warn!(prefix = %r.config.archive_prefix, "not organisation mode: no owner's retirement list to read");
        return Ok(BTreeMap::new());
    };
    let mut retiring = BTreeMap::new();
    for owner in owners {
        let key = owner_retiring_object(org, owner, &r.clients.region);
        let Some(bytes) = s3::get_optional(&r.clients.s3, bucket, &key).await.with_context(|| {
            format!("reading the retirement list of {owner} (the central stack must let members read <prefix>/account=*/retiring/*)")
        })?
        else {
            continue;
        };
        let list =
            decode_retiring(&bytes, owner).with_context(|| format!("the retirement list s3://{bucket}/{key}"))?;
        retiring.extend(list.images.into_iter().map(|i| (i.image_id.clone(), (owner.clone(), i))));
    }
    Ok(retiring)
}

/// The AMIs the newest of this account's own facts objects listed (within
/// [`PREVIOUS_FACTS_DAYS`]): looked up by id, so a deprecated one stays probed. An
/// unreadable object only costs that lookup (logged).
async fn previous_ids(r: &Run<'_>, bucket: &str) -> BTreeSet<String> {
    let prefix = format!("{}/references/region={}/", r.config.archive_prefix, r.clients.region);
    let lookback = Duration::days(PREVIOUS_FACTS_DAYS);
    let read = async {
        let keys = s3::keys_after(&r.clients.s3, bucket, &prefix, &fresh_start_after(&prefix, r.now, lookback)).await?;
        let Some(newest) = fresh_objects(&keys, r.now, lookback).into_iter().next() else {
            return anyhow::Ok(BTreeSet::new());
        };
        let bytes = s3::get_optional(&r.clients.s3, bucket, &newest.key).await?.unwrap_or_default();
        Ok(decode_rows(&bytes)?.into_iter().map(|row| row.image_id).collect())
    };
    read.await.unwrap_or_else(|e| {
        tracing::warn!(error = %format!("{e:#}"), "previous probe facts unreadable; no AMI looked up by id from them");
        BTreeSet::new()
    })
}

/// The Allowed AMIs settings, or `None` (logged) when the account refuses the call:
/// they name where a deprecation stops launches, and never decide a verdict.
async fn allowed_images(r: &Run<'_>) -> Option<AllowedImages> {
    member_scan::allowed_images(r.clients)
        .await
        .inspect_err(|e| tracing::warn!(error = %format!("{e:#}"), "Allowed AMIs settings unreadable"))
        .ok()
}

type References = BTreeMap<String, Vec<OwnerReference>>;

/// The references to every probed AMI, and the hidden ones DescribeImageReferences
/// answered for. `scan`: an owner is retiring AMIs, so the scans by id run too.
async fn references(
    r: &Run<'_>,
    account: &str,
    images: &BTreeMap<String, String>,
    hidden: &[String],
    scan: bool,
) -> anyhow::Result<(References, BTreeSet<String>)> {
    let (depth, concurrency) = (r.config.launch_template_version_depth, r.config.collect_concurrency);
    let ids: Vec<String> = images.keys().cloned().collect();
    let mut found = probe::member_references(r.clients, &ids, hidden, depth, concurrency).await?;
    if !scan {
        return Ok((found, BTreeSet::new()));
    }
    let (by_id, answered) = probe::references_by_id_alone(r.clients, hidden, depth).await?;
    let mut scanned = member_scan::ssm_image_parameters(r.clients).await?;
    scanned.extend(member_scan::launch_template_images(r.clients, account, depth, concurrency).await?);
    scanned.extend(member_scan::recipe_images(r.clients).await?);
    let wanted: BTreeSet<String> = ids.iter().chain(hidden).cloned().collect();
    for (id, refs) in by_id.into_iter().chain(references_to(&wanted, scanned)) {
        found.entry(id).or_default().extend(refs);
    }
    Ok((found, answered))
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
