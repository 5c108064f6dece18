//! collect: archive every finished report of ours before EC2 deletes it, decide the
//! verdicts from the archived history, then tell people what is new.
//!
//! Order of writes per report: entries object, then report object (its presence means
//! "completely archived"), both `If-None-Match: *`. Then the verdicts object (only when
//! the verdicts changed), the state object (news queued in its outbox), SNS, and the
//! state again (outbox marked published), then the compaction step (`jobs::compact`:
//! Parquet part, then its record). A run that dies anywhere leaves a state the
//! next run completes without writing anything twice.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use futures::StreamExt;
use serde::Serialize;

pub use super::alert::AlertSummary;
use super::alert::alert;
use super::archive::Archive;
use super::compact::{self, CompactionSummary};
use super::retire::{self, RetireSummary};
use super::verdicts::{self, Decided, VerdictCounts};
use super::{Failure, PartialRun, Run, Summary};
use crate::aws::{ec2, s3, uploads};
use crate::core::archive::{ArchiveKeys, Dataset, Provenance, ReportRow};
use crate::core::model::{Ami, MalformedReport, ReportListing, ReportState, UsageReport};
use crate::core::state::routes_of;
use crate::core::state::{CollectState, News, narrowed_report_types, retiring_list};
use crate::core::state::{expiring_unarchived, lateness_news, quarantine_news, stale_uploads, triage, unabsorbed};
use crate::core::timestamp;
use crate::core::verdict::Kind;
use crate::core::verdict::member_facts::org_prefix_of;
use crate::core::verdict::member_probe::retiring_object;

/// History kept beyond the verdict window, so a window that moves between runs (or a
/// run that is late) still sees every report it needs.
const HISTORY_MARGIN_DAYS: u32 = 7;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRef {
    pub report_id: String,
    pub image_id: String,
    pub state: String,
    pub detail: Option<String>,
}

