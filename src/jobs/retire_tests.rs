//! The retirement step against a fake AWS (`aws::fake`): the state saved with the
//! intent before each mutating call and with the result after it, a refused or
//! throttled call, and mode `off`.

use std::collections::BTreeMap;

use aws_smithy_types::retry::RetryConfig;

use super::*;
use crate::aws::fake::{Answer, Call, Fake};
use crate::config::{Config, RawConfig};
use crate::core::archive::{ArchiveKeys, Provenance};
use crate::core::fixtures;
use crate::core::model::Ami;
use crate::core::retire::Intent;
use crate::core::retire::{RetireSettings, STAGE_TAG};
use crate::core::verdict::{Kind, Reason, Verdict, Verdicts};
use crate::jobs::verdicts::VerdictCounts;
use crate::jobs::{Deadline, Run};

pub(super) const NOW: &str = "2026-11-22T06:00:00Z";
pub(super) const BUCKET: &str = "archive";
pub(super) const OWNER: &str = "123456789012";

pub(super) fn config(mode: RetireMode) -> Config {
    let raw = RawConfig { archive_bucket: Some(BUCKET.into()), ..RawConfig::default() };
    Config { retire: RetireSettings { mode, ..RetireSettings::default() }, ..raw.validate().unwrap() }
}

pub(super) fn candidate(id: &str) -> Verdict {
    Verdict::for_test(id, Kind::Candidate, &[Reason::UnusedForWindow])
}

pub(super) fn decided(ami: Ami) -> Decided {
    Decided {
        verdicts: Verdicts { verdicts: vec![candidate(&ami.image_id)], breaker: None },
        amis: vec![ami],
        counts: VerdictCounts::default(),
        gaps: vec![],
    }
}

pub(super) fn ami(id: &str) -> Ami {
    Ami { owner_id: Some(OWNER.into()), ..fixtures::ami(id) }
}

pub(super) fn rbin(call: &Call) -> Answer {
    if call.action.starts_with("POST /list-rules") {
        Answer::ok(r#"{"Rules":[{"Identifier":"rule0000001"}]}"#)
    } else {
        Answer::ok(
            r#"{"Identifier":"rule0000001","ResourceType":"EC2_IMAGE","Status":"available","ResourceTags":[],
            "RetentionPeriod":{"RetentionPeriodValue":90,"RetentionPeriodUnit":"DAYS"}}"#,
        )
    }
}

pub(super) fn ec2(call: &Call) -> Answer {
    let action = call.action.as_str();
    Answer::ok(format!("<{action}Response><return>true</return></{action}Response>"))
}

pub(super) fn world(fail: impl Fn(&Call) -> Option<Answer> + Send + Sync + 'static) -> Fake {
    Fake::new(RetryConfig::disabled(), move |call| {
        if let Some(answer) = fail(call) {
            return answer;
        }
        match call.service.as_str() {
            "rbin" => rbin(call),
            "ec2" => ec2(call),
            "s3" => Answer::ok(""),
            other => panic!("unexpected service {other}"),
        }
    })
}

/// Runs the step for one candidate AMI; returns the summary, the state and what failed.
pub(super) async fn step(
    fake: &Fake,
    mode: RetireMode,
    ami: Ami,
) -> (Option<RetireSummary>, CollectState, Vec<Failure>) {
    step_from(fake, mode, ami, CollectState::default()).await
}

/// The same, from a given state.
pub(super) async fn step_from(
    fake: &Fake,
    mode: RetireMode,
    ami: Ami,
    mut state: CollectState,
) -> (Option<RetireSummary>, CollectState, Vec<Failure>) {
    let config = config(mode);
    let now = NOW.parse().unwrap();
    let r = Run { clients: &fake.clients, config: &config, now, deadline: Deadline::NONE };
    let archive = Archive::new(
        &r,
        BUCKET,
        ArchiveKeys { prefix: "ami-usage".into() },
        Provenance { owner_account_id: OWNER.into(), region: "us-east-1".into(), collected_at: now },
    );
    let (mut news, mut failed) = (Vec::new(), Vec::new());
    let summary = run(&archive, &mut state, &decided(ami), &mut news, &mut failed).await.unwrap();
    (summary, state, failed)
}

