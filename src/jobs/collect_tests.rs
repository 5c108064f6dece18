//! collect against a fake AWS (`aws::fake`): the order of its writes (entries object,
//! report object, verdicts object, state, SNS publish, state) and what each failing
//! write leaves behind, in milliseconds instead of a run of the Python fault matrix.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_smithy_types::retry::RetryConfig;

use super::*;
use crate::aws::fake::{Answer, Call, Fake};
use crate::config::{Config, RawConfig};
use crate::jobs::Deadline;

const NOW: &str = "2026-11-22T06:00:00Z";
const BUCKET: &str = "archive";

fn report_item(id: &str, image: &str, state: &str) -> String {
    format!(
        "<item><reportId>{id}</reportId><imageId>{image}</imageId><state>{state}</state>\
         <stateReason>{state}</stateReason>\
         <resourceTypeSet><item><resourceType>ec2:Instance</resourceType></item></resourceTypeSet>\
         <creationTime>2026-11-22T01:00:00.000Z</creationTime>\
         <expirationTime>2026-12-22T01:00:00.000Z</expirationTime>\
         <tagSet><item><key>ami-usage-reporter:period</key><value>2026-11-22</value></item></tagSet></item>"
    )
}

fn ec2(call: &Call) -> Answer {
    let body = match call.action.as_str() {
        "DescribeImageUsageReports" => format!(
            "<DescribeImageUsageReportsResponse><imageUsageReportSet>{}{}</imageUsageReportSet>\
             </DescribeImageUsageReportsResponse>",
            report_item("amiur-ok", "ami-ok", "available"),
            report_item("amiur-bad", "ami-bad", "error")
        ),
        "DescribeImageUsageReportEntries" => "<DescribeImageUsageReportEntriesResponse><imageUsageReportEntrySet>\
             <item><reportId>amiur-ok</reportId><imageId>ami-ok</imageId><accountId>111122223333</accountId>\
             <resourceType>ec2:Instance</resourceType><usageCount>2</usageCount></item>\
             </imageUsageReportEntrySet></DescribeImageUsageReportEntriesResponse>"
            .into(),
        "DescribeImages" => "<DescribeImagesResponse><imagesSet>\
             <item><imageId>ami-ok</imageId><imageState>available</imageState><name>ok</name>\
             <lastLaunchedTime>2026-01-01T00:00:00Z</lastLaunchedTime></item>\
             <item><imageId>ami-bad</imageId><imageState>available</imageState><name>bad</name>\
             <lastLaunchedTime>2026-01-01T00:00:00Z</lastLaunchedTime></item>\
             </imagesSet></DescribeImagesResponse>"
            .into(),
        "DescribeImageReferences" => {
            "<DescribeImageReferencesResponse><imageReferenceSet/></DescribeImageReferencesResponse>".into()
        }
        "DescribeSpotFleetRequests" => {
            "<DescribeSpotFleetRequestsResponse><spotFleetRequestConfigSet/></DescribeSpotFleetRequestsResponse>".into()
        }
        "DescribeFleets" => "<DescribeFleetsResponse><fleetSet/></DescribeFleetsResponse>".into(),
        other => panic!("unexpected EC2 call {other}"),
    };
    Answer::ok(body)
}