impl ReportRef {
    fn of(r: &UsageReport, detail: Option<String>) -> Self {
        Self {
            report_id: r.report_id.clone(),
            image_id: r.image_id.clone(),
            state: r.state.as_str().to_string(),
            detail,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CollectSummary {
    pub reports_seen: usize,
    pub archived: usize,
    pub entries_archived: u64,
    pub already_archived: usize,
    pub pending: usize,
    pub pending_too_long: Vec<ReportRef>,
    pub errors: Vec<ReportRef>,
    pub expiring_unarchived: Vec<ReportRef>,
    pub unknown_state: Vec<ReportRef>,
    pub new_candidates: Vec<String>,
    /// Candidates already announced by an earlier run.
    pub still_unused: usize,
    pub verdicts: Option<Box<VerdictCounts>>,
    pub alert: Option<AlertSummary>,
    pub failed: Vec<Failure>,
    /// Reports left for the next run because the time budget ran out.
    pub remaining: usize,
    /// Unfinished multipart uploads of killed runs, aborted by this one.
    pub aborted_uploads: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_clean_up_error: Option<String>,
    /// What the compaction step did (ARCHITECTURE.md, "Compaction").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compaction: Option<Box<CompactionSummary>>,
    /// Why this run left the state alone (a `--now` before the newest run's clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_untouched: Option<String>,
    /// The retirement pipeline's run (`RETIRE_MODE` ≠ off, or AMIs tagged while off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retire: Option<Box<RetireSummary>>,
}

/// The pipeline ARCHITECTURE.md names: triage → archive → recover → decide → save,
/// then alert. Each step is one function below, in that order.
pub async fn run(r: &Run<'_>) -> anyhow::Result<CollectSummary> {
    let archive = open_archive(r).await?;
    let (listing, listed) = list(&archive).await?;
    let mut archived: BTreeSet<String> = listed.values().flatten().cloned().collect();
    let reports = &listing.reports;
    let t = triage(reports, &archived, r.now, Duration::hours(i64::from(r.config.pending_alert_hours)));
    let mut summary = CollectSummary {
        reports_seen: reports.len(),
        already_archived: t.already_archived,
        pending: t.pending.len(),
        pending_too_long: t.pending_too_long.iter().map(|p| ReportRef::of(p, None)).collect(),
        unknown_state: t.unknown_state.iter().map(|p| ReportRef::of(p, None)).collect(),
        ..Default::default()
    };
    quarantine(&listing.malformed, &mut summary);
    clean_up_uploads(&archive, &mut summary).await;
    let rows = archive_reports(&archive, &t.to_archive, &mut archived, &mut summary).await?;
    let warning = Duration::days(i64::from(r.config.expiry_warning_days));
    let expiring = expiring_unarchived(reports, &archived, r.now, warning);
    summary.expiring_unarchived =
        expiring.iter().map(|p| ReportRef::of(p, Some(timestamp::format(&p.expiration_time)))).collect();

    let late = Late { pending_too_long: &t.pending_too_long, expiring: &expiring };
    match remember_and_tell(&archive, &listing, &archived, rows, late, &mut summary).await {
        Ok(()) => match compact::after_collect(&archive, reports, &listed, &archived).await {
            Ok((compaction, failure)) => {
                summary.compaction = Some(Box::new(compaction));
                summary.failed.extend(failure);
                Ok(summary)
            }
            Err(e) => Err(PartialRun::new(Summary::Collect(Box::new(summary)), e).into()),
        },
        Err(e) => Err(PartialRun::new(Summary::Collect(Box::new(summary)), e).into()),
    }
}

/// Reports whose lateness is news: pending too long, or expiring unarchived.
struct Late<'a> {
    pending_too_long: &'a [UsageReport],
    expiring: &'a [&'a UsageReport],
}

/// Recover → decide → save → alert: everything after the archive step. Its failure
/// still reports what the run archived (`PartialRun`).
async fn remember_and_tell(
    archive: &Archive<'_>,
    listing: &ReportListing,
    archived: &BTreeSet<String>,
    rows: Vec<ReportRow>,
    late: Late<'_>,
    summary: &mut CollectSummary,
) -> anyhow::Result<()> {
    let r = archive.run;
    let mut state = archive.load_state().await?;
    if !state.moved_by(r.now) {
        summary.state_untouched = state.latest_run.map(|t| {
            format!(
                "--now is before the newest run that saved the state ({}): reports archived, verdicts, state and alert left to a run at the current time",
                timestamp::format(&t)
            )
        });
        return Ok(());
    }
    let rows = recover(archive, &state, &listing.reports, archived, rows).await?;
    let mut news: Vec<News> = rows.iter().flat_map(|row| state.absorb(row)).collect();
    news.extend(narrowed_report_types(&rows, &r.config.report_resource_types));
    let (candidates, decided) = decide(archive, &mut state, listing, archived, &mut news, summary).await;
    if let Some(decided) = &decided {
        summary.retire = retire::run(archive, &mut state, decided, &mut news, &mut summary.failed).await?.map(Box::new);
        if let Some(probes) = &decided.counts.member_probes {
            state.name_blocked_launches(&mut news, &archive.provenance.owner_account_id, &probes.allowed_images);
        }
    }
    publish_retiring(archive, &mut state, &mut summary.failed).await;
    news.extend(lateness_news(late.pending_too_long, late.expiring));
    news.extend(quarantine_news(&listing.malformed));
    save(archive, &mut state, news).await?;
    let (new_candidates, still_unused) = state.new_and_standing(&candidates);
    summary.new_candidates = new_candidates;
    summary.still_unused = still_unused.len();
    if !state.outbox.is_empty() {
        summary.alert = Some(alert(archive, &mut state, &still_unused, &mut summary.failed).await?);
    }
    Ok(())
}

async fn open_archive<'a>(r: &'a Run<'a>) -> anyhow::Result<Archive<'a>> {
    let provenance = Provenance {
        owner_account_id: r.clients.account_id().await?,
        region: r.clients.region.clone(),
        collected_at: r.now,
    };
    let keys = ArchiveKeys { prefix: r.config.archive_prefix.clone() };
    Ok(Archive::new(r, r.config.require_bucket()?, keys, provenance))
}

/// Our reports in EC2 and, per report date of theirs, the ids archived already in
/// that date's partition (compaction counts them: `core::compaction::ReportDates`):
/// one listing of the `reports` dataset from the oldest of those dates on
/// (`ArchiveKeys::ids_by_date`), not one per date.
async fn list(archive: &Archive<'_>) -> anyhow::Result<(ReportListing, BTreeMap<NaiveDate, BTreeSet<String>>)> {
    let clients = archive.run.clients;
    let listing = ec2::our_reports(&clients.ec2).await?;
    let dates: BTreeSet<_> = listing.reports.iter().map(|r| r.creation_time.date_naive()).collect();
    let Some(&oldest) = dates.first() else { return Ok((listing, BTreeMap::new())) };
    let region = &archive.provenance.region;
    let prefix = archive.keys.dataset_prefix(Dataset::Reports, region);
    let start_after = archive.keys.partition(Dataset::Reports, region, oldest);
    let keys = s3::keys_after(&clients.s3, archive.bucket, &prefix, &start_after).await?;
    Ok((listing, ArchiveKeys::ids_by_date(keys.iter().map(|(k, _)| k.as_str()), &dates)))
}

/// Aborts the multipart uploads of entries objects that a killed run left behind. A
/// refusal (a role without `s3:ListBucketMultipartUploads`) costs nothing but the
/// clean-up: the bucket's lifecycle rule still removes the parts after 7 days.
async fn clean_up_uploads(archive: &Archive<'_>, summary: &mut CollectSummary) {
    let s3 = &archive.run.clients.s3;
    let prefix = archive.keys.dataset_prefix(Dataset::Entries, &archive.provenance.region);
    let uploads = match uploads::in_progress(s3, archive.bucket, &prefix).await {
        Ok(uploads) => uploads,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "could not list unfinished uploads; the lifecycle rule removes them");
            summary.upload_clean_up_error = Some(format!("{e:#}"));
            return;
        }
    };
    for upload in stale_uploads(&uploads, archive.run.now) {
        match uploads::abort(s3, archive.bucket, upload).await {
            Ok(()) => summary.aborted_uploads += 1,
            Err(e) => summary.upload_clean_up_error = Some(format!("{e:#}")),
        }
    }
}

