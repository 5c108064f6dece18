//! The digest phase against a fake AWS (`aws::fake`) with a small in-memory S3: what it
//! reads, the order of its writes (RI object, publish, digest object), the message
//! attributes, and that a second run of the day publishes nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_types::retry::RetryConfig;

use super::*;
use crate::aws::fake::{Answer, Call, Fake, decode, etag};
use crate::config::{Config, RawConfig};
use crate::core::digest;
use crate::core::fixtures::digest::{report, week_verdicts};
use crate::jobs::Deadline;

pub(crate) const NOW: &str = "2026-11-30T08:00:00Z";
const BUCKET: &str = "archive";

pub(crate) type Objects = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

/// The fake S3: `PUT` with `If-None-Match: *` answers 412 on an existing key, with
/// `If-Match` 412 when the object changed since (404 when it is gone).
fn s3(objects: &Objects, call: &Call) -> Answer {
    let (method, rest) = call.action.split_once(' ').unwrap();
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let key = decode(path.trim_start_matches(&format!("/{BUCKET}")).trim_start_matches('/'));
    let params: BTreeMap<String, String> =
        query.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect();
    let mut objects = objects.lock().unwrap();
    match method {
        "GET" if params.contains_key("list-type") => {
            let prefix = params.get("prefix").cloned().unwrap_or_default();
            let after = params.get("start-after").cloned().unwrap_or_default();
            let contents: String = objects
                .keys()
                .filter(|k| k.starts_with(&prefix) && **k > after)
                .map(|k| format!("<Contents><Key>{k}</Key><Size>1</Size></Contents>"))
                .collect();
            Answer::ok(format!("<ListBucketResult><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"))
        }
        "GET" => match objects.get(&key) {
            Some(body) => Answer { status: 200, body: body.clone() },
            None => Answer { status: 404, body: "<Error><Code>NoSuchKey</Code><Message>none</Message></Error>".into() },
        },
        "PUT" if objects.contains_key(&key) && call.headers.contains_key("if-none-match") => {
            Answer { status: 412, body: "<Error><Code>PreconditionFailed</Code><Message>x</Message></Error>".into() }
        }
        "PUT"
            if call.headers.get("if-match").is_some_and(|e| objects.get(&key).map(|b| etag(b)) != Some(e.clone())) =>
        {
            let status = if objects.contains_key(&key) { 412 } else { 404 };
            Answer { status, body: "<Error><Code>PreconditionFailed</Code><Message>x</Message></Error>".into() }
        }
        "PUT" => {
            objects.insert(key, call.body.clone());
            Answer::ok("")
        }
        other => panic!("unexpected S3 call {other} {rest}"),
    }
}

/// The archive of the core's fixtures (`core::digest::tests`) as collect wrote it.
pub(crate) fn archive() -> Objects {
    let mut objects = BTreeMap::new();
    let mut by_run: BTreeMap<String, Vec<VerdictRow>> = BTreeMap::new();
    for mut row in week_verdicts() {
        row.region = "us-east-1".into();
        let day = row.evaluated_at.format("%Y-%m-%d");
        let key = format!(
            "ami-usage/verdicts/region=us-east-1/report_date={day}/run-{}.json.gz",
            row.evaluated_at.timestamp()
        );
        by_run.entry(key).or_default().push(row);
    }
    for (key, rows) in by_run {
        objects.insert(key, jsonl::encode(&rows).unwrap());
    }
    let problem = report("amiur-4", "ami-x", "error", "2026-11-27T01:00:00Z", 0);
    let key = "ami-usage/reports/region=us-east-1/report_date=2026-11-27/amiur-4.json.gz";
    objects.insert(key.into(), jsonl::encode(&[problem]).unwrap());
    objects.insert("ami-usage/verdicts/region=us-east-1/report_date=2026-11-30/stray.json.gz".into(), b"nope".to_vec());
    Arc::new(Mutex::new(objects))
}

