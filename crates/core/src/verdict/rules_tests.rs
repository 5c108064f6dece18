use super::*;
use crate::fixtures::{self, t};
use crate::verdict::{OWNER_KINDS, OwnerObservation};

const ALL: ResourceTypes = ResourceTypes::ALL;

const NOW: &str = "2026-12-31T12:00:00Z";

fn now() -> DateTime<Utc> {
    t(NOW)
}

fn ami(id: &str, created_days_ago: i64, tags: &[(&str, &str)]) -> Ami {
    Ami {
        creation_date: Some(now() - Duration::days(created_days_ago)),
        tags: fixtures::tags(tags),
        ..fixtures::ami(id)
    }
}

/// One available report every `every` days over the last `days` days (newest 2 h ago).
fn daily(days: i64, every: i64, usage: i64) -> Vec<Observation> {
    (0..days)
        .step_by(every as usize)
        .map(|d| Observation::new(now() - Duration::hours(2) - Duration::days(d), ObservedState::Available, usage, ALL))
        .collect()
}

fn clean_owner() -> OwnerCheck {
    OwnerCheck::Checked(OwnerFacts::default())
}

fn input(a: &Ami, history: Vec<Observation>, owner: OwnerCheck) -> AmiInput<'_> {
    AmiInput { ami: a, history, unused_since: None, owner, owner_history: vec![], members: Default::default() }
}

/// Settings for single-AMI tests: one candidate of one AMI is 100 %, so the circuit
/// breaker is opened all the way (it has its own test).
fn single() -> VerdictSettings {
    VerdictSettings { max_candidate_percent: 100, ..Default::default() }
}

fn one(i: AmiInput) -> Verdict {
    one_with(i, &single())
}

fn one_with(i: AmiInput, s: &VerdictSettings) -> Verdict {
    let v = evaluate(std::slice::from_ref(&i), s, now());
    v.verdicts.into_iter().next().unwrap()
}

#[test]
fn zero_usage_spanning_the_window_with_clean_owner_is_a_candidate() {
    let a = ami("ami-1", 90, &[]);
    let v = one(input(&a, daily(31, 1, 0), clean_owner()));
    assert_eq!(v.kind, Kind::Candidate, "{:?}", v.reasons);
    assert_eq!(v.reasons, vec![Reason::UnusedForWindow, Reason::NoOwnerAccountUse, Reason::OlderThanMinAge]);
    assert_eq!(v.reports_in_window, 30);
    assert_eq!(v.zero_usage_reports, 30);
    assert_eq!(v.age_days, Some(90));
    assert_eq!(v.unused_since, Some(now() - Duration::hours(2) - Duration::days(29)));
}

#[test]
fn any_usage_in_the_window_means_in_use_even_one_old_report() {
    let a = ami("ami-1", 90, &[]);
    let mut h = daily(31, 1, 0);
    h.push(Observation::new(now() - Duration::days(28), ObservedState::Available, 1, ALL));
    let v = one(input(&a, h, OwnerCheck::NotChecked));
    assert_eq!(v.kind, Kind::InUse);
    assert_eq!(v.reasons, vec![Reason::UsedInOtherAccounts]);
    assert_eq!(v.unused_since, None);
}

#[test]
fn usage_before_the_window_does_not_count() {
    let a = ami("ami-1", 90, &[]);
    let mut h = daily(31, 1, 0);
    h.push(Observation::new(now() - Duration::days(45), ObservedState::Available, 7, ALL));
    assert_eq!(one(input(&a, h, clean_owner())).kind, Kind::Candidate);
}

#[test]
fn one_snapshot_is_never_enough() {
    let a = ami("ami-1", 90, &[]);
    let v = one(input(&a, daily(1, 1, 0), clean_owner()));
    assert_eq!(v.kind, Kind::Unknown);
    assert!(v.reasons.contains(&Reason::TooFewReports), "{:?}", v.reasons);
    assert!(v.reasons.contains(&Reason::HistoryTooShort), "{:?}", v.reasons);
}

