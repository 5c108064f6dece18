//! The digest's vocabulary (a **contract**: the Glue table `digests` reads the row): its
//! items, its numbers and the one rule that counts them, for the account's row and for
//! each team's page alike.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestCandidate {
    pub image_id: String,
    pub name: String,
    /// Not a candidate in the baseline (see the module's rules).
    pub new_this_week: bool,
    pub days_unused: Option<i64>,
    pub snapshot_size_gib: i64,
    /// GiB × the configured price, rounded to cents: an upper bound.
    pub snapshot_usd_month: f64,
    pub group_value: Option<String>,
    pub has_billing_codes: bool,
    /// Its `ROUTE_TAG` value (see [`crate::digest::teams`]).
    #[serde(default)]
    pub team: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestUsedAgain {
    pub image_id: String,
    pub name: String,
    pub latest_total_usage: Option<i64>,
    pub reasons: Vec<String>,
    #[serde(default)]
    pub team: Option<String>,
}

/// A non-newest version of a family and how many accounts still run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyVersion {
    pub group_value: String,
    pub image_id: String,
    pub name: String,
    #[serde(with = "timestamp::option")]
    pub image_creation_date: Option<DateTime<Utc>>,
    pub newest_image_id: String,
    /// Distinct accounts in its newest available report of the week; `None`: no such report.
    pub accounts: Option<i64>,
    pub total_usage: Option<i64>,
    #[serde(default)]
    pub team: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestProblem {
    pub report_id: String,
    pub image_id: String,
    pub name: Option<String>,
    #[serde(with = "timestamp")]
    pub report_creation_time: DateTime<Utc>,
    pub state_reason: Option<String>,
    /// The `ROUTE_TAG` value in this report's own image tags.
    #[serde(default)]
    pub team: Option<String>,
}

/// The one row of `digests/region=<region>/report_date=<digest_date>/digest.json.gz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestRow {
    pub schema_version: u32,
    pub digest_date: NaiveDate,
    #[serde(with = "timestamp")]
    pub week_start: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub week_end: DateTime<Utc>,
    pub owner_account_id: String,
    pub region: String,
    #[serde(with = "timestamp")]
    pub generated_at: DateTime<Utc>,
    /// The newest verdicts object of the week (`None`: collect wrote none).
    #[serde(with = "timestamp::option")]
    pub verdicts_evaluated_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub counts: DigestCounts,
    pub reservations: usize,
    pub reservations_under_threshold: usize,
    pub reservations_ending_soon: usize,
    /// `off` | `ok` | `no_access: <reason>`.
    pub reservations_status: String,
    pub candidates: Vec<DigestCandidate>,
    pub used_again_amis: Vec<DigestUsedAgain>,
    pub families: Vec<FamilyVersion>,
    pub problems: Vec<DigestProblem>,
}

/// A digest's numbers (the account's, or one team's), counted from its items by
/// [`DigestCounts::of`] only. Serialised inline in the `digests` row and the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DigestCounts {
    pub candidates_new: usize,
    pub candidates_standing: usize,
    pub used_again: usize,
    pub report_problems: usize,
    pub snapshot_cost_usd_upper_bound: f64,
    /// Non-newest family versions that some account still ran this week.
    pub versions_still_used: usize,
}

impl DigestCounts {
    /// The counting rule: new and standing candidates, AMIs used again, report problems,
    /// the snapshot-cost upper bound (the sum of GiB times the price, rounded to cents)
    /// and the family versions some account still ran.
    pub fn of(
        candidates: &[DigestCandidate],
        used_again: &[DigestUsedAgain],
        families: &[FamilyVersion],
        problems: &[DigestProblem],
        snapshot_gb_month_usd: f64,
    ) -> Self {
        let gib: i64 = candidates.iter().map(|c| c.snapshot_size_gib).sum();
        DigestCounts {
            candidates_new: candidates.iter().filter(|c| c.new_this_week).count(),
            candidates_standing: candidates.len(),
            used_again: used_again.len(),
            report_problems: problems.len(),
            snapshot_cost_usd_upper_bound: cents(gib as f64 * snapshot_gb_month_usd),
            versions_still_used: families.iter().filter(|f| f.accounts.unwrap_or(0) > 0).count(),
        }
    }

    /// The counts of a row's own items.
    pub fn of_row(row: &DigestRow, snapshot_gb_month_usd: f64) -> Self {
        Self::of(&row.candidates, &row.used_again_amis, &row.families, &row.problems, snapshot_gb_month_usd)
    }
}

/// Rounds dollars to cents.
pub fn cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}
