//! What a digest run did (its summary, printed as JSON) and where it reads and writes.

use chrono::NaiveDate;
use serde::Serialize;

use crate::core::archive::ArchiveKeys;
use crate::core::digest::{DigestCounts, DigestRow};
use crate::jobs::{Failure, Run};

#[derive(Debug, Clone, Default, Serialize)]
pub struct DigestSummary {
    pub digest_date: NaiveDate,
    /// The digest object (written by this run, or found from an earlier one); `None`
    /// when the publish failed (a re-run publishes and writes it).
    pub object: Option<String>,
    /// The `ri_utilization` object, when there were reservation rows to write.
    pub ri_object: Option<String>,
    #[serde(flatten)]
    pub counts: DigestCounts,
    pub reservations: usize,
    pub reservations_under_threshold: usize,
    pub reservations_ending_soon: usize,
    pub reservations_status: String,
    /// An earlier run of the day wrote the digest: nothing was published again.
    pub already_digested: bool,
    /// The subject of the account's message (the only one without `ROUTE_TAG`).
    pub subject: Option<String>,
    /// Every message of the day was published (by this run or an earlier one).
    pub published: bool,
    /// The account message's id, when this run published it.
    pub message_id: Option<String>,
    /// Messages this run published (teams' and the account's).
    pub messages_published: usize,
    /// The teams whose message this run published, in order (`ROUTE_TAG`).
    pub teams_published: Vec<String>,
    pub verdicts_objects_read: usize,
    pub report_objects_read: usize,
    pub cost_explorer_calls: usize,
    pub failed: Vec<Failure>,
}

impl DigestSummary {
    pub(super) fn of(row: &DigestRow, object: Option<String>) -> Self {
        DigestSummary {
            digest_date: row.digest_date,
            object,
            counts: row.counts.clone(),
            reservations: row.reservations,
            reservations_under_threshold: row.reservations_under_threshold,
            reservations_ending_soon: row.reservations_ending_soon,
            reservations_status: row.reservations_status.clone(),
            ..Default::default()
        }
    }
}

/// Where the digest reads and writes.
pub(super) struct Place<'a> {
    pub(super) run: &'a Run<'a>,
    pub(super) bucket: &'a str,
    pub(super) keys: ArchiveKeys,
    pub(super) account: String,
    pub(super) region: String,
}
