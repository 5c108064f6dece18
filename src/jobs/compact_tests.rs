//! The compaction step against an in-memory S3 (`aws::fake`): parts hold every raw row
//! once, late data goes into the next part, and a run killed at any write, then run
//! again, leaves the same rows and no duplicate.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_types::retry::RetryConfig;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::json;

use super::*;
use crate::aws::fake::{Call, Fake, Reply};
use crate::config::{Config, RawConfig};
use crate::core::archive::{ArchiveKeys, Provenance};
use crate::jobs::{Deadline, Run};

const BUCKET: &str = "archive";
const NOW: &str = "2026-11-04T06:00:00Z";

type Store = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

fn reply(status: u16, body: impl Into<Vec<u8>>) -> Reply {
    Reply { status, body: body.into() }
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .map(|v| v.replace("%2F", "/").replace("%3D", "="))
}

fn list(store: &BTreeMap<String, Vec<u8>>, query: &str) -> Reply {
    let prefix = query_param(query, "prefix").unwrap_or_default();
    let delimiter = query_param(query, "delimiter");
    let mut body = String::from("<ListBucketResult><IsTruncated>false</IsTruncated>");
    let mut folders = std::collections::BTreeSet::new();
    for (key, bytes) in store.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)) {
        let rest = &key[prefix.len()..];
        match (&delimiter, rest.find('/')) {
            (Some(_), Some(i)) => {
                folders.insert(format!("{prefix}{}", &rest[..=i]));
            }
            _ => body.push_str(&format!("<Contents><Key>{key}</Key><Size>{}</Size></Contents>", bytes.len())),
        }
    }
    for f in folders {
        body.push_str(&format!("<CommonPrefixes><Prefix>{f}</Prefix></CommonPrefixes>"));
    }
    reply(200, body + "</ListBucketResult>")
}

/// S3 over `store`; `refuse(n)` refuses the n-th write (from 0) and every one after it:
/// the process died there.
fn memory_s3(store: Store, writes: Arc<AtomicUsize>, refuse_from: Option<usize>) -> Fake {
    slow_memory_s3(store, writes, refuse_from, std::time::Duration::ZERO)
}

/// `memory_s3` whose part writes each take `pause` (a run's deadline passes during one).
fn slow_memory_s3(
    store: Store,
    writes: Arc<AtomicUsize>,
    refuse_from: Option<usize>,
    pause: std::time::Duration,
) -> Fake {
    Fake::with_bytes(RetryConfig::disabled(), memory_handler(store, writes, refuse_from, pause))
}

/// The S3 of `slow_memory_s3`; conditional writes are checked like S3 checks them.
fn memory_handler(
    store: Store,
    writes: Arc<AtomicUsize>,
    refuse_from: Option<usize>,
    pause: std::time::Duration,
) -> impl Fn(&Call) -> crate::aws::fake::Reply + Send + Sync + 'static {
    move |call: &Call| {
        assert_eq!(call.service, "s3", "compaction calls S3 only");
        let (method, target) = call.action.split_once(' ').unwrap();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let key = path.trim_start_matches(&format!("/{BUCKET}")).trim_start_matches('/').replace("%3D", "=");
        let mut store = store.lock().unwrap();
        match method {
            "GET" if query.contains("list-type=2") => list(&store, query),
            "GET" => match (store.get(&key), call.headers.get("range")) {
                (Some(bytes), Some(range)) => {
                    let len: usize =
                        range.strip_prefix("bytes=-").and_then(|n| n.parse().ok()).expect("a suffix range");
                    reply(206, bytes[bytes.len().saturating_sub(len)..].to_vec())
                }
                (Some(bytes), None) => reply(200, bytes.clone()),
                (None, _) => reply(404, "<Error><Code>NoSuchKey</Code><Message>none</Message></Error>"),
            },
            "PUT" => {
                if key.ends_with(".parquet") {
                    std::thread::sleep(pause);
                }
                let n = writes.fetch_add(1, Ordering::SeqCst);
                if refuse_from.is_some_and(|from| n >= from) {
                    return reply(500, "<Error><Code>InternalError</Code><Message>killed</Message></Error>");
                }
                if call.headers.get("if-none-match").is_some_and(|v| v == "*") && store.contains_key(&key) {
                    return reply(412, "<Error><Code>PreconditionFailed</Code><Message>exists</Message></Error>");
                }
                if let Some(expected) = call.headers.get("if-match") {
                    match store.get(&key) {
                        None => return reply(404, "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>"),
                        Some(b) if crate::aws::fake::etag(b) != *expected => {
                            return reply(
                                412,
                                "<Error><Code>PreconditionFailed</Code><Message>changed</Message></Error>",
                            );
                        }
                        Some(_) => {}
                    }
                }
                store.insert(key, call.body.clone());
                reply(200, "")
            }
            other => panic!("unexpected S3 call {other}"),
        }
    }
}

