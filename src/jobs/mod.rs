//! The phases: orchestration of the edges around the pure core. A job never decides
//! anything the core could decide; it fetches, asks the core, and writes.

pub mod archive;
pub mod collect;
pub mod create;
pub mod verdicts;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::aws::Clients;
use crate::config::Config;

/// When a run must stop starting new work (Lambda's deadline or `--time-budget`, less
/// a margin for in-flight calls). Work not started is left for the next run.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    pub const NONE: Deadline = Deadline(None);

    pub fn at(instant: Instant, margin: Duration) -> Self {
        Deadline(Some(instant.checked_sub(margin).unwrap_or(instant)))
    }

    pub fn passed(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }

    /// When new work stops, for tests of how a deadline is derived.
    #[cfg(test)]
    pub(crate) fn stop_at(&self) -> Option<Instant> {
        self.0
    }
}

pub struct Run<'a> {
    pub clients: &'a Clients,
    pub config: &'a Config,
    /// The run's clock (`--now`): every date the run computes derives from it.
    pub now: DateTime<Utc>,
    pub deadline: Deadline,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Failure {
    pub id: String,
    pub error: String,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum Summary {
    Create(create::CreateSummary),
    Collect(collect::CollectSummary),
}

impl Summary {
    /// Items that failed; the run itself completed.
    pub fn failures(&self) -> usize {
        match self {
            Summary::Create(s) => s.failed.len(),
            Summary::Collect(s) => s.failed.len(),
        }
    }
}
