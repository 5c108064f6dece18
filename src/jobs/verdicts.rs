//! The verdict step of collect: the selected AMIs, their history from the state plus
//! this run's report listing, the owner-account checks the core says are due (would-be
//! candidates every run, every other AMI daily, so the owner account has a history),
//! the core's verdicts, and their archive object.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use serde::Serialize;

use super::archive::Archive;
use super::member_probes::{self, MemberProbeCounts};
use crate::aws::{ec2, references, s3};
use crate::core::archive::jsonl;
use crate::core::create::selected_for_verdict;
use crate::core::model::{Ami, ReportListing};
use crate::core::state::{AmiState, CollectState, News, held_by_missing, report_gaps};
use crate::core::verdict::live_observations;
use crate::core::verdict::member_facts::{findings_for, scope_missing, visibility_lookups_due};
use crate::core::verdict::{AmiInput, Kind, OwnerCheck, Verdicts, evaluate, owner_checks_due, verdicts_digest};
use crate::core::verdict::{FamilyCounts, MAX_FAMILIES, family_counts};
use crate::core::verdict::{LatestReport, RowContext, verdict_row, verdicts_object};

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
    /// Selected AMIs without a report newer than `MAX_EVIDENCE_AGE_HOURS`.
    pub without_recent_report: usize,
    /// The verdicts object this run wrote, if the verdicts changed since the last one.
    pub object: Option<String>,
    /// Per `GROUP_TAG` family (at most `MAX_FAMILIES` and `(other)`): the run's family metrics.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<FamilyCounts>,
    /// The required members' probe facts (`REQUIRE_MEMBER_PROBES` set).
    pub member_probes: Option<MemberProbeCounts>,
}

pub struct Decided {
    pub verdicts: Verdicts,
    pub amis: Vec<Ami>,
    pub counts: VerdictCounts,
    /// Gaps in the evidence: selected AMIs whose newest report is too old
    /// (`state::report_gaps`), and required members without fresh facts, once per gap
    /// (`CollectState::member_gaps`).
    pub gaps: Vec<News>,
}

fn inputs<'a>(
    amis: &'a [Ami],
    state: &CollectState,
    listing: &ReportListing,
    archived: &BTreeSet<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<AmiInput<'a>> {
    let live = live_observations(listing, archived, now);
    amis.iter()
        .map(|ami| {
            let known = state.amis.get(&ami.image_id);
            let mut history = known.map(|s| s.history.clone()).unwrap_or_default();
            history.extend(live.get(ami.image_id.as_str()).into_iter().flatten());
            AmiInput {
                ami,
                history,
                unused_since: known.and_then(|s| s.unused_since),
                owner: OwnerCheck::NotChecked,
                owner_history: known.map(|s| s.owner_checks.clone()).unwrap_or_default(),
                members: Default::default(),
            }
        })
        .collect()
}

/// Decides every selected AMI's verdict; records this run's owner checks in `state`.
pub async fn decide(
    archive: &Archive<'_>,
    state: &mut CollectState,
    listing: &ReportListing,
    archived: &BTreeSet<String>,
) -> anyhow::Result<Decided> {
    let r = archive.run;
    let settings = &r.config.verdict;
    let amis =
        selected_for_verdict(ec2::owned_images(&r.clients.ec2, &r.config.tag_filters).await?, &r.config.tag_filters);
    let mut inputs = inputs(&amis, state, listing, archived, r.now);
    let mut counts = VerdictCounts { selected: amis.len(), ..Default::default() };
    if !r.config.require_member_probes.is_empty() {
        counts.member_probes = Some(member_findings(archive, state, &mut inputs).await);
    }
    let mut verdicts = evaluate(&inputs, settings, r.now);
    let lookups = visibility_lookups_due(&verdicts);
    if !lookups.is_empty() && !r.deadline.passed() {
        scope_to_visibility(archive, &lookups, &mut inputs).await;
        verdicts = evaluate(&inputs, settings, r.now);
    }
    let due = owner_checks_due(&verdicts, &inputs, r.now);
    if !due.is_empty() && !r.deadline.passed() {
        let known_launch: BTreeMap<&str, _> =
            amis.iter().filter_map(|a| Some((a.image_id.as_str(), a.lifecycle.last_launched?))).collect();
        let mut checks = references::owner_checks(
            r.clients,
            &due,
            &known_launch,
            r.config.launch_template_version_depth,
            r.config.collect_concurrency,
        )
        .await;
        counts.owner_checked = checks.len();
        let used: BTreeMap<String, bool> =
            checks.iter().filter_map(|(id, c)| Some((id.clone(), c.found_use()?))).collect();
        for input in &mut inputs {
            if let Some(check) = checks.remove(&input.ami.image_id) {
                input.owner = check;
            }
        }
        verdicts = evaluate(&inputs, settings, r.now);
        state.record_owner_checks(&used, r.now);
    }
    let mut gaps = report_gaps(&inputs, r.now, settings.max_evidence_age());
    counts.without_recent_report = gaps.len();
    let missing = counts.member_probes.as_ref().map(|p| p.missing.clone()).unwrap_or_default();
    gaps.extend(state.member_gaps(&missing, &held_by_missing(&inputs, &verdicts), r.now));
    counts.candidate = verdicts.count(Kind::Candidate);
    counts.in_use = verdicts.count(Kind::InUse);
    counts.unknown = verdicts.count(Kind::Unknown);
    counts.excluded = verdicts.count(Kind::Excluded);
    counts.withheld = verdicts.breaker.as_ref().map_or(0, |b| b.withheld);
    counts.families = family_counts(&verdicts.verdicts, MAX_FAMILIES);
    Ok(Decided { verdicts, amis, counts, gaps })
}