fn raw(store: &Store, dataset: &str, day: &str, source: &str, rows: &[serde_json::Value]) {
    let key = format!("ami-usage/{dataset}/region=us-east-1/report_date={day}/{source}.json.gz");
    store.lock().unwrap().insert(key, crate::core::archive::jsonl::encode(rows).unwrap());
}

fn entry(report: &str, account: &str) -> serde_json::Value {
    json!({"schema_version": 1, "report_id": report, "image_id": "ami-1", "account_id": account,
           "resource_type": "ec2:Instance", "usage_count": 2, "report_creation_time": "2026-11-02T01:00:00.000Z",
           "owner_account_id": "123456789012", "region": "us-east-1", "collected_at": "2026-11-02T03:00:00.000Z"})
}

fn seeded() -> Store {
    let store: Store = Arc::default();
    for day in ["2026-11-01", "2026-11-02"] {
        for report in ["r-a", "r-b"] {
            let id = format!("{report}-{day}");
            raw(&store, "entries", day, &id, &[entry(&id, "111111111111"), entry(&id, "222222222222")]);
            raw(
                &store,
                "reports",
                day,
                &id,
                &[json!({"report_id": id, "state": "available", "tags": {"k": "v"},
                "image": {"name": "img", "tags": {}, "block_devices": [{"device_name": "/dev/xvda", "volume_size_gib": 8}]}})],
            );
        }
        raw(
            &store,
            "verdicts",
            day,
            "run-1",
            &[json!({"image_id": "ami-1", "verdict": "in_use", "reasons": ["used_in_other_accounts"]})],
        );
    }
    // Today's objects: not closed, not compacted.
    raw(&store, "entries", "2026-11-04", "r-today", &[entry("r-today", "111111111111")]);
    store
}

fn config() -> Config {
    RawConfig { archive_bucket: Some(BUCKET.into()), ..RawConfig::default() }.validate().unwrap()
}

async fn compact(fake: &Fake) -> anyhow::Result<CompactionSummary> {
    compact_until(fake, Deadline::NONE).await
}

async fn compact_until(fake: &Fake, deadline: Deadline) -> anyhow::Result<CompactionSummary> {
    compact_bounded(fake, deadline, PartBounds::DEFAULT).await
}

async fn compact_bounded(fake: &Fake, deadline: Deadline, bounds: PartBounds) -> anyhow::Result<CompactionSummary> {
    compact_listed(fake, deadline, bounds, &ReportDates::default()).await
}

/// A compaction after a collect whose EC2 listing held reports of `dates` (`ec2_lists`).
async fn compact_listed(
    fake: &Fake,
    deadline: Deadline,
    bounds: PartBounds,
    dates: &ReportDates,
) -> anyhow::Result<CompactionSummary> {
    let config = config();
    let r = Run { clients: &fake.clients, config: &config, now: NOW.parse().unwrap(), deadline };
    let archive = Archive::new(
        &r,
        BUCKET,
        ArchiveKeys { prefix: "ami-usage".into() },
        Provenance { owner_account_id: "123456789012".into(), region: "us-east-1".into(), collected_at: r.now },
    );
    let mut summary = CompactionSummary::default();
    super::run_bounded(&archive, dates, &mut summary, bounds).await.map(|()| summary)
}

/// `compact_listed` on a fresh in-memory S3 over `store`, without deadline.
async fn compact_store(store: &Store, bounds: PartBounds, dates: ReportDates) -> anyhow::Result<CompactionSummary> {
    compact_listed(&memory_s3(store.clone(), Arc::default(), None), Deadline::NONE, bounds, &dates).await
}

/// What collect would know if EC2 listed reports of `days` (none still due): the
/// report objects of each of those days in the store, as its listing counts them.
fn ec2_lists(store: &Store, days: &[&str]) -> ReportDates {
    let store = store.lock().unwrap();
    let archived = days
        .iter()
        .map(|day| {
            let partition = format!("ami-usage/reports/region=us-east-1/report_date={day}/");
            let objects = store.keys().filter(|k| k.starts_with(&partition) && k.ends_with(".json.gz")).count();
            (day.parse().unwrap(), objects as u64)
        })
        .collect();
    ReportDates { archived, ..ReportDates::default() }
}

