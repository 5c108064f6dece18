//! The weekly digest (a **contract**: the Glue table `digests` and users' queries read
//! its row). Computed from what the archive holds, so that a query over the archive
//! returns the same numbers:
//!
//! - the week is `(now − 7 days, now]`;
//! - **standing candidates**: the `candidate` rows of the newest verdicts object of the
//!   week (none when the week has no verdicts object);
//! - the **baseline** is the newest verdicts object at or before the week's start (the
//!   job reads the day before the week too: verdicts objects are written at least
//!   daily); a standing candidate is **new** when the baseline does not list it as a
//!   candidate (no baseline: every standing candidate is new);
//! - **used again**: AMIs `in_use` in the newest object of the week that were
//!   candidates in the baseline or in any object of the week;
//! - the snapshot-cost upper bound is the alert's rule: GiB × `SNAPSHOT_GB_MONTH_USD`,
//!   per AMI rounded to cents, the total rounded from the sum of GiB;
//! - **families** (`GROUP_TAG`): per group of the newest object, every version but the
//!   newest (greatest creation date, then image id) with `account_count` and
//!   `total_usage` of its newest `available` report created in the week;
//! - **report problems**: reports in `error` created in the week.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::model::{DigestCandidate, DigestCounts, DigestProblem, DigestRow, DigestUsedAgain, FamilyVersion, cents};
use super::ri::{ReservationsPart, RiTotals};
use super::teams::{self, newest_by_image};
use crate::archive::{ArchiveKeys, ReportRow, SCHEMA_VERSION};
use crate::verdict::VerdictRow;

/// The length of the digest's week.
pub const WEEK_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq)]
pub struct DigestContext {
    pub owner_account_id: String,
    pub region: String,
    pub now: DateTime<Utc>,
    pub snapshot_gb_month_usd: f64,
    /// `RI_UTILIZATION_ALERT_PERCENT`.
    pub ri_alert_percent: u32,
    /// `ROUTE_TAG`: the tag whose value names an item's team.
    pub route_tag: Option<String>,
}

/// What the job read: verdict rows of the week and of the day before, the week's report
/// rows, and the Reserved Instance part.
pub struct DigestInput<'a> {
    pub verdicts: &'a [VerdictRow],
    pub reports: &'a [ReportRow],
    pub reservations: &'a ReservationsPart,
}

/// The week's bounds: `(start, end]`, `end` being the run's clock.
pub fn week(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (now - Duration::days(WEEK_DAYS), now)
}

/// The UTC days whose partitions the job lists: the day before the week (the baseline)
/// through the run's day.
pub fn partition_days(now: DateTime<Utc>) -> Vec<NaiveDate> {
    let (start, end) = week(now);
    let first = start.date_naive() - Duration::days(1);
    first.iter_days().take_while(|d| *d <= end.date_naive()).collect()
}

/// The digest job's progress of the day (see [`super::teams::DigestProgress`]):
/// under `state/`, outside every Glue table's location.
pub fn progress_object(keys: &ArchiveKeys, region: &str) -> String {
    format!("{}/state/region={region}/digest-progress.json", keys.prefix)
}

pub fn digest_object(keys: &ArchiveKeys, region: &str, day: NaiveDate) -> String {
    format!("{}/digests/region={region}/report_date={}/digest.json.gz", keys.prefix, day.format("%Y-%m-%d"))
}

pub fn ri_object(keys: &ArchiveKeys, region: &str, day: NaiveDate) -> String {
    format!(
        "{}/ri_utilization/region={region}/report_date={}/ri_utilization.json.gz",
        keys.prefix,
        day.format("%Y-%m-%d")
    )
}

/// The verdicts objects: rows grouped by their run's clock.
fn objects(rows: &[VerdictRow]) -> BTreeMap<DateTime<Utc>, Vec<&VerdictRow>> {
    let mut by_run: BTreeMap<DateTime<Utc>, Vec<&VerdictRow>> = BTreeMap::new();
    for row in rows {
        by_run.entry(row.evaluated_at).or_default().push(row);
    }
    by_run
}

fn candidate_ids<'a>(rows: impl IntoIterator<Item = &'a &'a VerdictRow>) -> BTreeSet<&'a str> {
    rows.into_iter().filter(|r| r.verdict == "candidate").map(|r| r.image_id.as_str()).collect()
}

/// The AMI part: candidates, used again, families, from the verdict rows.
struct VerdictPart {
    evaluated_at: Option<DateTime<Utc>>,
    candidates: Vec<DigestCandidate>,
    used_again: Vec<DigestUsedAgain>,
    latest: Vec<VerdictRow>,
}