#[test]
fn three_reports_must_span_the_window() {
    let a = ami("ami-1", 90, &[]);
    // Every 10 days: 3 reports (2 h, 10 d 2 h and 20 d 2 h ago) cover the window.
    assert_eq!(one(input(&a, daily(30, 10, 0), clean_owner())).kind, Kind::Candidate);
    // The last 3 days only: enough reports, but they do not reach back.
    let v = one(input(&a, daily(3, 1, 0), clean_owner()));
    assert_eq!(v.reasons, vec![Reason::HistoryTooShort]);
    // Reports stopped 12 days ago: the recent past is missing.
    let old: Vec<Observation> =
        daily(31, 1, 0).into_iter().filter(|o| o.created_at() < now() - Duration::days(12)).collect();
    let v = one(input(&a, old, clean_owner()));
    assert_eq!(v.reasons, vec![Reason::ReportMissing, Reason::EvidenceStale]);
    // A hole of 11 days in the middle.
    let holed: Vec<Observation> = daily(31, 1, 0)
        .into_iter()
        .filter(|o| !(now() - Duration::days(20)..now() - Duration::days(9)).contains(&o.created_at()))
        .collect();
    assert_eq!(one(input(&a, holed, clean_owner())).reasons, vec![Reason::ReportMissing]);
    // No report at all.
    let v = one(input(&a, vec![], clean_owner()));
    assert_eq!(v.kind, Kind::Unknown);
    assert_eq!(v.reasons, vec![Reason::TooFewReports, Reason::ReportMissing]);
}

#[test]
fn error_pending_or_unarchived_reports_make_it_unknown_never_unused() {
    let a = ami("ami-1", 90, &[]);
    for (state, reason) in [
        (ObservedState::Error, Reason::ReportError),
        (ObservedState::Pending, Reason::ReportPending),
        (ObservedState::Unarchived, Reason::ReportUnarchived),
    ] {
        let mut h = daily(31, 1, 0);
        h.push(Observation::new(now() - Duration::minutes(30), state, 0, ALL));
        let v = one(input(&a, h, clean_owner()));
        assert_eq!(v.kind, Kind::Unknown, "{state:?}");
        assert_eq!(v.reasons, vec![reason]);
    }
}

#[test]
fn owner_account_references_and_recent_launches_mean_in_use() {
    let a = ami("ami-1", 90, &[]);
    let refs = OwnerFacts {
        references: vec![OwnerReference {
            resource_type: "ssm:Parameter".into(),
            arn: "arn:aws:ssm:eu-west-1:123456789012:parameter/golden".into(),
        }],
        last_launched: None,
        kinds: vec![],
    };
    let v = one(input(&a, daily(31, 1, 0), OwnerCheck::Checked(refs)));
    assert_eq!(v.kind, Kind::InUse);
    assert_eq!(v.reasons, vec![Reason::UsedInOwnerAccount]);
    assert_eq!(v.owner_references, vec!["arn:aws:ssm:eu-west-1:123456789012:parameter/golden"]);

    let launched = |days: i64| {
        OwnerCheck::Checked(OwnerFacts { last_launched: Some(now() - Duration::days(days)), ..Default::default() })
    };
    let v = one(input(&a, daily(31, 1, 0), launched(29)));
    assert_eq!((v.kind, v.reasons), (Kind::InUse, vec![Reason::LaunchedRecently]));
    let v = one(input(&a, daily(31, 1, 0), launched(31)));
    assert_eq!(v.kind, Kind::Candidate);
    assert_eq!(v.last_launched, Some(now() - Duration::days(31)));
}

#[test]
fn unchecked_owner_is_pending_and_failed_check_is_unknown() {
    let a = ami("ami-1", 90, &[]);
    let v = one(input(&a, daily(31, 1, 0), OwnerCheck::NotChecked));
    assert_eq!((v.kind, v.reasons.clone()), (Kind::Unknown, vec![Reason::OwnerCheckPending]));
    assert!(v.needs_owner_check());
    let v = one(input(&a, daily(31, 1, 0), OwnerCheck::Failed("throttled".into())));
    assert_eq!((v.kind, v.reasons), (Kind::Unknown, vec![Reason::OwnerCheckFailed]));
    // An AMI used elsewhere is not worth an owner check.
    let v = one(input(&a, daily(31, 1, 3), OwnerCheck::NotChecked));
    assert!(!v.needs_owner_check());
}

