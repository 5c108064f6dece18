use super::*;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn report(id: &str, state: ReportState, created: &str) -> UsageReport {
    UsageReport {
        report_id: id.into(),
        image_id: "ami-1".into(),
        state,
        state_reason: None,
        resource_types: vec![],
        account_ids: vec![],
        creation_time: at(created),
        expiration_time: at(created) + Duration::days(30),
        tags: Default::default(),
    }
}

#[test]
fn keys_are_deterministic_and_numbered() {
    let k = CompactionKeys { prefix: "ami-usage".into() };
    assert_eq!(
        k.part("entries", "eu-west-1", day("2026-11-02"), 1),
        "ami-usage/compacted/entries/region=eu-west-1/report_date=2026-11-02/part-0001.parquet"
    );
    assert_eq!(k.state("eu-west-1"), "ami-usage/state/region=eu-west-1/compaction-state.json");
    assert_eq!(CompactionKeys::day_of("ami-usage/entries/region=x/report_date=2026-11-02/"), Some(day("2026-11-02")));
    assert_eq!(CompactionKeys::day_of("ami-usage/entries/region=x/other/"), None);
}

#[test]
fn a_day_closes_after_the_margin_once_no_report_of_it_is_due() {
    let days: BTreeSet<_> = [day("2026-11-01"), day("2026-11-02")].into();
    let open: BTreeSet<_> = [day("2026-11-01")].into();
    // 00:59 on the 3rd: the 2nd ended less than the margin ago.
    let open_1st = closed_days(&ENTRIES, &days, &open, at("2026-11-03T00:59:00Z"));
    assert_eq!(open_1st, vec![day("2026-11-01")]);
    let both = closed_days(&ENTRIES, &days, &open, at("2026-11-03T01:00:00Z"));
    assert_eq!(both, vec![day("2026-11-01"), day("2026-11-02")]);
    // The 1st waits for its report until it is forced.
    assert_eq!(closed_days(&ENTRIES, &days, &open, at("2026-11-02T02:59:00Z")), vec![]);
    assert_eq!(closed_days(&ENTRIES, &days, &open, at("2026-11-02T03:00:00Z")), vec![day("2026-11-01")]);
    // Verdicts do not wait for reports.
    assert_eq!(closed_days(&VERDICTS, &days, &open, at("2026-11-02T01:00:00Z")), vec![day("2026-11-01")]);
}

#[test]
fn due_reports_keep_their_day_open_until_given_up() {
    let now = at("2026-11-03T12:00:00Z");
    let reports = vec![
        report("r-archived", ReportState::Available, "2026-11-01T10:00:00Z"),
        report("r-unarchived", ReportState::Available, "2026-11-02T10:00:00Z"),
        report("r-pending", ReportState::Pending, "2026-11-03T01:00:00Z"),
        report("r-given-up", ReportState::Pending, "2026-10-30T01:00:00Z"),
        report("r-error", ReportState::Error, "2026-10-29T01:00:00Z"),
    ];
    let open = open_report_days(&reports, &ids(&["r-archived"]), now, Duration::hours(24));
    assert_eq!(open, [day("2026-10-29"), day("2026-11-02"), day("2026-11-03")].into());
}

fn sized(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
    list.iter().map(|(id, size)| (id.to_string(), *size)).collect()
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
fn late_data_goes_into_the_next_part_and_nothing_twice() {
    let raw = sized(&[("a", 10), ("b", 10), ("c", 10)]);
    let compacted = ids(&["a", "b"]);
    let late = next_part(&raw, &compacted, 1, PartBounds::DEFAULT).unwrap();
    assert_eq!(late, PartPlan { number: 1, sources: vec!["c".into()] });
    assert_eq!(next_part(&raw, &ids(&["a", "b", "c"]), 2, PartBounds::DEFAULT), None);
}

#[test]
fn parts_are_bounded_in_raw_bytes_and_sources_with_at_least_one_source_each() {
    let raw = sized(&[("a", 40), ("b", 40), ("c", 30), ("d", 500), ("e", 1)]);
    let mut compacted = BTreeSet::new();
    let mut parts = vec![];
    while let Some(plan) =
        next_part(&raw, &compacted, parts.len() as u32, PartBounds { raw_bytes: 100, sources: 2, rows: 1 })
    {
        compacted.extend(plan.sources.iter().cloned());
        parts.push(plan.sources);
    }
    // Sorted by id; `c` would make 110 bytes; `d` alone is over the bound but goes alone.
    assert_eq!(parts, vec![vec!["a", "b"], vec!["c"], vec!["d"], vec!["e"]]);
    let by_count: Vec<_> =
        next_part(&raw, &BTreeSet::new(), 0, PartBounds { raw_bytes: 10_000, sources: 3, rows: 1 }).unwrap().sources;
    assert_eq!(by_count, vec!["a", "b", "c"]);
    let rows = PartBounds { rows: 10, ..PartBounds::DEFAULT };
    assert!(!rows.is_full(9) && rows.is_full(10), "a part takes objects until it holds its rows");
}

#[test]
fn old_complete_days_are_sealed_and_never_compacted_again() {
    let mut s = CompactionState::default();
    let old = day("2026-09-01");
    let recent = day("2026-11-01");
    let now = at("2026-11-03T00:00:00Z");
    for d in [old, recent] {
        s.record("entries", d, part(0, 1)).unwrap();
        s.seal_complete("entries", d, now);
    }
    s.seal_complete("entries", day("2026-09-02"), now);
    assert_eq!(s.day("entries", day("2026-09-02")), None, "a day with no part is not recorded");
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
fn every_dataset_schema_parses_into_parquet() {
    for spec in DATASETS {
        let w = crate::compaction::parquet_part::PartWriter::new(spec.name, spec.columns);
        assert!(w.is_ok(), "{}: {:?}", spec.name, w.err());
    }
}