fn verdict_part(rows: &[VerdictRow], ctx: &DigestContext) -> VerdictPart {
    let (start, end) = week(ctx.now);
    let by_run = objects(rows);
    let baseline = by_run.range(..=start).next_back().map(|(_, rows)| candidate_ids(rows)).unwrap_or_default();
    let in_week: Vec<(&DateTime<Utc>, &Vec<&VerdictRow>)> =
        by_run.iter().filter(|(at, _)| **at > start && **at <= end).collect();
    let Some((latest_at, latest)) = in_week.last() else {
        return VerdictPart { evaluated_at: None, candidates: Vec::new(), used_again: Vec::new(), latest: Vec::new() };
    };
    let mut ever: BTreeSet<&str> = baseline.clone();
    ever.extend(in_week.iter().flat_map(|(_, rows)| candidate_ids(rows.iter())));
    let mut candidates: Vec<DigestCandidate> = latest
        .iter()
        .filter(|r| r.verdict == "candidate")
        .map(|r| candidate(r, !baseline.contains(r.image_id.as_str()), ctx))
        .collect();
    candidates.sort_by(|a, b| {
        (b.new_this_week, b.snapshot_size_gib, &a.image_id).cmp(&(a.new_this_week, a.snapshot_size_gib, &b.image_id))
    });
    let used_again = latest
        .iter()
        .filter(|r| r.verdict == "in_use" && ever.contains(r.image_id.as_str()))
        .map(|r| DigestUsedAgain {
            image_id: r.image_id.clone(),
            name: r.name.clone(),
            latest_total_usage: r.latest_total_usage,
            reasons: r.reasons.clone(),
            team: None,
        })
        .collect();
    let latest = latest.iter().map(|r| (*r).clone()).collect();
    VerdictPart { evaluated_at: Some(**latest_at), candidates, used_again, latest }
}

fn candidate(r: &VerdictRow, new_this_week: bool, ctx: &DigestContext) -> DigestCandidate {
    DigestCandidate {
        image_id: r.image_id.clone(),
        name: r.name.clone(),
        new_this_week,
        days_unused: r.days_unused,
        snapshot_size_gib: r.snapshot_size_gib_total,
        snapshot_usd_month: cents(r.snapshot_size_gib_total as f64 * ctx.snapshot_gb_month_usd),
        group_value: r.group_value.clone(),
        has_billing_codes: r.has_billing_codes,
        team: None,
    }
}

fn families(latest: &[VerdictRow], reports: &[&ReportRow]) -> Vec<FamilyVersion> {
    let newest_report = newest_by_image(reports, |r| r.state == "available");
    let mut groups: BTreeMap<&str, Vec<&VerdictRow>> = BTreeMap::new();
    for row in latest {
        if let Some(g) = &row.group_value {
            groups.entry(g.as_str()).or_default().push(row);
        }
    }
    let mut out = Vec::new();
    for (group, mut rows) in groups {
        rows.sort_by(|a, b| (a.image_creation_date, &a.image_id).cmp(&(b.image_creation_date, &b.image_id)));
        let Some((newest, older)) = rows.split_last() else { continue };
        out.extend(older.iter().map(|r| {
            let report = newest_report.get(r.image_id.as_str());
            FamilyVersion {
                group_value: group.to_string(),
                image_id: r.image_id.clone(),
                name: r.name.clone(),
                image_creation_date: r.image_creation_date,
                newest_image_id: newest.image_id.clone(),
                accounts: report.map(|p| p.account_count),
                total_usage: report.map(|p| p.total_usage),
                team: None,
            }
        }));
    }
    out.sort_by(|a, b| {
        (b.accounts.unwrap_or(-1), &a.group_value, &a.image_id).cmp(&(
            a.accounts.unwrap_or(-1),
            &b.group_value,
            &b.image_id,
        ))
    });
    out
}

fn problems(reports: &[&ReportRow], route_tag: Option<&str>) -> Vec<DigestProblem> {
    let mut out: Vec<DigestProblem> = reports
        .iter()
        .filter(|r| r.state == "error")
        .map(|r| DigestProblem {
            report_id: r.report_id.clone(),
            image_id: r.image_id.clone(),
            name: r.image.as_ref().map(|i| i.name.clone()),
            report_creation_time: r.report_creation_time,
            state_reason: r.state_reason.clone(),
            team: teams::image_team(r, route_tag),
        })
        .collect();
    out.sort_by(|a, b| (a.report_creation_time, &a.report_id).cmp(&(b.report_creation_time, &b.report_id)));
    out
}

/// The digest of the week ending at `ctx.now`.
pub fn digest(input: &DigestInput, ctx: &DigestContext) -> DigestRow {
    let (start, end) = week(ctx.now);
    let reports: Vec<&ReportRow> =
        input.reports.iter().filter(|r| r.report_creation_time > start && r.report_creation_time <= end).collect();
    let mut part = verdict_part(input.verdicts, ctx);
    let mut families = families(&part.latest, &reports);
    let problems = problems(&reports, ctx.route_tag.as_deref());
    teams::assign(&mut part.candidates, &mut part.used_again, &mut families, &reports, ctx.route_tag.as_deref());
    let ri = RiTotals::of(input.reservations, ctx.now, ctx.ri_alert_percent);
    DigestRow {
        schema_version: SCHEMA_VERSION,
        digest_date: ctx.now.date_naive(),
        week_start: start,
        week_end: end,
        owner_account_id: ctx.owner_account_id.clone(),
        region: ctx.region.clone(),
        generated_at: ctx.now,
        verdicts_evaluated_at: part.evaluated_at,
        counts: DigestCounts::of(&part.candidates, &part.used_again, &families, &problems, ctx.snapshot_gb_month_usd),
        reservations: ri.reservations,
        reservations_under_threshold: ri.under_threshold,
        reservations_ending_soon: ri.ending_soon,
        reservations_status: input.reservations.status(),
        candidates: part.candidates,
        used_again_amis: part.used_again,
        families,
        problems,
    }
}

#[cfg(test)]
#[path = "compute_tests.rs"]
pub(crate) mod tests;
