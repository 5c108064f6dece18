//! What collect has to say, and the memory that makes it say each thing once.
//!
//! [`CollectState`] is a small JSON object in the archive bucket. News is derived from
//! archived report rows that the state has not processed yet, so a run that dies after
//! archiving but before alerting leaves the news to the next run instead of losing it.
//! News goes to an outbox that is saved *before* publishing; a key moves to `notified`
//! only after SNS accepted the message. A crash between publish and save can repeat one
//! alert (at-least-once; the save itself is retried, so an S3 refusal does not); nothing
//! can silently drop one.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::model::{ErrorStreak, Route};
use super::news::News;
use super::routing::image_of;
use crate::archive::ReportRow;
use crate::model::Ami;
use crate::retire::RetireState;
use crate::timestamp;
use crate::verdict::{Kind, LatestReport, MemberMemory, Reason, Verdict, Verdicts};
use crate::verdict::{Observation, ObservedState, OwnerObservation, ResourceTypes};

pub const STATE_SCHEMA_VERSION: u32 = 1;

fn error_news(row: &ReportRow, since: DateTime<Utc>) -> News {
    News::ReportError {
        report_id: row.report_id.clone(),
        image_id: row.image_id.clone(),
        reason: row.state_reason.clone(),
        since: Some(since),
    }
}

impl AmiState {
    /// What the verdicts dataset records of the newest available report.
    pub fn latest_report(&self) -> LatestReport {
        LatestReport { report_id: self.latest_report_id.clone(), total_usage: self.latest_total_usage }
    }

    /// Extends the error streak, or starts one (news) when there is none or EC2's
    /// reason changed: an AMI whose reports always fail is announced once, not daily.
    fn note_error(&mut self, row: &ReportRow) -> Option<News> {
        let t = row.report_creation_time;
        if let Some(s) = self.error_streak.as_mut().filter(|s| s.reason == row.state_reason) {
            s.reports = s.reports.saturating_add(1);
            s.last = s.last.max(t);
            s.since = s.since.min(t);
            return None;
        }
        self.error_streak = Some(ErrorStreak { since: t, last: t, reason: row.state_reason.clone(), reports: 1 });
        Some(error_news(row, t))
    }
}

/// What the state remembers of one AMI: a bounded report history (derived data: a
/// lost state is rebuilt from the reports EC2 still lists, and verdicts stay `unknown`
/// until the history spans the window again — the safe direction).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AmiState {
    /// The newest `available` report.
    #[serde(default)]
    pub latest_report_id: Option<String>,
    #[serde(with = "timestamp::option", default)]
    pub latest_report_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub latest_total_usage: Option<i64>,
    /// Creation time of the first zero-usage report of the current unused streak.
    #[serde(with = "timestamp::option", default)]
    pub unused_since: Option<DateTime<Utc>>,
    /// Archived reports, oldest first, pruned to the history horizon.
    #[serde(default)]
    pub history: Vec<Observation>,
    /// Since when the AMI is a candidate: a later `in_use` verdict is news.
    #[serde(with = "timestamp::option", default)]
    pub candidate_since: Option<DateTime<Utc>>,
    /// Owner-account checks, oldest first, pruned to the history horizon.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_checks: Vec<OwnerObservation>,
    /// The current run of reports in `error`, if the latest report failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_streak: Option<ErrorStreak>,
    /// What the required members' facts said of it, pruned to the history horizon
    /// (`REQUIRE_MEMBER_PROBES`; see `state::members`).
    #[serde(default, skip_serializing_if = "MemberMemory::is_empty")]
    pub members: MemberMemory,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectState {
    pub schema_version: u32,
    #[serde(default)]
    pub amis: BTreeMap<String, AmiState>,
    /// Report ids whose news has been derived, by report date (pruned after 40 days,
    /// well past EC2's 30-day expiry, so a report can never be processed twice).
    #[serde(default)]
    pub processed: BTreeMap<NaiveDate, BTreeSet<String>>,
    /// News keys already published, with when (pruned after 60 days).
    #[serde(default)]
    pub notified: BTreeMap<String, String>,
    #[serde(default)]
    pub outbox: Vec<News>,
    /// Day and digest of the last verdicts object written (see `jobs::verdicts`).
    #[serde(default)]
    pub verdicts_written: Option<String>,
    /// The Region whose collect owns this state; absent in states written before the
    /// state was per Region (`ArchiveKeys::state_object`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The clock of the newest run that saved this state (see [`CollectState::moved_by`]).
    #[serde(with = "timestamp::option", default, skip_serializing_if = "Option::is_none")]
    pub latest_run: Option<DateTime<Utc>>,
    /// The retirement pipeline's records (`core::retire`): absent in earlier states.
    #[serde(default, skip_serializing_if = "RetireState::is_empty")]
    pub retire: RetireState,
    /// Group and team of each AMI (from its tags when collect last decided it), so that
    /// news still in the outbox is routed like when it was queued; absent in states of
    /// earlier versions (their news then goes in the untagged message).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routes: BTreeMap<String, Route>,
    /// Required members without fresh probe facts, with the start of their gap (Unix
    /// seconds): the gap is announced once (`News::MemberProbeMissing`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub members_missing: BTreeMap<String, i64>,
    /// The AMIs in retirement last published for the members (`state::retiring_list`):
    /// the object is rewritten only when they change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_published: Option<String>,
}

