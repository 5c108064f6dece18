//! The Lambda input contract: `{"phase": "create"}` / `{"phase": "collect"}` /
//! `{"phase": "probe"}` / `{"phase": "digest"}` (what EventBridge Scheduler delivers),
//! `{"phase": "preflight"}` (by hand, after a deploy), or an EventBridge scheduled-rule
//! envelope whose `detail.phase` or rule name says the phase. Anything else is rejected
//! with a message that says what was expected. The payload is decoded here, not by the
//! runtime, so that a payload that is not JSON at all is a `BadEvent` like any other.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Create,
    Collect,
    /// A member account's daily probe of the AMIs shared with it (organisation mode).
    Probe,
    /// The weekly digest: the week's AMI figures from the archive, optionally Reserved
    /// Instance utilization, one message.
    Digest,
    /// Checks, without effect, everything the configured phases need (run by hand).
    Preflight,
}

impl Phase {
    pub const ALL: [Phase; 5] = [Phase::Create, Phase::Collect, Phase::Probe, Phase::Digest, Phase::Preflight];

    /// The phase's name: in events, on the command line, in summaries and in metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Create => "create",
            Phase::Collect => "collect",
            Phase::Probe => "probe",
            Phase::Digest => "digest",
            Phase::Preflight => "preflight",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The payload as the Lambda runtime hands it over. Its decoding never fails: what
/// serde_json refuses (not JSON, empty, nested deeper than its recursion limit of 128)
/// is kept as serde_json's one-line reason, which [`phase_of_payload`] turns into a
/// `BadEvent`, instead of the runtime's own multi-line deserializer error.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent(Result<Value, String>);

impl<'de> Deserialize<'de> for RawEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RawEvent(Value::deserialize(d).map_err(|e| e.to_string())))
    }
}

impl RawEvent {
    /// Decodes `body` the way the Lambda runtime does (one JSON value read from the
    /// start; the runtime does not look past it, and Lambda itself refuses a payload
    /// that is not JSON).
    pub fn decode(body: &[u8]) -> RawEvent {
        let mut de = serde_json::Deserializer::from_slice(body);
        match RawEvent::deserialize(&mut de) {
            Ok(raw) => raw,
            Err(e) => RawEvent(Err(e.to_string())),
        }
    }
}

/// The phase an undecoded payload asks for.
pub fn phase_of_payload(event: &RawEvent) -> Result<Phase, EventError> {
    match &event.0 {
        Ok(value) => phase_of(value),
        Err(reason) => Err(EventError::NotJson(reason.chars().take(200).collect())),
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EventError {
    #[error(
        "the event is not a JSON value ({0}): expected {{\"phase\": \"create\"}}, {{\"phase\": \"collect\"}}, {{\"phase\": \"probe\"}}, {{\"phase\": \"digest\"}} or {{\"phase\": \"preflight\"}}"
    )]
    NotJson(String),
    #[error(
        "unknown phase {0:?}: the event must be {{\"phase\": \"create\"}}, {{\"phase\": \"collect\"}}, {{\"phase\": \"probe\"}}, {{\"phase\": \"digest\"}} or {{\"phase\": \"preflight\"}}"
    )]
    UnknownPhase(String),
    #[error("\"phase\" must be a string (\"create\", \"collect\", \"probe\", \"digest\" or \"preflight\"), got {0}")]
    PhaseNotAString(String),
    #[error(
        "scheduled event from {0:?} does not say which phase to run: set the rule's input to {{\"phase\": \"create\"}}, {{\"phase\": \"collect\"}} or {{\"phase\": \"digest\"}}, or name the rule …-create / …-collect / …-digest"
    )]
    AmbiguousSchedule(String),
    #[error(
        "unrecognised event (keys: {0}): expected {{\"phase\": \"create\"}}, {{\"phase\": \"collect\"}}, {{\"phase\": \"probe\"}}, {{\"phase\": \"digest\"}}, {{\"phase\": \"preflight\"}} or an EventBridge scheduled event"
    )]
    Unrecognised(String),
}

