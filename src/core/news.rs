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

use super::model::Ami;
use super::records::{ReportRow, timestamp};
use super::verdict::{Kind, Observation, ObservedState, Verdicts};

pub const STATE_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum News {
    /// The AMI's verdict became `candidate` (see [`super::verdict`]).
    Candidate {
        image_id: String,
        name: String,
        #[serde(with = "timestamp::option")]
        image_created: Option<DateTime<Utc>>,
        #[serde(with = "timestamp")]
        unused_since: DateTime<Utc>,
        snapshot_size_gib: i64,
        has_billing_codes: bool,
        #[serde(default)]
        reasons: Vec<String>,
    },
    /// A former candidate is used again: whoever planned to deregister it must stop.
    UsedAgain {
        image_id: String,
        name: String,
        total_usage: i64,
        #[serde(default)]
        reasons: Vec<String>,
    },
    /// The circuit breaker held back the candidate list (too many at once).
    CandidatesWithheld {
        withheld: usize,
        selected: usize,
        limit_percent: u32,
        /// The UTC day: while the condition lasts it is announced once a day.
        day: NaiveDate,
    },
    ReportError {
        report_id: String,
        image_id: String,
        reason: Option<String>,
    },
    PendingTooLong {
        report_id: String,
        image_id: String,
        #[serde(with = "timestamp")]
        created: DateTime<Utc>,
    },
    ExpiringUnarchived {
        report_id: String,
        image_id: String,
        state: String,
        #[serde(with = "timestamp")]
        expires: DateTime<Utc>,
    },
}

impl News {
    /// Identity of a piece of news: the same key is never announced twice.
    pub fn key(&self) -> String {
        match self {
            News::Candidate { image_id, unused_since, .. } => {
                format!("candidate:{image_id}:{}", timestamp::format(unused_since))
            }
            News::UsedAgain { image_id, .. } => format!("used-again:{image_id}"),
            News::CandidatesWithheld { day, .. } => format!("withheld:{day}"),
            News::ReportError { report_id, .. } => format!("error:{report_id}"),
            News::PendingTooLong { report_id, .. } => format!("pending-too-long:{report_id}"),
            News::ExpiringUnarchived { report_id, .. } => format!("expiring:{report_id}"),
        }
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
        let mut news = Vec::new();
        let observed = match row.state.as_str() {
            "available" => ObservedState::Available,
            "error" => {
                news.push(News::ReportError {
                    report_id: row.report_id.clone(),
                    image_id: row.image_id.clone(),
                    reason: row.state_reason.clone(),
                });
                ObservedState::Error
            }
            _ => return news,
        };
        if row.image.is_none() {
            // Deregistered since: nothing to recommend, and no history worth keeping.
            self.amis.remove(&row.image_id);
            return news;
        }
        let ami = self.amis.entry(row.image_id.clone()).or_default();
        let obs = Observation::new(row.report_creation_time, observed, row.total_usage);
        let at = ami.history.partition_point(|o| o.0 <= obs.0);
        if at == 0 || ami.history[at - 1] != obs {
            ami.history.insert(at, obs);
        }
        let t = row.report_creation_time;
        if observed == ObservedState::Available && ami.latest_report_time.is_none_or(|latest| latest <= t) {
            ami.unused_since = if row.total_usage == 0 { Some(ami.unused_since.unwrap_or(t)) } else { None };
            ami.latest_report_id = Some(row.report_id.clone());
            ami.latest_report_time = Some(t);
            ami.latest_total_usage = Some(row.total_usage);
        }
        news
    }

    /// Turns this run's verdicts into news: new candidates, former candidates in use
    /// again, and the circuit breaker's warning.
    pub fn record_verdicts(&mut self, verdicts: &Verdicts, amis: &[Ami], now: DateTime<Utc>) -> Vec<News> {
        let by_id: BTreeMap<&str, &Ami> = amis.iter().map(|a| (a.image_id.as_str(), a)).collect();
        let mut news = Vec::new();
        for v in &verdicts.verdicts {
            let Some(ami) = by_id.get(v.image_id.as_str()) else { continue };
            let codes = v.reasons.iter().map(|r| r.code()).collect::<Vec<_>>();
            match v.kind {
                Kind::Candidate => {
                    let state = self.amis.entry(v.image_id.clone()).or_default();
                    state.candidate_since.get_or_insert(now);
                    news.push(News::Candidate {
                        image_id: v.image_id.clone(),
                        name: ami.name.clone(),
                        image_created: ami.creation_date,
                        unused_since: v.unused_since.unwrap_or(now),
                        snapshot_size_gib: ami.snapshot_size_gib_total(),
                        has_billing_codes: ami.has_billing_codes(),
                        reasons: codes,
                    });
                }
                Kind::InUse => {
                    if let Some(state) = self.amis.get_mut(&v.image_id)
                        && state.candidate_since.take().is_some()
                    {
                        news.push(News::UsedAgain {
                            image_id: v.image_id.clone(),
                            name: ami.name.clone(),
                            total_usage: state.latest_total_usage.unwrap_or(0),
                            reasons: codes,
                        });
                    }
                }
                Kind::Excluded => {
                    if let Some(state) = self.amis.get_mut(&v.image_id) {
                        state.candidate_since = None;
                    }
                }
                Kind::Unknown => {}
            }
        }
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

    /// Forgets processing marks after 40 days, non-candidate notices after 60 days and
    /// report history older than `history_days`.
    pub fn prune(&mut self, now: DateTime<Utc>, history_days: u32) {
        let oldest_date = (now - Duration::days(40)).date_naive();
        self.processed.retain(|d, _| *d >= oldest_date);
        let oldest_notice = timestamp::format(&(now - Duration::days(60)));
        self.notified.retain(|k, at| k.starts_with("candidate:") || *at >= oldest_notice);
        let horizon = (now - Duration::days(i64::from(history_days))).timestamp();
        self.amis.retain(|_, a| {
            a.history.retain(|o| o.0 >= horizon);
            !a.history.is_empty() || a.candidate_since.is_some()
        });
    }
}

#[cfg(test)]
#[path = "news_tests.rs"]
mod tests;