pub(crate) fn world(objects: Objects, extra: impl Fn(&Call) -> Option<Answer> + Send + Sync + 'static) -> Fake {
    Fake::new(RetryConfig::disabled(), move |call| {
        if let Some(answer) = extra(call) {
            return answer;
        }
        match call.service.as_str() {
            "sts" => Answer::ok(
                "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account>\
                 <Arn>arn:aws:iam::123456789012:user/t</Arn><UserId>t</UserId></GetCallerIdentityResult>\
                 </GetCallerIdentityResponse>",
            ),
            "s3" => s3(&objects, call),
            "sns" => Answer::ok(
                "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>",
            ),
            other => panic!("unexpected service {other}"),
        }
    })
}

pub(crate) fn config(extra: impl FnOnce(&mut RawConfig)) -> Config {
    let mut raw = RawConfig {
        archive_bucket: Some(BUCKET.into()),
        alert_topic_arn: Some("arn:aws:sns:us-east-1:123456789012:alerts".into()),
        ..RawConfig::default()
    };
    extra(&mut raw);
    raw.validate().unwrap()
}

pub(crate) async fn digest_run(fake: &Fake, config: &Config) -> anyhow::Result<DigestSummary> {
    let r = Run { clients: &fake.clients, config, now: NOW.parse().unwrap(), deadline: Deadline::NONE };
    run(&r).await
}

/// `put <dataset>` and `publish`, in order.
pub(crate) fn writes(fake: &Fake) -> Vec<String> {
    fake.calls()
        .iter()
        .filter_map(|c| match c.service.as_str() {
            "sns" => Some("publish".to_string()),
            "s3" if c.action.starts_with("PUT ") => Some(format!("put {}", c.action.split('/').nth(3).unwrap_or(""))),
            _ => None,
        })
        .collect()
}

pub(crate) fn attributes(call: &Call) -> BTreeMap<String, (String, String)> {
    (1..=4)
        .filter_map(|i| {
            let p = |s: &str| call.param(&format!("MessageAttributes.entry.{i}.{s}")).map(str::to_string);
            Some((p("Name")?, (p("Value.DataType")?, p("Value.StringValue")?)))
        })
        .collect()
}

