use super::*;
use crate::archive::{ResourceTypeRow, SCHEMA_VERSION};
use crate::fixtures::{self, t};
use crate::verdict::member_facts::findings_for;
use crate::verdict::{Kind, MemberFindings, OwnerReference, Verdict};

const MEMBER: &str = "111111111111";

fn facts(at: &str, images: &[(&str, &[&str])]) -> BTreeMap<String, MemberFacts> {
    let images = images
        .iter()
        .map(|(id, arns)| {
            let refs =
                arns.iter().map(|a| OwnerReference { resource_type: "ssm:Parameter".into(), arn: a.to_string() });
            (id.to_string(), (vec!["ssm:Parameter".to_string()], refs.collect()))
        })
        .collect();
    BTreeMap::from([(MEMBER.to_string(), MemberFacts { probed_at: Some(t(at)), images, allowed_images: None })])
}

#[test]
fn a_member_reference_is_remembered_and_counts_for_the_rest_of_the_window_after_it_is_gone() {
    let mut s = CollectState::default();
    let selected = BTreeSet::from(["ami-1", "ami-2"]);
    let arn = "arn:aws:ssm:eu-west-1:111111111111:parameter/golden";
    s.record_member_facts(&facts("2026-11-01T06:00:00Z", &[("ami-1", &[arn]), ("ami-9", &[arn])]), &selected);
    s.record_member_facts(&facts("2026-11-01T06:00:00Z", &[("ami-1", &[arn])]), &selected);
    assert!(!s.amis.contains_key("ami-9"), "AMIs not selected are not remembered");
    let required = vec![MEMBER.to_string()];

    // A week later the parameter is gone: the fresh facts list the AMI without it.
    let now = t("2026-11-08T07:00:00Z");
    let fresh = facts("2026-11-08T06:00:00Z", &[("ami-1", &[])]);
    s.record_member_facts(&fresh, &selected);
    let f = findings_for("ami-1", &required, &fresh, &s.amis["ami-1"].members, now - chrono::Duration::days(30));
    assert!(f.references.is_empty());
    assert_eq!(f.used_in_window.len(), 1);
    assert_eq!((f.used_in_window[0].arn(), f.used_in_window[0].last_seen()), (arn, t("2026-11-01T06:00:00Z")));

    // Past the window it no longer counts; past the history horizon it is forgotten.
    let later = t("2026-12-02T07:00:00Z");
    let f = findings_for("ami-1", &required, &fresh, &s.amis["ami-1"].members, later - chrono::Duration::days(30));
    assert!(f.used_in_window.is_empty());
    s.prune(t("2026-12-20T00:00:00Z"), 37);
    assert!(!s.amis.contains_key("ami-1"), "nothing left to remember of it");
}

#[test]
fn a_member_that_no_longer_lists_an_ami_it_listed_in_the_window_lost_sight_of_it() {
    let mut s = CollectState::default();
    let selected = BTreeSet::from(["ami-1"]);
    s.record_member_facts(&facts("2026-11-01T06:00:00Z", &[("ami-1", &[])]), &selected);
    let required = vec![MEMBER.to_string()];
    let fresh = facts("2026-11-02T06:00:00Z", &[]);
    s.record_member_facts(&fresh, &selected);
    let start = t("2026-10-03T07:00:00Z");
    let f = findings_for("ami-1", &required, &fresh, &s.amis["ami-1"].members, start);
    assert_eq!((f.lost_sight.clone(), f.covered_by.clone(), f.missing.clone()), (required.clone(), vec![], vec![]));
    // Never listed: simply not shared with it, nothing lost.
    let never = findings_for("ami-2", &required, &fresh, &Default::default(), start);
    assert_eq!(never, MemberFindings { required, ..Default::default() });
}

#[test]
fn a_missing_member_is_news_once_per_gap_with_the_amis_it_holds() {
    let mut s = CollectState::default();
    let held = BTreeMap::from([(MEMBER.to_string(), vec!["ami-1".to_string()])]);
    let first = s.member_gaps(&[MEMBER.into()], &held, t("2026-11-01T06:00:00Z"));
    let second = s.member_gaps(&[MEMBER.into()], &BTreeMap::new(), t("2026-11-01T07:00:00Z"));
    assert_eq!(first[0].key(), second[0].key(), "the same gap: the same key, announced once");
    assert_eq!(first[0].key(), "member-missing:111111111111:2026-11-01T06:00:00.000Z");
    assert!(matches!(&first[0], News::MemberProbeMissing { held, .. } if held == &["ami-1"]));
    assert!(s.member_gaps(&[], &BTreeMap::new(), t("2026-11-01T08:00:00Z")).is_empty());
    let next = s.member_gaps(&[MEMBER.into()], &BTreeMap::new(), t("2026-11-03T06:00:00Z"));
    assert_ne!(next[0].key(), first[0].key(), "a new gap is news again");
}

#[test]
fn the_amis_a_missing_member_holds_are_those_its_scoped_findings_name() {
    let (a1, a2) = (fixtures::ami("ami-1"), fixtures::ami("ami-2"));
    let input = |ami, missing: &[&str]| AmiInput {
        ami,
        history: vec![],
        unused_since: None,
        owner: Default::default(),
        owner_history: vec![],
        members: MemberFindings { missing: missing.iter().map(|m| m.to_string()).collect(), ..Default::default() },
    };
    let inputs = [input(&a1, &[MEMBER]), input(&a2, &[])];
    let v = Verdicts {
        verdicts: vec![
            Verdict::for_test("ami-1", Kind::Unknown, &[Reason::MemberProbeMissing]),
            Verdict::for_test("ami-2", Kind::Candidate, &[Reason::UnusedForWindow]),
        ],
        breaker: None,
    };
    assert_eq!(held_by_missing(&inputs, &v), BTreeMap::from([(MEMBER.to_string(), vec!["ami-1".to_string()])]));
}

