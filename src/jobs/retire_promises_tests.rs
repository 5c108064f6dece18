//! Issue 22's promises in the job's write order, against a fake AWS: the launch
//! permissions read before DisableImage and saved with the intent, then restored after
//! EnableImage; DeregisterImage's snapshot results and the Recycle Bin's exit time in
//! the row and the news; a run killed right after DeregisterImage completed from its
//! intent; an AMI out of the selection found by its stage tag and undone.

use super::tests::{BUCKET, OWNER, ami, config, ec2, rbin, trace};
use super::*;
use crate::aws::fake::{Answer, Call as FakeCall, Fake};
use crate::core::archive::{ArchiveKeys, Provenance};
use crate::core::model::{BlockDevice, LaunchPermissions};
use crate::core::retire::{Intent, RetireRecord, STAGE_TAG, Stage};
use crate::core::verdict::{Kind, Reason, Verdict, Verdicts};
use crate::jobs::verdicts::VerdictCounts;
use crate::jobs::{Deadline, Run};

const PERMISSIONS: &str = r#"<DescribeImageAttributeResponse><imageId>ami-1</imageId><launchPermission>
    <item><userId>111111111111</userId></item>
    <item><organizationArn>arn:aws:organizations::123456789012:organization/o-abc</organizationArn></item>
    </launchPermission></DescribeImageAttributeResponse>"#;

fn permissions() -> LaunchPermissions {
    LaunchPermissions {
        accounts: vec!["111111111111".into()],
        organizations: vec!["arn:aws:organizations::123456789012:organization/o-abc".into()],
        ..Default::default()
    }
}

/// EC2 as the promises need it: launch permissions, DeregisterImage's snapshot results,
/// the Recycle Bin's exit time, and `outside` listed by its stage tag.
fn aws(outside: Option<&'static str>) -> Fake {
    Fake::new(aws_smithy_types::retry::RetryConfig::disabled(), move |call: &FakeCall| {
        match (call.service.as_str(), call.action.as_str()) {
            ("rbin", _) => rbin(call),
            ("ec2", "DescribeImageAttribute") => Answer::ok(PERMISSIONS),
            ("ec2", "DeregisterImage") => Answer::ok(
                "<DeregisterImageResponse><return>true</return><deleteSnapshotResultSet><item>\
                 <snapshotId>snap-1</snapshotId><returnCode>success</returnCode></item></deleteSnapshotResultSet>\
                 </DeregisterImageResponse>",
            ),
            ("ec2", "ListImagesInRecycleBin") => Answer::ok(
                "<ListImagesInRecycleBinResponse><imageSet><item><imageId>ami-1</imageId>\
                 <recycleBinExitTime>2027-02-20T06:00:00.000Z</recycleBinExitTime></item></imageSet>\
                 </ListImagesInRecycleBinResponse>",
            ),
            ("ec2", "DescribeImages") if outside.is_some() => Answer::ok(format!(
                "<DescribeImagesResponse><imagesSet><item><imageId>ami-1</imageId><imageOwnerId>{OWNER}</imageOwnerId>\
                 <imageState>disabled</imageState><deprecationTime>2026-12-01T06:00:00.000Z</deprecationTime>\
                 <tagSet><item><key>{STAGE_TAG}</key><value>{}</value></item></tagSet></item></imagesSet>\
                 </DescribeImagesResponse>",
                outside.unwrap_or_default()
            )),
            ("ec2", _) => ec2(call),
            _ => Answer::ok(""),
        }
    })
}

fn verdict(id: &str, kind: Kind) -> Verdict {
    let reason = if kind == Kind::InUse { Reason::UsedInOtherAccounts } else { Reason::UnusedForWindow };
    Verdict::for_test(id, kind, &[reason])
}

/// Runs the step for `amis` (the selection) with their verdicts, from `state`.
async fn step_with(
    fake: &Fake,
    amis: Vec<Ami>,
    verdicts: Vec<Verdict>,
    mut state: CollectState,
) -> (RetireSummary, CollectState, Vec<Failure>) {
    let config = config(RetireMode::Enforce);
    let now = super::tests::NOW.parse().unwrap();
    let r = Run { clients: &fake.clients, config: &config, now, deadline: Deadline::NONE };
    let archive = Archive::new(
        &r,
        BUCKET,
        ArchiveKeys { prefix: "ami-usage".into() },
        Provenance { owner_account_id: OWNER.into(), region: "us-east-1".into(), collected_at: now },
    );
    let decided = Decided {
        verdicts: Verdicts { verdicts, breaker: None },
        amis,
        counts: VerdictCounts::default(),
        gaps: vec![],
    };
    let (mut news, mut failed) = (Vec::new(), Vec::new());
    let summary = run(&archive, &mut state, &decided, &mut news, &mut failed).await.unwrap();
    (summary.unwrap(), state, failed)
}