impl Default for CollectState {
    fn default() -> Self {
        Self {
            schema_version: STATE_SCHEMA_VERSION,
            amis: BTreeMap::new(),
            processed: BTreeMap::new(),
            notified: BTreeMap::new(),
            outbox: Vec::new(),
            verdicts_written: None,
            region: None,
            latest_run: None,
            retire: RetireState::default(),
            routes: BTreeMap::new(),
            members_missing: BTreeMap::new(),
            retiring_published: None,
        }
    }
}

impl CollectState {
    /// Whether `region`'s collect may take over a state found at the legacy key: one
    /// written before states were per Region (it had exactly one writer, the Region that
    /// upgrades first), or one this Region already claimed. Another Region's claimed
    /// state would bring that Region's outbox and history along, so it starts afresh.
    pub fn adoptable_by(&self, region: &str) -> bool {
        self.region.as_deref().is_none_or(|r| r == region)
    }

    /// Whether a run at `now` may move this state. A run whose clock is before the newest
    /// run that saved it (a backfill or a re-evaluation with `--now`) archives reports,
    /// which are immutable and keyed by the report, but must not prune, absorb or
    /// announce against an earlier clock: the next run at the real time would announce
    /// old news again.
    pub fn moved_by(&self, now: DateTime<Utc>) -> bool {
        self.latest_run.is_none_or(|latest| now >= latest)
    }

    pub fn is_processed(&self, report_date: NaiveDate, report_id: &str) -> bool {
        self.processed.get(&report_date).is_some_and(|s| s.contains(report_id))
    }

    /// Folds one archived report row into the AMI's history; returns its news (a
    /// report in error). Rows may come in any order: the history stays sorted, and
    /// only a row newer than the latest one moves the unused streak.
    pub fn absorb(&mut self, row: &ReportRow) -> Vec<News> {
        let date = row.report_creation_time.date_naive();
        if !self.processed.entry(date).or_default().insert(row.report_id.clone()) {
            return Vec::new();
        }
        let observed = match row.state.as_str() {
            "available" => ObservedState::Available,
            "error" => ObservedState::Error,
            _ => return Vec::new(),
        };
        let t = row.report_creation_time;
        if row.image.is_none() {
            // Deregistered since: nothing to recommend, and no history worth keeping.
            self.amis.remove(&row.image_id);
            return (observed == ObservedState::Error).then(|| error_news(row, t)).into_iter().collect();
        }
        let ami = self.amis.entry(row.image_id.clone()).or_default();
        let types = ResourceTypes::of(row.resource_types.iter().map(|r| r.resource_type.as_str()));
        let obs = Observation::new(t, observed, row.total_usage, types);
        let at = ami.history.partition_point(|o| o.created <= obs.created);
        if at == 0 || ami.history[at - 1] != obs {
            ami.history.insert(at, obs);
        }
        if observed == ObservedState::Error {
            return ami.note_error(row).into_iter().collect();
        }
        if ami.error_streak.as_ref().is_some_and(|s| s.last < t) {
            ami.error_streak = None;
        }
        if ami.latest_report_time.is_none_or(|latest| latest <= t) {
            ami.unused_since = if row.total_usage == 0 { Some(ami.unused_since.unwrap_or(t)) } else { None };
            ami.latest_report_id = Some(row.report_id.clone());
            ami.latest_report_time = Some(t);
            ami.latest_total_usage = Some(row.total_usage);
        }
        Vec::new()
    }