/// The required members' fresh facts, remembered in the state (their history keeps the
/// verdict window), then each AMI's findings from the facts and that memory.
async fn member_findings(
    archive: &Archive<'_>,
    state: &mut CollectState,
    inputs: &mut [AmiInput<'_>],
) -> MemberProbeCounts {
    let r = archive.run;
    let (facts, probes) = member_probes::read(archive).await;
    let selected: BTreeSet<&str> = inputs.iter().map(|i| i.ami.image_id.as_str()).collect();
    state.record_member_facts(&facts, &selected);
    let window_start = r.now - r.config.verdict.window();
    for input in inputs.iter_mut() {
        let memory = state.amis.get(&input.ami.image_id).map(|a| a.members.clone()).unwrap_or_default();
        input.members =
            findings_for(&input.ami.image_id, &r.config.require_member_probes, &facts, &memory, window_start);
    }
    probes
}

/// Scopes the missing members of `image_ids` to those that can see each AMI (its
/// launch permissions, one DescribeImageAttribute call each, paced like the owner
/// checks). A failed lookup leaves every missing member in place: the safe side.
async fn scope_to_visibility(archive: &Archive<'_>, image_ids: &[String], inputs: &mut [AmiInput<'_>]) {
    let r = archive.run;
    let ec2c = &r.clients.ec2;
    let answers: BTreeMap<String, anyhow::Result<_>> = futures::stream::iter(image_ids)
        .map(|id| async move { (id.clone(), ec2::launch_permissions(ec2c, id).await) })
        .buffer_unordered(r.config.collect_concurrency)
        .collect()
        .await;
    for input in inputs.iter_mut() {
        match answers.get(&input.ami.image_id) {
            Some(Ok(permissions)) => scope_missing(&mut input.members, permissions, input.ami.state == "disabled"),
            Some(Err(e)) => {
                tracing::warn!(image_id = %input.ami.image_id, error = %format!("{e:#}"), "launch permissions unreadable; every missing member still holds the AMI")
            }
            None => {}
        }
    }
}

/// Archives the verdicts if they changed since the last object; returns its key.
pub async fn write(archive: &Archive<'_>, d: &Decided, state: &mut CollectState) -> anyhow::Result<Option<String>> {
    let r = archive.run;
    let digest = verdicts_digest(&d.verdicts, r.now);
    if d.verdicts.verdicts.is_empty() || state.verdicts_written.as_deref() == Some(digest.as_str()) {
        return Ok(None);
    }
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
        .filter_map(|v| Some(verdict_row(v, by_id.get(v.image_id.as_str())?, &latest_report(state, &v.image_id), &ctx)))
        .collect();
    let key = verdicts_object(&archive.keys, &archive.provenance.region, r.now);
    s3::put_if_absent(&r.clients.s3, archive.bucket, &key, jsonl::encode(&rows)?).await?;
    state.verdicts_written = Some(digest);
    Ok(Some(key))
}

/// The newest available report the state recorded for an AMI (none: an empty record).
fn latest_report(state: &CollectState, image_id: &str) -> LatestReport {
    state.amis.get(image_id).map(AmiState::latest_report).unwrap_or_default()
}