/// A report archived by collect: its entries object, then its report object.
fn archived_report(store: &Store, day: &str, id: &str) {
    raw(store, "entries", day, id, &[entry(id, "333333333333")]);
    raw(store, "reports", day, id, &[json!({"report_id": id, "state": "available"})]);
}

/// The ListObjectsV2 calls of a run: `(prefix, delimiter?)`.
fn listings(fake: &Fake) -> Vec<(String, bool)> {
    fake.calls()
        .iter()
        .filter_map(|c| c.action.strip_prefix("GET ").filter(|a| a.contains("list-type=2")))
        .map(|a| {
            let query = a.split_once('?').map(|(_, q)| q).unwrap_or("");
            (query_param(query, "prefix").unwrap_or_default(), query_param(query, "delimiter").is_some())
        })
        .collect()
}

/// `(dataset/day, source) → rows` over every part in the store.
fn compacted_rows(store: &Store) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for (key, bytes) in store.lock().unwrap().iter().filter(|(k, _)| k.ends_with(".parquet")) {
        let day = key.split('/').filter(|s| !s.starts_with("part-")).skip(2).collect::<Vec<_>>().join("/");
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes.clone())).unwrap();
        for row in reader.get_row_iter(None).unwrap() {
            let row = row.unwrap();
            let source = row.get_column_iter().find(|(n, _)| n.as_str() == "source_object").map(|(_, f)| f.clone());
            let Some(Field::Str(source)) = source else { panic!("a row without its source: {row}") };
            *out.entry((day.clone(), source)).or_default() += 1;
        }
    }
    out
}

fn expected_rows() -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for day in ["2026-11-01", "2026-11-02"] {
        for report in ["r-a", "r-b"] {
            let id = format!("{report}-{day}");
            out.insert((format!("entries/region=us-east-1/report_date={day}"), id.clone()), 2);
            out.insert((format!("reports/region=us-east-1/report_date={day}"), id), 1);
        }
        out.insert((format!("verdicts/region=us-east-1/report_date={day}"), "run-1".into()), 1);
    }
    out
}

fn part_keys(store: &Store) -> Vec<String> {
    store.lock().unwrap().keys().filter(|k| k.ends_with(".parquet")).cloned().collect()
}

#[tokio::test]
async fn closed_days_become_one_part_each_with_every_row_once() {
    let store = seeded();
    let fake = memory_s3(store.clone(), Arc::default(), None);
    let summary = compact(&fake).await.unwrap();
    assert_eq!(
        summary,
        CompactionSummary { parts_written: 6, parts_adopted: 0, rows: 14, days_left: 0, days_listed: 6 }
    );
    assert_eq!(compacted_rows(&store), expected_rows());
    assert!(part_keys(&store).iter().all(|k| k.ends_with("/part-0000.parquet")));
    let puts: Vec<_> = fake.calls().into_iter().filter(|c| c.action.contains(".parquet")).collect();
    assert!(
        puts.iter()
            .filter(|c| c.action.starts_with("PUT"))
            .all(|c| c.headers.get("if-none-match").is_some_and(|v| v == "*"))
    );
    // A second run finds nothing to do, from the listings and the state alone.
    let quiet = memory_s3(store.clone(), Arc::default(), None);
    assert_eq!(compact(&quiet).await.unwrap(), CompactionSummary::default());
    assert!(!quiet.calls().iter().any(|c| c.action.contains(".parquet")), "no part read: {:?}", quiet.calls());
}