pub fn phase_of(event: &Value) -> Result<Phase, EventError> {
    let Some(obj) = event.as_object() else {
        return Err(EventError::Unrecognised(format!("not an object but {}", type_name(event))));
    };
    if let Some(p) = obj.get("phase") {
        return phase_value(p);
    }
    let is_schedule = obj.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        && obj.get("source").and_then(Value::as_str) == Some("aws.events");
    if is_schedule {
        if let Some(p) = obj.get("detail").and_then(|d| d.get("phase")) {
            return phase_value(p);
        }
        let rule = obj
            .get("resources")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = rule.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
        return match (name.contains("create"), name.contains("collect"), name.contains("digest")) {
            (true, false, false) => Ok(Phase::Create),
            (false, true, false) => Ok(Phase::Collect),
            (false, false, true) => Ok(Phase::Digest),
            _ => Err(EventError::AmbiguousSchedule(rule.to_string())),
        };
    }
    // Keys are the sender's text: control characters escaped, each cut at 64 characters,
    // so the message stays one short line.
    let keys: Vec<String> =
        obj.keys().take(10).map(|k| k.chars().take(64).collect::<String>().escape_debug().to_string()).collect();
    Err(EventError::Unrecognised(if keys.is_empty() { "none".into() } else { keys.join(", ") }))
}

fn phase_value(p: &Value) -> Result<Phase, EventError> {
    match p.as_str() {
        Some(s) => Phase::parse(s).ok_or_else(|| EventError::UnknownPhase(s.chars().take(64).collect())),
        None => Err(EventError::PhaseNotAString(type_name(p).into())),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scheduled(rule: &str, detail: Value) -> Value {
        json!({
            "version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-22T00:00:00Z", "region": "us-east-1",
            "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/{rule}")],
            "detail": detail
        })
    }

    #[test]
    fn accepts_phase_inputs_and_schedules() {
        assert_eq!(phase_of(&json!({"phase": "create"})), Ok(Phase::Create));
        assert_eq!(phase_of(&json!({"phase": "collect", "extra": 1})), Ok(Phase::Collect));
        assert_eq!(phase_of(&json!({"phase": "probe"})), Ok(Phase::Probe));
        assert_eq!(phase_of(&json!({"phase": "digest"})), Ok(Phase::Digest));
        assert_eq!(phase_of(&json!({"phase": "preflight"})), Ok(Phase::Preflight));
        assert_eq!(phase_of(&scheduled("aur-collect", json!({}))), Ok(Phase::Collect));
        assert_eq!(phase_of(&scheduled("AUR-Create-daily", json!({}))), Ok(Phase::Create));
        assert_eq!(phase_of(&scheduled("aur-digest-weekly", json!({}))), Ok(Phase::Digest));
        assert_eq!(phase_of(&scheduled("nightly", json!({"phase": "create"}))), Ok(Phase::Create));
    }

    #[test]
    fn rejects_everything_else_with_a_clear_reason() {
        let cases = [
            (json!({"phase": "delete"}), "unknown phase \"delete\""),
            (json!({"phase": "Create"}), "unknown phase"),
            (json!({"phase": 1}), "must be a string"),
            (json!({"phase": null}), "must be a string"),
            (json!({}), "keys: none"),
            (json!({"action": "create"}), "keys: action"),
            (json!(["create"]), "not an object but an array"),
            (json!("create"), "not an object but a string"),
            (scheduled("nightly", json!({})), "does not say which phase"),
            (scheduled("create-then-collect", json!({})), "does not say which phase"),
        ];
        for (event, needle) in cases {
            let e = phase_of(&event).unwrap_err().to_string();
            assert!(e.contains(needle), "{event}: {e}");
        }
    }
}

#[cfg(test)]
#[path = "event_props.rs"]
mod props;
