//! Issue 22's promises: an undo after disable gives the launch permissions back, a
//! deregistration waits until it stays restorable long enough, the owners' deprecation
//! comes back as they set it, a finished deregistration keeps what its announcement
//! needs, and an AMI out of the selection is undone.

use super::*;
use crate::model::{BlockDevice, LaunchPermissions};

fn permissions() -> LaunchPermissions {
    LaunchPermissions {
        accounts: vec!["111111111111".into()],
        organizations: vec!["arn:aws:organizations::123456789012:organization/o-abc".into()],
        ..Default::default()
    }
}

fn disabled_record(permissions: Option<LaunchPermissions>) -> RetireRecord {
    RetireRecord { launch_permissions: permissions, ..record(Stage::Disabled, days_ago(3)) }
}

#[test]
fn a_disable_reads_the_launch_permissions_first_and_its_record_keeps_them() {
    let run = Run::enforce(vec![deprecated_ami("ami-1")], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", record(Stage::Deprecated, days_ago(30)))]);
    let mut d = only(&run.plan()).clone();
    assert!(d.needs_launch_permissions());
    d.record_launch_permissions(permissions());
    assert_eq!(d.launch_permissions, Some(permissions()));
    assert_eq!(d.after.as_ref().and_then(|r| r.launch_permissions.clone()), Some(permissions()));
    let mut state = run.plan().state;
    state.intend(&d, now());
    let intent = state.records["ami-1"].intent.clone().unwrap();
    assert_eq!(intent.launch_permissions, Some(permissions()), "saved before DisableImage removes them");
}

#[test]
fn a_disable_interrupted_after_the_call_takes_the_permissions_from_its_intent() {
    let intended = RetireRecord {
        intent: Some(Intent {
            action: Action::Disable,
            at: days_ago(1),
            launch_permissions: Some(permissions()),
            ..Intent::default()
        }),
        ..record(Stage::Deprecated, days_ago(31))
    };
    let run = Run::enforce(vec![disabled_ami("ami-1")], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", intended)]);
    let plan = run.plan();
    let d = only(&plan);
    assert!(!d.needs_launch_permissions(), "the AMI is disabled: none left to read");
    assert_eq!(d.launch_permissions, Some(permissions()));
    assert_eq!(d.after.as_ref().and_then(|r| r.launch_permissions.clone()), Some(permissions()));
}

#[test]
fn an_undo_after_disable_enables_then_restores_exactly_the_recorded_permissions() {
    let run = Run::enforce(vec![disabled_ami("ami-1")], vec![verdict("ami-1", Kind::InUse)])
        .with_state(&[("ami-1", disabled_record(Some(permissions())))]);
    let plan = run.plan();
    let enable = &plan.decisions[0];
    assert_eq!(enable.action, Action::Enable);
    assert_eq!(enable.calls, vec![Call::Enable, Call::AddLaunchPermissions { permissions: permissions() }]);
    assert_eq!(enable.launch_permissions, Some(permissions()), "the announcement says what came back");
    for (recorded, calls) in [(None, vec![Call::Enable]), (Some(LaunchPermissions::default()), vec![Call::Enable])] {
        let run = Run::enforce(vec![disabled_ami("ami-1")], vec![verdict("ami-1", Kind::InUse)])
            .with_state(&[("ami-1", disabled_record(recorded.clone()))]);
        let plan = run.plan();
        assert_eq!((plan.decisions[0].calls.clone(), plan.decisions[0].launch_permissions.clone()), (calls, recorded));
    }
}

#[test]
fn an_undo_interrupted_after_enable_still_restores_the_permissions() {
    let interrupted = RetireRecord {
        intent: Some(Intent {
            action: Action::Enable,
            at: days_ago(1),
            launch_permissions: Some(permissions()),
            ..Intent::default()
        }),
        ..disabled_record(Some(permissions()))
    };
    let run = Run::enforce(vec![deprecated_ami("ami-1")], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", interrupted)]);
    let plan = run.plan();
    assert_eq!(plan.decisions[0].reason, "undo_interrupted");
    assert_eq!(plan.decisions[0].calls, vec![Call::AddLaunchPermissions { permissions: permissions() }]);
}

/// The owners' own deprecation time, later than the pipeline's notice.
fn theirs() -> DateTime<Utc> {
    now() + Duration::days(200)
}

#[test]
fn the_owners_later_deprecation_is_recorded_replaced_and_put_back_on_undo() {
    let mut owned = ami("ami-1");
    owned.lifecycle.deprecation_time = Some(theirs());
    let plan = Run::enforce(vec![owned], vec![verdict("ami-1", Kind::Candidate)]).plan();
    let d = only(&plan);
    assert_eq!(d.calls[0], Call::EnableDeprecation { deprecate_at: our_deprecation() });
    assert_eq!(d.team_deprecation, Some(theirs()));
    let after = d.after.clone().unwrap();
    assert_eq!((after.deprecate_at, after.deprecation_before), (Some(our_deprecation()), Some(theirs())));
    let Call::Tag { value } = &d.calls[1] else { panic!("{:?}", d.calls) };
    assert!(value.ends_with("deprecation at 2027-01-14T12:00:00Z replacing 2027-07-19T12:00:00Z"), "{value}");

    // Five days later a consumer's launch template names it: its owners' date is back.
    let mut run = Run::enforce(vec![deprecated_ami("ami-1")], vec![verdict("ami-1", Kind::InUse)])
        .with_state(&[("ami-1", RetireRecord { since: days_ago(5), ..after })]);
    let plan = run.plan();
    let undo = only(&plan);
    assert_eq!(undo.calls, vec![Call::EnableDeprecation { deprecate_at: theirs() }, Call::Untag]);
    assert_eq!(undo.team_deprecation, Some(theirs()));
    // A state rebuilt from the tag knows it too.
    run.state = RetireState { mode: RetireMode::Enforce, ..Default::default() };
    run.amis[0].tags.insert(STAGE_TAG.into(), value.clone());
    assert_eq!(only(&run.plan()).calls[0], Call::EnableDeprecation { deprecate_at: theirs() });
}

#[test]
fn an_owners_time_that_passed_meanwhile_comes_back_as_the_next_minute_aws_accepts() {
    let r = RetireRecord { deprecation_before: Some(days_ago(1)), ..record(Stage::Deprecated, days_ago(40)) };
    assert_eq!(owners_deprecation_back(&r, now()), Some(t("2026-12-31T12:01:00Z")));
    assert_eq!(
        owners_deprecation_back(&RetireRecord { deprecation_before: Some(theirs()), ..r.clone() }, now()),
        Some(theirs())
    );
    assert_eq!(owners_deprecation_back(&record(Stage::Deprecated, days_ago(40)), now()), None);
}

#[test]
fn the_owners_earlier_deprecation_is_kept_and_left_as_it_is_by_the_undo() {
    let earlier = now() + Duration::days(3);
    let mut owned = ami("ami-1");
    owned.lifecycle.deprecation_time = Some(earlier);
    let plan = Run::enforce(vec![owned.clone()], vec![verdict("ami-1", Kind::Candidate)]).plan();
    let d = only(&plan);
    assert!(matches!(d.calls.as_slice(), [Call::Tag { .. }]), "{:?}", d.calls);
    assert_eq!((d.deprecate_at, d.team_deprecation), (Some(earlier), Some(earlier)));
    let after = d.after.clone().unwrap();
    assert_eq!((after.deprecate_at, after.deprecation_before), (None, None), "not ours: nothing to put back");
    owned.tags.insert(STAGE_TAG.into(), "deprecated 2026-12-31T12:00:00Z".into());
    let run = Run::enforce(vec![owned], vec![verdict("ami-1", Kind::InUse)]).with_state(&[("ami-1", after)]);
    let plan = run.plan();
    assert_eq!(only(&plan).calls, vec![Call::Untag]);
    assert_eq!((only(&plan).deprecate_at, only(&plan).team_deprecation), (None, None), "the news: left as it is");
}

#[test]
fn a_deprecate_interrupted_keeps_the_owners_time_its_intent_found() {
    let intended = RetireRecord {
        intent: Some(Intent {
            action: Action::Deprecate,
            at: now(),
            deprecation_before: Some(theirs()),
            ..Intent::default()
        }),
        ..record(Stage::Candidate, days_ago(1))
    };
    // The call took effect (the AMI shows the pipeline's time); then it is used again.
    let mut done = ami("ami-1");
    done.lifecycle.deprecation_time = Some(our_deprecation());
    let run = Run::enforce(vec![done.clone()], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", intended.clone())]);
    let plan = run.plan();
    let d = only(&plan);
    assert!(matches!(d.calls.as_slice(), [Call::Tag { .. }]), "{:?}", d.calls);
    assert_eq!(d.after.as_ref().and_then(|r| r.deprecation_before), Some(theirs()));
    let used = Run::enforce(vec![done], vec![verdict("ami-1", Kind::InUse)]).with_state(&[("ami-1", intended)]);
    let plan = used.plan();
    assert_eq!(only(&plan).calls, vec![Call::EnableDeprecation { deprecate_at: theirs() }]);
    assert_eq!(plan.state.records["ami-1"].deprecation_before, Some(theirs()), "kept should the undo be cut short");
}

fn with_snapshot(mut a: Ami) -> Ami {
    a.name = "golden-1".into();
    a.block_devices = vec![BlockDevice {
        device_name: "/dev/xvda".into(),
        snapshot_id: Some("snap-1".into()),
        volume_size_gib: None,
    }];
    a
}

#[test]
fn a_deregistration_waits_for_a_snapshot_rule_when_it_deletes_the_snapshots() {
    let mut run = Run::enforce(vec![with_snapshot(disabled_ami("ami-1"))], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", record(Stage::Disabled, days_ago(30)))]);
    run.settings.delete_snapshots = true;
    assert_eq!(snapshots_to_read(&run.settings, &run.state, &run.amis), ["snap-1".to_string()].into());
    run.snapshot_tags.insert("snap-1".into(), Default::default());
    let plan = run.plan();
    assert_eq!(actions(&plan), vec![("ami-1", Action::Hold, Outcome::Held, "no_snapshot_rule")]);
    assert!(no_calls(&plan));
    run.rules.push(RecycleBinRule {
        identifier: "rule0000002".into(),
        resource_type: "EBS_SNAPSHOT".into(),
        retention_days: Some(60),
        ..region_rule()
    });
    let plan = run.plan();
    let d = only(&plan);
    assert_eq!(d.action, Action::Deregister);
    let facts = d.deregistration.clone().unwrap();
    assert_eq!(
        facts,
        Deregistration {
            at: now(),
            image_name: "golden-1".into(),
            recycle_bin_rule: Some("rule0000001".into()),
            retention_days: Some(90),
            delete_snapshots: true,
            snapshot_ids: vec!["snap-1".into()],
            snapshot_retention_days: Some(60),
        }
    );
    assert_eq!(d.restorable_until, Some(now() + Duration::days(60)));
    run.settings.min_recycle_bin_days = 91;
    assert_eq!(only(&run.plan()).reason, "recycle_bin_retention_too_short");
}

#[test]
fn a_deregistration_killed_after_the_call_is_completed_with_everything_from_its_intent() {
    let run = Run::enforce(vec![with_snapshot(disabled_ami("ami-1"))], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", record(Stage::Disabled, days_ago(30)))]);
    let planned = run.plan();
    let d = only(&planned).clone();
    let mut state = planned.state.clone();
    state.intend(&d, now());
    // The run dies right after DeregisterImage; the next one no longer sees the AMI.
    let next = Run { state, amis: vec![], verdicts: vec![], ..run };
    let plan = next.plan();
    let done = only(&plan);
    assert_eq!((done.action, done.outcome, done.image_name.as_str()), (Action::Deregister, Outcome::Done, "golden-1"));
    assert!(done.calls.is_empty());
    assert_eq!(done.recycle_bin_rule.as_deref(), Some("rule0000001"));
    assert_eq!(done.deregistration, d.deregistration);
    assert_eq!(done.restorable_until, Some(now() + Duration::days(90)));
    assert_eq!(
        crate::retire::undo_command(done, "us-east-1").as_deref(),
        Some("aws ec2 restore-image-from-recycle-bin --image-id ami-1 --region us-east-1")
    );
}

#[test]
fn an_ami_that_left_the_selection_while_disabled_is_undone_as_excluded() {
    let mut run = Run::enforce(vec![], vec![]).with_state(&[("ami-1", disabled_record(Some(permissions())))]);
    run.others = Some(vec![disabled_ami("ami-1")]);
    let plan = run.plan();
    assert_eq!(
        actions(&plan),
        vec![
            ("ami-1", Action::Enable, Outcome::Done, "excluded"),
            ("ami-1", Action::CancelDeprecation, Outcome::Done, "excluded")
        ]
    );
    assert!(plan.decisions[0].detail.starts_with("left_selection"), "{}", plan.decisions[0].detail);
    assert_eq!(plan.decisions[0].calls[1], Call::AddLaunchPermissions { permissions: permissions() });
    // Found by its tag alone (a lost state) it is undone too.
    let mut lost = Run::enforce(vec![], vec![]);
    let mut tagged = disabled_ami("ami-1");
    tagged.tags.insert(STAGE_TAG.into(), "disabled 2026-12-01T00:00:00Z".into());
    lost.others = Some(vec![tagged]);
    assert_eq!(lost.plan().decisions.len(), 2);
    // Not looked up this run: it waits.
    run.others = None;
    let plan = run.plan();
    assert!(plan.decisions.is_empty());
    assert!(plan.state.records.contains_key("ami-1"));
}

#[test]
fn records_of_amis_gone_or_out_of_the_pipeline_leave_the_state() {
    let mut run = Run::enforce(vec![], vec![]).with_state(&[
        ("ami-1", record(Stage::Disabled, days_ago(3))),
        ("ami-2", record(Stage::Candidate, days_ago(3))),
        ("ami-3", record(Stage::Deregistered, days_ago(3))),
    ]);
    run.others = Some(vec![ami("ami-2")]);
    let plan = run.plan();
    assert!(plan.decisions.is_empty());
    assert_eq!(plan.state.records.keys().collect::<Vec<_>>(), ["ami-3"], "vanished and unselected candidate gone");
    let mut state = plan.state.clone();
    let row = crate::retire::action_row(
        &Decision { image_id: "ami-3".into(), ..Decision::default() },
        RetireMode::Enforce,
        &crate::archive::Provenance { owner_account_id: OWNER.into(), region: "us-east-1".into(), collected_at: now() },
    );
    state.unarchived.push(row);
    state.forget_finished();
    assert!(state.records.contains_key("ami-3"), "its row is not archived yet");
    state.unarchived.clear();
    let mut dry = RetireState { mode: RetireMode::DryRun, ..state.clone() };
    dry.forget_finished();
    assert!(dry.records.contains_key("ami-3"), "a simulated deregistration: the AMI is still there");
    state.forget_finished();
    assert!(state.records.is_empty());
}

#[test]
fn an_ami_restored_from_the_recycle_bin_is_never_retired_again() {
    let mut restored = ami("ami-1");
    restored.tags.insert(STAGE_TAG.into(), "deregistered 2026-11-01T00:00:00Z unused since 2026-08-01".into());
    let run = Run::enforce(vec![restored.clone()], vec![verdict("ami-1", Kind::Candidate)]);
    let plan = run.plan();
    assert!(plan.decisions.is_empty() && plan.state.records.is_empty(), "{:?}", plan.decisions);
    assert!(tagged(&[restored]).is_empty(), "not left deprecated or disabled");
    assert_eq!(
        records_to_look_up(&state(RetireMode::Enforce, &[("ami-2", record(Stage::Disabled, now()))]), &run.amis),
        ["ami-2".to_string()].into()
    );
}

#[test]
fn a_deprecate_retried_after_two_kills_never_calls_twice() {
    // Run A saved its intent and died before its call; run B made the call and died.
    let a = RetireRecord {
        intent: Some(Intent { action: Action::Deprecate, at: days_ago(1), ..Intent::default() }),
        ..record(Stage::Candidate, days_ago(1))
    };
    let run_b = Run::enforce(vec![ami("ami-1")], vec![verdict("ami-1", Kind::Candidate)]).with_state(&[("ami-1", a)]);
    let planned = run_b.plan();
    let d = only(&planned).clone();
    assert_eq!(d.calls[0], Call::EnableDeprecation { deprecate_at: our_deprecation() });
    let mut state = planned.state.clone();
    state.intend(&d, now());
    let mut called = ami("ami-1");
    called.lifecycle.deprecation_time = Some(our_deprecation());
    let run_c = Run { state, amis: vec![called], now: now() + Duration::minutes(1), ..run_b };
    let plan = run_c.plan();
    assert!(matches!(only(&plan).calls.as_slice(), [Call::Tag { .. }]), "{:?}", only(&plan).calls);
}

#[test]
fn a_deprecate_completed_by_a_run_that_died_too_is_recognised_by_the_time_it_set() {
    // Run A set the deprecation and died; run B (later) only tagged, and died too.
    let a = RetireRecord {
        intent: Some(Intent { action: Action::Deprecate, at: now(), ..Intent::default() }),
        ..record(Stage::Candidate, now())
    };
    let mut called = ami("ami-1");
    called.lifecycle.deprecation_time = Some(our_deprecation());
    let run_b = Run::enforce(vec![called], vec![verdict("ami-1", Kind::Candidate)]).with_state(&[("ami-1", a)]);
    let planned = run_b.plan();
    let d = only(&planned).clone();
    assert!(matches!(d.calls.as_slice(), [Call::Tag { .. }]), "{:?}", d.calls);
    let mut state = planned.state.clone();
    state.intend(&d, now() + Duration::days(3));
    assert_eq!(state.records["ami-1"].intent.as_ref().and_then(|i| i.deprecate_at), Some(our_deprecation()));
    let run_c = Run { state, now: now() + Duration::days(3), ..run_b };
    assert!(matches!(only(&run_c.plan()).calls.as_slice(), [Call::Tag { .. }]), "no second EnableImageDeprecation");
}
