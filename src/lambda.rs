//! The Lambda front door: parse the event, reuse the clients built at cold start,
//! call the same `run_phase` as the CLI, return the summary. A preflight that finds
//! problems is a summary with `"status": "fail"` (or `warn`), not a function error: the
//! run itself worked, and its table is the answer.

use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use clap::Parser;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use crate::aws::Clients;
use crate::config::{Config, ConfigError, RawConfig, check_env_is_utf8};
use crate::event::{EventError, Phase, RawEvent, phase_of_payload};
use crate::jobs::{Deadline, Run};

/// Time kept back from Lambda's deadline to finish in-flight calls and return: a
/// minute, or a quarter of the invocation for short timeouts.
const DEADLINE_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("bad event: {0}")]
    Event(#[from] EventError),
    #[error("bad configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Setup(String),
    #[error("run failed: {0:#}")]
    Run(anyhow::Error),
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match &e {
            HandlerError::Event(_) => "BadEvent",
            HandlerError::Config(_) => "BadConfiguration",
            HandlerError::Setup(_) => "SetupFailed",
            HandlerError::Run(_) => "RunFailed",
        };
        Diagnostic { error_type: error_type.into(), error_message: e.to_string() }
    }
}

/// Environment-only parse of the same settings the CLI reads.
#[derive(Parser)]
struct EnvConfig {
    #[command(flatten)]
    config: RawConfig,
}

/// What a cold start prepares. A bad configuration does not crash the init: every
/// invocation then answers with the configuration error, which is where people look.
struct Shared {
    setup: Result<(Config, Clients), HandlerError>,
}

async fn cold_start() -> Shared {
    let setup = async {
        check_env_is_utf8()?;
        let raw = EnvConfig::try_parse_from(["ami-usage-reporter"]).map_err(|e| HandlerError::Setup(e.to_string()))?;
        let config = raw.config.validate()?;
        let clients = Clients::from_env(&config).await.map_err(|e| HandlerError::Setup(format!("{e:#}")))?;
        config.check_function_region(&clients.region)?;
        Ok((config, clients))
    }
    .await;
    Shared { setup }
}

/// Lambda's deadline as a time budget. A deadline already past at the start of an
/// invocation is no deadline at all (some local runtime emulators send a relative
/// value): the run then goes without a budget rather than doing nothing, and so does one
/// too far ahead for the clock to represent.
fn deadline_of(context: &lambda_runtime::Context) -> Deadline {
    match context.deadline().duration_since(SystemTime::now()) {
        Ok(remaining) => Deadline::after(Instant::now(), remaining, DEADLINE_MARGIN.min(remaining / 4)),
        Err(_) => {
            tracing::warn!(
                deadline_ms = context.deadline,
                "invocation deadline is in the past; running without a time budget"
            );
            Deadline::NONE
        }
    }
}

async fn handle(shared: &Shared, event: LambdaEvent<RawEvent>) -> Result<Value, HandlerError> {
    let phase = phase_of_payload(&event.payload)?;
    let (config, clients) = match &shared.setup {
        Ok(s) => (&s.0, &s.1),
        Err(HandlerError::Config(e)) => return Err(HandlerError::Config(e.clone())),
        Err(e) => return Err(HandlerError::Setup(e.to_string())),
    };
    if matches!(phase, Phase::Collect | Phase::Probe | Phase::Digest) {
        config.require_bucket()?;
    }
    if phase == Phase::Probe {
        config.require_probe_owners()?;
    }
    let run = Run { clients, config, now: Utc::now(), deadline: deadline_of(&event.context) };
    let summary = crate::run_phase(phase, &run).await.map_err(|e| {
        if let Some(partial) = e.downcast_ref::<crate::jobs::PartialRun>() {
            tracing::error!(summary = %serde_json::to_string(&partial.summary).unwrap_or_default(), "run summary of a failed run");
        }
        HandlerError::Run(e)
    })?;
    tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "run summary");
    // Raw stdout, not a tracing event: CloudWatch extracts EMF metrics only from a log
    // event whose top-level object carries `_aws`.
    for line in crate::metrics::emf_lines(&summary, &event.context.env_config.function_name, Utc::now()) {
        println!("{line}");
    }
    Ok(serde_json::to_value(summary).expect("summary serialises"))
}

pub async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let shared = cold_start().await;
    if let Err(e) = &shared.setup {
        tracing::error!(error = %e, "cold start failed; every invocation will report it");
    }
    let shared = &shared;
    lambda_runtime::run(service_fn(move |event| handle(shared, event))).await
}

/// CLI logs: human-readable on stderr, `RUST_LOG` to tune (default `info` for this
/// crate, `warn` for the SDK).
pub fn init_cli_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,ami_usage_reporter=info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context_ending_in(from_now: Duration, past: bool) -> lambda_runtime::Context {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap();
        let deadline = if past { now - from_now } else { now + from_now };
        let mut context = lambda_runtime::Context::default();
        context.deadline = deadline.as_millis() as u64;
        context
    }

    #[test]
    fn a_short_invocation_stops_starting_work_a_quarter_before_its_deadline() {
        let deadline = deadline_of(&context_ending_in(Duration::from_secs(4), false));
        let left = deadline.stop_at().expect("a deadline").duration_since(Instant::now());
        // Milliseconds of the deadline and the time this test took so far come off.
        assert!(left > Duration::from_millis(2900) && left <= Duration::from_secs(3), "{left:?}");
        assert!(!deadline.passed());

        let deadline = deadline_of(&context_ending_in(Duration::from_millis(40), false));
        std::thread::sleep(Duration::from_millis(50));
        assert!(deadline.passed(), "still starting work inside the margin");
    }

    #[test]
    fn a_long_invocation_keeps_a_minute_for_the_calls_in_flight() {
        let deadline = deadline_of(&context_ending_in(Duration::from_secs(60 * 15), false));
        let stop_at = deadline.stop_at().expect("a deadline");
        let left = stop_at.duration_since(Instant::now());
        assert!(left > Duration::from_secs(13 * 60) && left <= Duration::from_secs(14 * 60), "{left:?}");
    }

    #[test]
    fn a_deadline_already_past_means_no_budget_rather_than_no_work() {
        let deadline = deadline_of(&context_ending_in(Duration::from_secs(5), true));
        assert!(deadline.stop_at().is_none() && !deadline.passed());
    }
}