fn state_with(record: RetireRecord) -> CollectState {
    let mut state = CollectState::default();
    state.retire.mode = RetireMode::Enforce;
    state.retire.records.insert("ami-1".into(), record);
    state
}

fn since(days: i64) -> chrono::DateTime<chrono::Utc> {
    super::tests::NOW.parse::<chrono::DateTime<chrono::Utc>>().unwrap() - chrono::Duration::days(days)
}

fn deprecated() -> Ami {
    let mut a = ami("ami-1");
    a.lifecycle.deprecation_time = Some("2026-12-01T06:00:00Z".parse().unwrap());
    a.tags.insert(STAGE_TAG.into(), "deprecated 2026-10-01T06:00:00Z".into());
    a
}

/// The intent's launch permissions in the state object a save wrote.
fn saved_permissions(fake: &Fake) -> Vec<serde_json::Value> {
    fake.calls()
        .iter()
        .filter(|c| c.action.contains("/state/"))
        .map(|c| serde_json::from_slice::<serde_json::Value>(&c.body).unwrap())
        .map(|s| s["retire"]["records"]["ami-1"]["intent"]["launch_permissions"].clone())
        .collect()
}

#[tokio::test]
async fn launch_permissions_are_read_and_saved_with_the_intent_before_disable_image() {
    let fake = aws(None);
    let record = RetireRecord { stage: Stage::Deprecated, since: since(31), ..Default::default() };
    let (summary, state, failed) =
        step_with(&fake, vec![deprecated()], vec![verdict("ami-1", Kind::Candidate)], state_with(record)).await;
    assert!(failed.is_empty(), "{failed:?}");
    let t = trace(&fake);
    let order: Vec<&str> = t.iter().map(String::as_str).filter(|l| !l.starts_with("rbin")).collect();
    assert_eq!(
        order,
        [
            "ec2:DescribeImages",
            "ec2:DescribeImageAttribute",
            "save deprecated disable",
            "ec2:DisableImage",
            "ec2:CreateTags",
            "save disabled -",
            "put actions"
        ]
    );
    let saved = saved_permissions(&fake);
    assert_eq!(saved[0]["accounts"], serde_json::json!(["111111111111"]), "in the intent before the call");
    assert_eq!(state.retire.records["ami-1"].launch_permissions, Some(permissions()));
    let row = &state.outbox.iter().find(|n| matches!(n, News::Retirement { .. })).unwrap();
    assert!(matches!(row, News::Retirement { launch_permissions: Some(p), .. } if *p == permissions()));
    assert_eq!(summary.done, 1);
}

#[tokio::test]
async fn unreadable_launch_permissions_stop_the_disable_before_any_call() {
    let fake = Fake::new(aws_smithy_types::retry::RetryConfig::disabled(), |call: &FakeCall| {
        match (call.service.as_str(), call.action.as_str()) {
            ("rbin", _) => rbin(call),
            ("ec2", "DescribeImageAttribute") => Answer::query_error(403, "UnauthorizedOperation"),
            ("ec2", _) => ec2(call),
            _ => Answer::ok(""),
        }
    });
    let record = RetireRecord { stage: Stage::Deprecated, since: since(31), ..Default::default() };
    let (summary, state, failed) =
        step_with(&fake, vec![deprecated()], vec![verdict("ami-1", Kind::Candidate)], state_with(record)).await;
    assert!(failed[0].error.contains("DescribeImageAttribute"), "{failed:?}");
    assert!(!trace(&fake).contains(&"ec2:DisableImage".to_string()), "never disabled without its permissions");
    assert_eq!((summary.failed, state.retire.records["ami-1"].stage), (1, Stage::Deprecated));
}

#[tokio::test]
async fn an_undo_enables_then_gives_back_the_recorded_launch_permissions() {
    let fake = aws(None);
    let record = RetireRecord {
        stage: Stage::Disabled,
        since: since(3),
        deprecate_at: Some("2026-12-01T06:00:00Z".parse().unwrap()),
        launch_permissions: Some(permissions()),
        ..Default::default()
    };
    let mut disabled = deprecated();
    disabled.state = "disabled".into();
    let (summary, state, failed) =
        step_with(&fake, vec![disabled], vec![verdict("ami-1", Kind::InUse)], state_with(record)).await;
    assert!(failed.is_empty(), "{failed:?}");
    let calls: Vec<String> =
        trace(&fake).into_iter().filter(|l| l.starts_with("ec2:") && l != "ec2:DescribeImages").collect();
    assert_eq!(calls, ["ec2:EnableImage", "ec2:ModifyImageAttribute", "ec2:DisableImageDeprecation", "ec2:DeleteTags"]);
    let modify = fake.calls().into_iter().find(|c| c.action == "ModifyImageAttribute").unwrap();
    assert_eq!(modify.param("LaunchPermission.Add.1.UserId"), Some("111111111111"));
    assert_eq!(
        modify.param("LaunchPermission.Add.2.OrganizationArn"),
        Some("arn:aws:organizations::123456789012:organization/o-abc")
    );
    assert_eq!(summary.undone, 2);
    assert!(!state.retire.records.contains_key("ami-1"));
}