    /// Remembers this run's owner-account checks (see `verdict::OWNER_CHECK_EVERY`).
    pub fn record_owner_checks(&mut self, used: &BTreeMap<String, bool>, now: DateTime<Utc>) {
        for (image_id, used) in used {
            let ami = self.amis.entry(image_id.clone()).or_default();
            ami.owner_checks.push(OwnerObservation(now.timestamp(), *used));
        }
    }

    /// This run's candidates split into the new ones (announced by news in the outbox)
    /// and the ones still unused since an earlier announcement.
    pub fn new_and_standing(&self, candidates: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
        let new: Vec<String> = self
            .outbox
            .iter()
            .filter_map(|n| match n {
                News::Candidate { image_id, .. } => Some(image_id.clone()),
                _ => None,
            })
            .collect();
        let standing = candidates.iter().filter(|c| !new.contains(c)).cloned().collect();
        (new, standing)
    }

    /// Turns this run's verdicts into news: new candidates, former candidates in use
    /// again, and the circuit breaker's warning.
    pub fn record_verdicts(&mut self, verdicts: &Verdicts, amis: &[Ami], now: DateTime<Utc>) -> Vec<News> {
        let by_id: BTreeMap<&str, &Ami> = amis.iter().map(|a| (a.image_id.as_str(), a)).collect();
        let mut news: Vec<News> = verdicts
            .verdicts
            .iter()
            .filter_map(|v| self.verdict_news(v, by_id.get(v.image_id.as_str())?, now))
            .collect();
        if let Some(b) = &verdicts.breaker {
            news.push(News::CandidatesWithheld {
                withheld: b.withheld,
                selected: b.selected,
                limit_percent: b.limit_percent,
                day: now.date_naive(),
            });
        }
        news
    }

    fn verdict_news(&mut self, v: &Verdict, ami: &Ami, now: DateTime<Utc>) -> Option<News> {
        let codes = v.reasons.iter().map(|r| r.code()).collect::<Vec<_>>();
        match v.kind {
            Kind::Candidate => {
                self.amis.entry(v.image_id.clone()).or_default().candidate_since.get_or_insert(now);
                Some(News::Candidate {
                    image_id: v.image_id.clone(),
                    name: ami.name.clone(),
                    image_created: ami.creation_date,
                    unused_since: v.unused_since.unwrap_or(now),
                    snapshot_size_gib: ami.snapshot_size_gib_total(),
                    has_billing_codes: ami.has_billing_codes(),
                    reasons: codes,
                    not_checked: v.not_checked.clone(),
                    deregistration_protected: v.deregistration_protected,
                })
            }
            Kind::InUse => {
                let state = self.amis.get_mut(&v.image_id)?;
                state.candidate_since.take()?;
                Some(News::UsedAgain {
                    image_id: v.image_id.clone(),
                    name: ami.name.clone(),
                    total_usage: state.latest_total_usage.unwrap_or(0),
                    reasons: codes,
                })
            }
            Kind::Excluded => {
                self.amis.get_mut(&v.image_id)?.candidate_since = None;
                None
            }
            // A missing member is announced once per gap (`News::MemberProbeMissing`), not
            // per AMI; a member that lost sight of this AMI is about this AMI alone.
            Kind::Unknown if v.reasons.iter().any(|r| matches!(r, Reason::EvidenceStale | Reason::MemberLostSight)) => {
                let since = self.amis.get(&v.image_id)?.candidate_since?;
                Some(News::EvidenceStale {
                    image_id: v.image_id.clone(),
                    name: ami.name.clone(),
                    candidate_since: since,
                    newest_zero_report: v.newest_zero_report,
                    member_probe_missing: !v.reasons.contains(&Reason::EvidenceStale),
                })
            }
            Kind::Unknown => None,
        }
    }