/// Malformed reports are failures of this run (exit 3) that the next run retries: they
/// are listed again by EC2, and archived once EC2 describes them properly.
fn quarantine(malformed: &[MalformedReport], summary: &mut CollectSummary) {
    for m in malformed {
        tracing::warn!(report_id = ?m.report_id, image_id = ?m.image_id, problem = %m.problem, "report quarantined");
        let id = m.report_id.clone().unwrap_or_else(|| "report without ReportId".into());
        summary.failed.push(Failure { id, error: m.problem.clone() });
    }
}

/// Archives every report that needs it (until the deadline); returns their rows.
async fn archive_reports(
    archive: &Archive<'_>,
    to_archive: &[UsageReport],
    archived: &mut BTreeSet<String>,
    summary: &mut CollectSummary,
) -> anyhow::Result<Vec<ReportRow>> {
    let r = archive.run;
    let image_ids: BTreeSet<String> = to_archive.iter().map(|r| r.image_id.clone()).collect();
    let images: BTreeMap<String, Ami> =
        if image_ids.is_empty() { BTreeMap::new() } else { ec2::images_by_id(&r.clients.ec2, &image_ids).await? };
    let results: Vec<(&UsageReport, Option<anyhow::Result<ReportRow>>)> = futures::stream::iter(to_archive)
        .map(|report| {
            let images = &images;
            async move {
                if r.deadline.passed() {
                    return (report, None);
                }
                (report, Some(archive.report(report, images.get(&report.image_id)).await))
            }
        })
        .buffer_unordered(r.config.collect_concurrency)
        .collect()
        .await;
    let mut rows = Vec::new();
    for (report, result) in results {
        match result {
            None => summary.remaining += 1,
            Some(Ok(row)) => {
                tracing::info!(report_id = %row.report_id, image_id = %row.image_id, state = %row.state, entries = row.entry_count, "archived report");
                archived.insert(row.report_id.clone());
                summary.archived += 1;
                summary.entries_archived += row.entry_count as u64;
                if report.state == ReportState::Error {
                    summary.errors.push(ReportRef::of(report, report.state_reason.clone()));
                }
                rows.push(row);
            }
            Some(Err(e)) => {
                tracing::warn!(report_id = %report.report_id, error = %format!("{e:#}"), "could not archive report");
                summary.failed.push(Failure { id: report.report_id.clone(), error: format!("{e:#}") });
            }
        }
    }
    summary.failed.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rows)
}

