//! Forward steps: when each is taken, and every re-check that holds it.

use super::*;

#[test]
fn a_new_candidate_is_deprecated_at_once_by_default_with_a_tag_saying_why() {
    let plan = Run::enforce(vec![ami("ami-1")], vec![verdict("ami-1", Kind::Candidate)]).plan();
    let d = only(&plan);
    assert_eq!(
        (d.action, d.outcome, d.stage_before, d.stage_after),
        (Action::Deprecate, Outcome::Done, Stage::Candidate, Stage::Deprecated)
    );
    let at = t("2027-01-14T12:00:00Z");
    assert_eq!(d.calls[0], Call::EnableDeprecation { deprecate_at: at });
    let Call::Tag { value } = &d.calls[1] else { panic!("{:?}", d.calls) };
    assert!(value.starts_with("deprecated 2026-12-31T12:00:00Z unused since 2026-10-01"), "{value}");
    assert_eq!(
        d.after,
        Some(RetireRecord {
            stage: Stage::Deprecated,
            since: now(),
            deprecate_at: Some(at),
            ..RetireRecord::default()
        })
    );
    assert_eq!(plan.state.records["ami-1"].stage, Stage::Candidate, "the state holds the record before the step");
}

#[test]
fn a_candidate_waits_deprecate_after_days_from_when_it_became_one() {
    let mut run = Run::enforce(vec![ami("ami-1")], vec![verdict("ami-1", Kind::Candidate)]);
    run.settings.deprecate_after_days = 7;
    run.candidate_since.insert("ami-1".into(), days_ago(6));
    let plan = run.plan();
    assert!(plan.decisions.is_empty());
    assert_eq!(plan.state.records["ami-1"], record(Stage::Candidate, days_ago(6)));
    run.candidate_since.insert("ami-1".into(), days_ago(7));
    assert_eq!(only(&run.plan()).action, Action::Deprecate);
}

#[test]
fn deprecated_waits_disable_after_days_then_disables_with_its_tag() {
    let run = Run::enforce(vec![deprecated_ami("ami-1")], vec![verdict("ami-1", Kind::Candidate)]);
    let waiting = run.with_state(&[("ami-1", record(Stage::Deprecated, days_ago(29)))]);
    assert!(waiting.plan().decisions.is_empty());
    let due = waiting.with_state(&[("ami-1", record(Stage::Deprecated, days_ago(30)))]);
    let plan = due.plan();
    let d = only(&plan);
    assert_eq!((d.action, d.stage_after), (Action::Disable, Stage::Disabled));
    assert_eq!(d.calls[0], Call::Disable);
    assert!(matches!(&d.calls[1], Call::Tag { value } if value.starts_with("disabled ")));
}

