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

#[test]
fn collect_counts_the_report_objects_of_every_date_ec2_lists_with_those_it_archived() {
    let now = at("2026-11-03T12:00:00Z");
    let reports = vec![
        report("r-1", ReportState::Available, "2026-11-01T10:00:00Z"),
        report("r-2", ReportState::Available, "2026-11-02T10:00:00Z"),
        report("r-3", ReportState::Available, "2026-11-02T11:00:00Z"),
        report("r-4", ReportState::Pending, "2026-11-03T01:00:00Z"),
    ];
    // The partitions as listed (r-0 is a report of the 1st EC2 no longer lists), then
    // r-3 archived by the run; r-2 failed.
    let listed: BTreeMap<NaiveDate, BTreeSet<String>> =
        [(day("2026-11-01"), ids(&["r-0", "r-1"])), (day("2026-11-02"), ids(&[])), (day("2026-11-03"), ids(&[]))]
            .into();
    let archived = ids(&["r-0", "r-1", "r-3", "r-elsewhere"]);
    let dates = ReportDates::of(&reports, &listed, &archived, now, Duration::hours(24));
    let expected: BTreeMap<_, _> = [(day("2026-11-01"), 2), (day("2026-11-02"), 1), (day("2026-11-03"), 0)].into();
    assert_eq!(dates.archived, expected);
    assert_eq!(dates.open, [day("2026-11-02"), day("2026-11-03")].into());
    assert_eq!(dates.archived_on(day("2026-11-02")), Some(1));
    assert_eq!(dates.archived_on(day("2026-10-31")), None, "a date EC2 no longer lists");
}

fn sized(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
    list.iter().map(|(id, size)| (id.to_string(), *size)).collect()
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
fn every_dataset_schema_parses_into_parquet() {
    for spec in DATASETS {
        let w = crate::compaction::parquet_part::PartWriter::new(spec.name, spec.columns);
        assert!(w.is_ok(), "{}: {:?}", spec.name, w.err());
    }
}