#[tokio::test]
async fn an_idle_run_lists_no_closed_day_found_complete_whatever_the_history() {
    let store = seeded();
    for day in 3..=28 {
        let day = format!("2026-10-{day:02}");
        archived_report(&store, &day, &format!("r-{day}"));
    }
    let days: Vec<String> = store
        .lock()
        .unwrap()
        .keys()
        .filter_map(|k| k.strip_prefix("ami-usage/reports/region=us-east-1/report_date="))
        .map(|rest| rest[..10].to_string())
        .collect();
    let listed = ec2_lists(&store, &days.iter().map(String::as_str).collect::<Vec<_>>());
    let first = compact_store(&store, PartBounds::DEFAULT, listed.clone()).await.unwrap();
    assert_eq!(first.days_listed, 2 * 28 + 2, "entries and reports of 28 days, verdicts of 2");
    let idle = memory_s3(store.clone(), Arc::default(), None);
    let summary = compact_listed(&idle, Deadline::NONE, PartBounds::DEFAULT, &listed).await.unwrap();
    assert_eq!(summary, CompactionSummary::default());
    // One listing of each dataset's day folders, no day listed, the state read, nothing written.
    let folders = ["entries", "reports", "verdicts"].map(|d| (format!("ami-usage/{d}/region=us-east-1/"), true));
    assert_eq!(listings(&idle), folders.to_vec());
    let calls: Vec<_> = idle.calls().into_iter().map(|c| c.action).collect();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert!(calls.iter().any(|c| c.starts_with("GET ") && c.contains("compaction-state.json")), "{calls:?}");
}

#[tokio::test]
async fn a_late_report_for_an_old_day_lists_that_day_and_goes_into_its_next_part() {
    let store = seeded();
    let run = |dates: ReportDates| compact_store(&store, PartBounds::DEFAULT, dates);
    assert_eq!(run(ec2_lists(&store, &["2026-11-01", "2026-11-02"])).await.unwrap().days_listed, 6);
    let first =
        store.lock().unwrap()["ami-usage/compacted/entries/region=us-east-1/report_date=2026-11-01/part-0000.parquet"]
            .clone();
    archived_report(&store, "2026-11-01", "r-late");
    let summary = run(ec2_lists(&store, &["2026-11-01", "2026-11-02"])).await.unwrap();
    assert_eq!((summary.days_listed, summary.parts_written, summary.rows), (2, 2, 2), "entries and reports of the 1st");
    {
        let parts = store.lock().unwrap();
        let day = "ami-usage/compacted/entries/region=us-east-1/report_date=2026-11-01";
        assert_eq!(parts[&format!("{day}/part-0000.parquet")], first);
        let late = &parts[&format!("{day}/part-0001.parquet")];
        assert_eq!(crate::core::compaction::parquet_part::sources_of(late).unwrap(), (vec!["r-late".to_string()], 1));
    }
    let mut expected = expected_rows();
    expected.insert(("entries/region=us-east-1/report_date=2026-11-01".into(), "r-late".into()), 1);
    expected.insert(("reports/region=us-east-1/report_date=2026-11-01".into(), "r-late".into()), 1);
    assert_eq!(compacted_rows(&store), expected);
    assert_eq!(run(ec2_lists(&store, &["2026-11-01", "2026-11-02"])).await.unwrap(), CompactionSummary::default());
}

#[tokio::test]
async fn a_crash_between_the_entries_and_the_report_object_still_ends_with_every_row_compacted() {
    let store = seeded();
    let run = |dates: ReportDates| compact_store(&store, PartBounds::DEFAULT, dates);
    let both = ["2026-11-01", "2026-11-02"];
    run(ec2_lists(&store, &both)).await.unwrap();
    // A collect died after the entries object of r-c (the 2nd) and of r-d (the 1st).
    raw(&store, "entries", "2026-11-02", "r-c", &[entry("r-c", "333333333333")]);
    raw(&store, "entries", "2026-11-01", "r-d", &[entry("r-d", "333333333333")]);
    // Their reports are not archived: their days' counts are unchanged, the objects wait.
    assert_eq!(run(ec2_lists(&store, &both)).await.unwrap(), CompactionSummary::default());
    // The next collect archives r-c (its report object after its entries object)...
    raw(&store, "reports", "2026-11-02", "r-c", &[json!({"report_id": "r-c", "state": "available"})]);
    let summary = run(ec2_lists(&store, &both)).await.unwrap();
    assert_eq!((summary.days_listed, summary.parts_written, summary.rows), (2, 2, 2), "{summary:?}");
    // ...while EC2 deletes r-d first: the 1st leaves its listing and is listed once more.
    let summary = run(ec2_lists(&store, &["2026-11-02"])).await.unwrap();
    assert_eq!((summary.days_listed, summary.parts_written, summary.rows), (2, 1, 1), "{summary:?}");
    let mut expected = expected_rows();
    for (day, id) in [("2026-11-02", "r-c"), ("2026-11-01", "r-d")] {
        expected.insert((format!("entries/region=us-east-1/report_date={day}"), id.into()), 1);
    }
    expected.insert(("reports/region=us-east-1/report_date=2026-11-02".into(), "r-c".into()), 1);
    assert_eq!(compacted_rows(&store), expected);
    assert_eq!(run(ec2_lists(&store, &["2026-11-02"])).await.unwrap(), CompactionSummary::default());
    assert_eq!(run(ReportDates::default()).await.unwrap().days_listed, 2, "the 2nd leaves too: once more");
    assert_eq!(run(ReportDates::default()).await.unwrap(), CompactionSummary::default());
}

