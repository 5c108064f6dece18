//! The alert step against a fake AWS (`aws::fake`): one publish per team with
//! `ROUTE_TAG`, the state saved after each, and a refused team publish that leaves
//! only that team's news queued.

use std::collections::BTreeMap;

use aws_smithy_types::retry::RetryConfig;

use super::*;
use crate::aws::fake::{Answer, Call, Fake};
use crate::config::RawConfig;
use crate::core::archive::{ArchiveKeys, Provenance};
use crate::core::fixtures::t;
use crate::core::state::Route;
use crate::jobs::{Deadline, Run};

const NOW: &str = "2026-11-22T06:00:00Z";

fn used_again(image_id: &str) -> News {
    News::UsedAgain { image_id: image_id.into(), name: image_id.into(), total_usage: 3, reasons: vec![] }
}

/// Payments' and search's news, and a warning about no AMI (the untagged message).
fn state() -> CollectState {
    let route = |group: &str, team: &str| Route { group: Some(group.into()), team: Some(team.into()) };
    CollectState {
        outbox: vec![
            used_again("ami-p1"),
            News::ReportError {
                report_id: "amiur-s".into(),
                image_id: "ami-s".into(),
                reason: Some("boom".into()),
                since: Some(t("2026-11-22T01:00:00Z")),
            },
            used_again("ami-p2"),
            News::CandidatesWithheld { withheld: 5, selected: 6, limit_percent: 50, day: t(NOW).date_naive() },
        ],
        routes: BTreeMap::from([
            ("ami-p1".to_string(), route("app", "payments")),
            ("ami-p2".to_string(), route("base", "payments")),
            ("ami-s".to_string(), route("base", "search")),
        ]),
        ..CollectState::default()
    }
}

fn team_of(call: &Call) -> Option<String> {
    (1..=4).find_map(|i| {
        let p = |s: &str| call.param(&format!("MessageAttributes.entry.{i}.{s}"));
        (p("Name") == Some("team")).then(|| p("Value.StringValue").unwrap_or_default().to_string())
    })
}

fn attribute(call: &Call, name: &str) -> Option<String> {
    (1..=4).find_map(|i| {
        let p = |s: &str| call.param(&format!("MessageAttributes.entry.{i}.{s}"));
        (p("Name") == Some(name)).then(|| p("Value.StringValue").unwrap_or_default().to_string())
    })
}

/// SNS refuses the messages of `refused_team`; S3 takes every state write.
fn world(refused_team: Option<&'static str>) -> Fake {
    Fake::new(RetryConfig::disabled(), move |call| match call.service.as_str() {
        "sns" if refused_team.is_some() && team_of(call).as_deref() == refused_team => {
            Answer::query_error(500, "InternalError")
        }
        "sns" => {
            Answer::ok("<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>")
        }
        "s3" if call.action.starts_with("PUT ") => Answer::ok(""),
        other => panic!("unexpected call {other} {}", call.action),
    })
}

async fn run_alert(fake: &Fake, state: &mut CollectState, route_tag: Option<&str>) -> (AlertSummary, Vec<Failure>) {
    let raw = RawConfig {
        archive_bucket: Some("archive".into()),
        alert_topic_arn: Some("arn:aws:sns:us-east-1:123456789012:alerts".into()),
        notify: crate::config::RawNotifyConfig { route_tag: route_tag.map(str::to_string), ..Default::default() },
        ..RawConfig::default()
    };
    let config = raw.validate().unwrap();
    let run = Run { clients: &fake.clients, config: &config, now: t(NOW), deadline: Deadline::NONE };
    let archive = Archive::new(
        &run,
        "archive",
        ArchiveKeys { prefix: "ami-usage".into() },
        Provenance { owner_account_id: "123456789012".into(), region: "us-east-1".into(), collected_at: t(NOW) },
    );
    let mut failed = Vec::new();
    let summary = alert(&archive, state, &["ami-p1".to_string()], &mut failed).await.unwrap();
    (summary, failed)
}