/// `service:action` of each call, state saves as `save` with the record's stage and intent.
pub(super) fn trace(fake: &Fake) -> Vec<String> {
    fake.calls()
        .iter()
        .map(|c| {
            if c.action.contains("/state/") {
                let state: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
                let r = &state["retire"]["records"]["ami-1"];
                return format!(
                    "save {} {}",
                    r["stage"].as_str().unwrap_or("-"),
                    r["intent"]["action"].as_str().unwrap_or("-")
                );
            }
            if c.action.contains("/actions/") {
                return "put actions".into();
            }
            format!("{}:{}", c.service, c.action)
        })
        .collect()
}

#[tokio::test]
async fn the_intent_is_saved_before_the_calls_and_the_result_after() {
    let fake = world(|_| None);
    let (summary, state, failed) = step(&fake, RetireMode::Enforce, ami("ami-1")).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        trace(&fake),
        [
            "rbin:POST /list-rules",
            "rbin:GET /rules/rule0000001",
            "ec2:DescribeImages",
            "save candidate deprecate",
            "ec2:EnableImageDeprecation",
            "ec2:CreateTags",
            "save deprecated -",
            "put actions",
        ]
    );
    let tag = fake.calls().into_iter().find(|c| c.action == "CreateTags").unwrap();
    assert_eq!(tag.param("Tag.1.Key"), Some(STAGE_TAG));
    assert!(tag.param("Tag.1.Value").unwrap().starts_with("deprecated 2026-11-22T06:00:00Z"));
    let put = fake.calls().into_iter().find(|c| c.action.contains("/actions/")).unwrap();
    assert_eq!(put.headers.get("if-none-match").map(String::as_str), Some("*"));
    let summary = summary.unwrap();
    assert_eq!((summary.done, summary.failed, summary.held), (1, 0, 0));
    assert!(
        summary
            .object
            .unwrap()
            .starts_with("ami-usage/actions/region=us-east-1/report_date=2026-11-22/20261122T060000Z-")
    );
    assert!(state.outbox.iter().any(|n| matches!(n, News::Retirement { .. })));
}

#[tokio::test]
async fn a_refused_call_is_a_failure_with_awss_code_and_the_intent_stays() {
    let fake =
        world(|c| (c.action == "EnableImageDeprecation").then(|| Answer::query_error(403, "UnauthorizedOperation")));
    let (summary, state, failed) = step(&fake, RetireMode::Enforce, ami("ami-1")).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, "retire:ami-1");
    assert!(
        failed[0].error.contains("ec2:EnableImageDeprecation failed: UnauthorizedOperation"),
        "{}",
        failed[0].error
    );
    let t = trace(&fake);
    assert!(!t.contains(&"ec2:CreateTags".to_string()), "{t:?}");
    assert_eq!(t.iter().filter(|l| *l == "save candidate deprecate").count(), 2, "{t:?}");
    assert_eq!(
        state.retire.records["ami-1"].intent.as_ref().map(|i| i.action),
        Some(crate::core::retire::Action::Deprecate)
    );
    let summary = summary.unwrap();
    assert_eq!((summary.done, summary.failed), (0, 1));
    assert_eq!(summary.actions[0].outcome, Outcome::Failed);
}

#[tokio::test]
async fn a_throttled_call_is_retried_by_the_sdk_and_done_once() {
    let throttled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = throttled.clone();
    let fake = Fake::new(
        RetryConfig::standard().with_max_attempts(3).with_initial_backoff(std::time::Duration::from_millis(1)),
        move |call| {
            if call.action == "EnableImageDeprecation" && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                return Answer::query_error(503, "RequestLimitExceeded");
            }
            match call.service.as_str() {
                "rbin" => rbin(call),
                "ec2" => ec2(call),
                _ => Answer::ok(""),
            }
        },
    );
    let (summary, state, failed) = step(&fake, RetireMode::Enforce, ami("ami-1")).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(summary.unwrap().done, 1);
    assert_eq!(trace(&fake).iter().filter(|l| *l == "ec2:EnableImageDeprecation").count(), 2);
    assert_eq!(state.retire.records["ami-1"].intent, None);
}

