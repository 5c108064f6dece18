//! Undo: an AMI needed again is restored at once, whatever the budget.

use super::*;

#[test]
fn a_deprecated_ami_used_again_has_its_deprecation_cancelled_and_tag_removed() {
    let run = Run::enforce(vec![deprecated_ami("ami-1")], vec![verdict("ami-1", Kind::InUse)])
        .with_state(&[("ami-1", record(Stage::Deprecated, days_ago(3)))]);
    let plan = run.plan();
    let d = only(&plan);
    assert_eq!((d.action, d.outcome, d.reason.as_str()), (Action::CancelDeprecation, Outcome::Done, "used_again"));
    assert_eq!(d.calls, vec![Call::DisableDeprecation, Call::Untag]);
    assert_eq!((d.stage_before, d.stage_after, d.after.clone()), (Stage::Deprecated, Stage::Candidate, None));
    assert!(d.detail.contains("used_in_other_accounts"));
}

#[test]
fn a_disabled_ami_excluded_by_the_operator_is_enabled_then_undeprecated() {
    let run = Run::enforce(vec![disabled_ami("ami-1")], vec![verdict("ami-1", Kind::Excluded)])
        .with_state(&[("ami-1", record(Stage::Disabled, days_ago(3)))]);
    let plan = run.plan();
    assert_eq!(
        actions(&plan),
        vec![
            ("ami-1", Action::Enable, Outcome::Done, "excluded"),
            ("ami-1", Action::CancelDeprecation, Outcome::Done, "excluded"),
        ]
    );
    assert_eq!(plan.decisions[0].calls, vec![Call::Enable]);
    assert_eq!(plan.decisions[0].after.as_ref().map(|r| r.stage), Some(Stage::Deprecated));
    assert_eq!(plan.decisions[1].calls, vec![Call::DisableDeprecation, Call::Untag]);
}

#[test]
fn undos_are_never_held_back_by_the_budget_nor_by_the_checks_of_forward_steps() {
    let mut protected = disabled_ami("ami-2");
    protected.lifecycle.deregistration_protection = Some("enabled".into());
    let mut run = Run::enforce(
        vec![deprecated_ami("ami-1"), protected, ami("ami-3")],
        vec![verdict("ami-1", Kind::InUse), verdict("ami-2", Kind::InUse), verdict("ami-3", Kind::Candidate)],
    )
    .with_state(&[("ami-1", record(Stage::Deprecated, days_ago(3))), ("ami-2", record(Stage::Disabled, days_ago(3)))]);
    run.settings.max_actions_per_run = 1;
    let plan = run.plan();
    let undos = plan.decisions.iter().filter(|d| d.action.is_undo() && d.outcome == Outcome::Done).count();
    assert_eq!(undos, 3);
    assert!(plan.decisions.iter().any(|d| d.image_id == "ami-3" && d.action == Action::Deprecate));
}

#[test]
fn a_candidate_that_was_never_deprecated_leaves_quietly_when_used_again() {
    let run = Run::enforce(vec![ami("ami-1")], vec![verdict("ami-1", Kind::InUse)])
        .with_state(&[("ami-1", record(Stage::Candidate, days_ago(3)))]);
    let plan = run.plan();
    assert!(plan.decisions.is_empty());
    assert!(!plan.state.records.contains_key("ami-1"));
}

#[test]
fn a_deprecate_interrupted_before_the_call_leaves_quietly_after_it_the_undo_runs() {
    let intended = RetireRecord {
        intent: Some(Intent { action: Action::Deprecate, at: now(), ..Intent::default() }),
        ..record(Stage::Candidate, days_ago(1))
    };
    let not_done = Run::enforce(vec![ami("ami-1")], vec![verdict("ami-1", Kind::InUse)])
        .with_state(&[("ami-1", intended.clone())]);
    let plan = not_done.plan();
    assert!(plan.decisions.is_empty() && !plan.state.records.contains_key("ami-1"));
    let mut half_done = ami("ami-1");
    half_done.lifecycle.deprecation_time = Some(t("2027-01-14T12:00:00Z"));
    let run = Run::enforce(vec![half_done], vec![verdict("ami-1", Kind::InUse)]).with_state(&[("ami-1", intended)]);
    let plan = run.plan();
    assert_eq!(only(&plan).calls, vec![Call::DisableDeprecation]);
}

