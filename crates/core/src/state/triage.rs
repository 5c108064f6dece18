//! Sorting this tool's reports into what collect must do with each of them.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use super::collect_state::CollectState;
use super::news::News;
use crate::archive::is_archivable;
use crate::model::{MalformedReport, PendingUpload, ReportState, UsageReport};

#[derive(Debug, Default, PartialEq)]
pub struct Triage {
    /// `available` or `error` and not archived yet, oldest first (closest to expiry).
    pub to_archive: Vec<UsageReport>,
    pub already_archived: usize,
    /// Still `pending`, within the allowed time.
    pub pending: Vec<UsageReport>,
    /// Still `pending` for longer than the alert threshold.
    pub pending_too_long: Vec<UsageReport>,
    /// A state this version does not know; surfaced, never archived as if understood.
    pub unknown_state: Vec<UsageReport>,
}

pub fn triage(
    reports: &[UsageReport],
    archived: &BTreeSet<String>,
    now: DateTime<Utc>,
    pending_alert: Duration,
) -> Triage {
    let mut t = Triage::default();
    for r in reports {
        if archived.contains(&r.report_id) {
            t.already_archived += 1;
            continue;
        }
        match &r.state {
            s if is_archivable(s) => t.to_archive.push(r.clone()),
            ReportState::Pending if now - r.creation_time > pending_alert => t.pending_too_long.push(r.clone()),
            ReportState::Pending => t.pending.push(r.clone()),
            _ => t.unknown_state.push(r.clone()),
        }
    }
    t.to_archive.sort_by(|a, b| (a.expiration_time, &a.report_id).cmp(&(b.expiration_time, &b.report_id)));
    t
}

/// Reports that are still not archived and that EC2 deletes within `warning`.
pub fn expiring_unarchived<'a>(
    reports: &'a [UsageReport],
    archived: &BTreeSet<String>,
    now: DateTime<Utc>,
    warning: Duration,
) -> Vec<&'a UsageReport> {
    reports.iter().filter(|r| !archived.contains(&r.report_id) && r.expiration_time - now <= warning).collect()
}

/// Reports an earlier run archived whose rows the state has not absorbed: that run died
/// between archiving and saving the state, so their rows are read back and their news
/// derived now (never lost, never twice: the state remembers processed reports).
pub fn unabsorbed<'a>(
    reports: &'a [UsageReport],
    archived: &BTreeSet<String>,
    archived_now: &BTreeSet<String>,
    state: &CollectState,
) -> Vec<&'a UsageReport> {
    reports
        .iter()
        .filter(|r| archived.contains(&r.report_id) && !archived_now.contains(&r.report_id))
        .filter(|r| !state.is_processed(r.creation_time.date_naive(), &r.report_id))
        .collect()
}

/// The news of reports that are late: pending too long, or about to expire unarchived.
pub fn lateness_news(pending_too_long: &[UsageReport], expiring: &[&UsageReport]) -> Vec<News> {
    let pending = pending_too_long.iter().map(|p| News::PendingTooLong {
        report_id: p.report_id.clone(),
        image_id: p.image_id.clone(),
        created: p.creation_time,
    });
    let expiring = expiring.iter().map(|p| News::ExpiringUnarchived {
        report_id: p.report_id.clone(),
        image_id: p.image_id.clone(),
        state: p.state.as_str().to_string(),
        expires: p.expiration_time,
    });
    pending.chain(expiring).collect()
}

/// How old an unfinished upload must be before collect takes it for a dead run's:
/// a Lambda invocation lasts 15 minutes at most, and one part takes seconds, so an hour
/// never aborts the upload of a run still alive (a CLI run with a longer budget streams
/// each object in minutes too).
pub const STALE_UPLOAD_AGE: Duration = Duration::hours(1);