/// `publish <team>` and `save <outbox size>`, in order.
fn steps(fake: &Fake) -> Vec<String> {
    fake.calls()
        .iter()
        .map(|c| match c.service.as_str() {
            "sns" => format!("publish {}", team_of(c).unwrap_or_else(|| "-".into())),
            _ => {
                let saved: CollectState = serde_json::from_slice(&c.body).unwrap();
                format!("save {}", saved.outbox.len())
            }
        })
        .collect()
}

#[tokio::test]
async fn one_publish_per_team_then_the_untagged_one_each_followed_by_a_save() {
    let fake = world(None);
    let mut s = state();
    let (summary, failed) = run_alert(&fake, &mut s, Some("Team")).await;
    assert!(failed.is_empty() && summary.published);
    assert_eq!(steps(&fake), ["publish payments", "save 2", "publish search", "save 1", "publish -", "save 0"]);
    let teams: Vec<Option<&str>> = summary.messages.iter().map(|m| m.team.as_deref()).collect();
    assert_eq!(teams, [Some("payments"), Some("search"), None]);
    assert_eq!(summary.messages.iter().map(|m| m.news).collect::<Vec<_>>(), [2, 1, 1]);
    assert_eq!(summary.messages[0].subject, "AMI usage us-east-1 [payments]: 2 used again");
    assert!(!summary.messages[2].subject.contains('['), "{}", summary.messages[2].subject);
    let publishes: Vec<Call> = fake.calls().into_iter().filter(|c| c.service == "sns").collect();
    assert_eq!(attribute(&publishes[0], "kind").as_deref(), Some(r#"["used_again"]"#));
    assert_eq!(attribute(&publishes[0], "group").as_deref(), Some(r#"["app","base"]"#));
    assert_eq!(attribute(&publishes[1], "kind").as_deref(), Some(r#"["report_problem"]"#));
    assert_eq!(attribute(&publishes[2], "kind").as_deref(), Some(r#"["withheld"]"#));
    assert_eq!(attribute(&publishes[2], "group"), None);
    let message = publishes[0].param("Message").unwrap();
    assert!(message.contains("ami-p1") && message.contains("ami-p2") && !message.contains("amiur-s"), "{message}");
    assert!(s.outbox.is_empty() && s.notified.len() == 4);
}

#[tokio::test]
async fn a_refused_team_keeps_only_its_news_and_the_next_run_sends_only_that() {
    let fake = world(Some("search"));
    let mut s = state();
    let (summary, failed) = run_alert(&fake, &mut s, Some("Team")).await;
    assert!(!summary.published);
    assert_eq!(failed.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["alert:search"]);
    assert_eq!(steps(&fake), ["publish payments", "save 2", "publish search", "publish -", "save 1"]);
    assert_eq!(s.outbox.iter().map(News::key).collect::<Vec<_>>(), ["error:ami-s:2026-11-22T01:00:00.000Z"]);
    let retry = world(None);
    let (summary, failed) = run_alert(&retry, &mut s, Some("Team")).await;
    assert!(failed.is_empty() && summary.published);
    assert_eq!(steps(&retry), ["publish search", "save 0"], "nothing sent twice");
}

#[tokio::test]
async fn without_route_tag_one_message_carries_everything_and_no_team() {
    let fake = world(None);
    let mut s = state();
    let (summary, _) = run_alert(&fake, &mut s, None).await;
    assert_eq!(steps(&fake), ["publish -", "save 0"]);
    assert!(summary.messages.is_empty() && summary.news == 4 && summary.published);
    let publish = fake.calls().into_iter().find(|c| c.service == "sns").unwrap();
    assert_eq!(attribute(&publish, "kind").as_deref(), Some(r#"["report_problem","used_again","withheld"]"#));
    assert_eq!(attribute(&publish, "account").as_deref(), Some("123456789012"));
}
