//! The command-line front door. Exit codes: 0 done; 1 the run failed (AWS unreachable,
//! access denied…); 2 bad input (flags or environment configuration); 3 the run
//! finished but some items failed (listed in the summary; the next run retries them).
//! preflight: 0 all good, 3 warnings, 1 something will fail.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use clap::{CommandFactory, Parser, Subcommand};

use crate::aws::Clients;
use crate::config::{RawConfig, check_env_is_utf8};
use crate::event::Phase;
use crate::jobs::{Deadline, Run};

/// How far `--now` may lie before the real clock without `--allow-any-now`: backfills
/// and re-evaluations of the past year and a bit (EC2 keeps a report 30 days; an
/// archive is re-evaluated over at most UNUSED_MIN_DAYS ≤ 365).
pub const NOW_DAYS_BEFORE: i64 = 400;
/// How far `--now` may lie after the real clock without `--allow-any-now`: enough for a
/// rehearsal of two default verdict windows on an emulated clock, not enough for a
/// typo (year 9999, a swapped month and year) to write periods and verdicts that the
/// next real run would take as history.
pub const NOW_DAYS_AFTER: i64 = 62;
/// The longest `--time-budget`, in seconds: a week.
pub const MAX_TIME_BUDGET: u64 = 7 * 24 * 3600;

#[derive(Debug, Parser)]
#[command(
    name = "ami-usage-reporter",
    version,
    about = "Archive EC2 AMI usage reports to S3 and alert on unused AMIs."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Run as if the time were this (RFC 3339): backfills, re-evaluation, tests. At most
    /// 400 days before and 62 days after the real clock, unless --allow-any-now.
    #[arg(long, global = true, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// Accept a --now outside the window around the real clock.
    #[arg(long, global = true)]
    pub allow_any_now: bool,
    /// Stop starting new work after this many seconds (1–604800); the next run continues.
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_time_budget, allow_negative_numbers = true)]
    pub time_budget: Option<u64>,
    #[command(flatten)]
    pub config: RawConfig,
}

/// The phases, one subcommand each (named as `Phase::as_str`).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a usage report for every selected AMI that has none in this period.
    Create,
    /// Archive finished reports to S3 and publish one alert with what is new.
    Collect,
    /// Member account: record which of its resources reference the AMIs shared with it.
    Probe,
    /// The weekly digest: the week's candidates, families, report problems and (opt-in)
    /// Reserved Instance utilization, archived and published as one message.
    Digest,
    /// Check, without effect, everything the configured phases need; print one table.
    /// Exit 0 all good, 3 warnings, 1 something will fail.
    Preflight {
        /// Print the summary as JSON (the Lambda answer) instead of the table.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    pub fn phase(&self) -> Phase {
        match self {
            Command::Create => Phase::Create,
            Command::Collect => Phase::Collect,
            Command::Probe => Phase::Probe,
            Command::Digest => Phase::Digest,
            Command::Preflight { .. } => Phase::Preflight,
        }
    }
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}: expected RFC 3339, e.g. 2026-11-22T06:00:00Z"))
}

fn parse_time_budget(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(secs) if (1..=MAX_TIME_BUDGET).contains(&secs) => Ok(secs),
        _ => Err(format!("--time-budget takes a whole number of seconds from 1 to {MAX_TIME_BUDGET}")),
    }
}

/// The run's clock: `--now` if given and inside the window around `real` (or
/// `--allow-any-now`), else `real`.
pub fn run_clock(now: Option<DateTime<Utc>>, allow_any: bool, real: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let Some(now) = now else {
        return Ok(real);
    };
    let earliest = real.checked_sub_signed(TimeDelta::days(NOW_DAYS_BEFORE)).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let latest = real.checked_add_signed(TimeDelta::days(NOW_DAYS_AFTER)).unwrap_or(DateTime::<Utc>::MAX_UTC);
    if allow_any || (earliest..=latest).contains(&now) {
        return Ok(now);
    }
    Err(format!(
        "--now {} is outside {} to {} ({NOW_DAYS_BEFORE} days before to {NOW_DAYS_AFTER} days after the real clock); \
         pass --allow-any-now to run at that time anyway",
        now.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        earliest.format("%Y-%m-%d"),
        latest.format("%Y-%m-%d"),
    ))
}