#[test]
fn too_young_excluded_by_tag_and_unknown_age() {
    let young = ami("ami-1", 10, &[]);
    let v = one(input(&young, daily(31, 1, 0), clean_owner()));
    assert_eq!(v.kind, Kind::Excluded);
    assert!(v.reasons.contains(&Reason::TooYoung));
    let tagged = ami("ami-2", 90, &[("ami-usage-reporter:keep", "forever")]);
    let v = one(input(&tagged, daily(31, 1, 0), clean_owner()));
    assert_eq!((v.kind, v.reasons), (Kind::Excluded, vec![Reason::ExcludedByTag]));
    let s = VerdictSettings { exclude_tag: TagMatch { key: "Retain".into(), value: Some("yes".into()) }, ..single() };
    let other_value = ami("ami-3", 90, &[("Retain", "no")]);
    assert_eq!(one_with(input(&other_value, daily(31, 1, 0), clean_owner()), &s).kind, Kind::Candidate);
    let mut unknown_age = ami("ami-4", 90, &[]);
    unknown_age.creation_date = None;
    let v = one(input(&unknown_age, daily(31, 1, 0), clean_owner()));
    assert_eq!((v.kind, v.reasons), (Kind::Unknown, vec![Reason::CreationDateUnknown]));
}

#[test]
fn usage_wins_over_exclusion_and_exclusion_over_unknown() {
    let tagged = ami("ami-1", 90, &[("ami-usage-reporter:keep", "")]);
    let v = one(input(&tagged, daily(31, 1, 2), OwnerCheck::NotChecked));
    assert_eq!(v.kind, Kind::InUse);
    assert_eq!(v.reasons, vec![Reason::UsedInOtherAccounts, Reason::ExcludedByTag]);
    let v = one(input(&tagged, vec![], OwnerCheck::NotChecked));
    assert_eq!(v.kind, Kind::Excluded);
}

#[test]
fn keep_newest_protects_the_newest_of_each_group() {
    let s = VerdictSettings {
        group_tag: Some("Family".into()),
        keep_newest: 2,
        max_candidate_percent: 100,
        ..Default::default()
    };
    let amis = [
        ami("ami-old", 300, &[("Family", "al2023")]),
        ami("ami-mid", 200, &[("Family", "al2023")]),
        ami("ami-new", 100, &[("Family", "al2023")]),
        ami("ami-solo", 400, &[("Family", "rhel")]),
        ami("ami-free", 400, &[]),
        ami("ami-a", 100, &[]),
        ami("ami-b", 100, &[]),
        ami("ami-c", 100, &[]),
    ];
    let inputs: Vec<AmiInput> = amis.iter().map(|a| input(a, daily(31, 1, 0), clean_owner())).collect();
    let v = evaluate(&inputs, &s, now());
    let kind = |id: &str| v.verdicts.iter().find(|x| x.image_id == id).unwrap().clone();
    assert_eq!(kind("ami-old").kind, Kind::Candidate);
    assert_eq!(kind("ami-old").group.as_deref(), Some("al2023"));
    assert_eq!(kind("ami-mid").reasons, vec![Reason::KeptNewestInGroup]);
    assert_eq!(kind("ami-new").kind, Kind::Excluded);
    assert_eq!(kind("ami-solo").kind, Kind::Excluded);
    assert_eq!(kind("ami-free").kind, Kind::Candidate);
    assert_eq!(kind("ami-free").group, None);
    assert!(v.breaker.is_none());
}

