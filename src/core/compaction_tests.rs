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
fn late_data_goes_into_the_next_part_and_nothing_twice() {
    let d = day("2026-11-02");
    let mut s = CompactionState::default();
    let first = s.plan("entries", d, &ids(&["a", "b"])).unwrap();
    assert_eq!(first, PartPlan { number: 0, sources: vec!["a".into(), "b".into()] });
    s.record("entries", d, PartRecord { number: 0, sources: first.sources, rows: 4 }).unwrap();
    assert_eq!(s.plan("entries", d, &ids(&["a", "b"])), None);
    let late = s.plan("entries", d, &ids(&["a", "b", "c"])).unwrap();
    assert_eq!(late, PartPlan { number: 1, sources: vec!["c".into()] });
    assert!(s.record("entries", d, PartRecord { number: 0, sources: vec!["c".into()], rows: 1 }).is_err());
    // Other datasets and days are independent.
    assert_eq!(s.plan("reports", d, &ids(&["a"])).unwrap().number, 0);
}

#[test]
fn a_part_written_by_a_dead_run_is_recorded_with_its_own_sources() {
    let d = day("2026-11-02");
    let mut s = CompactionState::default();
    // The dead run wrote part 0 with `a` only; `b` arrived since.
    let plan = s.plan("entries", d, &ids(&["a", "b"])).unwrap();
    assert_eq!(plan.number, 0);
    s.record("entries", d, PartRecord { number: 0, sources: vec!["a".into()], rows: 2 }).unwrap();
    assert_eq!(s.plan("entries", d, &ids(&["a", "b"])), Some(PartPlan { number: 1, sources: vec!["b".into()] }));
}

#[test]
fn old_days_are_sealed_and_never_planned_again() {
    let mut s = CompactionState::default();
    let old = day("2026-09-01");
    let recent = day("2026-11-01");
    for d in [old, recent] {
        s.record("entries", d, PartRecord { number: 0, sources: vec!["a".into()], rows: 1 }).unwrap();
    }
    s.seal(at("2026-11-03T00:00:00Z"));
    assert!(s.is_sealed("entries", old));
    assert!(s.day("entries", old).unwrap().parts[0].sources.is_empty());
    assert_eq!(s.plan("entries", old, &ids(&["a", "z"])), None);
    assert!(!s.is_sealed("entries", recent));
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<CompactionState>(&json).unwrap(), s);
}

#[test]
fn every_dataset_schema_parses_into_parquet() {
    for spec in DATASETS {
        let w = crate::core::parquet_part::PartWriter::new(spec.name, spec.columns);
        assert!(w.is_ok(), "{}: {:?}", spec.name, w.err());
    }
}