fn s3(call: &Call) -> Answer {
    let a = call.action.as_str();
    if a.starts_with("GET ") && a.contains("uploads") {
        Answer::ok("<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>")
    } else if a.starts_with("GET ") && a.contains("list-type=2") {
        Answer::ok("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
    } else if a.starts_with("GET ") {
        Answer { status: 404, body: "<Error><Code>NoSuchKey</Code><Message>none</Message></Error>".into() }
    } else if a.starts_with("PUT ") {
        Answer::ok("")
    } else {
        panic!("unexpected S3 call {a}")
    }
}

/// The world of one available report (with an entry) and one report in `error` (news:
/// an alert is due); `fail` may refuse any call first (`Some(answer)`).
fn world(fail: impl Fn(&Call) -> Option<Answer> + Send + Sync + 'static) -> Fake {
    Fake::new(RetryConfig::disabled(), move |call| {
        if let Some(answer) = fail(call) {
            return answer;
        }
        match call.service.as_str() {
            "sts" => Answer::ok(
                "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account>\
                 <Arn>arn:aws:iam::123456789012:user/t</Arn><UserId>t</UserId></GetCallerIdentityResult>\
                 </GetCallerIdentityResponse>",
            ),
            "ec2" => ec2(call),
            "s3" => s3(call),
            "autoscaling" => Answer::ok(
                "<DescribeLaunchConfigurationsResponse><DescribeLaunchConfigurationsResult>\
                 <LaunchConfigurations/></DescribeLaunchConfigurationsResult></DescribeLaunchConfigurationsResponse>",
            ),
            "sns" => Answer::ok(
                "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>",
            ),
            other => panic!("unexpected service {other}"),
        }
    })
}

fn config() -> Config {
    let raw = RawConfig {
        archive_bucket: Some(BUCKET.into()),
        alert_topic_arn: Some("arn:aws:sns:us-east-1:123456789012:alerts".into()),
        collect_concurrency: Some("1".into()),
        ..RawConfig::default()
    };
    raw.validate().unwrap()
}

async fn collect(fake: &Fake) -> anyhow::Result<CollectSummary> {
    let config = config();
    let r = Run { clients: &fake.clients, config: &config, now: NOW.parse().unwrap(), deadline: Deadline::NONE };
    run(&r).await
}

/// The writes in order: `put <dataset>/<report or object>` and `publish`.
fn writes(fake: &Fake) -> Vec<String> {
    fake.calls()
        .iter()
        .filter_map(|c| {
            if c.service == "sns" {
                return Some("publish".to_string());
            }
            let key = c.action.strip_prefix(&format!("PUT /{BUCKET}/ami-usage/"))?;
            let dataset = key.split('/').next().unwrap_or_default();
            let name = key.rsplit('/').next().unwrap_or_default().split('.').next().unwrap_or_default();
            Some(format!("put {dataset}/{}", if dataset == "verdicts" { "run" } else { name }))
        })
        .collect()
}

#[tokio::test]
async fn writes_go_entries_report_verdicts_state_publish_state() {
    let fake = world(|_| None);
    let summary = collect(&fake).await.unwrap();
    assert_eq!(summary.archived, 2);
    assert!(summary.alert.as_ref().is_some_and(|a| a.published));
    assert_eq!(
        writes(&fake),
        [
            "put reports/amiur-bad",
            "put entries/amiur-ok",
            "put reports/amiur-ok",
            "put verdicts/run",
            "put state/collect-state",
            "publish",
            "put state/collect-state",
        ]
    );
    let puts = fake.calls().into_iter().filter(|c| c.action.starts_with("PUT /archive/ami-usage/reports/"));
    assert!(puts.into_iter().all(|c| c.headers.get("if-none-match").map(String::as_str) == Some("*")));
}

#[tokio::test]
async fn a_refused_entries_object_leaves_no_report_object_and_the_others_go_on() {
    let fake = world(|c| c.action.contains("/entries/").then(|| Answer { status: 403, body: denied().into() }));
    let summary = collect(&fake).await.unwrap();
    assert_eq!(summary.failed.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["amiur-ok"]);
    let w = writes(&fake);
    assert!(!w.contains(&"put reports/amiur-ok".to_string()), "{w:?}");
    assert!(
        w.contains(&"put reports/amiur-bad".to_string())
            && w.ends_with(&["publish".into(), "put state/collect-state".into()])
    );
}

#[tokio::test]
async fn no_publish_before_the_state_that_queues_the_news_is_saved() {
    let state_put = |c: &Call| c.action.starts_with("PUT ") && c.action.contains("/state/");
    let fake = world(move |c| state_put(c).then(|| Answer { status: 403, body: denied().into() }));
    let error = collect(&fake).await.unwrap_err();
    let partial = error.downcast_ref::<PartialRun>().expect("the summary travels with the error");
    assert!(matches!(&*partial.summary, Summary::Collect(s) if s.archived == 2));
    let w = writes(&fake);
    assert!(!w.contains(&"publish".to_string()), "{w:?}");
    let saves = w.iter().filter(|w| w.starts_with("put state/")).count();
    assert_eq!(saves, crate::jobs::durable::SAVE_ATTEMPTS as usize, "the save is retried, then the run stops");
}

#[tokio::test]
async fn a_refused_publish_keeps_the_outbox_for_the_next_run() {
    let publishes = Arc::new(AtomicUsize::new(0));
    let counter = publishes.clone();
    let fake = world(move |c| {
        (c.service == "sns").then(|| {
            counter.fetch_add(1, Ordering::SeqCst);
            Answer::query_error(500, "InternalError")
        })
    });
    let summary = collect(&fake).await.unwrap();
    assert!(summary.alert.as_ref().is_some_and(|a| !a.published));
    assert!(summary.failed.iter().any(|f| f.id == "alert"));
    assert_eq!(publishes.load(Ordering::SeqCst), 1);
    let w = writes(&fake);
    assert_eq!(w.last().map(String::as_str), Some("publish"), "no state write marks it sent: {w:?}");
}

fn denied() -> String {
    "<Error><Code>AccessDenied</Code><Message>denied</Message></Error>".into()
}

/// Another run's state, stamped by its writer at `STAMP`.
const STAMP: &str = "2026-12-07T03:00:00.000Z";

fn someone_elses_state() -> Answer {
    Answer::ok(format!(r#"{{"schema_version":1,"writer":{{"run":"other-run","write":0,"at":"{STAMP}"}}}}"#))
}

#[tokio::test]
async fn every_state_write_replaces_exactly_the_version_it_read() {
    let fake = world(|_| None);
    collect(&fake).await.unwrap();
    let saves: Vec<Call> =
        fake.calls().into_iter().filter(|c| c.action.starts_with("PUT ") && c.action.contains("/state/")).collect();
    assert!(saves.len() >= 2, "{:?}", fake.actions());
    assert_eq!(saves[0].headers.get("if-none-match").map(String::as_str), Some("*"), "none was read: create it");
    for pair in saves.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        if before.action != after.action {
            continue;
        }
        assert_eq!(
            after.headers.get("if-match"),
            Some(&crate::aws::fake::etag(&before.body)),
            "replaces its own last write"
        );
    }
    for save in &saves {
        let body: serde_json::Value = serde_json::from_slice(&save.body).unwrap();
        assert!(body["writer"]["run"].is_string(), "every state write names its writer");
    }
}

/// A world where another run writes the collect state between this run's read and its
/// first write: the read finds none, the write is refused (412), the object then holds
/// the other run's state.
fn raced_world() -> Fake {
    let state_reads = Arc::new(AtomicUsize::new(0));
    world(move |c| {
        if !c.action.contains("collect-state.json") {
            return None;
        }
        if c.action.starts_with("PUT ") {
            return Some(Answer { status: 412, body: "<Error><Code>PreconditionFailed</Code></Error>".into() });
        }
        (state_reads.fetch_add(1, Ordering::SeqCst) > 0).then(someone_elses_state)
    })
}

#[tokio::test]
async fn a_run_that_loses_the_state_to_another_stops_before_it_announces() {
    let fake = raced_world();
    let error = collect(&fake).await.unwrap_err();
    let line = format!("{error:#}");
    assert!(line.contains(&format!("was written by another run at {STAMP}")), "{line}");
    assert!(error.downcast_ref::<PartialRun>().is_some(), "what the run archived is still reported");
    let w = writes(&fake);
    assert!(!w.contains(&"publish".to_string()), "nothing announced: {w:?}");
    assert_eq!(w.iter().filter(|w| w.starts_with("put state/")).count(), 1, "a lost race is not retried: {w:?}");
}
