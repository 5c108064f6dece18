//! create against a fake EC2 (`aws::fake`): how each answer of CreateImageUsageReport
//! is counted, and the order of the calls.

use std::time::{Duration, Instant};

use aws_smithy_types::retry::RetryConfig;

use super::*;
use crate::aws::fake::{Answer, Call, Fake};
use crate::config::{Config, RawConfig};
use crate::jobs::Deadline;

const NOW: &str = "2026-11-22T06:00:00Z";
const CREATE: &str = "ec2:CreateImageUsageReport";

/// The owned AMIs `images`, those of `reported` already reported in the period, and
/// `create` answering CreateImageUsageReport.
fn ec2(
    images: &'static [&'static str],
    reported: &'static [&'static str],
    create: impl Fn(&Call) -> Answer + Send + Sync + 'static,
) -> impl Fn(&Call) -> Answer + Send + Sync + 'static {
    move |call| match call.action.as_str() {
        "DescribeImages" => Answer::ok(images_xml(images)),
        "DescribeImageUsageReports" => Answer::ok(reports_xml(reported)),
        "CreateImageUsageReport" => create(call),
        other => panic!("unexpected call {other}"),
    }
}

fn images_xml(ids: &[&str]) -> String {
    let items: String = ids
        .iter()
        .map(|id| format!("<item><imageId>{id}</imageId><imageState>available</imageState><name>{id}</name></item>"))
        .collect();
    format!("<DescribeImagesResponse><imagesSet>{items}</imagesSet></DescribeImagesResponse>")
}

fn reports_xml(image_ids: &[&str]) -> String {
    let items: String = image_ids
        .iter()
        .map(|id| {
            format!(
                "<item><reportId>amiur-{id}</reportId><imageId>{id}</imageId><state>pending</state>\
                 <creationTime>2026-11-22T01:00:00.000Z</creationTime>\
                 <expirationTime>2026-12-22T01:00:00.000Z</expirationTime></item>"
            )
        })
        .collect();
    format!(
        "<DescribeImageUsageReportsResponse><imageUsageReportSet>{items}</imageUsageReportSet></DescribeImageUsageReportsResponse>"
    )
}

fn created(call: &Call) -> Answer {
    let id = call.param("ImageId").unwrap();
    Answer::ok(format!(
        "<CreateImageUsageReportResponse><reportId>amiur-{id}</reportId></CreateImageUsageReportResponse>"
    ))
}

fn no_retries() -> RetryConfig {
    RetryConfig::disabled()
}

/// The SDK's standard retry, as in production, with a back-off short enough for a test.
fn standard_retry(max_attempts: u32) -> RetryConfig {
    RetryConfig::standard().with_max_attempts(max_attempts).with_initial_backoff(Duration::from_millis(1))
}

async fn create(fake: &Fake, concurrency: usize, deadline: Deadline) -> CreateSummary {
    let config = Config { create_concurrency: concurrency, ..RawConfig::default().validate().unwrap() };
    let r = Run { clients: &fake.clients, config: &config, now: NOW.parse().unwrap(), deadline };
    run(&r).await.unwrap()
}

fn created_images(fake: &Fake) -> Vec<String> {
    fake.calls()
        .iter()
        .filter(|c| c.action == "CreateImageUsageReport")
        .map(|c| c.param("ImageId").unwrap().into())
        .collect()
}

#[tokio::test]
async fn each_answer_is_counted_where_it_belongs() {
    let fake = Fake::new(
        no_retries(),
        ec2(&["ami-1", "ami-2", "ami-3", "ami-4", "ami-5"], &["ami-5"], |call| match call.param("ImageId") {
            Some("ami-2") => Answer::query_error(400, "IdempotentParameterMismatch"),
            Some("ami-3") => Answer::query_error(400, "IncorrectState"),
            Some("ami-4") => Answer::query_error(500, "InternalError"),
            _ => created(call),
        }),
    );
    let s = create(&fake, 4, Deadline::NONE).await;
    assert_eq!((s.selected, s.created, s.already_reported), (5, 1, 2));
    assert_eq!((s.previous_still_pending, s.remaining, s.not_available), (1, 1, 0));
    assert_eq!(s.failed.len(), 1);
    assert_eq!(s.failed[0].id, "ami-4");
    assert!(s.failed[0].error.starts_with("InternalError"), "{:?}", s.failed);
    assert_eq!(s.stopped_because, None);
}

#[tokio::test]
async fn the_period_is_listed_first_and_only_missing_amis_get_a_report() {
    let fake = Fake::new(no_retries(), ec2(&["ami-2", "ami-1", "ami-3"], &["ami-3"], created));
    let s = create(&fake, 1, Deadline::NONE).await;
    assert_eq!(s.created, 2);
    assert_eq!(fake.actions(), ["ec2:DescribeImages", "ec2:DescribeImageUsageReports", CREATE, CREATE]);
    let calls = fake.calls();
    let listing = &calls[1];
    assert_eq!(listing.param("Filter.1.Name"), Some("tag:ami-usage-reporter:period"));
    assert_eq!(listing.param("Filter.1.Value.1"), Some("2026-11-22"));
    assert_eq!(created_images(&fake), ["ami-1", "ami-2"]);
    let first = &calls[2];
    assert_eq!(first.param("ClientToken"), Some("aur-ami-1-20261122"));
    assert_eq!(first.param("TagSpecification.1.Tag.1.Key"), Some("ami-usage-reporter:period"));
    assert_eq!(first.param("TagSpecification.1.Tag.1.Value"), Some("2026-11-22"));
}

