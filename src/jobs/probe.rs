//! probe (member account, organisation mode, daily): which of this account's resources
//! reference the AMIs its owners shared with it. One facts object per run in the
//! `references` dataset under the member's own prefix (`core::verdict::member_facts`), written
//! once (`If-None-Match: *`); the owner's collect reads it for its verdicts. A failed
//! call writes nothing: missing facts make the owner's verdict `unknown`, the safe side.

use serde::Serialize;

use super::Run;
use crate::aws::{probe, s3};
use crate::core::archive::jsonl;
use crate::core::verdict::member_facts::{ProbeRun, probe_rows, references_object};

#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeSummary {
    pub owners: Vec<String>,
    /// AMIs of those owners visible to this account, each one a row of the object.
    pub images_probed: usize,
    /// Resources of this account referencing them.
    pub references_found: usize,
    /// AMIs with at least one reference.
    pub images_referenced: usize,
    pub object: String,
    /// False when an earlier run with the same clock wrote the object already.
    pub written: bool,
}

pub async fn run(r: &Run<'_>) -> anyhow::Result<ProbeSummary> {
    let owners = r.config.require_probe_owners()?;
    let bucket = r.config.require_bucket()?;
    let run =
        ProbeRun { account_id: r.clients.account_id().await?, region: r.clients.region.clone(), probed_at: r.now };
    let images = probe::shared_images(r.clients, owners).await?;
    let ids: Vec<String> = images.keys().cloned().collect();
    let found =
        probe::member_references(r.clients, &ids, r.config.launch_template_version_depth, r.config.collect_concurrency)
            .await?;
    let rows = probe_rows(&run, &images, &found);
    let key = references_object(&r.config.archive_prefix, &run.region, run.probed_at);
    let outcome = s3::put_if_absent(&r.clients.s3, bucket, &key, jsonl::encode(&rows)?).await?;
    let summary = ProbeSummary {
        owners: owners.to_vec(),
        images_probed: rows.len(),
        references_found: rows.iter().map(|row| row.references.len()).sum(),
        images_referenced: rows.iter().filter(|row| !row.references.is_empty()).count(),
        object: key,
        written: outcome == s3::PutOutcome::Written,
    };
    tracing::info!(images = summary.images_probed, references = summary.references_found, object = %summary.object, "probe facts archived");
    Ok(summary)
}