#[tokio::test]
async fn a_report_archived_by_a_run_stopped_before_compacting_it_is_compacted_after_ec2_deletes_it() {
    let store = seeded();
    let both = ["2026-11-01", "2026-11-02"];
    let fake = || memory_s3(store.clone(), Arc::default(), None);
    compact_listed(&fake(), Deadline::NONE, PartBounds::DEFAULT, &ec2_lists(&store, &both)).await.unwrap();
    // The last collect that saw the 1st archived r-late, then its deadline passed.
    archived_report(&store, "2026-11-01", "r-late");
    let passed = Deadline::at(std::time::Instant::now(), std::time::Duration::ZERO);
    let stopped = compact_listed(&fake(), passed, PartBounds::DEFAULT, &ec2_lists(&store, &both)).await.unwrap();
    assert_eq!(stopped, CompactionSummary { days_left: 2, ..Default::default() });
    // EC2 no longer lists the 1st: the day's count is unknown, so it is listed once more.
    let only_2nd = ec2_lists(&store, &["2026-11-02"]);
    let summary = compact_listed(&fake(), Deadline::NONE, PartBounds::DEFAULT, &only_2nd).await.unwrap();
    assert_eq!((summary.days_listed, summary.parts_written, summary.rows), (2, 2, 2), "{summary:?}");
    let again = compact_listed(&fake(), Deadline::NONE, PartBounds::DEFAULT, &only_2nd).await.unwrap();
    assert_eq!(again, CompactionSummary::default());
}

/// Kills a run at each of its writes in turn (one more report is archived while it is
/// down), then runs it again: every row once, and a third run finds nothing to do.
async fn killed_at_every_write(bounds: PartBounds, writes_of_a_full_run: usize) {
    let writes = Arc::new(AtomicUsize::new(0));
    compact_bounded(&memory_s3(seeded(), writes.clone(), None), Deadline::NONE, bounds).await.unwrap();
    let total = writes.load(Ordering::SeqCst);
    assert_eq!(total, writes_of_a_full_run, "each part followed by the state, and the final state");
    let both = ["2026-11-01", "2026-11-02"];
    for kill_at in 0..total {
        let store = seeded();
        let dying = memory_s3(store.clone(), Arc::default(), Some(kill_at));
        let died = compact_listed(&dying, Deadline::NONE, bounds, &ec2_lists(&store, &both)).await;
        assert!(died.is_err(), "the write {kill_at} was refused");
        archived_report(&store, "2026-11-02", "r-c-2026-11-02");
        let run = || compact_store(&store, bounds, ec2_lists(&store, &both));
        let resumed = run().await;
        let mut expected = expected_rows();
        for dataset in ["entries", "reports"] {
            expected.insert((format!("{dataset}/region=us-east-1/report_date=2026-11-02"), "r-c-2026-11-02".into()), 1);
        }
        assert_eq!(compacted_rows(&store), expected, "killed at write {kill_at}, resumed: {resumed:?}");
        assert_eq!(run().await.unwrap(), CompactionSummary::default(), "killed at write {kill_at}");
    }
}

#[tokio::test]
async fn a_run_killed_at_any_write_then_run_again_keeps_every_row_once() {
    killed_at_every_write(PartBounds::DEFAULT, 13).await;
}