#[tokio::test]
async fn a_throttled_create_is_retried_with_the_same_client_token() {
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let fake = Fake::new(
        standard_retry(3),
        ec2(&["ami-1"], &[], move |call| match attempts.fetch_add(1, Ordering::SeqCst) {
            0 => Answer::query_error(503, "RequestLimitExceeded"),
            _ => created(call),
        }),
    );
    let s = create(&fake, 1, Deadline::NONE).await;
    assert_eq!((s.created, s.failed.len()), (1, 0));
    let tokens: Vec<_> = fake
        .calls()
        .iter()
        .filter(|c| c.action == "CreateImageUsageReport")
        .map(|c| c.param("ClientToken").unwrap().to_string())
        .collect();
    assert_eq!(tokens, ["aur-ami-1-20261122", "aur-ami-1-20261122"]);
}

#[tokio::test]
async fn throttling_past_the_retries_fails_that_ami_alone() {
    let fake = Fake::new(
        standard_retry(3),
        ec2(&["ami-1", "ami-2"], &[], |call| match call.param("ImageId") {
            Some("ami-1") => Answer::query_error(503, "RequestLimitExceeded"),
            _ => created(call),
        }),
    );
    let s = create(&fake, 1, Deadline::NONE).await;
    assert_eq!(created_images(&fake), ["ami-1", "ami-1", "ami-1", "ami-2"]);
    assert_eq!((s.created, s.remaining, s.stopped_because.as_deref()), (1, 0, None));
    assert_eq!(s.failed.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["ami-1"]);
    assert!(s.failed[0].error.starts_with("RequestLimitExceeded"), "{:?}", s.failed);
}

#[tokio::test]
async fn a_reached_quota_stops_creating_and_leaves_the_rest_to_the_next_run() {
    let fake = Fake::new(
        no_retries(),
        ec2(&["ami-1", "ami-2", "ami-3"], &[], |call| match call.param("ImageId") {
            Some("ami-2") => Answer::query_error(400, "ResourceLimitExceeded"),
            _ => created(call),
        }),
    );
    let s = create(&fake, 1, Deadline::NONE).await;
    assert_eq!(created_images(&fake), ["ami-1", "ami-2"]);
    assert_eq!((s.created, s.remaining, s.failed.len()), (1, 2, 0));
    assert!(s.stopped_because.as_deref().is_some_and(|why| why.starts_with("ResourceLimitExceeded")), "{s:?}");
}

#[tokio::test]
async fn a_passed_deadline_starts_no_create() {
    let fake = Fake::new(no_retries(), ec2(&["ami-1", "ami-2"], &[], created));
    let s = create(&fake, 2, Deadline::at(Instant::now(), Duration::ZERO)).await;
    assert!(created_images(&fake).is_empty());
    assert_eq!((s.created, s.remaining), (0, 2));
    assert_eq!(s.stopped_because.as_deref(), Some("time budget reached"));
}

/// The resource types a create call asked for, in order.
fn asked_types(call: &Call) -> Vec<String> {
    (1..).map_while(|i| call.param(&format!("ResourceType.{i}.ResourceType")).map(str::to_string)).collect()
}

#[tokio::test]
async fn refused_recipe_types_fall_back_to_the_documented_two_for_that_ami_and_the_rest_of_the_run() {
    let fake = Fake::new(
        no_retries(),
        ec2(&["ami-1", "ami-2", "ami-3"], &[], |call| {
            if asked_types(call).iter().any(|t| t.starts_with("imagebuilder:")) {
                Answer::query_error(400, "InvalidParameterValue")
            } else {
                created(call)
            }
        }),
    );
    let s = create(&fake, 1, Deadline::NONE).await;
    assert_eq!((s.created, s.failed.len(), s.remaining), (3, 0, 0), "{s:?}");
    let creates: Vec<(String, Vec<String>, String)> = fake
        .calls()
        .iter()
        .filter(|c| c.action == "CreateImageUsageReport")
        .map(|c| (c.param("ImageId").unwrap().into(), asked_types(c), c.param("ClientToken").unwrap().into()))
        .collect();
    let two = vec!["ec2:Instance".to_string(), "ec2:LaunchTemplate".to_string()];
    assert_eq!(creates.len(), 4, "one refused call, then one call per AMI: {creates:?}");
    assert_eq!((creates[0].0.as_str(), creates[0].1.len()), ("ami-1", 4));
    assert_eq!(creates[1], ("ami-1".into(), two.clone(), "aur-ami-1-20261122-d2".into()));
    assert_eq!(creates[2], ("ami-2".into(), two.clone(), "aur-ami-2-20261122-d2".into()));
    assert_eq!(creates[3].1, two);
    let refused = s.resource_types_refused.expect("the refusal is in the summary");
    assert_eq!((refused.used, refused.created_with_fallback), (two, 3));
    assert_eq!(refused.configured.len(), 4);
    assert!(refused.error.starts_with("InvalidParameterValue"), "{}", refused.error);
}

#[tokio::test]
async fn a_refusal_of_the_documented_types_is_a_failure_and_nothing_is_retried() {
    let fake = Fake::new(no_retries(), ec2(&["ami-1"], &[], |_| Answer::query_error(400, "InvalidParameterValue")));
    let s = create(&fake, 1, Deadline::NONE).await;
    assert_eq!((s.created, s.failed.len()), (0, 1));
    assert_eq!(created_images(&fake), ["ami-1", "ami-1"], "the configured types, then the fallback once");
    assert!(s.resource_types_refused.is_some());
}
