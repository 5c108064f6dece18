//! Bounded parts: a day over the bounds splits into numbered parts, killed between
//! two of them, cut at their rows, late data after them, footers read by ranged GETs,
//! and an old day the deadline left half done.

use super::*;

/// Parts of one raw object each: every day of `seeded` splits into several parts.
const ONE_SOURCE: PartBounds = PartBounds { raw_bytes: u64::MAX, sources: 1, rows: u64::MAX };
/// Parts full at 2 rows: an entries object (2 rows) per part, the reports (1 row each)
/// of a day together.
const TWO_ROWS: PartBounds = PartBounds { rows: 2, ..PartBounds::DEFAULT };

#[tokio::test]
async fn a_run_killed_between_two_parts_of_a_day_resumes_at_the_next_part() {
    // 2 days x (2 entries + 2 reports + 1 verdicts) parts, each followed by the state.
    killed_at_every_write(ONE_SOURCE, 21).await;
}

#[tokio::test]
async fn a_run_killed_at_any_write_with_parts_cut_at_their_rows_keeps_every_row_once() {
    // 2 days x (2 entries + 1 reports + 1 verdicts) parts, each followed by the state.
    killed_at_every_write(TWO_ROWS, 17).await;
}

#[tokio::test]
async fn a_part_takes_no_further_object_once_it_holds_its_rows() {
    let store = seeded();
    let summary = compact_bounded(&memory_s3(store.clone(), Arc::default(), None), Deadline::NONE, TWO_ROWS).await;
    assert_eq!(
        summary.unwrap(),
        CompactionSummary { parts_written: 8, parts_adopted: 0, rows: 14, days_left: 0, days_listed: 6 }
    );
    assert_eq!(compacted_rows(&store), expected_rows());
    let parts = store.lock().unwrap();
    let part = |dataset: &str, n: u32| {
        let key = format!("ami-usage/compacted/{dataset}/region=us-east-1/report_date=2026-11-02/part-{n:04}.parquet");
        crate::core::compaction::parquet_part::sources_of(&parts[&key]).unwrap()
    };
    assert_eq!(part("entries", 1), (vec!["r-b-2026-11-02".to_string()], 2));
    assert_eq!(part("reports", 0), (vec!["r-a-2026-11-02".to_string(), "r-b-2026-11-02".to_string()], 2));
}

#[tokio::test]
async fn a_day_over_the_bounds_is_split_into_numbered_parts() {
    let store = seeded();
    let summary = compact_bounded(&memory_s3(store.clone(), Arc::default(), None), Deadline::NONE, ONE_SOURCE).await;
    assert_eq!(
        summary.unwrap(),
        CompactionSummary { parts_written: 10, parts_adopted: 0, rows: 14, days_left: 0, days_listed: 6 }
    );
    assert_eq!(compacted_rows(&store), expected_rows());
    let day = "ami-usage/compacted/entries/region=us-east-1/report_date=2026-11-01";
    let parts = store.lock().unwrap();
    for (number, source) in [(0, "r-a-2026-11-01"), (1, "r-b-2026-11-01")] {
        let part = &parts[&format!("{day}/part-{number:04}.parquet")];
        assert_eq!(crate::core::compaction::parquet_part::sources_of(part).unwrap(), (vec![source.to_string()], 2));
    }
}