#[test]
fn circuit_breaker_withholds_every_candidate_when_too_many() {
    let amis: Vec<Ami> = (0..4).map(|i| ami(&format!("ami-{i}"), 90, &[])).collect();
    let histories = [daily(31, 1, 0), daily(31, 1, 0), daily(31, 1, 0), daily(31, 1, 5)];
    let inputs: Vec<AmiInput> = amis.iter().zip(histories).map(|(a, h)| input(a, h, clean_owner())).collect();
    let v = evaluate(&inputs, &VerdictSettings::default(), now());
    assert_eq!(v.breaker, Some(Breaker { withheld: 3, selected: 4, limit_percent: 50 }));
    assert_eq!(v.count(Kind::Candidate), 0);
    assert_eq!(v.count(Kind::Unknown), 3);
    assert!(v.verdicts[0].reasons.ends_with(&[Reason::WithheldByCircuitBreaker]));
    assert_eq!(v.verdicts[3].kind, Kind::InUse);
    // Exactly at the limit is allowed.
    let s = VerdictSettings { max_candidate_percent: 75, ..Default::default() };
    let v = evaluate(&inputs, &s, now());
    assert_eq!((v.count(Kind::Candidate), v.breaker), (3, None));
}

#[test]
fn reason_codes_are_snake_case_contract_strings() {
    assert_eq!(Reason::UsedInOtherAccounts.code(), "used_in_other_accounts");
    assert_eq!(Reason::WithheldByCircuitBreaker.code(), "withheld_by_circuit_breaker");
    assert_eq!(Reason::KeptNewestInGroup.code(), "kept_newest_in_group");
    assert_eq!(serde_json::to_string(&Kind::InUse).unwrap(), "\"in_use\"");
    assert_eq!(Reason::EvidenceStale.code(), "evidence_stale");
    assert_eq!(Reason::UsedInOwnerAccountInWindow.code(), "used_in_owner_account_in_window");
}

#[test]
fn zero_usage_evidence_older_than_the_max_age_is_stale_never_a_candidate() {
    let a = ami("ami-1", 90, &[]);
    // Daily zero-usage reports, but the newest is three days old: creates were refused.
    let h: Vec<Observation> =
        (3..34).map(|d| Observation::new(now() - Duration::days(d), ObservedState::Available, 0, ALL)).collect();
    let v = one(input(&a, h.clone(), clean_owner()));
    assert_eq!(v.kind, Kind::Unknown);
    assert_eq!(v.reasons, vec![Reason::EvidenceStale]);
    assert_eq!(v.newest_zero_report, Some(now() - Duration::days(3)));
    let lenient = VerdictSettings { max_evidence_age_hours: 96, ..single() };
    assert_eq!(one_with(input(&a, h, clean_owner()), &lenient).kind, Kind::Candidate);
}

#[test]
fn owner_use_recorded_earlier_in_the_window_keeps_the_ami_in_use() {
    let a = ami("ami-1", 90, &[]);
    let mut i = input(&a, daily(31, 1, 0), clean_owner());
    let day = |d: i64| (now() - Duration::days(d)).timestamp();
    i.owner_history = vec![OwnerObservation(day(29), true), OwnerObservation(day(1), false)];
    let v = one(i.clone());
    assert_eq!((v.kind, v.reasons.clone()), (Kind::InUse, vec![Reason::UsedInOwnerAccountInWindow]));
    assert_eq!(v.owner_last_used, Some(now() - Duration::days(29)));
    i.owner_history = vec![OwnerObservation(day(31), true), OwnerObservation(day(1), false)];
    assert_eq!(one(i).kind, Kind::Candidate, "use before the window does not count");
}

#[test]
fn coverage_says_which_reference_kinds_were_not_checked() {
    let a = ami("ami-1", 90, &[]);
    let mut h = daily(31, 1, 0);
    h[5].resource_types = ResourceTypes::LEGACY;
    let facts = OwnerFacts { kinds: vec!["owner:ec2:Instance".into()], ..Default::default() };
    let v = one(input(&a, h, OwnerCheck::Checked(facts)));
    assert_eq!(v.kind, Kind::Candidate);
    assert_eq!(v.checked, ["report:ec2:Instance", "report:ec2:LaunchTemplate", "owner:ec2:Instance"]);
    for k in ["report:imagebuilder:ImageRecipe", "owner:autoscaling:LaunchConfiguration", "member:ssm:Parameter"] {
        assert!(v.not_checked.iter().any(|n| n == k), "{k} in {:?}", v.not_checked);
    }
}

