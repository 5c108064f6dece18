//! The vocabulary collect's memory and messages share: an AMI's route, a streak of
//! failed reports, and what stands beyond one run's news.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::timestamp;

/// Consecutive failed reports of one AMI with the same reason: announced once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorStreak {
    #[serde(with = "timestamp")]
    pub since: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub last: DateTime<Utc>,
    pub reason: Option<String>,
    pub reports: u32,
}

/// Where an AMI's news goes: its `GROUP_TAG` and `ROUTE_TAG` values, taken from its
/// tags when collect decided it (kept in the state for news still in the outbox).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// What stands beyond this run's news: candidates announced earlier and report
/// failures announced when their streak began (listed with their age, not re-announced).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Standing {
    pub still_unused: usize,
    pub failing: Vec<(String, ErrorStreak)>,
}