/// Uploads a dead run left behind: started more than [`STALE_UPLOAD_AGE`] before now.
/// One without a start time is left to the bucket's lifecycle rule (nothing can tell
/// whether a live run owns it).
pub fn stale_uploads(uploads: &[PendingUpload], now: DateTime<Utc>) -> Vec<&PendingUpload> {
    uploads.iter().filter(|u| u.initiated.is_some_and(|t| now - t > STALE_UPLOAD_AGE)).collect()
}

/// One piece of news per quarantined report (its key is the report id, or the problem
/// when EC2 gave no id): announced once, however many runs list it.
pub fn quarantine_news(malformed: &[MalformedReport]) -> Vec<News> {
    malformed
        .iter()
        .map(|m| News::MalformedReport {
            report_id: m.report_id.clone(),
            image_id: m.image_id.clone(),
            problem: m.problem.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str, state: &str, created: &str) -> UsageReport {
        let creation_time: DateTime<Utc> = created.parse().unwrap();
        UsageReport {
            report_id: id.into(),
            image_id: format!("ami-{id}"),
            state: ReportState::parse(state),
            state_reason: None,
            resource_types: vec![],
            account_ids: vec![],
            creation_time,
            expiration_time: creation_time + Duration::days(30),
            tags: Default::default(),
        }
    }

    #[test]
    fn only_uploads_older_than_any_live_run_are_stale() {
        let now: DateTime<Utc> = "2026-12-01T12:00:00Z".parse().unwrap();
        let upload = |id: &str, minutes_ago: Option<i64>| PendingUpload {
            key: format!("ami-usage/entries/{id}.json.gz"),
            upload_id: id.into(),
            initiated: minutes_ago.map(|m| now - Duration::minutes(m)),
        };
        let uploads =
            [upload("old", Some(61)), upload("live", Some(14)), upload("edge", Some(60)), upload("undated", None)];
        let stale: Vec<&str> = stale_uploads(&uploads, now).iter().map(|u| u.upload_id.as_str()).collect();
        assert_eq!(stale, ["old"]);
    }

    #[test]
    fn sorts_reports_by_what_collect_must_do() {
        let now: DateTime<Utc> = "2026-11-22T12:00:00Z".parse().unwrap();
        let reports = vec![
            report("a", "available", "2026-11-22T00:00:00Z"),
            report("b", "available", "2026-11-01T00:00:00Z"),
            report("c", "error", "2026-11-22T00:00:00Z"),
            report("d", "pending", "2026-11-22T06:00:00Z"),
            report("e", "pending", "2026-11-20T06:00:00Z"),
            report("f", "available", "2026-11-21T00:00:00Z"),
            report("g", "exploded", "2026-11-21T00:00:00Z"),
        ];
        let archived: BTreeSet<String> = ["f".to_string()].into();
        let t = triage(&reports, &archived, now, Duration::hours(24));
        let ids = |v: &[UsageReport]| v.iter().map(|r| r.report_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&t.to_archive), vec!["b", "a", "c"]);
        assert_eq!(t.already_archived, 1);
        assert_eq!(ids(&t.pending), vec!["d"]);
        assert_eq!(ids(&t.pending_too_long), vec!["e"]);
        assert_eq!(ids(&t.unknown_state), vec!["g"]);
    }

    #[test]
    fn expiring_means_unarchived_and_inside_the_warning_window() {
        let now: DateTime<Utc> = "2026-11-25T00:00:00Z".parse().unwrap();
        let reports = vec![
            report("old", "pending", "2026-10-28T00:00:00Z"),
            report("archived", "available", "2026-10-28T00:00:00Z"),
            report("young", "pending", "2026-11-20T00:00:00Z"),
        ];
        let archived: BTreeSet<String> = ["archived".to_string()].into();
        let e = expiring_unarchived(&reports, &archived, now, Duration::days(7));
        assert_eq!(e.iter().map(|r| r.report_id.as_str()).collect::<Vec<_>>(), vec!["old"]);
    }
}