    /// AMIs that have been failing their reports for more than one report, oldest
    /// streak first: the alert's digest of standing problems (each was announced once).
    pub fn failing_reports(&self) -> Vec<(String, ErrorStreak)> {
        let mut failing: Vec<(String, ErrorStreak)> = self
            .amis
            .iter()
            .filter_map(|(id, a)| a.error_streak.clone().filter(|s| s.reports > 1).map(|s| (id.clone(), s)))
            .collect();
        failing.sort_by(|a, b| (a.1.since, &a.0).cmp(&(b.1.since, &b.0)));
        failing
    }

    /// Queues news that was neither announced nor queued yet; returns how many were new.
    pub fn enqueue(&mut self, news: impl IntoIterator<Item = News>) -> usize {
        let mut added = 0;
        for n in news {
            let key = n.key();
            if self.notified.contains_key(&key) || self.outbox.iter().any(|o| o.key() == key) {
                continue;
            }
            // A used-again AMI may become a candidate again later: that is news again.
            if let News::UsedAgain { image_id, .. } = &n {
                let prefix = format!("candidate:{image_id}:");
                self.notified.retain(|k, _| !k.starts_with(&prefix));
            }
            if let News::Candidate { image_id, .. } = &n {
                self.notified.remove(&format!("used-again:{image_id}"));
            }
            self.outbox.push(n);
            added += 1;
        }
        added
    }

    /// Marks the outbox as published.
    pub fn mark_published(&mut self, at: DateTime<Utc>) {
        for n in self.outbox.drain(..) {
            self.notified.insert(n.key(), timestamp::format(&at));
        }
    }

    /// Marks the outbox's news with these keys as published (one team's message),
    /// keeping the rest queued: a run that dies between two team messages resends only
    /// those.
    pub fn mark_published_keys(&mut self, keys: &BTreeSet<String>, at: DateTime<Utc>) {
        let outbox = std::mem::take(&mut self.outbox);
        for n in outbox {
            let key = n.key();
            if keys.contains(&key) {
                self.notified.insert(key, timestamp::format(&at));
            } else {
                self.outbox.push(n);
            }
        }
    }

    /// This run's routes, plus the earlier ones still needed by news in the outbox.
    pub fn remember_routes(&mut self, routes: BTreeMap<String, Route>) {
        let queued: BTreeSet<&str> = self.outbox.iter().filter_map(image_of).collect();
        self.routes.retain(|id, _| queued.contains(id.as_str()));
        self.routes.extend(routes);
    }

    /// Forgets processing marks after 40 days, non-candidate notices after 60 days and
    /// report history older than `history_days`.
    pub fn prune(&mut self, now: DateTime<Utc>, history_days: u32) {
        let oldest_date = (now - Duration::days(40)).date_naive();
        self.processed.retain(|d, _| *d >= oldest_date);
        let oldest_notice = timestamp::format(&(now - Duration::days(60)));
        self.notified.retain(|k, at| k.starts_with("candidate:") || *at >= oldest_notice);
        let horizon_time = now - Duration::days(i64::from(history_days));
        let horizon = horizon_time.timestamp();
        self.amis.retain(|_, a| {
            a.history.retain(|o| o.created >= horizon);
            a.owner_checks.retain(|o| o.0 >= horizon);
            a.members.prune(horizon_time);
            !a.history.is_empty() || !a.owner_checks.is_empty() || !a.members.is_empty() || a.candidate_since.is_some()
        });
    }
}

#[cfg(test)]
#[path = "collect_state_tests.rs"]
mod tests;