#[test]
fn a_protected_candidate_stays_a_candidate_and_says_so() {
    let mut a = ami("ami-1", 90, &[]);
    a.lifecycle.deregistration_protection = Some("enabled-with-cooldown".into());
    let v = one(input(&a, daily(31, 1, 0), clean_owner()));
    assert_eq!(v.kind, Kind::Candidate);
    assert!(v.deregistration_protected);
    a.lifecycle.deregistration_protection = Some("disabled".into());
    assert!(!one(input(&a, daily(31, 1, 0), clean_owner())).deregistration_protected);
}

#[test]
fn owner_checks_are_due_for_would_be_candidates_and_daily_for_the_rest() {
    let (young, used, fresh, stale) =
        (ami("ami-young", 5, &[]), ami("ami-used", 90, &[]), ami("ami-fresh", 90, &[]), ami("ami-stale", 90, &[]));
    let checked_at = |h: i64| vec![OwnerObservation((now() - Duration::hours(h)).timestamp(), false)];
    let inputs = vec![
        input(&young, daily(5, 1, 0), OwnerCheck::NotChecked),
        input(&used, daily(31, 1, 3), OwnerCheck::NotChecked),
        AmiInput { owner_history: checked_at(2), ..input(&fresh, daily(10, 1, 0), OwnerCheck::NotChecked) },
        AmiInput { owner_history: checked_at(21), ..input(&stale, daily(10, 1, 0), OwnerCheck::NotChecked) },
    ];
    let verdicts = evaluate(&inputs, &single(), now());
    assert_eq!(owner_checks_due(&verdicts, &inputs, now()), ["ami-stale", "ami-young"]);
}

#[test]
fn the_verdicts_digest_is_stable_across_releases_and_sensitive_to_changes() {
    let a = ami("ami-1", 90, &[]);
    let v = evaluate(&[input(&a, daily(31, 1, 0), clean_owner())], &single(), now());
    // A fixed value: FNV-1a does not change with the toolchain, DefaultHasher may.
    assert_eq!(verdicts_digest(&v, now()), "2026-12-31:60a39da12c70d217");
    let mut changed = v.clone();
    changed.verdicts[0].reasons.pop();
    assert_ne!(verdicts_digest(&changed, now()), verdicts_digest(&v, now()));
}