/// Reads the command line. Bad input is one line on stderr and exit 2: clap's message
/// cut to its first line (its usage block would bury it), with the phases listed when
/// the phase is what is wrong.
pub fn parse() -> Result<Cli, ExitCode> {
    if let Err(e) = check_env_is_utf8() {
        eprintln!("error: {e}");
        return Err(ExitCode::from(2));
    }
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(line) = non_utf8_argument(&args) {
        eprintln!("{line}");
        return Err(ExitCode::from(2));
    }
    Cli::try_parse_from(args).map_err(usage_error)
}

/// The line for the first argument that is not UTF-8, naming its flag (clap's own
/// message names none).
fn non_utf8_argument(args: &[OsString]) -> Option<String> {
    let at = args.iter().skip(1).position(|a| a.to_str().is_none())? + 1;
    let this = args[at].to_string_lossy();
    let flag = match this.split_once('=') {
        Some((flag, _)) if flag.starts_with("--") => flag.to_string(),
        _ => args[at - 1].to_str().filter(|p| p.starts_with("--")).unwrap_or("an argument").to_string(),
    };
    Some(format!("error: the value of {flag} is not valid UTF-8: give it in UTF-8"))
}

fn usage_error(e: clap::Error) -> ExitCode {
    match usage_message(&e) {
        Some(line) => {
            eprintln!("{line}");
            ExitCode::from(2)
        }
        None => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
    }
}

/// The one line for a usage error; `None` for `--help` and `--version`, which print as
/// clap renders them.
fn usage_message(e: &clap::Error) -> Option<String> {
    use clap::error::ErrorKind;
    let phases = || Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect::<Vec<_>>().join(", ");
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or("error: bad arguments");
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => None,
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            Some(format!("error: no phase given: the phases are {}", phases()))
        }
        ErrorKind::InvalidSubcommand => Some(format!("{first}: the phases are {}", phases())),
        _ => Some(first.to_string()),
    }
}

pub async fn main(cli: Cli) -> ExitCode {
    crate::lambda::init_cli_tracing();
    let phase = cli.command.phase();
    let bad_input = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    let now = match run_clock(cli.now, cli.allow_any_now, Utc::now()) {
        Ok(now) => now,
        Err(e) => return bad_input(&e),
    };
    let config = match cli.config.validate() {
        Ok(c) => c,
        Err(e) => return bad_input(&e),
    };
    if matches!(phase, Phase::Collect | Phase::Probe | Phase::Digest)
        && let Err(e) = config.require_bucket()
    {
        return bad_input(&e);
    }
    if phase == Phase::Probe
        && let Err(e) = config.require_probe_owners()
    {
        return bad_input(&e);
    }
    let clients = match Clients::from_env(&config).await {
        Ok(c) => c,
        Err(e) => return bad_input(&format!("{e:#}")),
    };
    if let Err(e) = config.check_function_region(&clients.region) {
        return bad_input(&e);
    }
    let deadline = match cli.time_budget {
        Some(secs) => Deadline::after(Instant::now(), Duration::from_secs(secs), Duration::ZERO),
        None => Deadline::NONE,
    };
    let run = Run { clients: &clients, config: &config, now, deadline };
    match crate::run_phase(phase, &run).await {
        Ok(crate::jobs::Summary::Preflight(p)) => {
            preflight_output(p, matches!(cli.command, Command::Preflight { json: true }))
        }
        Ok(summary) => {
            println!("{}", serde_json::to_string_pretty(&summary).expect("summary serialises"));
            if summary.failures() > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS }
        }
        Err(e) => {
            if let Some(partial) = e.downcast_ref::<crate::jobs::PartialRun>() {
                println!("{}", serde_json::to_string_pretty(&partial.summary).expect("summary serialises"));
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// preflight prints its table (or with `--json` its summary, the Lambda answer) and
/// exits with its status: 0 all good, 3 warnings, 1 something will fail.
fn preflight_output(summary: Box<crate::jobs::preflight::PreflightSummary>, json: bool) -> ExitCode {
    let code = ExitCode::from(summary.status.exit_code());
    if json {
        let summary = crate::jobs::Summary::Preflight(summary);
        println!("{}", serde_json::to_string_pretty(&summary).expect("summary serialises"));
    } else {
        print!("{}", summary.table);
    }
    code
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
