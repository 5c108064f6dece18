//! ami-usage-reporter: archives EC2 AMI usage reports to S3 and alerts on unused AMIs.
//! See ARCHITECTURE.md for the map of modules and the invariants they keep.

pub mod aws;
pub mod cli;
pub mod config;
pub use ami_usage_core as core;
pub mod event;
pub mod jobs;
pub mod lambda;
pub mod metrics;

use event::Phase;
use jobs::{Run, Summary};

/// Runs one phase: the single entry both front doors call.
pub async fn run_phase(phase: Phase, run: &Run<'_>) -> anyhow::Result<Summary> {
    Ok(match phase {
        Phase::Create => Summary::Create(jobs::create::run(run).await?),
        Phase::Collect => Summary::Collect(Box::new(jobs::collect::run(run).await?)),
        Phase::Probe => Summary::Probe(jobs::probe::run(run).await?),
        Phase::Digest => Summary::Digest(Box::new(jobs::digest::run(run).await?)),
        Phase::Preflight => Summary::Preflight(Box::new(jobs::preflight::run(run).await?)),
    })
}
