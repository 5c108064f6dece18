use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::compaction::{ENTRIES, REPORTS, VERDICTS};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn part(number: u32, sources: u64) -> PartRecord {
    PartRecord { number, sources, rows: sources * 2 }
}

#[test]
fn a_day_whose_parts_hold_as_many_objects_as_listed_is_done_without_reading_them() {
    let d = day("2026-11-02");
    let mut s = CompactionState::default();
    assert_eq!(s.status("entries", d, 3), DayStatus::Compact { recorded: vec![] });
    assert_eq!(s.status("entries", d, 0), DayStatus::Done);
    s.record("entries", d, part(0, 2)).unwrap();
    s.record("entries", d, part(1, 1)).unwrap();
    assert_eq!(s.status("entries", d, 3), DayStatus::Done);
    // A late object: the footers of parts 0 and 1 say which one it is.
    assert_eq!(s.status("entries", d, 4), DayStatus::Compact { recorded: vec![0, 1] });
    assert_eq!(s.next_number("entries", d), 2);
    assert!(s.record("entries", d, part(1, 1)).is_err(), "a number is recorded once");
    // Other datasets and days are independent.
    assert_eq!(s.status("reports", d, 3), DayStatus::Compact { recorded: vec![] });
    assert_eq!(s.next_number("entries", day("2026-11-03")), 0);
}

#[test]
fn old_complete_days_are_sealed_and_never_compacted_again() {
    let mut s = CompactionState::default();
    let old = day("2026-09-01");
    let recent = day("2026-11-01");
    let now = at("2026-11-03T00:00:00Z");
    for d in [old, recent] {
        s.record("entries", d, part(0, 1)).unwrap();
        s.found_complete("entries", d, None, now);
    }
    assert!(s.is_sealed("entries", old));
    assert_eq!(s.status("entries", old, 2), DayStatus::Done);
    assert!(!s.is_sealed("entries", recent));
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<CompactionState>(&json).unwrap(), s);
}

#[test]
fn the_state_keeps_counts_and_reads_the_first_format_s_ids_as_their_count() {
    let first = r#"{"days":{"entries":{
        "2026-11-01":{"parts":[{"number":0,"sources":["a","b"],"rows":4},{"number":1,"sources":["c"],"rows":1}]},
        "2026-09-01":{"parts":[{"number":0,"sources":[],"rows":9}],"sealed":true},
        "2026-09-02":{"parts":[{"number":0,"rows":9}],"sealed":true}}}}"#;
    let s: CompactionState = serde_json::from_str(first).unwrap();
    let d = day("2026-11-01");
    assert_eq!(s.day("entries", d).unwrap().parts, vec![part(0, 2), PartRecord { number: 1, sources: 1, rows: 1 }]);
    assert_eq!(s.status("entries", d, 3), DayStatus::Done);
    assert!(s.is_sealed("entries", day("2026-09-01")) && s.is_sealed("entries", day("2026-09-02")));
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains(r#"{"number":0,"sources":2,"rows":4}"#), "{json}");
}

#[test]
fn a_day_is_listed_until_found_complete_and_then_only_when_its_report_count_moves() {
    let d = day("2026-11-02");
    let now = at("2026-11-04T06:00:00Z");
    let mut s = CompactionState::default();
    for spec in [&ENTRIES, &REPORTS, &VERDICTS] {
        assert!(s.needs_listing(spec, d, Some(2)), "{}: never listed", spec.name);
        s.record(spec.name, d, part(0, 2)).unwrap();
        assert!(s.needs_listing(spec, d, Some(2)), "{}: compacted, never found complete", spec.name);
        s.found_complete(spec.name, d, Some(2), now);
    }
    // The count it was found complete with: nothing can have arrived.
    assert!(!s.needs_listing(&ENTRIES, d, Some(2)) && !s.needs_listing(&REPORTS, d, Some(2)));
    // A report archived since (or a report object after a crash left its entries object).
    assert!(s.needs_listing(&ENTRIES, d, Some(3)) && s.needs_listing(&REPORTS, d, Some(3)));
    // EC2 stopped listing the date: one more listing catches what its last runs left.
    assert!(s.needs_listing(&ENTRIES, d, None));
    // Verdicts are written by runs on their day only: complete is final.
    assert!(!s.needs_listing(&VERDICTS, d, Some(3)) && !s.needs_listing(&VERDICTS, d, None));
    // Found complete once EC2 no longer lists the date: final, unless EC2 lists it again.
    s.found_complete("entries", d, None, now);
    assert!(!s.needs_listing(&ENTRIES, d, None));
    assert!(s.needs_listing(&ENTRIES, d, Some(3)), "a report of that date listed again");
    // A listing that finds a raw object in no part: listed until found complete again.
    s.found_incomplete("entries", d);
    assert!(s.needs_listing(&ENTRIES, d, None));
    assert_eq!(s.next_number("entries", d), 1, "the parts stay recorded");
}

#[test]
fn a_sealed_day_is_never_listed_and_a_day_listed_empty_is_not_listed_again() {
    let now = at("2026-11-04T06:00:00Z");
    let mut s = CompactionState::default();
    s.record("entries", day("2026-09-01"), part(0, 1)).unwrap();
    s.found_complete("entries", day("2026-09-01"), None, now);
    assert!(s.is_sealed("entries", day("2026-09-01")));
    assert!(!s.needs_listing(&ENTRIES, day("2026-09-01"), Some(9)));
    // A day folder with no raw object of a report (nothing to compact) is recorded as such.
    s.found_complete("verdicts", day("2026-11-02"), None, now);
    assert_eq!(s.day("verdicts", day("2026-11-02")).unwrap().parts, vec![]);
    assert!(!s.needs_listing(&VERDICTS, day("2026-11-02"), None));
}

#[test]
fn found_complete_is_an_additive_field_and_earlier_states_list_their_days_once_more() {
    let d = day("2026-11-01");
    let now = at("2026-11-04T06:00:00Z");
    let second = r#"{"days":{"entries":{"2026-11-01":{"parts":[{"number":0,"sources":2,"rows":4}],"sealed":false}}}}"#;
    let mut s: CompactionState = serde_json::from_str(second).unwrap();
    assert_eq!(s.day("entries", d).unwrap().complete, None);
    assert!(s.needs_listing(&ENTRIES, d, Some(2)));
    assert_eq!(serde_json::to_string(&s).unwrap(), second, "no field added while nothing is found");
    s.found_complete("entries", d, Some(2), now);
    s.found_complete("reports", d, None, now);
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains(r#""sealed":false,"complete":{"reports":2}}"#), "{json}");
    assert!(
        json.contains(r#""reports":{"2026-11-01":{"parts":[],"sealed":false,"complete":{"reports":null}}}"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<CompactionState>(&json).unwrap(), s);
}
