//! The verdict step of collect: the selected AMIs, their history from the state plus
//! this run's report listing, the owner-account check for would-be candidates only
//! (it costs API calls), the core's verdicts, and their archive object.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use serde::Serialize;

use super::archive::Archive;
use crate::aws::{ec2, references, s3};
use crate::core::jsonl;
use crate::core::model::{Ami, ReportState, UsageReport};
use crate::core::news::CollectState;
use crate::core::verdict::{AmiInput, Kind, Observation, ObservedState, OwnerCheck, Verdicts, evaluate};
use crate::core::verdict_row::{RowContext, verdict_row, verdicts_object};

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerdictCounts {
    pub selected: usize,
    pub candidate: usize,
    pub in_use: usize,
    pub unknown: usize,
    pub excluded: usize,
    pub owner_checked: usize,
    /// Candidates turned `unknown` by the circuit breaker.
    pub withheld: usize,
    /// The verdicts object this run wrote, if the verdicts changed since the last one.
    pub object: Option<String>,
}

pub struct Decided {
    pub verdicts: Verdicts,
    pub amis: Vec<Ami>,
    pub counts: VerdictCounts,
}

/// Reports of this run's listing that the archive does not hold (yet): their usage
/// is not known, which the rules must see.
fn live_observations<'a>(
    reports: &'a [UsageReport],
    archived: &BTreeSet<String>,
) -> BTreeMap<&'a str, Vec<Observation>> {
    let mut live: BTreeMap<&str, Vec<Observation>> = BTreeMap::new();
    for r in reports.iter().filter(|r| !archived.contains(&r.report_id)) {
        let state = match r.state {
            ReportState::Pending => ObservedState::Pending,
            ReportState::Error => ObservedState::Error,
            _ => ObservedState::Unarchived,
        };
        live.entry(r.image_id.as_str()).or_default().push(Observation::new(r.creation_time, state, 0));
    }
    live
}

pub async fn decide(
    archive: &Archive<'_>,
    state: &CollectState,
    reports: &[UsageReport],
    archived: &BTreeSet<String>,
) -> anyhow::Result<Decided> {
    let r = archive.run;
    let settings = &r.config.verdict;
    let amis: Vec<Ami> = ec2::owned_images(&r.clients.ec2, &r.config.tag_filters)
        .await?
        .into_iter()
        .filter(|a| r.config.tag_filters.matches(&a.tags) && a.state == "available")
        .collect();
    let live = live_observations(reports, archived);
    let mut inputs: Vec<AmiInput> = amis
        .iter()
        .map(|ami| {
            let known = state.amis.get(&ami.image_id);
            let mut history = known.map(|s| s.history.clone()).unwrap_or_default();
            history.extend(live.get(ami.image_id.as_str()).into_iter().flatten());
            AmiInput { ami, history, unused_since: known.and_then(|s| s.unused_since), owner: OwnerCheck::NotChecked }
        })
        .collect();
    let mut verdicts = evaluate(&inputs, settings, r.now);
    let need: Vec<String> =
        verdicts.verdicts.iter().filter(|v| v.needs_owner_check()).map(|v| v.image_id.clone()).collect();
    let mut counts = VerdictCounts { selected: amis.len(), ..Default::default() };
    if !need.is_empty() && !r.deadline.passed() {
        let mut checks = references::owner_checks(
            &r.clients.ec2,
            &need,
            r.config.launch_template_version_depth,
            r.config.collect_concurrency,
        )
        .await;
        counts.owner_checked = checks.len();
        for input in &mut inputs {
            if let Some(check) = checks.remove(&input.ami.image_id) {
                input.owner = check;
            }
        }
        verdicts = evaluate(&inputs, settings, r.now);
    }
    counts.candidate = verdicts.count(Kind::Candidate);
    counts.in_use = verdicts.count(Kind::InUse);
    counts.unknown = verdicts.count(Kind::Unknown);
    counts.excluded = verdicts.count(Kind::Excluded);
    counts.withheld = verdicts.breaker.as_ref().map_or(0, |b| b.withheld);
    Ok(Decided { verdicts, amis, counts })
}

/// Identity of a verdict set (AMI, verdict, reasons) and its day: a new object is
/// written when it changes, so every day has one and an unchanged hour adds none.
fn digest(d: &Decided, archive: &Archive<'_>) -> String {
    let mut h = std::hash::DefaultHasher::new();
    for v in &d.verdicts.verdicts {
        (&v.image_id, v.kind, &v.reasons).hash(&mut h);
    }
    format!("{}:{:016x}", archive.run.now.date_naive(), h.finish())
}

/// Archives the verdicts if they changed since the last object; returns its key.
pub async fn write(archive: &Archive<'_>, d: &Decided, state: &mut CollectState) -> anyhow::Result<Option<String>> {
    let digest = digest(d, archive);
    if d.verdicts.verdicts.is_empty() || state.verdicts_written.as_deref() == Some(digest.as_str()) {
        return Ok(None);
    }
    let r = archive.run;
    let by_id: BTreeMap<&str, &Ami> = d.amis.iter().map(|a| (a.image_id.as_str(), a)).collect();
    let ctx = RowContext {
        provenance: &archive.provenance,
        settings: &r.config.verdict,
        snapshot_gb_month_usd: r.config.snapshot_gb_month_usd,
    };
    let rows: Vec<_> = d
        .verdicts
        .verdicts
        .iter()
        .filter_map(|v| Some(verdict_row(v, by_id.get(v.image_id.as_str())?, state.amis.get(&v.image_id), &ctx)))
        .collect();
    let key = verdicts_object(&archive.keys, &archive.provenance.region, r.now);
    s3::put_if_absent(&r.clients.s3, archive.bucket, &key, jsonl::encode(&rows)?).await?;
    state.verdicts_written = Some(digest);
    Ok(Some(key))
}