#[tokio::test]
async fn reads_the_week_publishes_with_attributes_then_writes_the_digest_object() {
    let objects = archive();
    let fake = world(objects.clone(), |_| None);
    let summary = digest_run(&fake, &config(|_| ())).await.unwrap();
    assert_eq!(
        (summary.counts.candidates_standing, summary.counts.candidates_new, summary.counts.used_again),
        (2, 1, 2)
    );
    assert_eq!((summary.counts.report_problems, summary.counts.snapshot_cost_usd_upper_bound), (1, 6.0));
    assert_eq!(summary.reservations_status, "off");
    assert!(summary.published && summary.message_id.as_deref() == Some("m-1"));
    assert_eq!(summary.failed.len(), 1, "the stray object is named, the rest is read");
    assert!(summary.failed[0].id.ends_with("stray.json.gz"));
    assert_eq!(writes(&fake), ["put state", "publish", "put state", "put digests"]);
    let publish = fake.calls().into_iter().find(|c| c.service == "sns").unwrap();
    let attrs = attributes(&publish);
    assert_eq!(attrs["kind"], ("String.Array".into(), r#"["digest"]"#.into()));
    assert_eq!(attrs["account"], ("String".into(), "123456789012".into()));
    assert_eq!(attrs["group"], ("String.Array".into(), r#"["app"]"#.into()));
    assert!(!attrs.contains_key("team"));
    let stored = objects.lock().unwrap()[summary.object.as_ref().unwrap()].clone();
    let rows: Vec<DigestRow> = jsonl::decode(&stored).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        summary.object.as_deref(),
        Some("ami-usage/digests/region=us-east-1/report_date=2026-11-30/digest.json.gz")
    );
}

#[tokio::test]
async fn a_second_run_of_the_day_finds_the_digest_and_publishes_nothing() {
    let objects = archive();
    let first = world(objects.clone(), |_| None);
    digest_run(&first, &config(|_| ())).await.unwrap();
    let second = world(objects, |_| None);
    let summary = digest_run(&second, &config(|_| ())).await.unwrap();
    assert!(summary.already_digested && !summary.published);
    assert_eq!(summary.counts.candidates_standing, 2, "the counts of the digest found");
    assert!(writes(&second).is_empty(), "{:?}", writes(&second));
}

#[tokio::test]
async fn a_refused_publish_writes_no_digest_object_so_a_rerun_publishes() {
    let objects = archive();
    let fake = world(objects.clone(), |c| (c.service == "sns").then(|| Answer::query_error(500, "InternalError")));
    let summary = digest_run(&fake, &config(|_| ())).await.unwrap();
    assert!(!summary.published);
    assert!(summary.failed.iter().any(|f| f.id == "digest" && f.error.contains("InternalError")));
    assert_eq!(writes(&fake), ["put state", "publish"]);
    assert_eq!(summary.object, None);
    let rerun = world(objects, |_| None);
    assert!(digest_run(&rerun, &config(|_| ())).await.unwrap().published);
}

/// Cost Explorer's answer for one page: two subscriptions, the next page's token.
fn ce_page(call: &Call, pages: usize) -> Answer {
    let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    let page: usize = body["NextPageToken"].as_str().map_or(1, |t| t.trim_start_matches('p').parse().unwrap());
    let start = body["TimePeriod"]["Start"].as_str().unwrap();
    let id = |n: usize| format!("sub-{start}-{page}-{n}");
    let group = |n: usize, utilization: &str| {
        serde_json::json!({
            "Key": "SUBSCRIPTION_ID", "Value": id(n),
            "Attributes": {"instanceType": "m5.large", "region": "eu-west-1", "accountId": "111122223333",
                           "numberOfInstances": "2", "endDateTime": "2026-12-10T00:00:00.000Z"},
            "Utilization": {"UtilizationPercentage": utilization, "PurchasedHours": "336", "TotalActualHours": "100",
                            "UnusedHours": "236", "NetRISavings": "-3.5"}
        })
    };
    let mut answer = serde_json::json!({
        "UtilizationsByTime": [{"TimePeriod": {"Start": start, "End": "2026-11-30"}, "Groups": [group(1, "29.76"), group(2, "100")]}],
        "Total": {"UtilizationPercentage": "64.88"}
    });
    if page < pages {
        answer["NextPageToken"] = format!("p{}", page + 1).into();
    }
    Answer::ok(answer.to_string())
}

fn with_ce(objects: Objects, answer: impl Fn(&Call) -> Answer + Send + Sync + 'static) -> Fake {
    world(objects, move |c| (c.service == "ce").then(|| answer(c)))
}

fn ce_calls(fake: &Fake) -> Vec<serde_json::Value> {
    fake.calls().iter().filter(|c| c.service == "ce").map(|c| serde_json::from_slice(&c.body).unwrap()).collect()
}

#[tokio::test]
async fn reservations_are_asked_per_period_paged_and_archived_before_the_publish() {
    let objects = archive();
    let fake = with_ce(objects.clone(), |c| ce_page(c, 2));
    let summary = digest_run(&fake, &config(|r| r.notify.digest_reservations = Some("on".into()))).await.unwrap();
    let calls = ce_calls(&fake);
    assert_eq!(calls.len(), 4, "two periods, two pages each");
    assert_eq!(calls[0]["TimePeriod"], serde_json::json!({"Start": "2026-11-23", "End": "2026-11-30"}));
    assert_eq!(calls[2]["TimePeriod"], serde_json::json!({"Start": "2026-11-01", "End": "2026-11-30"}));
    assert_eq!(calls[0]["GroupBy"], serde_json::json!([{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}]));
    assert_eq!(
        calls[0]["Filter"],
        serde_json::json!({"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Elastic Compute Cloud - Compute"]}})
    );
    assert!(calls[0].get("Granularity").is_none() && calls[1]["NextPageToken"] == "p2");
    assert_eq!((summary.reservations_status.as_str(), summary.cost_explorer_calls), ("ok", 4));
    assert_eq!(
        (summary.reservations, summary.reservations_under_threshold, summary.reservations_ending_soon),
        (8, 4, 8)
    );
    assert_eq!(writes(&fake), ["put ri_utilization", "put state", "publish", "put state", "put digests"]);
    let key = summary.ri_object.unwrap();
    let rows: Vec<serde_json::Value> = jsonl::decode(&objects.lock().unwrap()[&key]).unwrap();
    assert_eq!(rows.len(), 8);
    assert_eq!(
        (rows[0]["utilization_percentage"].as_f64(), rows[0]["net_ri_savings"].as_f64()),
        (Some(29.76), Some(-3.5))
    );
    assert_eq!(rows[0]["period"], "last_7_days");
}

#[tokio::test]
async fn paging_stops_at_the_call_cap_and_says_the_list_is_incomplete() {
    let fake = with_ce(archive(), |c| ce_page(c, usize::MAX));
    let summary = digest_run(&fake, &config(|r| r.notify.digest_reservations = Some("on".into()))).await.unwrap();
    assert_eq!(ce_calls(&fake).len(), digest::MAX_COST_EXPLORER_CALLS);
    assert_eq!(summary.reservations_status, "ok");
    let publish = fake.calls().into_iter().find(|c| c.service == "sns").unwrap();
    assert!(publish.param("Message").unwrap().contains("paging stopped at the call cap"));
}

#[tokio::test]
async fn no_cost_explorer_access_is_one_line_and_the_run_succeeds() {
    let fake = with_ce(archive(), |_| Answer::json_error(400, "AccessDeniedException"));
    let summary = digest_run(&fake, &config(|r| r.notify.digest_reservations = Some("on".into()))).await.unwrap();
    assert_eq!(summary.reservations_status, "no_access: AccessDeniedException");
    assert!(summary.published && summary.ri_object.is_none());
    assert_eq!(writes(&fake), ["put state", "publish", "put state", "put digests"]);
}

#[tokio::test]
async fn another_cost_explorer_error_fails_the_run_before_anything_is_sent() {
    let fake = with_ce(archive(), |_| Answer::json_error(400, "LimitExceededException"));
    let error = digest_run(&fake, &config(|r| r.notify.digest_reservations = Some("on".into()))).await.unwrap_err();
    assert!(format!("{error:#}").contains("LimitExceededException"), "{error:#}");
    assert!(writes(&fake).is_empty());
}

#[tokio::test]
async fn reservations_off_never_calls_cost_explorer() {
    let fake = with_ce(archive(), |_| panic!("Cost Explorer called"));
    let summary = digest_run(&fake, &config(|_| ())).await.unwrap();
    assert_eq!((summary.reservations_status.as_str(), summary.cost_explorer_calls), ("off", 0));
}

#[tokio::test]
async fn past_the_deadline_nothing_is_published_and_the_run_fails() {
    let fake = world(archive(), |_| None);
    let config = config(|_| ());
    let spent = Deadline::after(std::time::Instant::now(), std::time::Duration::ZERO, std::time::Duration::ZERO);
    let r = Run { clients: &fake.clients, config: &config, now: NOW.parse().unwrap(), deadline: spent };
    let error = run(&r).await.unwrap_err();
    assert!(error.to_string().contains("time budget ran out"), "{error}");
    assert!(writes(&fake).is_empty());
}

#[tokio::test]
async fn a_refused_digest_object_is_retried_then_the_summary_travels_with_the_error() {
    let fake = world(archive(), |c| {
        (c.action.starts_with("PUT ") && c.action.contains("/digests/")).then(|| Answer {
            status: 403,
            body: "<Error><Code>AccessDenied</Code><Message>no</Message></Error>".into(),
        })
    });
    let error = digest_run(&fake, &config(|_| ())).await.unwrap_err();
    let partial = error.downcast_ref::<PartialRun>().expect("the summary travels with the error");
    assert!(matches!(&*partial.summary, Summary::Digest(s) if s.published && s.object.is_none()));
    let puts = writes(&fake).iter().filter(|w| *w == "put digests").count();
    assert_eq!(puts, crate::jobs::durable::SAVE_ATTEMPTS as usize);
}

#[test]
fn the_partition_date_is_the_keys_last_report_date() {
    let key = "odd/report_date=x/verdicts/region=us-east-1/report_date=2026-11-30/run-1.json.gz";
    assert_eq!(partition_date(key), Some("2026-11-30".parse().unwrap()));
    assert_eq!(partition_date("ami-usage/verdicts/region=us-east-1/stray.json.gz"), None);
}