#[tokio::test]
async fn a_deregistration_records_its_snapshot_results_and_when_the_recycle_bin_lets_go() {
    let fake = aws(None);
    let mut disabled = deprecated();
    disabled.state = "disabled".into();
    disabled.tags.insert(STAGE_TAG.into(), "disabled 2026-10-01T06:00:00Z".into());
    disabled.block_devices = vec![BlockDevice {
        device_name: "/dev/xvda".into(),
        snapshot_id: Some("snap-1".into()),
        volume_size_gib: None,
    }];
    let record = RetireRecord { stage: Stage::Disabled, since: since(31), ..Default::default() };
    let (summary, state, failed) =
        step_with(&fake, vec![disabled], vec![verdict("ami-1", Kind::Candidate)], state_with(record)).await;
    assert!(failed.is_empty(), "{failed:?}");
    let t = trace(&fake);
    let from = t.iter().position(|l| l == "save disabled deregister").expect("the intent saved first");
    assert_eq!(
        t[from..],
        [
            "save disabled deregister",
            "ec2:CreateTags",
            "ec2:DeregisterImage",
            "ec2:ListImagesInRecycleBin",
            "save deregistered -",
            "put actions"
        ]
    );
    let Some(News::Retirement { restorable_until, snapshot_results, undo_command, .. }) =
        state.outbox.iter().find(|n| matches!(n, News::Retirement { .. }))
    else {
        panic!("no news")
    };
    assert_eq!(*restorable_until, Some("2027-02-20T06:00:00Z".parse().unwrap()), "the Recycle Bin's exit time");
    assert_eq!(snapshot_results.len(), 1);
    assert!(undo_command.as_deref().unwrap().contains("restore-image-from-recycle-bin --image-id ami-1"));
    assert_eq!(summary.done, 1);
    assert!(state.retire.records.is_empty(), "its row archived, the record leaves the state");
}

#[tokio::test]
async fn a_run_killed_right_after_deregister_image_is_completed_from_its_intent() {
    let fake = aws(None);
    let intent = Intent {
        action: crate::core::retire::Action::Deregister,
        at: since(1),
        deregistration: Some(crate::core::retire::Deregistration {
            at: since(1),
            image_name: "golden-web".into(),
            recycle_bin_rule: Some("rule0000001".into()),
            retention_days: Some(90),
            ..Default::default()
        }),
        ..Default::default()
    };
    let record = RetireRecord { stage: Stage::Disabled, since: since(31), intent: Some(intent), ..Default::default() };
    let (summary, state, failed) = step_with(&fake, vec![], vec![], state_with(record)).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert!(!trace(&fake).contains(&"ec2:DeregisterImage".to_string()), "never repeated");
    let row = state.retire.unarchived.first().cloned();
    assert!(row.is_none(), "archived");
    let Some(News::Retirement { name, undo_command, restorable_until, .. }) =
        state.outbox.iter().find(|n| matches!(n, News::Retirement { .. }))
    else {
        panic!("no news")
    };
    assert_eq!(name, "golden-web");
    assert_eq!(
        undo_command.as_deref(),
        Some("aws ec2 restore-image-from-recycle-bin --image-id ami-1 --region us-east-1")
    );
    assert_eq!(*restorable_until, Some("2027-02-20T06:00:00Z".parse().unwrap()));
    assert_eq!(summary.done, 1);
}

#[tokio::test]
async fn an_ami_that_left_the_selection_while_disabled_is_found_by_its_tag_and_undone() {
    let fake = aws(Some("disabled 2026-10-01T06:00:00Z"));
    let (summary, state, failed) = step_with(&fake, vec![], vec![], CollectState::default()).await;
    assert!(failed.is_empty(), "{failed:?}");
    let reasons: Vec<(&str, &str)> = summary.actions.iter().map(|a| (a.action.as_str(), a.reason.as_str())).collect();
    assert_eq!(reasons, [("enable", "excluded"), ("cancel_deprecation", "excluded")]);
    assert!(trace(&fake).contains(&"ec2:EnableImage".to_string()));
    assert!(state.retire.records.is_empty());
}
