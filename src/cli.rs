//! The command-line front door. Exit codes: 0 done; 1 the run failed (AWS unreachable,
//! access denied…); 2 bad input (flags or environment configuration); 3 the run
//! finished but some items failed (listed in the summary; the next run retries them).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use crate::aws::Clients;
use crate::config::RawConfig;
use crate::event::Phase;
use crate::jobs::{Deadline, Run};

#[derive(Debug, Parser)]
#[command(
    name = "ami-usage-reporter",
    version,
    about = "Archive EC2 AMI usage reports to S3 and alert on unused AMIs."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Run as if the time were this (RFC 3339): backfills, re-evaluation, tests.
    #[arg(long, global = true, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// Stop starting new work after this many seconds; the next run continues.
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub time_budget: Option<u64>,
    #[command(flatten)]
    pub config: RawConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a usage report for every selected AMI that has none in this period.
    Create,
    /// Archive finished reports to S3 and publish one alert with what is new.
    Collect,
    /// Member account: record which of its resources reference the AMIs shared with it.
    Probe,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}: expected RFC 3339, e.g. 2026-11-22T06:00:00Z"))
}

pub async fn main(cli: Cli) -> ExitCode {
    crate::lambda::init_cli_tracing();
    let phase = match cli.command {
        Command::Create => Phase::Create,
        Command::Collect => Phase::Collect,
        Command::Probe => Phase::Probe,
    };
    let config = match cli.config.validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if matches!(phase, Phase::Collect | Phase::Probe)
        && let Err(e) = config.require_bucket()
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if phase == Phase::Probe
        && let Err(e) = config.require_probe_owners()
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let clients = match Clients::from_env(&config).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let deadline = match cli.time_budget {
        Some(secs) => Deadline::at(Instant::now() + Duration::from_secs(secs), Duration::ZERO),
        None => Deadline::NONE,
    };
    let run = Run { clients: &clients, config: &config, now: cli.now.unwrap_or_else(Utc::now), deadline };
    match crate::run_phase(phase, &run).await {
        Ok(summary) => {
            println!("{}", serde_json::to_string_pretty(&summary).expect("summary serialises"));
            if summary.failures() > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