#[tokio::test]
async fn a_dry_run_calls_only_the_recycle_bin_and_writes_would_rows() {
    let fake = world(|_| None);
    let (summary, state, _) = step(&fake, RetireMode::DryRun, ami("ami-1")).await;
    assert_eq!(
        trace(&fake),
        ["rbin:POST /list-rules", "rbin:GET /rules/rule0000001", "ec2:DescribeImages", "put actions"]
    );
    let summary = summary.unwrap();
    assert_eq!((summary.would, summary.done), (1, 0));
    assert_eq!(state.retire.records["ami-1"].stage, crate::core::retire::Stage::Deprecated);
}

#[tokio::test]
async fn off_calls_nothing_and_reports_amis_still_tagged() {
    let fake = world(|_| None);
    let (summary, _, _) = step(&fake, RetireMode::Off, ami("ami-1")).await;
    assert!(summary.is_none());
    assert!(fake.calls().is_empty());
    let mut tagged = ami("ami-1");
    tagged.tags = BTreeMap::from([(STAGE_TAG.to_string(), "disabled 2026-11-01T00:00:00Z".to_string())]);
    let (summary, _, _) = step(&fake, RetireMode::Off, tagged).await;
    let json = serde_json::to_value(summary.unwrap()).unwrap();
    assert_eq!(json["mode"], "off");
    assert_eq!(json["tagged_while_off"], serde_json::json!(["ami-1"]));
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn unreadable_recycle_bin_rules_are_a_failure_and_nothing_is_deregistered() {
    let fake = world(|c| (c.service == "rbin").then(|| Answer { status: 403, body: r#"{"message":"denied"}"#.into() }));
    let (summary, _, failed) = step(&fake, RetireMode::Enforce, ami("ami-1")).await;
    assert!(failed.iter().any(|f| f.id == "retire:recycle-bin-rules"), "{failed:?}");
    assert_eq!(summary.unwrap().done, 1, "deprecating needs no rule");
}

/// A state as a run leaves it when it dies after acting, before its actions object.
fn state_of_a_dead_run() -> CollectState {
    let dead_run = Provenance {
        owner_account_id: OWNER.into(),
        region: "us-east-1".into(),
        collected_at: "2026-11-21T06:00:00Z".parse().unwrap(),
    };
    let decision = crate::core::retire::Decision {
        image_id: "ami-0".into(),
        image_name: String::new(),
        action: crate::core::retire::Action::Deprecate,
        outcome: Outcome::Done,
        stage_before: crate::core::retire::Stage::Candidate,
        stage_after: crate::core::retire::Stage::Deprecated,
        stage_since: dead_run.collected_at,
        reason: "candidate_for_days".into(),
        ..Default::default()
    };
    let mut state = CollectState::default();
    state.retire.mode = RetireMode::Enforce;
    state.retire.unarchived.push(action_row(&decision, RetireMode::Enforce, &dead_run));
    state
}

#[tokio::test]
async fn rows_of_a_run_that_died_after_acting_are_archived_under_their_own_run() {
    let fake = world(|_| None);
    let (summary, state, failed) = step_from(&fake, RetireMode::Enforce, ami("ami-1"), state_of_a_dead_run()).await;
    assert!(failed.is_empty(), "{failed:?}");
    let puts: Vec<String> =
        fake.calls().into_iter().filter(|c| c.action.contains("/actions/")).map(|c| c.action).collect();
    assert_eq!(puts.len(), 2, "{puts:?}");
    assert!(puts[0].contains("/report_date%3D2026-11-21/20261121T060000Z-"), "{puts:?}");
    assert!(puts[1].contains("/report_date%3D2026-11-22/20261122T060000Z-"), "{puts:?}");
    assert!(summary.unwrap().object.unwrap().contains("20261122T060000Z"));
    assert!(state.retire.unarchived.is_empty());
}

#[tokio::test]
async fn rows_an_earlier_attempt_wrote_are_not_written_twice_and_unwritten_ones_wait() {
    let already = world(|c| {
        (c.action.starts_with("PUT ") && c.action.contains("20261121T")).then(|| Answer {
            status: 412,
            body: "<Error><Code>PreconditionFailed</Code><Message>exists</Message></Error>".into(),
        })
    });
    let (_, state, failed) = step_from(&already, RetireMode::Enforce, ami("ami-1"), state_of_a_dead_run()).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert!(state.retire.unarchived.is_empty());
    let refused = world(|c| {
        (c.action.starts_with("PUT ") && c.action.contains("/actions/")).then(|| Answer {
            status: 403,
            body: "<Error><Code>AccessDenied</Code><Message>denied</Message></Error>".into(),
        })
    });
    let (summary, state, failed) = step_from(&refused, RetireMode::Enforce, ami("ami-1"), state_of_a_dead_run()).await;
    assert!(failed.iter().any(|f| f.id == "actions" && f.error.contains("AccessDenied")), "{failed:?}");
    assert_eq!(summary.unwrap().object, None);
    assert_eq!(state.retire.unarchived.len(), 2, "both runs' rows wait for the next run");
}

#[tokio::test]
async fn an_action_killed_after_its_calls_is_completed_without_calling_again() {
    let mut state = CollectState::default();
    state.retire.mode = RetireMode::Enforce;
    state.retire.records.insert(
        "ami-1".into(),
        crate::core::retire::RetireRecord {
            stage: crate::core::retire::Stage::Candidate,
            since: "2026-11-21T06:00:00Z".parse().unwrap(),
            intent: Some(Intent {
                action: crate::core::retire::Action::Deprecate,
                at: "2026-11-21T06:00:00Z".parse().unwrap(),
                ..Intent::default()
            }),
            ..Default::default()
        },
    );
    let mut done = ami("ami-1");
    done.lifecycle.deprecation_time = Some("2026-12-05T06:00:00Z".parse().unwrap());
    done.tags.insert(STAGE_TAG.into(), "deprecated 2026-11-21T06:00:00Z".into());
    let fake = world(|_| None);
    let (summary, state, failed) = step_from(&fake, RetireMode::Enforce, done, state).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        trace(&fake),
        [
            "rbin:POST /list-rules",
            "rbin:GET /rules/rule0000001",
            "ec2:DescribeImages",
            "save deprecated -",
            "put actions"
        ],
        "no EC2 call: the result is recorded at once"
    );
    assert_eq!(summary.unwrap().done, 1);
    assert_eq!(
        state.retire.records["ami-1"].since,
        "2026-11-21T06:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap()
    );
}

#[tokio::test]
async fn a_run_that_loses_the_state_to_another_makes_no_call() {
    let fake = world(|c| {
        let state = c.action.contains("collect-state.json");
        if state && c.action.starts_with("PUT ") {
            return Some(Answer { status: 412, body: "<Error><Code>PreconditionFailed</Code></Error>".into() });
        }
        (state && c.action.starts_with("GET ")).then(|| {
            Answer::ok(r#"{"schema_version":1,"writer":{"run":"other","write":3,"at":"2026-12-07T03:00:00.000Z"}}"#)
        })
    });
    let config = config(RetireMode::Enforce);
    let now = NOW.parse().unwrap();
    let r = Run { clients: &fake.clients, config: &config, now, deadline: Deadline::NONE };
    let archive = Archive::new(
        &r,
        BUCKET,
        ArchiveKeys { prefix: "ami-usage".into() },
        Provenance { owner_account_id: OWNER.into(), region: "us-east-1".into(), collected_at: now },
    );
    let (mut state, mut news, mut failed) = (CollectState::default(), Vec::new(), Vec::new());
    let error = run(&archive, &mut state, &decided(ami("ami-1")), &mut news, &mut failed).await.unwrap_err();
    assert!(format!("{error:#}").contains("was written by another run at 2026-12-07T03:00:00.000Z"), "{error:#}");
    let reads = ["Describe", "List"];
    let steps: Vec<String> = fake
        .calls()
        .iter()
        .filter(|c| c.service == "ec2" && !reads.iter().any(|r| c.action.starts_with(r)))
        .map(|c| c.action.clone())
        .collect();
    assert!(steps.is_empty(), "no step taken on a state another run moved: {steps:?}");
}