#[test]
fn an_interrupted_undo_is_finished_whatever_the_verdict_now_says() {
    let intended = RetireRecord {
        intent: Some(Intent { action: Action::Enable, at: days_ago(1), ..Intent::default() }),
        ..record(Stage::Disabled, days_ago(5))
    };
    let enabled_before_kill = deprecated_ami("ami-1");
    let run = Run::enforce(vec![enabled_before_kill], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", intended)]);
    let plan = run.plan();
    assert_eq!(
        actions(&plan),
        vec![
            ("ami-1", Action::Enable, Outcome::Done, "undo_interrupted"),
            ("ami-1", Action::CancelDeprecation, Outcome::Done, "undo_interrupted"),
        ]
    );
    assert!(plan.decisions[0].calls.is_empty(), "EnableImage is not repeated on an available AMI");
    assert_eq!(plan.decisions[1].calls, vec![Call::DisableDeprecation, Call::Untag]);
}

#[test]
fn a_dry_run_undoes_its_simulated_stages_without_calls() {
    let mut run = Run::enforce(vec![ami("ami-1")], vec![verdict("ami-1", Kind::InUse)]);
    run.settings.mode = RetireMode::DryRun;
    let run = run.with_state(&[("ami-1", record(Stage::Disabled, days_ago(3)))]);
    let plan = run.plan();
    assert_eq!(
        actions(&plan),
        vec![
            ("ami-1", Action::Enable, Outcome::Would, "used_again"),
            ("ami-1", Action::CancelDeprecation, Outcome::Would, "used_again"),
        ]
    );
    assert!(no_calls(&plan));
}

#[test]
fn an_undo_stopped_after_enable_restarts_the_wait_before_any_new_disable() {
    let run = Run::enforce(vec![disabled_ami("ami-1")], vec![verdict("ami-1", Kind::InUse)])
        .with_state(&[("ami-1", record(Stage::Disabled, days_ago(90)))]);
    let plan = run.plan();
    let after_enable = plan.decisions[0].after.clone().unwrap();
    assert_eq!((after_enable.stage, after_enable.since), (Stage::Deprecated, now()));
    let again = Run::enforce(vec![deprecated_ami("ami-1")], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", after_enable)]);
    assert!(again.plan().decisions.is_empty(), "no disable the day after an undo");
}

#[test]
fn a_deprecation_its_owners_set_is_never_cancelled_by_an_undo() {
    let mut theirs = ami("ami-1");
    theirs.lifecycle.deprecation_time = Some(t("2026-11-01T00:00:00Z"));
    let run = Run::enforce(vec![theirs.clone()], vec![verdict("ami-1", Kind::Candidate)]);
    let plan = run.plan();
    let d = only(&plan);
    assert_eq!(d.action, Action::Deprecate);
    assert!(!d.calls.iter().any(|c| matches!(c, Call::EnableDeprecation { .. })), "already deprecated earlier");
    let after = d.after.clone().unwrap();
    assert_eq!(after.deprecate_at, None, "not ours to remember");
    theirs.tags.insert(STAGE_TAG.into(), "deprecated 2026-12-31T12:00:00Z".into());
    let used = Run::enforce(vec![theirs], vec![verdict("ami-1", Kind::InUse)]).with_state(&[("ami-1", after)]);
    let plan = used.plan();
    assert_eq!(only(&plan).calls, vec![Call::Untag], "the owners' deprecation stays");
}

#[test]
fn a_candidate_deprecated_by_its_owners_and_used_again_is_left_as_they_set_it() {
    let mut theirs = ami("ami-1");
    theirs.lifecycle.deprecation_time = Some(t("2026-11-01T00:00:00Z"));
    let run = Run::enforce(vec![theirs], vec![verdict("ami-1", Kind::InUse)])
        .with_state(&[("ami-1", record(Stage::Candidate, days_ago(3)))]);
    let plan = run.plan();
    assert!(plan.decisions.is_empty(), "{:?}", plan.decisions);
    assert!(!plan.state.records.contains_key("ami-1"));
}

#[test]
fn a_deprecation_moved_by_its_owners_after_ours_is_theirs() {
    let mut moved = deprecated_ami("ami-1");
    moved.lifecycle.deprecation_time = Some(t("2027-06-01T00:00:00Z"));
    let run = Run::enforce(vec![moved], vec![verdict("ami-1", Kind::InUse)])
        .with_state(&[("ami-1", record(Stage::Deprecated, days_ago(3)))]);
    assert_eq!(only(&run.plan()).calls, vec![Call::Untag]);
}

#[test]
fn a_state_rebuilt_from_the_tag_cancels_only_the_deprecation_the_tag_names() {
    let mut tagged = deprecated_ami("ami-1");
    let value = stage_tag_value(Stage::Deprecated, days_ago(3), None, Some(our_deprecation()), None);
    tagged.tags.insert(STAGE_TAG.into(), value);
    let run = Run::enforce(vec![tagged.clone()], vec![verdict("ami-1", Kind::InUse)]);
    assert_eq!(only(&run.plan()).calls, vec![Call::DisableDeprecation, Call::Untag]);
    tagged.tags.insert(STAGE_TAG.into(), stage_tag_value(Stage::Deprecated, days_ago(3), None, None, None));
    let run = Run::enforce(vec![tagged], vec![verdict("ami-1", Kind::InUse)]);
    assert_eq!(only(&run.plan()).calls, vec![Call::Untag]);
}
