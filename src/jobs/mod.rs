//! The phases: orchestration of the edges around the pure core. A job never decides
//! anything the core could decide; it fetches, asks the core, and writes.

pub mod alert;
pub mod archive;
pub mod collect;
pub mod compact;
pub mod create;
pub mod digest;
pub mod durable;
pub mod member_probes;
pub mod preflight;
pub mod probe;
pub mod retire;
pub mod verdicts;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::aws::Clients;
use crate::config::Config;
use crate::event::Phase;

/// When a run must stop starting new work (Lambda's deadline or `--time-budget`, less
/// a margin for in-flight calls). Work not started is left for the next run.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    pub const NONE: Deadline = Deadline(None);

    pub fn at(instant: Instant, margin: Duration) -> Self {
        Deadline(Some(instant.checked_sub(margin).unwrap_or(instant)))
    }

    /// `budget` after `start`, less `margin`. A budget that takes the deadline past what
    /// the clock can represent is no deadline at all rather than a panic: no run lasts
    /// that long.
    pub fn after(start: Instant, budget: Duration, margin: Duration) -> Self {
        match start.checked_add(budget) {
            Some(end) => Deadline::at(end, margin),
            None => Deadline::NONE,
        }
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

/// The run's summary, printed as JSON with `phase` first (`Phase` is its one definition).
#[derive(Debug, Clone)]
pub enum Summary {
    Create(create::CreateSummary),
    Collect(Box<collect::CollectSummary>),
    Probe(probe::ProbeSummary),
    Digest(Box<digest::DigestSummary>),
    Preflight(Box<preflight::PreflightSummary>),
}

#[derive(serde::Serialize)]
struct PhaseFirst<'a, T> {
    phase: Phase,
    #[serde(flatten)]
    summary: &'a T,
}

impl serde::Serialize for Summary {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Summary::Create(s) => PhaseFirst { phase: self.phase(), summary: s }.serialize(serializer),
            Summary::Collect(s) => PhaseFirst { phase: self.phase(), summary: s }.serialize(serializer),
            Summary::Probe(s) => PhaseFirst { phase: self.phase(), summary: s }.serialize(serializer),
            Summary::Digest(s) => PhaseFirst { phase: self.phase(), summary: s.as_ref() }.serialize(serializer),
            Summary::Preflight(s) => PhaseFirst { phase: self.phase(), summary: s.as_ref() }.serialize(serializer),
        }
    }
}

impl Summary {
    /// The phase the summary is of.
    pub fn phase(&self) -> Phase {
        match self {
            Summary::Create(_) => Phase::Create,
            Summary::Collect(_) => Phase::Collect,
            Summary::Probe(_) => Phase::Probe,
            Summary::Digest(_) => Phase::Digest,
            Summary::Preflight(_) => Phase::Preflight,
        }
    }

    /// Items that failed; the run itself completed.
    pub fn failures(&self) -> usize {
        match self {
            Summary::Create(s) => s.failed.len(),
            Summary::Collect(s) => s.failed.len(),
            Summary::Probe(_) => 0,
            Summary::Digest(s) => s.failed.len(),
            Summary::Preflight(s) => s.failed,
        }
    }
}

/// A run that failed after part of its work was done: the summary of that part (what
/// was archived, what failed) travels with the error, so the CLI still prints it and
/// Lambda still logs it — an operator must never have to guess what a failed run wrote.
#[derive(Debug, thiserror::Error)]
#[error("{error:#}")]
pub struct PartialRun {
    pub summary: Box<Summary>,
    pub error: anyhow::Error,
}

impl PartialRun {
    pub fn new(summary: Summary, error: anyhow::Error) -> Self {
        Self { summary: Box::new(summary), error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_past_the_clocks_range_is_no_deadline_and_no_panic() {
        let now = Instant::now();
        assert!(Deadline::after(now, Duration::from_secs(u64::MAX), Duration::ZERO).stop_at().is_none());
        assert!(Deadline::after(now, Duration::MAX, Duration::from_secs(60)).stop_at().is_none());
        let hour = Deadline::after(now, Duration::from_secs(3600), Duration::from_secs(60));
        assert_eq!(hour.stop_at(), Some(now + Duration::from_secs(3540)));
    }

    #[test]
    fn summaries_print_their_phase_first() {
        let create = serde_json::to_string(&Summary::Create(create::CreateSummary::default())).unwrap();
        assert!(create.starts_with(r#"{"phase":"create","period":"#), "{create}");
        let collect = serde_json::to_string(&Summary::Collect(Box::default())).unwrap();
        assert!(collect.starts_with(r#"{"phase":"collect","reports_seen":0"#), "{collect}");
    }
}
