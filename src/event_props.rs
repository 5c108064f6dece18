//! The event decoder under hostile payloads: a proptest loop (run by every `cargo test`,
//! a few seconds) over raw bytes, mutated real events and generated JSON. The same
//! entry, `RawEvent::decode` then `phase_of_payload`, is the `cargo fuzz` target in
//! fuzz/ for longer runs.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

/// What a rejection must look like: one short line that says what was expected.
fn assert_one_clear_line(e: &EventError) -> Result<(), TestCaseError> {
    let text = e.to_string();
    prop_assert!(!text.contains('\n') && !text.contains('\r'), "{}", text);
    prop_assert!(text.len() < 1_000, "{} bytes", text.len());
    prop_assert!(text.contains("phase"), "{}", text);
    Ok(())
}

fn decode(bytes: &[u8]) -> Result<Phase, EventError> {
    phase_of_payload(&RawEvent::decode(bytes))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite()).prop_map(Value::from),
        "(create|collect|Create|phase|aws.events|Scheduled Event|.{0,12})".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map("(phase|detail|detail-type|source|resources|.{0,6})", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Real events, each byte then flipped, dropped or duplicated at random.
fn mutated_event() -> impl Strategy<Value = Vec<u8>> {
    let seeds = [
        json!({"phase": "create"}),
        json!({"phase": "collect"}),
        json!({"detail-type": "Scheduled Event", "source": "aws.events",
               "resources": ["arn:aws:events:us-east-1:123456789012:rule/aur-collect"], "detail": {}}),
    ]
    .map(|v| v.to_string().into_bytes());
    (
        proptest::sample::select(seeds.to_vec()),
        proptest::collection::vec((any::<prop::sample::Index>(), 0..3u8, any::<u8>()), 1..6),
    )
        .prop_map(|(mut bytes, edits)| {
            for (at, kind, byte) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = byte,
                    1 => {
                        bytes.remove(i);
                    }
                    _ => bytes.insert(i, byte),
                }
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_bytes_decode_to_a_phase_or_one_clear_line(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = decode(&bytes) {
            assert_one_clear_line(&e)?;
        }
    }

    #[test]
    fn mutated_events_decode_to_a_phase_or_one_clear_line(bytes in mutated_event()) {
        match decode(&bytes) {
            Ok(_) => prop_assert!(serde_json::Deserializer::from_slice(&bytes).into_iter::<Value>().next().is_some_and(|v| v.is_ok())),
            Err(e) => assert_one_clear_line(&e)?,
        }
    }

    #[test]
    fn a_json_event_is_accepted_exactly_when_it_names_a_phase(v in json_value()) {
        let result = decode(v.to_string().as_bytes());
        prop_assert_eq!(&result, &phase_of(&v));
        match (&result, v.get("phase")) {
            (Ok(p), Some(named)) => prop_assert_eq!(named, &Value::from(p.as_str())),
            (Err(e), _) => assert_one_clear_line(e)?,
            (Ok(_), None) => prop_assert_eq!(v.get("source"), Some(&Value::from("aws.events"))),
        }
    }

    #[test]
    fn the_phase_is_one_of_the_phases_exactly(s in ".{0,12}|create|collect") {
        let expected = Phase::ALL.into_iter().find(|p| p.as_str() == s);
        let result = decode(json!({"phase": s}).to_string().as_bytes());
        prop_assert_eq!(result.as_ref().ok().copied(), expected);
        if let Err(e) = result {
            assert_one_clear_line(&e)?;
        }
    }
}

#[test]
fn empty_non_json_and_too_deep_payloads_are_bad_events() {
    let deep = format!("{{\"phase\": {}\"create\"{}}}", "[".repeat(200), "]".repeat(200));
    for (payload, needle) in [
        (&b""[..], "EOF while parsing"),
        (b"   ", "EOF while parsing"),
        (b"phase=create", "expected value"),
        (b"{\"phase\": \"create\"", "EOF while parsing"),
        (b"\xff\xfe", "expected value"),
        (deep.as_bytes(), "recursion limit exceeded"),
    ] {
        let e = decode(payload).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, EventError::NotJson(_)), "{text}");
        assert!(text.starts_with("the event is not a JSON value (") && text.contains(needle), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
    assert_eq!(decode(br#"{"phase": "collect"}"#), Ok(Phase::Collect));
}

#[test]
fn phase_names_are_the_same_everywhere() {
    use clap::ValueEnum;
    for p in Phase::ALL {
        assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        assert_eq!(p.to_possible_value().unwrap().get_name(), p.as_str());
        assert_eq!(p.to_string(), p.as_str());
    }
    assert_eq!(Phase::value_variants(), Phase::ALL);
}