fn members(references: &[&str], missing: &[&str]) -> MemberFindings {
    let required = vec!["111111111111".to_string(), "222222222222".to_string()];
    let missing: Vec<String> = missing.iter().map(|m| m.to_string()).collect();
    MemberFindings {
        covered_by: required.iter().filter(|m| !missing.contains(m)).cloned().collect(),
        kinds_all_covered: if missing.is_empty() { vec!["ssm:Parameter".into()] } else { vec![] },
        required,
        missing,
        references: references.iter().map(|r| r.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn a_reference_in_a_member_account_makes_an_unused_ami_in_use() {
    let a = ami("ami-1", 90, &[]);
    let arn = "arn:aws:ssm:us-east-1:111111111111:parameter/golden";
    let v = one(AmiInput { members: members(&[arn], &[]), ..input(&a, daily(30, 1, 0), clean_owner()) });
    assert_eq!((v.kind, v.reasons), (Kind::InUse, vec![Reason::UsedInMemberAccount]));
    assert_eq!(v.member_references, [arn]);
    assert!(v.checked.contains(&"member:ssm:Parameter".to_string()));
    assert!(v.checked.contains(&"member:222222222222".to_string()));
}

#[test]
fn a_required_member_without_fresh_facts_leaves_a_would_be_candidate_unknown() {
    let a = ami("ami-1", 90, &[]);
    let v = one(AmiInput { members: members(&[], &["222222222222"]), ..input(&a, daily(30, 1, 0), clean_owner()) });
    assert_eq!((v.kind, v.reasons), (Kind::Unknown, vec![Reason::MemberProbeMissing]));
    assert!(v.not_checked.contains(&"member:222222222222".to_string()));
    assert!(v.not_checked.contains(&"member:ssm:Parameter".to_string()));

    let used = one(AmiInput { members: members(&[], &["222222222222"]), ..input(&a, daily(30, 1, 1), clean_owner()) });
    assert_eq!((used.kind, used.reasons), (Kind::InUse, vec![Reason::UsedInOtherAccounts]), "in use stays in use");
    let all_fresh = one(AmiInput { members: members(&[], &[]), ..input(&a, daily(30, 1, 0), clean_owner()) });
    assert_eq!(all_fresh.kind, Kind::Candidate);
    assert!(all_fresh.checked.contains(&"member:ssm:Parameter".to_string()));
}

#[test]
fn a_member_reference_seen_earlier_in_the_window_keeps_the_ami_in_use_naming_it() {
    let a = ami("ami-1", 90, &[]);
    let arn = "arn:aws:ssm:us-east-1:111111111111:parameter/golden";
    let seen = now() - Duration::days(7);
    let m = MemberFindings {
        used_in_window: vec![MemberUse("111111111111".into(), arn.into(), seen.timestamp_millis())],
        ..members(&[], &[])
    };
    let v = one(AmiInput { members: m, ..input(&a, daily(30, 1, 0), clean_owner()) });
    assert_eq!((v.kind, v.reasons), (Kind::InUse, vec![Reason::UsedInMemberAccountInWindow]));
    assert_eq!((v.member_references_in_window, v.member_last_used), (vec![arn.to_string()], Some(seen)));
    assert!(v.member_references.is_empty());
}

#[test]
fn a_member_that_lost_sight_of_a_would_be_candidate_leaves_it_unknown_and_not_checked() {
    let a = ami("ami-1", 90, &[]);
    let m = MemberFindings {
        covered_by: vec!["111111111111".into()],
        lost_sight: vec!["222222222222".into()],
        kinds_all_covered: vec![],
        ..members(&[], &[])
    };
    let v = one(AmiInput { members: m.clone(), ..input(&a, daily(30, 1, 0), clean_owner()) });
    assert_eq!((v.kind, v.reasons), (Kind::Unknown, vec![Reason::MemberLostSight]));
    assert!(v.not_checked.contains(&"member:222222222222".to_string()));
    let used = one(AmiInput { members: m, ..input(&a, daily(30, 1, 1), clean_owner()) });
    assert_eq!(used.kind, Kind::InUse, "in use stays in use");
}

#[test]
fn a_reference_of_a_type_the_product_does_not_know_is_use_in_the_owner_and_member_accounts() {
    let a = ami("ami-1", 90, &[]);
    let new_kind = OwnerReference::of_answer(Some("ec2:SomethingAwsAddsNextYear"), "arn:aws:ec2:x");
    assert!(!new_kind.is_known_type());
    assert_eq!(OwnerReference::of_answer(None, "arn:y").resource_type, "unknown");
    assert!(OwnerReference::of_answer(Some("ssm:Parameter"), "arn:z").is_known_type());
    let owner = OwnerCheck::Checked(OwnerFacts {
        references: vec![new_kind.clone()],
        kinds: OWNER_KINDS.iter().map(|k| k.to_string()).collect(),
        ..Default::default()
    });
    assert_eq!(owner.found_use(), Some(true));
    let v = one(input(&a, daily(30, 1, 0), owner));
    assert_eq!((v.kind, v.reasons), (Kind::InUse, vec![Reason::UsedInOwnerAccount]));
    assert_eq!(v.owner_references, ["arn:aws:ec2:x"]);
    let m = one(AmiInput { members: members(&[&new_kind.arn], &[]), ..input(&a, daily(30, 1, 0), clean_owner()) });
    assert_eq!(m.kind, Kind::InUse);
}

#[test]
fn an_owner_check_found_use_only_when_it_answered_with_references() {
    let reference = OwnerReference { resource_type: "ec2:Instance".into(), arn: "i-1".into() };
    let used = OwnerCheck::Checked(OwnerFacts { references: vec![reference], ..Default::default() });
    assert_eq!(used.found_use(), Some(true));
    assert_eq!(OwnerCheck::Checked(OwnerFacts::default()).found_use(), Some(false));
    assert_eq!(OwnerCheck::Failed("denied".into()).found_use(), None);
    assert_eq!(OwnerCheck::NotChecked.found_use(), None);
}