#[tokio::test]
async fn a_late_object_after_a_multi_part_day_goes_into_the_next_number_reading_only_footers() {
    let store = seeded();
    compact_bounded(&memory_s3(store.clone(), Arc::default(), None), Deadline::NONE, ONE_SOURCE).await.unwrap();
    archived_report(&store, "2026-11-01", "r-late");
    let fake = memory_s3(store.clone(), Arc::default(), None);
    let summary = compact_listed(&fake, Deadline::NONE, ONE_SOURCE, &ec2_lists(&store, &["2026-11-01"])).await;
    assert_eq!((summary.as_ref().unwrap().parts_written, summary.unwrap().rows), (2, 2), "entries and reports");
    let day = "ami-usage/compacted/entries/region=us-east-1/report_date=2026-11-01";
    let late = &store.lock().unwrap()[&format!("{day}/part-0002.parquet")];
    assert_eq!(crate::core::compaction::parquet_part::sources_of(late).unwrap(), (vec!["r-late".to_string()], 1));
    let reads: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.action.starts_with("GET") && c.action.contains("/entries/") && c.action.contains(".parquet"))
        .collect();
    let read: Vec<_> =
        reads.iter().filter_map(|c| c.action.split(['/', '?']).find(|s| s.starts_with("part-"))).collect();
    // The two recorded parts' footers (the sources compacted), then the next number's look.
    assert_eq!(read, ["part-0000.parquet", "part-0001.parquet", "part-0002.parquet"], "{reads:?}");
    assert!(reads.iter().all(|c| c.headers.get("range").is_some_and(|r| r.starts_with("bytes=-"))), "{reads:?}");
    assert!(
        reads.iter().all(|c| c.action.contains("entries/region%3Dus-east-1/report_date%3D2026-11-01/")),
        "that day only"
    );
}

#[tokio::test]
async fn an_old_day_left_half_done_by_the_deadline_is_not_sealed_and_is_finished_next_run() {
    let store = seeded();
    // A backlog's day older than SEAL_AFTER_DAYS, of two parts.
    for report in ["r-old-a", "r-old-b"] {
        raw(&store, "entries", "2026-09-01", report, &[entry(report, "111111111111")]);
    }
    let pause = std::time::Duration::from_millis(1500);
    let deadline = Deadline::at(std::time::Instant::now() + pause, std::time::Duration::ZERO);
    let slow = slow_memory_s3(store.clone(), Arc::default(), None, pause);
    let first = compact_bounded(&slow, deadline, ONE_SOURCE).await.unwrap();
    assert_eq!(first.parts_written, 1, "the deadline passed while the first part was written: {first:?}");
    let state = |store: &Store| -> CompactionState {
        serde_json::from_slice(&store.lock().unwrap()["ami-usage/state/region=us-east-1/compaction-state.json"])
            .unwrap()
    };
    let old = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    assert!(!state(&store).is_sealed("entries", old), "half done: not sealed");
    let next = compact_bounded(&memory_s3(store.clone(), Arc::default(), None), Deadline::NONE, ONE_SOURCE).await;
    assert_eq!(next.unwrap().parts_written, 11, "the old day's second part and the 10 of the other days");
    assert!(state(&store).is_sealed("entries", old), "complete now: sealed");
    let mut expected = expected_rows();
    for report in ["r-old-a", "r-old-b"] {
        expected.insert(("entries/region=us-east-1/report_date=2026-09-01".into(), report.into()), 1);
    }
    assert_eq!(compacted_rows(&store), expected);
}

#[tokio::test]
async fn a_footer_longer_than_the_first_read_takes_a_second_ranged_get() {
    let store: Store = Arc::default();
    for i in 0..2500 {
        let id = format!("amiur-0123456789abcdef-{i:05}");
        raw(&store, "entries", "2026-11-02", &id, &[entry(&id, "111111111111")]);
    }
    compact(&memory_s3(store.clone(), Arc::default(), None)).await.unwrap();
    archived_report(&store, "2026-11-02", "r-late");
    let fake = memory_s3(store.clone(), Arc::default(), None);
    let late = ec2_lists(&store, &["2026-11-02"]);
    assert_eq!(compact_listed(&fake, Deadline::NONE, PartBounds::DEFAULT, &late).await.unwrap().parts_written, 2);
    let ranges: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| {
            c.action.starts_with("GET") && c.action.contains("/entries/") && c.action.contains("part-0000.parquet")
        })
        .filter_map(|c| c.headers.get("range").cloned())
        .collect();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert_eq!(ranges[0], format!("bytes=-{FOOTER_READ}"));
    assert!(ranges[1].trim_start_matches("bytes=-").parse::<usize>().unwrap() > FOOTER_READ, "{ranges:?}");
    assert_eq!(compacted_rows(&store).len(), 2502, "2,501 entries objects and the late report");
}