#[tokio::test]
async fn a_state_in_the_first_format_with_source_ids_is_read_and_rewritten_as_counts() {
    let store = seeded();
    compact(&memory_s3(store.clone(), Arc::default(), None)).await.unwrap();
    let key = "ami-usage/state/region=us-east-1/compaction-state.json";
    let first_format = {
        let parts = store.lock().unwrap();
        let mut state: serde_json::Value = serde_json::from_slice(&parts[key]).unwrap();
        for (dataset, days) in state["days"].as_object_mut().unwrap() {
            for (day, record) in days.as_object_mut().unwrap() {
                record.as_object_mut().unwrap().remove("complete");
                for part in record["parts"].as_array_mut().unwrap() {
                    let k =
                        format!("ami-usage/compacted/{dataset}/region=us-east-1/report_date={day}/part-0000.parquet");
                    part["sources"] = json!(crate::core::compaction::parquet_part::sources_of(&parts[&k]).unwrap().0);
                }
            }
        }
        serde_json::to_vec(&state).unwrap()
    };
    assert!(String::from_utf8_lossy(&first_format).contains(r#""sources":["r-a-2026-11-01","r-b-2026-11-01"]"#));
    store.lock().unwrap().insert(key.into(), first_format);
    let quiet = memory_s3(store.clone(), Arc::default(), None);
    let listed_once = CompactionSummary { days_listed: 6, ..Default::default() };
    assert_eq!(compact(&quiet).await.unwrap(), listed_once, "every day listed once more, counted as compacted");
    assert!(!quiet.calls().iter().any(|c| c.action.contains(".parquet")), "no part read: {:?}", quiet.calls());
    assert_eq!(compact(&memory_s3(store.clone(), Arc::default(), None)).await.unwrap(), CompactionSummary::default());
    archived_report(&store, "2026-11-02", "r-late");
    let late = ec2_lists(&store, &["2026-11-02"]);
    let summary = compact_store(&store, PartBounds::DEFAULT, late).await.unwrap();
    assert_eq!((summary.parts_written, summary.parts_adopted, summary.rows), (2, 0, 2));
    let mut expected = expected_rows();
    for dataset in ["entries", "reports"] {
        expected.insert((format!("{dataset}/region=us-east-1/report_date=2026-11-02"), "r-late".into()), 1);
    }
    assert_eq!(compacted_rows(&store), expected);
    let saved = String::from_utf8(store.lock().unwrap()[key].clone()).unwrap();
    assert!(saved.contains(r#"{"number":1,"sources":1,"rows":1}"#) && !saved.contains("r-a-"), "{saved}");
}

#[tokio::test]
async fn a_part_without_its_record_is_adopted_not_written_twice() {
    let store = seeded();
    // Kill at the first state write: part 0 of entries 2026-11-01 exists, unrecorded.
    assert!(compact(&memory_s3(store.clone(), Arc::default(), Some(1))).await.is_err());
    let summary = compact(&memory_s3(store.clone(), Arc::default(), None)).await.unwrap();
    assert_eq!((summary.parts_adopted, summary.parts_written), (1, 5));
    assert_eq!(compacted_rows(&store), expected_rows());
}

#[tokio::test]
async fn a_passed_deadline_writes_nothing_and_leaves_every_closed_day_to_the_next_run() {
    let store = seeded();
    let passed = Deadline::at(std::time::Instant::now(), std::time::Duration::ZERO);
    let summary = compact_until(&memory_s3(store.clone(), Arc::default(), None), passed).await.unwrap();
    assert_eq!(summary, CompactionSummary { days_left: 6, ..Default::default() });
    assert!(part_keys(&store).is_empty());
    assert_eq!(compact(&memory_s3(store.clone(), Arc::default(), None)).await.unwrap().parts_written, 6);
}

#[path = "compact_bounds_tests.rs"]
mod bounds;

#[tokio::test]
async fn a_compaction_racing_another_stops_at_its_first_state_write() {
    let store = seeded();
    let handler = memory_handler(store.clone(), Arc::default(), None, std::time::Duration::ZERO);
    let racer = store.clone();
    let raced = Arc::new(AtomicUsize::new(0));
    let fake = Fake::with_bytes(RetryConfig::disabled(), move |call: &Call| {
        let answer = handler(call);
        if call.action.starts_with("GET ")
            && call.action.contains("compaction-state.json")
            && raced.fetch_add(1, Ordering::SeqCst) == 0
        {
            let other = br#"{"days":{},"writer":{"run":"other","write":0,"at":"2026-12-07T03:00:00.000Z"}}"#;
            racer
                .lock()
                .unwrap()
                .insert("ami-usage/state/region=us-east-1/compaction-state.json".into(), other.to_vec());
        }
        answer
    });
    let error = compact(&fake).await.unwrap_err();
    assert!(format!("{error:#}").contains("written by another run at 2026-12-07T03:00:00.000Z"), "{error:#}");
    let state =
        String::from_utf8(store.lock().unwrap()["ami-usage/state/region=us-east-1/compaction-state.json"].clone())
            .unwrap();
    assert!(state.contains(r#""run":"other""#), "the other run's state is kept: {state}");
}