#[test]
fn disabled_waits_then_deregisters_only_under_a_recycle_bin_rule() {
    let run = Run::enforce(vec![disabled_ami("ami-1")], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", record(Stage::Disabled, days_ago(29)))]);
    assert!(run.plan().decisions.is_empty());
    let mut run = run.with_state(&[("ami-1", record(Stage::Disabled, days_ago(30)))]);
    let plan = run.plan();
    let d = only(&plan);
    assert_eq!((d.action, d.stage_after), (Action::Deregister, Stage::Deregistered));
    let Call::Tag { value } = &d.calls[0] else { panic!("{:?}", d.calls) };
    assert!(value.starts_with("deregistered 2026-12-31T12:00:00Z"), "the tag a restored AMI keeps: {value}");
    assert_eq!(d.calls[1..], [Call::Deregister { delete_snapshots: false }]);
    assert_eq!(d.recycle_bin_rule.as_deref(), Some("rule0000001"));
    run.rules.clear();
    let plan = run.plan();
    assert_eq!(actions(&plan), vec![("ami-1", Action::Hold, Outcome::Held, "no_recycle_bin_rule")]);
    assert!(no_calls(&plan));
    run.settings.require_recycle_bin = false;
    run.settings.delete_snapshots = true;
    let plan = run.plan();
    let d = only(&plan);
    assert_eq!(d.calls.last(), Some(&Call::Deregister { delete_snapshots: true }));
    assert_eq!(d.recycle_bin_rule, None);
}

#[test]
fn a_rule_that_excludes_the_ami_or_is_not_available_does_not_count() {
    let mut excluded = disabled_ami("ami-1");
    excluded.tags.insert("scratch".into(), "yes".into());
    let mut run = Run::enforce(vec![excluded], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", record(Stage::Disabled, days_ago(30)))]);
    run.rules = vec![
        RecycleBinRule {
            exclude_resource_tags: vec![crate::verdict::TagMatch { key: "scratch".into(), value: None }],
            ..region_rule()
        },
        RecycleBinRule { identifier: "rule0000002".into(), status: "pending".into(), ..region_rule() },
    ];
    assert_eq!(actions(&run.plan()), vec![("ami-1", Action::Hold, Outcome::Held, "no_recycle_bin_rule")]);
}

#[test]
fn a_deregistration_protected_ami_is_deprecated_and_disabled_but_never_deregistered() {
    let mut protected = disabled_ami("ami-1");
    protected.lifecycle.deregistration_protection = Some("enabled-with-cooldown".into());
    let run = Run::enforce(vec![protected.clone()], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", record(Stage::Disabled, days_ago(400)))]);
    let plan = run.plan();
    assert_eq!(actions(&plan), vec![("ami-1", Action::Hold, Outcome::Held, "deregistration_protected")]);
    assert!(no_calls(&plan));
    assert!(plan.decisions[0].detail.contains("never turned off"), "{}", plan.decisions[0].detail);
    let mut fresh = ami("ami-1");
    fresh.lifecycle.deregistration_protection = Some("enabled".into());
    let plan = Run::enforce(vec![fresh], vec![verdict("ami-1", Kind::Candidate)]).plan();
    assert_eq!(only(&plan).action, Action::Deprecate, "protection guards deregistration only, as in EC2");
    protected.state = "available".into();
    let run = Run::enforce(vec![protected], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", record(Stage::Deprecated, days_ago(400)))]);
    assert_eq!(only(&run.plan()).action, Action::Disable);
}

#[test]
fn an_ami_of_another_owner_or_of_no_known_owner_is_never_touched() {
    for owner in [Some("999999999999"), None] {
        let mut foreign = ami("ami-1");
        foreign.owner_id = owner.map(str::to_string);
        let plan = Run::enforce(vec![foreign], vec![verdict("ami-1", Kind::Candidate)]).plan();
        assert_eq!(actions(&plan), vec![("ami-1", Action::Hold, Outcome::Held, "not_owned")]);
        assert!(no_calls(&plan));
    }
}

#[test]
fn the_budget_counts_forward_steps_and_holds_the_rest() {
    let ids = ["ami-1", "ami-2", "ami-3"];
    let mut run =
        Run::enforce(ids.iter().map(|i| ami(i)).collect(), ids.iter().map(|i| verdict(i, Kind::Candidate)).collect());
    run.settings.max_actions_per_run = 2;
    let plan = run.plan();
    assert_eq!(
        actions(&plan),
        vec![
            ("ami-1", Action::Deprecate, Outcome::Done, "candidate_for_days"),
            ("ami-2", Action::Deprecate, Outcome::Done, "candidate_for_days"),
            ("ami-3", Action::Hold, Outcome::Held, "action_budget_reached"),
        ]
    );
    assert!(plan.decisions[2].calls.is_empty());
}

#[test]
fn an_unknown_verdict_holds_a_started_retirement_and_starts_none() {
    let amis = vec![ami("ami-1"), ami("ami-2"), ami("ami-3")];
    let verdicts =
        vec![verdict("ami-1", Kind::Unknown), verdict("ami-2", Kind::Unknown), verdict("ami-3", Kind::Unknown)];
    let run = Run::enforce(amis, verdicts).with_state(&[
        ("ami-1", record(Stage::Deprecated, days_ago(100))),
        ("ami-2", record(Stage::Disabled, days_ago(100))),
    ]);
    let plan = run.plan();
    assert_eq!(
        actions(&plan),
        vec![
            ("ami-1", Action::Hold, Outcome::Held, "verdict_unknown"),
            ("ami-2", Action::Hold, Outcome::Held, "verdict_unknown"),
        ]
    );
    assert!(no_calls(&plan));
    assert!(plan.decisions[0].detail.contains("withheld_by_circuit_breaker"));
    assert!(!plan.state.records.contains_key("ami-3"));
}

#[test]
fn a_deregistered_ami_is_never_deregistered_again_even_if_restored() {
    let run = Run::enforce(vec![ami("ami-1")], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", record(Stage::Deregistered, days_ago(100)))]);
    assert!(run.plan().decisions.is_empty());
    let used = Run::enforce(vec![ami("ami-1")], vec![verdict("ami-1", Kind::InUse)])
        .with_state(&[("ami-1", record(Stage::Deregistered, days_ago(100)))]);
    assert!(used.plan().decisions.is_empty());
}

#[test]
fn an_ami_without_a_verdict_or_no_longer_described_is_left_alone() {
    let run = Run::enforce(vec![ami("ami-1")], vec![]).with_state(&[("ami-1", record(Stage::Disabled, days_ago(100)))]);
    let plan = run.plan();
    assert!(plan.decisions.is_empty());
    assert_eq!(plan.state.records["ami-1"], record(Stage::Disabled, days_ago(100)));
    let gone = Run::enforce(vec![], vec![]).with_state(&[("ami-1", record(Stage::Disabled, days_ago(100)))]);
    assert!(gone.plan().decisions.is_empty());
}

#[test]
fn a_dry_run_decides_like_enforce_without_calls_and_advances_its_own_records() {
    let mut run = Run::enforce(
        vec![ami("ami-1"), ami("ami-2")],
        vec![verdict("ami-1", Kind::Candidate), verdict("ami-2", Kind::Candidate)],
    );
    run.settings.mode = RetireMode::DryRun;
    run = run.with_state(&[("ami-2", record(Stage::Disabled, days_ago(30)))]);
    run.rules.clear();
    let plan = run.plan();
    assert_eq!(
        actions(&plan),
        vec![
            ("ami-1", Action::Deprecate, Outcome::Would, "candidate_for_days"),
            ("ami-2", Action::Hold, Outcome::Held, "no_recycle_bin_rule"),
        ]
    );
    assert!(no_calls(&plan));
    assert_eq!(plan.decisions[0].after.as_ref().map(|r| r.stage), Some(Stage::Deprecated));
    assert_eq!(plan.state.mode, RetireMode::DryRun);
}

#[test]
fn an_operators_earlier_deprecation_time_is_kept() {
    let mut deprecated = ami("ami-1");
    deprecated.lifecycle.deprecation_time = Some(t("2027-01-01T00:00:00Z"));
    let plan = Run::enforce(vec![deprecated], vec![verdict("ami-1", Kind::Candidate)]).plan();
    let d = only(&plan);
    assert!(matches!(d.calls.as_slice(), [Call::Tag { .. }]), "{:?}", d.calls);
    assert_eq!(d.deprecate_at, Some(t("2027-01-01T00:00:00Z")));
}

#[test]
fn an_interrupted_deprecate_is_completed_from_what_the_ami_shows() {
    let intended = RetireRecord {
        intent: Some(Intent { action: Action::Deprecate, at: days_ago(1), ..Intent::default() }),
        ..record(Stage::Candidate, days_ago(1))
    };
    let mut done_before_kill = ami("ami-1");
    done_before_kill.lifecycle.deprecation_time = Some(t("2027-01-13T12:00:00Z"));
    let mut run = Run::enforce(vec![done_before_kill], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", intended.clone())]);
    run.settings.deprecate_after_days = 365;
    let plan = run.plan();
    let d = only(&plan);
    assert!(matches!(d.calls.as_slice(), [Call::Tag { .. }]), "no second EnableImageDeprecation: {:?}", d.calls);
    assert_eq!(d.after.as_ref().map(|r| (r.stage, r.since)), Some((Stage::Deprecated, days_ago(1))));
    assert!(d.detail.starts_with("completing the deprecate"), "{}", d.detail);
    run.amis = vec![ami("ami-1")];
    let plan = run.plan();
    assert!(matches!(only(&plan).calls.as_slice(), [Call::EnableDeprecation { .. }, Call::Tag { .. }]));
}

#[test]
fn an_interrupted_disable_is_not_disabled_twice() {
    let intended = RetireRecord {
        intent: Some(Intent { action: Action::Disable, at: days_ago(1), ..Intent::default() }),
        ..record(Stage::Deprecated, days_ago(31))
    };
    let disabled = disabled_ami("ami-1");
    let run = Run::enforce(vec![disabled], vec![verdict("ami-1", Kind::Candidate)]).with_state(&[("ami-1", intended)]);
    let plan = run.plan();
    assert!(matches!(only(&plan).calls.as_slice(), [Call::Tag { value }] if value.starts_with("disabled ")));
}

#[test]
fn an_interrupted_deregistration_whose_ami_is_gone_is_done_and_never_repeated() {
    let intended = RetireRecord {
        intent: Some(Intent { action: Action::Deregister, at: days_ago(1), ..Intent::default() }),
        ..record(Stage::Disabled, days_ago(31))
    };
    let run = Run::enforce(vec![], vec![]).with_state(&[("ami-1", intended.clone())]);
    let plan = run.plan();
    let d = only(&plan);
    assert_eq!((d.action, d.outcome, d.stage_after), (Action::Deregister, Outcome::Done, Stage::Deregistered));
    assert!(d.calls.is_empty());
    assert_eq!(d.after.as_ref().map(|r| r.stage), Some(Stage::Deregistered));
    let still_there =
        Run::enforce(vec![ami("ami-1")], vec![verdict("ami-1", Kind::Unknown)]).with_state(&[("ami-1", intended)]);
    let plan = still_there.plan();
    assert_eq!(actions(&plan), vec![("ami-1", Action::Hold, Outcome::Held, "verdict_unknown")]);
    assert!(no_calls(&plan));
}

#[test]
fn interrupted_actions_come_first_so_the_budget_never_strands_one() {
    let intended = RetireRecord {
        intent: Some(Intent { action: Action::Disable, at: days_ago(1), ..Intent::default() }),
        ..record(Stage::Deprecated, days_ago(31))
    };
    let mut run = Run::enforce(
        vec![ami("ami-1"), deprecated_ami("ami-2")],
        vec![verdict("ami-1", Kind::Candidate), verdict("ami-2", Kind::Candidate)],
    )
    .with_state(&[("ami-2", intended)]);
    run.settings.max_actions_per_run = 1;
    assert_eq!(
        actions(&run.plan()),
        vec![
            ("ami-2", Action::Disable, Outcome::Done, "candidate_for_days"),
            ("ami-1", Action::Hold, Outcome::Held, "action_budget_reached"),
        ]
    );
}

#[test]
fn a_stage_undone_by_hand_holds_the_next_step_in_enforce() {
    let cancelled = ami("ami-1");
    let run = Run::enforce(vec![cancelled], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", record(Stage::Deprecated, days_ago(30)))]);
    let plan = run.plan();
    assert_eq!(actions(&plan), vec![("ami-1", Action::Hold, Outcome::Held, "not_deprecated")]);
    assert!(no_calls(&plan));
    let enabled = deprecated_ami("ami-1");
    let run = Run::enforce(vec![enabled], vec![verdict("ami-1", Kind::Candidate)])
        .with_state(&[("ami-1", record(Stage::Disabled, days_ago(30)))]);
    let plan = run.plan();
    assert_eq!(actions(&plan), vec![("ami-1", Action::Hold, Outcome::Held, "not_disabled")]);
    assert!(no_calls(&plan), "an AMI enabled by hand is never deregistered");
}

#[test]
fn a_lost_state_resumes_from_the_tag_and_still_waits_for_the_stage_to_last() {
    let mut tagged = disabled_ami("ami-1");
    tagged.tags.insert(STAGE_TAG.into(), "disabled 2026-12-20T00:00:00Z".into());
    let run = Run::enforce(vec![tagged.clone()], vec![verdict("ami-1", Kind::Candidate)]);
    let plan = run.plan();
    assert!(plan.decisions.is_empty(), "{:?}", plan.decisions);
    assert_eq!(plan.state.records["ami-1"].stage, Stage::Disabled);
    tagged.tags.insert(STAGE_TAG.into(), "disabled 2026-12-01T00:00:00Z".into());
    let run = Run::enforce(vec![tagged], vec![verdict("ami-1", Kind::Candidate)]);
    assert_eq!(only(&run.plan()).action, Action::Deregister);
}
