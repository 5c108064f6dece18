//! What collect has to say, and the memory that makes it say each thing once.
//!
//! [`CollectState`] is a small JSON object in the archive bucket. News is derived from
//! archived report rows that the state has not processed yet, so a run that dies after
//! archiving but before alerting leaves the news to the next run instead of losing it.
//! News goes to an outbox that is saved *before* publishing; a key moves to `notified`
//! only after SNS accepted the message. A crash between publish and save can repeat one
//! alert (at-least-once); nothing can silently drop one.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::records::{ReportRow, timestamp};

pub const STATE_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum News {
    /// The AMI's latest report shows no usage in any other account.
    Candidate {
        image_id: String,
        name: String,
        #[serde(with = "timestamp::option")]
        image_created: Option<DateTime<Utc>>,
        #[serde(with = "timestamp")]
        unused_since: DateTime<Utc>,
        snapshot_size_gib: i64,
        has_billing_codes: bool,
    },
    /// A former candidate is used again: whoever planned to deregister it must stop.
    UsedAgain {
        image_id: String,
        name: String,
        total_usage: i64,
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
            News::ReportError { report_id, .. } => format!("error:{report_id}"),
            News::PendingTooLong { report_id, .. } => format!("pending-too-long:{report_id}"),
            News::ExpiringUnarchived { report_id, .. } => format!("expiring:{report_id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmiState {
    pub latest_report_id: String,
    #[serde(with = "timestamp")]
    pub latest_report_time: DateTime<Utc>,
    pub latest_total_usage: i64,
    /// Creation time of the first zero-usage report of the current unused streak.
    #[serde(with = "timestamp::option", default)]
    pub unused_since: Option<DateTime<Utc>>,
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
}

impl Default for CollectState {
    fn default() -> Self {
        Self {
            schema_version: STATE_SCHEMA_VERSION,
            amis: BTreeMap::new(),
            processed: BTreeMap::new(),
            notified: BTreeMap::new(),
            outbox: Vec::new(),
        }
    }
}

impl CollectState {
    pub fn is_processed(&self, report_date: NaiveDate, report_id: &str) -> bool {
        self.processed.get(&report_date).is_some_and(|s| s.contains(report_id))
    }

    /// Folds one archived report row into the per-AMI history and returns its news.
    /// Rows are expected in creation order; an older row than the AMI's latest only
    /// marks itself processed.
    pub fn absorb(&mut self, row: &ReportRow) -> Vec<News> {
        let date = row.report_creation_time.date_naive();
        if !self.processed.entry(date).or_default().insert(row.report_id.clone()) {
            return Vec::new();
        }
        let mut news = Vec::new();
        if row.state == "error" {
            news.push(News::ReportError {
                report_id: row.report_id.clone(),
                image_id: row.image_id.clone(),
                reason: row.state_reason.clone(),
            });
            return news;
        }
        if row.state != "available" {
            return news;
        }
        let Some(image) = &row.image else {
            // Deregistered since: nothing to recommend, and no history worth keeping.
            self.amis.remove(&row.image_id);
            return news;
        };
        let previous = self.amis.get(&row.image_id);
        if previous.is_some_and(|p| p.latest_report_time > row.report_creation_time) {
            return news;
        }
        let was_unused_since = previous.and_then(|p| p.unused_since);
        let unused_since =
            if row.total_usage == 0 { Some(was_unused_since.unwrap_or(row.report_creation_time)) } else { None };
        match (was_unused_since, unused_since) {
            (_, Some(since)) => news.push(News::Candidate {
                image_id: row.image_id.clone(),
                name: image.name.clone(),
                image_created: image.creation_date,
                unused_since: since,
                snapshot_size_gib: image.snapshot_size_gib_total,
                has_billing_codes: !image.billing_products.is_empty() || !image.product_codes.is_empty(),
            }),
            (Some(_), None) => news.push(News::UsedAgain {
                image_id: row.image_id.clone(),
                name: image.name.clone(),
                total_usage: row.total_usage,
            }),
            (None, None) => {}
        }
        self.amis.insert(
            row.image_id.clone(),
            AmiState {
                latest_report_id: row.report_id.clone(),
                latest_report_time: row.report_creation_time,
                latest_total_usage: row.total_usage,
                unused_since,
            },
        );
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

    /// AMIs whose latest report shows no usage, excluding those announced in `outbox`.
    pub fn still_unused(&self) -> usize {
        let fresh: BTreeSet<&str> = self
            .outbox
            .iter()
            .filter_map(|n| match n {
                News::Candidate { image_id, .. } => Some(image_id.as_str()),
                _ => None,
            })
            .collect();
        self.amis.iter().filter(|(id, a)| a.unused_since.is_some() && !fresh.contains(id.as_str())).count()
    }

    pub fn prune(&mut self, now: DateTime<Utc>) {
        let oldest_date = (now - Duration::days(40)).date_naive();
        self.processed.retain(|d, _| *d >= oldest_date);
        let oldest_notice = timestamp::format(&(now - Duration::days(60)));
        self.notified.retain(|k, at| k.starts_with("candidate:") || *at >= oldest_notice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::records::{ImageRow, SCHEMA_VERSION};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn row(report_id: &str, image_id: &str, created: &str, total_usage: i64) -> ReportRow {
        ReportRow {
            schema_version: SCHEMA_VERSION,
            report_id: report_id.into(),
            image_id: image_id.into(),
            owner_account_id: "123456789012".into(),
            region: "us-east-1".into(),
            state: "available".into(),
            state_reason: None,
            resource_types: vec![],
            account_ids: vec![],
            report_creation_time: t(created),
            report_expiration_time: t(created) + Duration::days(30),
            tags: Default::default(),
            image: Some(ImageRow {
                name: format!("name-{image_id}"),
                description: None,
                creation_date: Some(t("2026-01-01T00:00:00Z")),
                state: "available".into(),
                architecture: None,
                platform_details: None,
                usage_operation: None,
                tags: Default::default(),
                billing_products: vec![],
                product_codes: vec![],
                block_devices: vec![],
                snapshot_size_gib_total: 8,
            }),
            entry_count: if total_usage > 0 { 1 } else { 0 },
            account_count: if total_usage > 0 { 1 } else { 0 },
            total_usage,
            instance_usage: total_usage,
            launch_template_usage: 0,
            collected_at: t(created),
        }
    }

    #[test]
    fn zero_usage_makes_a_candidate_once_per_streak() {
        let mut s = CollectState::default();
        let n1 = s.absorb(&row("r1", "ami-1", "2026-11-01T00:00:00Z", 0));
        assert!(
            matches!(&n1[..], [News::Candidate { unused_since, .. }] if *unused_since == t("2026-11-01T00:00:00Z"))
        );
        assert_eq!(s.enqueue(n1), 1);
        s.mark_published(t("2026-11-01T01:00:00Z"));
        let n2 = s.absorb(&row("r2", "ami-1", "2026-11-02T00:00:00Z", 0));
        assert_eq!(n2[0].key(), "candidate:ami-1:2026-11-01T00:00:00.000Z");
        assert_eq!(s.enqueue(n2), 0, "same streak is not news again");
        assert_eq!(s.still_unused(), 1);
    }

    #[test]
    fn usage_after_candidacy_is_news_and_resets_the_streak() {
        let mut s = CollectState::default();
        let n = s.absorb(&row("r1", "ami-1", "2026-11-01T00:00:00Z", 0));
        s.enqueue(n);
        s.mark_published(t("2026-11-01T01:00:00Z"));
        let n = s.absorb(&row("r2", "ami-1", "2026-11-02T00:00:00Z", 5));
        assert!(matches!(&n[..], [News::UsedAgain { total_usage: 5, .. }]));
        assert_eq!(s.enqueue(n), 1);
        s.mark_published(t("2026-11-02T01:00:00Z"));
        let n = s.absorb(&row("r3", "ami-1", "2026-11-03T00:00:00Z", 0));
        assert_eq!(s.enqueue(n), 1, "a new streak is news again");
    }

    #[test]
    fn used_ami_is_not_news_and_reprocessing_is_a_no_op() {
        let mut s = CollectState::default();
        assert!(s.absorb(&row("r1", "ami-1", "2026-11-01T00:00:00Z", 3)).is_empty());
        assert!(s.absorb(&row("r0", "ami-0", "2026-11-01T00:00:00Z", 0)).len() == 1);
        assert!(s.absorb(&row("r0", "ami-0", "2026-11-01T00:00:00Z", 0)).is_empty());
        assert!(s.is_processed(t("2026-11-01T00:00:00Z").date_naive(), "r0"));
    }

    #[test]
    fn older_row_does_not_override_newer_history() {
        let mut s = CollectState::default();
        s.absorb(&row("r2", "ami-1", "2026-11-02T00:00:00Z", 4));
        assert!(s.absorb(&row("r1", "ami-1", "2026-11-01T00:00:00Z", 0)).is_empty());
        assert_eq!(s.amis["ami-1"].latest_report_id, "r2");
    }

    #[test]
    fn error_rows_are_news_and_deregistered_amis_are_forgotten() {
        let mut s = CollectState::default();
        let mut e = row("r1", "ami-1", "2026-11-01T00:00:00Z", 0);
        e.state = "error".into();
        e.state_reason = Some("boom".into());
        assert!(matches!(&s.absorb(&e)[..], [News::ReportError { reason: Some(r), .. }] if r == "boom"));
        s.absorb(&row("r2", "ami-2", "2026-11-01T00:00:00Z", 0));
        let mut gone = row("r3", "ami-2", "2026-11-02T00:00:00Z", 0);
        gone.image = None;
        assert!(s.absorb(&gone).is_empty());
        assert!(!s.amis.contains_key("ami-2"));
    }

    #[test]
    fn outbox_survives_until_published_and_state_round_trips() {
        let mut s = CollectState::default();
        let n = s.absorb(&row("r1", "ami-1", "2026-11-01T00:00:00Z", 0));
        s.enqueue(n);
        let json = serde_json::to_string(&s).unwrap();
        let mut back: CollectState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.outbox.len(), 1);
        back.mark_published(t("2026-11-01T02:00:00Z"));
        assert!(back.outbox.is_empty());
        assert!(back.notified.contains_key("candidate:ami-1:2026-11-01T00:00:00.000Z"));
    }

    #[test]
    fn prune_forgets_old_processing_but_keeps_candidate_keys() {
        let mut s = CollectState::default();
        s.absorb(&row("r1", "ami-1", "2026-09-01T00:00:00Z", 0));
        let mut e = row("r2", "ami-2", "2026-09-01T00:00:00Z", 0);
        e.state = "error".into();
        let n = s.absorb(&e);
        s.enqueue(n);
        let n = s.absorb(&row("r3", "ami-3", "2026-09-01T00:00:00Z", 0));
        s.enqueue(n);
        s.mark_published(t("2026-09-01T01:00:00Z"));
        s.prune(t("2026-11-22T00:00:00Z"));
        assert!(s.processed.is_empty());
        assert!(!s.notified.contains_key("error:r2"));
        assert!(s.notified.keys().any(|k| k.starts_with("candidate:ami-3")));
    }
}