/// Adds the rows of reports archived by a run that died before absorbing them.
async fn recover(
    archive: &Archive<'_>,
    state: &CollectState,
    reports: &[UsageReport],
    archived: &BTreeSet<String>,
    mut rows: Vec<ReportRow>,
) -> anyhow::Result<Vec<ReportRow>> {
    let fresh: BTreeSet<String> = rows.iter().map(|row| row.report_id.clone()).collect();
    for report in unabsorbed(reports, archived, &fresh, state) {
        if let Some(row) = archive.read_back(report).await? {
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| (a.report_creation_time, &a.report_id).cmp(&(b.report_creation_time, &b.report_id)));
    Ok(rows)
}

/// The verdict step: news from the verdicts, the verdicts object; returns the
/// candidates and the verdicts (for the retirement step). A failure here costs this
/// run its verdicts (and so its retirement step), never its archive.
async fn decide(
    archive: &Archive<'_>,
    state: &mut CollectState,
    listing: &ReportListing,
    archived: &BTreeSet<String>,
    news: &mut Vec<News>,
    summary: &mut CollectSummary,
) -> (BTreeSet<String>, Option<Decided>) {
    let decided = match verdicts::decide(archive, state, listing, archived).await {
        Ok(decided) => decided,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "no verdicts this run");
            summary.failed.push(Failure { id: "verdicts".into(), error: format!("{e:#}") });
            return (BTreeSet::new(), None);
        }
    };
    let config = archive.run.config;
    state.remember_routes(routes_of(&decided.amis, config.verdict.group_tag.as_deref(), config.route_tag.as_deref()));
    news.extend(state.record_verdicts(&decided.verdicts, &decided.amis, archive.run.now));
    news.extend(decided.gaps.iter().cloned());
    let mut counts = decided.counts.clone();
    match verdicts::write(archive, &decided, state).await {
        Ok(key) => counts.object = key,
        Err(e) => summary.failed.push(Failure { id: "verdicts".into(), error: format!("{e:#}") }),
    }
    summary.verdicts = Some(Box::new(counts));
    let candidates =
        decided.verdicts.verdicts.iter().filter(|v| v.kind == Kind::Candidate).map(|v| v.image_id.clone()).collect();
    (candidates, Some(decided))
}

/// Publishes the AMIs in retirement for the member probes (organisation mode, when the
/// list changed), before the state that remembers it is saved. A refused write is a
/// failure of the run, retried by the next one; meanwhile a member that lost sight of a
/// disabled AMI holds its verdict `unknown` (`member_lost_sight`), the safe side.
async fn publish_retiring(archive: &Archive<'_>, state: &mut CollectState, failed: &mut Vec<Failure>) {
    if org_prefix_of(&archive.keys.prefix).is_none() {
        return;
    }
    let (owner, region) = (&archive.provenance.owner_account_id, &archive.provenance.region);
    let list = retiring_list(&state.retire, owner, region);
    if !state.retiring_changed(&list) {
        return;
    }
    let key = retiring_object(&archive.keys.prefix, region);
    let written = match serde_json::to_vec(&list) {
        Ok(body) => s3::put(&archive.run.clients.s3, archive.bucket, &key, body, "application/json").await,
        Err(e) => Err(e.into()),
    };
    match written {
        Ok(()) => state.mark_retiring_published(&list),
        Err(e) => failed.push(Failure { id: key, error: format!("{e:#}") }),
    }
}

/// Queues the news and saves the state before anything is published, retried like
/// the save after the publish: the outbox must be durable before SNS hears of it.
async fn save(archive: &Archive<'_>, state: &mut CollectState, news: Vec<News>) -> anyhow::Result<()> {
    let r = archive.run;
    state.enqueue(news);
    state.prune(r.now, r.config.verdict.unused_min_days + HISTORY_MARGIN_DAYS);
    state.latest_run = Some(r.now);
    let state: &CollectState = state;
    archive.save_state(state).await
}

#[cfg(test)]
#[path = "collect_tests.rs"]
mod tests;