fn report(types: &[&str], created: &str) -> ReportRow {
    ReportRow {
        schema_version: SCHEMA_VERSION,
        report_id: format!("r-{created}"),
        image_id: "ami-1".into(),
        owner_account_id: "123456789012".into(),
        region: "us-east-1".into(),
        state: "available".into(),
        state_reason: None,
        resource_types: types
            .iter()
            .map(|t| ResourceTypeRow { resource_type: t.to_string(), options: vec![] })
            .collect(),
        account_ids: vec![],
        report_creation_time: t(created),
        report_expiration_time: t(created),
        tags: Default::default(),
        image: None,
        entry_count: 0,
        account_count: 0,
        total_usage: 0,
        instance_usage: 0,
        launch_template_usage: 0,
        collected_at: t(created),
    }
}

#[test]
fn reports_that_asked_for_fewer_types_than_configured_are_news_with_a_stable_key() {
    let all: Vec<String> = crate::model::REPORT_RESOURCE_TYPES.iter().map(|t| t.to_string()).collect();
    let two = ["ec2:Instance", "ec2:LaunchTemplate"];
    let rows = [report(&two, "2026-11-02T00:00:00Z"), report(&two, "2026-11-01T00:00:00Z")];
    let news = narrowed_report_types(&rows, &all).unwrap();
    let tomorrow = narrowed_report_types(&[report(&two, "2026-11-03T00:00:00Z")], &all).unwrap();
    assert_eq!(news.key(), tomorrow.key(), "announced once, not daily");
    assert!(matches!(&news, News::ReportTypesNarrowed { used, since, .. }
        if used == &two && *since == t("2026-11-01T00:00:00Z")));
    assert_eq!(
        narrowed_report_types(&[report(&crate::model::REPORT_RESOURCE_TYPES, "2026-11-01T00:00:00Z")], &all),
        None
    );
    assert_eq!(narrowed_report_types(&rows, &two.map(String::from)), None, "asked what was configured");
}

#[test]
fn the_retirement_list_holds_the_deprecated_and_disabled_amis_of_enforce_mode_and_is_published_on_change() {
    use crate::retire::{RetireMode, RetireRecord, RetireState, Stage};
    let record = |stage| RetireRecord { stage, since: t("2026-11-01T00:00:00Z"), ..Default::default() };
    let mut retire = RetireState {
        mode: RetireMode::Enforce,
        records: BTreeMap::from([
            ("ami-1".to_string(), record(Stage::Candidate)),
            ("ami-2".to_string(), record(Stage::Deprecated)),
            ("ami-3".to_string(), record(Stage::Disabled)),
        ]),
        unarchived: vec![],
    };
    let list = retiring_list(&retire, "123456789012", "eu-west-1");
    let stages: Vec<(&str, &str)> = list.images.iter().map(|i| (i.image_id.as_str(), i.stage.as_str())).collect();
    assert_eq!(stages, [("ami-2", "deprecated"), ("ami-3", "disabled")]);
    let mut s = CollectState::default();
    assert!(s.retiring_changed(&list));
    s.mark_retiring_published(&list);
    assert!(!s.retiring_changed(&list));
    retire.mode = RetireMode::DryRun;
    let dry = retiring_list(&retire, "123456789012", "eu-west-1");
    assert!(dry.images.is_empty(), "a dry run changed nothing a member sees");
    assert!(s.retiring_changed(&dry), "the emptied list is published too");
    assert!(!CollectState::default().retiring_changed(&dry), "nothing ever retired: nothing to write");
}

#[test]
fn a_deprecation_names_the_members_that_saw_the_ami_and_refuse_deprecated_amis() {
    use crate::retire::{Action, Outcome, RetireMode, Stage};
    use crate::verdict::{AllowedImages, ImageCriterion};
    let mut s = CollectState::default();
    s.record_member_facts(&facts("2026-11-01T06:00:00Z", &[("ami-1", &[])]), &BTreeSet::from(["ami-1"]));
    let retirement = |action| News::Retirement {
        image_id: "ami-1".into(),
        name: "x".into(),
        mode: RetireMode::Enforce,
        action,
        outcome: Outcome::Done,
        reason: "r".into(),
        stage_before: Stage::Candidate,
        stage_after: Stage::Deprecated,
        stage_since: t("2026-11-01T00:00:00Z"),
        detail: String::new(),
        deprecate_at: None,
        undo_command: None,
        blocks_launches_in: vec![],
        team_deprecation: None,
        launch_permissions: None,
        restorable_until: None,
        snapshot_results: vec![],
    };
    let mut news = vec![retirement(Action::Deprecate), retirement(Action::Disable)];
    let strict = AllowedImages {
        state: "enabled".into(),
        managed_by: None,
        criteria: vec![ImageCriterion { image_providers: vec![], max_days_since_deprecated: Some(0) }],
    };
    s.name_blocked_launches(&mut news, "123456789012", &BTreeMap::from([(MEMBER.to_string(), strict)]));
    assert!(matches!(&news[0], News::Retirement { blocks_launches_in, .. } if blocks_launches_in == &[MEMBER]));
    assert!(matches!(&news[1], News::Retirement { blocks_launches_in, .. } if blocks_launches_in.is_empty()));
}
