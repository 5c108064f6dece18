//! The retirement step against a fake AWS (`aws::fake`): the state saved with the
//! intent before each mutating call and with the result after it, a refused or
//! throttled call, and mode `off`.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use aws_smithy_types::retry::RetryConfig;

use super::*;
use crate::aws::fake::{Answer, Call, Fake};
use crate::config::{Config, RawConfig};
use crate::core::model::Ami;
use crate::core::records::{ArchiveKeys, Provenance};
use crate::core::retire::{RetireSettings, STAGE_TAG};
use crate::core::verdict::{Kind, Reason, Verdict, Verdicts};
use crate::jobs::verdicts::VerdictCounts;
use crate::jobs::{Deadline, Run};

const NOW: &str = "2026-11-22T06:00:00Z";
const BUCKET: &str = "archive";
const OWNER: &str = "123456789012";

fn config(mode: RetireMode) -> Config {
    let raw = RawConfig { archive_bucket: Some(BUCKET.into()), ..RawConfig::default() };
    Config { retire: RetireSettings { mode, ..RetireSettings::default() }, ..raw.validate().unwrap() }
}

fn candidate(id: &str) -> Verdict {
    Verdict {
        image_id: id.into(),
        kind: Kind::Candidate,
        reasons: vec![Reason::UnusedForWindow],
        age_days: Some(300),
        unused_since: None,
        reports_in_window: 3,
        zero_usage_reports: 3,
        owner_references: vec![],
        member_references: vec![],
        last_launched: None,
        group: None,
        newest_zero_report: None,
        owner_last_used: None,
        checked: vec![],
        not_checked: vec![],
        deregistration_protected: false,
    }
}

fn decided(ami: Ami) -> Decided {
    Decided {
        verdicts: Verdicts { verdicts: vec![candidate(&ami.image_id)], breaker: None },
        amis: vec![ami],
        counts: VerdictCounts::default(),
        gaps: vec![],
    }
}

fn ami(id: &str) -> Ami {
    Ami { image_id: id.into(), owner_id: Some(OWNER.into()), state: "available".into(), ..Ami::default() }
}

fn rbin(call: &Call) -> Answer {
    if call.action.starts_with("POST /list-rules") {
        Answer::ok(r#"{"Rules":[{"Identifier":"rule0000001"}]}"#)
    } else {
        Answer::ok(r#"{"Identifier":"rule0000001","ResourceType":"EC2_IMAGE","Status":"available","ResourceTags":[]}"#)
    }
}

fn ec2(call: &Call) -> Answer {
    let action = call.action.as_str();
    Answer::ok(format!("<{action}Response><return>true</return></{action}Response>"))
}

fn world(fail: impl Fn(&Call) -> Option<Answer> + Send + Sync + 'static) -> Fake {
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
async fn step(fake: &Fake, mode: RetireMode, ami: Ami) -> (Option<RetireSummary>, CollectState, Vec<Failure>) {
    let config = config(mode);
    let now = NOW.parse().unwrap();
    let r = Run { clients: &fake.clients, config: &config, now, deadline: Deadline::NONE };
    let archive = Archive {
        run: &r,
        bucket: BUCKET,
        keys: ArchiveKeys { prefix: "ami-usage".into() },
        provenance: Provenance { owner_account_id: OWNER.into(), region: "us-east-1".into(), collected_at: now },
        claim_legacy: AtomicBool::new(false),
    };
    let mut state = CollectState::default();
    let (mut news, mut failed) = (Vec::new(), Vec::new());
    let summary = run(&archive, &mut state, &decided(ami), &mut news, &mut failed).await.unwrap();
    (summary, state, failed)
}

/// `service:action` of each call, state saves as `save` with the record's stage and intent.
fn trace(fake: &Fake) -> Vec<String> {
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
    assert_eq!(trace(&fake), ["rbin:POST /list-rules", "rbin:GET /rules/rule0000001", "put actions"]);
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
