use super::*;
use crate::archive::{ImageRow, SCHEMA_VERSION};
use crate::fixtures::{self, t};
use crate::state::report_gaps;
use crate::verdict::{AmiInput, Breaker, Reason, Verdict};

fn row(report_id: &str, image_id: &str, created: &str, total_usage: i64) -> ReportRow {
    ReportRow {
        schema_version: SCHEMA_VERSION,
        report_id: report_id.into(),
        image_id: image_id.into(),
        owner_account_id: "123456789012".into(),
        region: "us-east-1".into(),
        state: "available".into(),
        state_reason: None,
        resource_types: vec![],
        account_ids: vec![],
        report_creation_time: t(created),
        report_expiration_time: t(created) + Duration::days(30),
        tags: Default::default(),
        image: Some(ImageRow {
            name: format!("name-{image_id}"),
            description: None,
            creation_date: Some(t("2026-01-01T00:00:00Z")),
            state: "available".into(),
            architecture: None,
            platform_details: None,
            usage_operation: None,
            tags: Default::default(),
            billing_products: vec![],
            product_codes: vec![],
            block_devices: vec![],
            snapshot_size_gib_total: 8,
        }),
        entry_count: if total_usage > 0 { 1 } else { 0 },
        account_count: if total_usage > 0 { 1 } else { 0 },
        total_usage,
        instance_usage: total_usage,
        launch_template_usage: 0,
        collected_at: t(created),
    }
}

fn ami(id: &str) -> Ami {
    Ami { creation_date: Some(t("2026-01-01T00:00:00Z")), billing_products: vec!["bp-1".into()], ..fixtures::ami(id) }
}

fn verdict(id: &str, kind: Kind, unused_since: Option<&str>, reasons: &[Reason]) -> Verdict {
    Verdict { unused_since: unused_since.map(t), ..Verdict::for_test(id, kind, reasons) }
}

fn verdicts(v: Vec<Verdict>) -> Verdicts {
    Verdicts { verdicts: v, breaker: None }
}

const CANDIDATE: &[Reason] = &[Reason::UnusedForWindow, Reason::NoOwnerAccountUse, Reason::OlderThanMinAge];

#[test]
fn absorb_builds_a_sorted_history_and_the_unused_streak() {
    let mut s = CollectState::default();
    assert!(s.absorb(&row("r2", "ami-1", "2026-11-02T00:00:00Z", 0)).is_empty());
    s.absorb(&row("r1", "ami-1", "2026-11-01T00:00:00Z", 4));
    s.absorb(&row("r3", "ami-1", "2026-11-03T00:00:00Z", 0));
    assert!(s.absorb(&row("r3", "ami-1", "2026-11-03T00:00:00Z", 0)).is_empty(), "reprocessing is a no-op");
    let a = &s.amis["ami-1"];
    let times: Vec<i64> = a.history.iter().map(|o| o.created).collect();
    assert_eq!(times.len(), 3);
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    let types = ResourceTypes::of(
        row("r1", "ami-1", "2026-11-01T00:00:00Z", 4).resource_types.iter().map(|r| r.resource_type.as_str()),
    );
    assert_eq!(a.history[0], Observation::new(t("2026-11-01T00:00:00Z"), ObservedState::Available, 4, types));
    // The older, used row arrived late: it does not break the newer streak.
    assert_eq!(a.unused_since, Some(t("2026-11-02T00:00:00Z")));
    assert_eq!(a.latest_report_id.as_deref(), Some("r3"));
    assert!(s.is_processed(t("2026-11-01T00:00:00Z").date_naive(), "r1"));
    s.absorb(&row("r4", "ami-1", "2026-11-04T00:00:00Z", 2));
    assert_eq!(s.amis["ami-1"].unused_since, None);
    assert_eq!(s.amis["ami-1"].latest_total_usage, Some(2));
}

#[test]
fn error_rows_are_news_and_history_and_deregistered_amis_are_forgotten() {
    let mut s = CollectState::default();
    let mut e = row("r1", "ami-1", "2026-11-01T00:00:00Z", 0);
    e.state = "error".into();
    e.state_reason = Some("boom".into());
    assert!(matches!(&s.absorb(&e)[..], [News::ReportError { reason: Some(r), .. }] if r == "boom"));
    assert_eq!(s.amis["ami-1"].history[0].state, ObservedState::Error);
    assert_eq!(s.amis["ami-1"].latest_report_id, None);
    s.absorb(&row("r2", "ami-2", "2026-11-01T00:00:00Z", 0));
    let mut gone = row("r3", "ami-2", "2026-11-02T00:00:00Z", 0);
    gone.image = None;
    assert!(s.absorb(&gone).is_empty());
    assert!(!s.amis.contains_key("ami-2"));
}

#[test]
fn a_candidate_is_news_once_per_streak() {
    let mut s = CollectState::default();
    let amis = [ami("ami-1")];
    let v = verdicts(vec![verdict("ami-1", Kind::Candidate, Some("2026-11-01T00:00:00Z"), CANDIDATE)]);
    let n = s.record_verdicts(&v, &amis, t("2026-12-01T00:00:00Z"));
    match &n[..] {
        [News::Candidate { unused_since, reasons, has_billing_codes: true, .. }] => {
            assert_eq!(*unused_since, t("2026-11-01T00:00:00Z"));
            assert_eq!(reasons, &["unused_for_window", "no_owner_account_use", "older_than_min_age"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.enqueue(n), 1);
    s.mark_published(t("2026-12-01T01:00:00Z"));
    let n = s.record_verdicts(&v, &amis, t("2026-12-02T00:00:00Z"));
    assert_eq!(n[0].key(), "candidate:ami-1:2026-11-01T00:00:00.000Z");
    assert_eq!(s.enqueue(n), 0, "same streak is not news again");
    // A day of `unknown` (a pending report) is not news either way.
    let unknown = verdicts(vec![verdict("ami-1", Kind::Unknown, None, &[Reason::ReportPending])]);
    assert!(s.record_verdicts(&unknown, &amis, t("2026-12-03T00:00:00Z")).is_empty());
    assert_eq!(
        {
            let n = s.record_verdicts(&v, &amis, t("2026-12-03T01:00:00Z"));
            s.enqueue(n)
        },
        0
    );
}

#[test]
fn a_former_candidate_in_use_again_is_news_and_a_new_streak_is_news_again() {
    let mut s = CollectState::default();
    let amis = [ami("ami-1")];
    s.absorb(&row("r1", "ami-1", "2026-11-01T00:00:00Z", 0));
    let cand = verdicts(vec![verdict("ami-1", Kind::Candidate, Some("2026-11-01T00:00:00Z"), CANDIDATE)]);
    let n = s.record_verdicts(&cand, &amis, t("2026-12-01T00:00:00Z"));
    s.enqueue(n);
    s.mark_published(t("2026-12-01T01:00:00Z"));
    s.absorb(&row("r2", "ami-1", "2026-12-02T00:00:00Z", 5));
    let used = verdicts(vec![verdict("ami-1", Kind::InUse, None, &[Reason::UsedInOtherAccounts])]);
    let n = s.record_verdicts(&used, &amis, t("2026-12-02T01:00:00Z"));
    assert!(
        matches!(&n[..], [News::UsedAgain { total_usage: 5, reasons, .. }] if reasons == &["used_in_other_accounts"])
    );
    assert_eq!(s.enqueue(n), 1);
    s.mark_published(t("2026-12-02T02:00:00Z"));
    assert!(s.record_verdicts(&used, &amis, t("2026-12-03T00:00:00Z")).is_empty(), "in use is not news twice");
    let again = verdicts(vec![verdict("ami-1", Kind::Candidate, Some("2026-12-10T00:00:00Z"), CANDIDATE)]);
    let n = s.record_verdicts(&again, &amis, t("2027-01-10T00:00:00Z"));
    assert_eq!(s.enqueue(n), 1, "a new streak is news again");
}

#[test]
fn an_excluded_candidate_is_dropped_silently_and_never_checked_amis_are_ignored() {
    let mut s = CollectState::default();
    let amis = [ami("ami-1")];
    let cand = verdicts(vec![verdict("ami-1", Kind::Candidate, Some("2026-11-01T00:00:00Z"), CANDIDATE)]);
    s.record_verdicts(&cand, &amis, t("2026-12-01T00:00:00Z"));
    let kept = verdicts(vec![verdict("ami-1", Kind::Excluded, None, &[Reason::ExcludedByTag])]);
    assert!(s.record_verdicts(&kept, &amis, t("2026-12-02T00:00:00Z")).is_empty());
    let used = verdicts(vec![verdict("ami-1", Kind::InUse, None, &[Reason::UsedInOwnerAccount])]);
    assert!(s.record_verdicts(&used, &amis, t("2026-12-03T00:00:00Z")).is_empty());
    let stranger = verdicts(vec![verdict("ami-9", Kind::Candidate, Some("2026-11-01T00:00:00Z"), CANDIDATE)]);
    assert!(s.record_verdicts(&stranger, &amis, t("2026-12-03T00:00:00Z")).is_empty());
}

#[test]
fn the_circuit_breaker_is_news_once_a_day() {
    let mut s = CollectState::default();
    let v = Verdicts { verdicts: vec![], breaker: Some(Breaker { withheld: 9, selected: 10, limit_percent: 50 }) };
    let n = s.record_verdicts(&v, &[], t("2026-12-01T00:00:00Z"));
    assert_eq!(n[0].key(), "withheld:2026-12-01");
    assert_eq!(s.enqueue(n), 1);
    s.mark_published(t("2026-12-01T00:10:00Z"));
    assert_eq!(
        {
            let n = s.record_verdicts(&v, &[], t("2026-12-01T05:00:00Z"));
            s.enqueue(n)
        },
        0
    );
    assert_eq!(
        {
            let n = s.record_verdicts(&v, &[], t("2026-12-02T05:00:00Z"));
            s.enqueue(n)
        },
        1
    );
}

#[test]
fn outbox_survives_until_published_and_state_round_trips() {
    let mut s = CollectState::default();
    s.absorb(&row("r1", "ami-1", "2026-11-01T00:00:00Z", 0));
    let cand = verdicts(vec![verdict("ami-1", Kind::Candidate, Some("2026-11-01T00:00:00Z"), CANDIDATE)]);
    let n = s.record_verdicts(&cand, &[ami("ami-1")], t("2026-12-01T00:00:00Z"));
    s.enqueue(n);
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"history\":[[1793491200,\"a\",0,0]]"), "{json}");
    let mut back: CollectState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.outbox.len(), 1);
    back.mark_published(t("2026-11-01T02:00:00Z"));
    assert!(back.outbox.is_empty());
    assert!(back.notified.contains_key("candidate:ami-1:2026-11-01T00:00:00.000Z"));
}

#[test]
fn a_state_written_by_the_first_version_still_loads() {
    let old = r#"{"schema_version":1,"amis":{"ami-1":{"latest_report_id":"r1","latest_report_time":"2026-11-01T00:00:00.000Z","latest_total_usage":0,"unused_since":"2026-11-01T00:00:00.000Z"}},
        "processed":{},"notified":{},"outbox":[{"kind":"candidate","image_id":"ami-1","name":"n","image_created":null,"unused_since":"2026-11-01T00:00:00.000Z","snapshot_size_gib":8,"has_billing_codes":false}]}"#;
    let s: CollectState = serde_json::from_str(old).unwrap();
    assert_eq!(s.amis["ami-1"].latest_report_id.as_deref(), Some("r1"));
    assert!(s.amis["ami-1"].history.is_empty());
    assert!(matches!(&s.outbox[0], News::Candidate { reasons, .. } if reasons.is_empty()));
}

#[test]
fn prune_bounds_history_and_forgets_old_processing_but_keeps_candidate_keys() {
    let mut s = CollectState::default();
    s.absorb(&row("r1", "ami-1", "2026-09-01T00:00:00Z", 0));
    s.absorb(&row("r1b", "ami-1", "2026-11-20T00:00:00Z", 0));
    s.absorb(&row("r0", "ami-0", "2026-09-01T00:00:00Z", 0));
    let mut e = row("r2", "ami-2", "2026-09-01T00:00:00Z", 0);
    e.state = "error".into();
    let n = s.absorb(&e);
    s.enqueue(n);
    let cand = verdicts(vec![verdict("ami-3", Kind::Candidate, Some("2026-09-01T00:00:00Z"), CANDIDATE)]);
    let n = s.record_verdicts(&cand, &[ami("ami-3")], t("2026-09-01T00:00:00Z"));
    s.enqueue(n);
    s.mark_published(t("2026-09-01T01:00:00Z"));
    s.prune(t("2026-11-22T00:00:00Z"), 45);
    assert_eq!(s.processed.keys().map(|d| d.to_string()).collect::<Vec<_>>(), vec!["2026-11-20"]);
    assert!(!s.notified.contains_key("error:r2"));
    assert!(s.notified.keys().any(|k| k.starts_with("candidate:ami-3")));
    assert_eq!(s.amis["ami-1"].history.len(), 1);
    assert!(!s.amis.contains_key("ami-0") && !s.amis.contains_key("ami-2"));
    assert!(s.amis.contains_key("ami-3"), "a candidate is remembered for its used-again news");
}

#[test]
fn a_legacy_state_is_adopted_by_its_region_only_until_another_region_claimed_it() {
    let old: CollectState = serde_json::from_str(r#"{"schema_version":1,"notified":{"error:r1":"x"}}"#).unwrap();
    assert_eq!(old.region, None);
    assert!(old.adoptable_by("us-east-1") && old.adoptable_by("eu-west-1"));
    let claimed = CollectState { region: Some("us-east-1".into()), ..old };
    assert!(claimed.adoptable_by("us-east-1"));
    assert!(!claimed.adoptable_by("eu-west-1"));
    let json = serde_json::to_value(&claimed).unwrap();
    assert_eq!(json["region"], "us-east-1");
    assert_eq!(serde_json::from_value::<CollectState>(json).unwrap(), claimed);
    assert!(serde_json::to_value(CollectState::default()).unwrap().get("region").is_none());
}

fn error_row(report_id: &str, created: &str, reason: &str) -> ReportRow {
    let mut e = row(report_id, "ami-1", created, 0);
    e.state = "error".into();
    e.state_reason = Some(reason.into());
    e
}

#[test]
fn a_streak_of_failed_reports_is_news_once_and_again_only_when_it_changes() {
    let mut s = CollectState::default();
    let mut news = Vec::new();
    for d in 1..=9 {
        news.extend(s.absorb(&error_row(&format!("r{d}"), &format!("2026-11-0{d}T00:00:00Z"), "boom")));
    }
    assert_eq!(news.len(), 1, "{news:?}");
    assert_eq!(news[0].key(), "error:ami-1:2026-11-01T00:00:00.000Z");
    let streak = &s.failing_reports()[0].1;
    assert_eq!((streak.reports, streak.since), (9, t("2026-11-01T00:00:00Z")));
    let changed = s.absorb(&error_row("r10", "2026-11-10T00:00:00Z", "other"));
    assert!(matches!(&changed[..], [News::ReportError { reason: Some(r), .. }] if r == "other"));
    s.absorb(&row("r11", "ami-1", "2026-11-11T00:00:00Z", 0));
    assert!(s.failing_reports().is_empty(), "an available report ends the streak");
    assert_eq!(s.absorb(&error_row("r12", "2026-11-12T00:00:00Z", "other")).len(), 1, "a new streak is news");
}

#[test]
fn an_announced_candidate_whose_evidence_goes_stale_is_news_once() {
    let mut s = CollectState::default();
    let amis = vec![ami("ami-1")];
    let cand = verdicts(vec![verdict("ami-1", Kind::Candidate, Some("2026-11-01T00:00:00Z"), CANDIDATE)]);
    s.record_verdicts(&cand, &amis, t("2026-12-01T00:00:00Z"));
    let stale = verdicts(vec![verdict("ami-1", Kind::Unknown, None, &[Reason::EvidenceStale])]);
    let n = s.record_verdicts(&stale, &amis, t("2026-12-05T00:00:00Z"));
    assert!(matches!(&n[..], [News::EvidenceStale { image_id, .. }] if image_id == "ami-1"));
    assert_eq!(s.enqueue(n.clone()), 1);
    assert_eq!(s.enqueue(n), 0, "the same stale evidence is not news twice");
    let never = verdicts(vec![verdict("ami-2", Kind::Unknown, None, &[Reason::EvidenceStale])]);
    assert!(s.record_verdicts(&never, &[ami("ami-2")], t("2026-12-05T00:00:00Z")).is_empty());
}

#[test]
fn an_announced_candidate_a_member_lost_sight_of_is_no_longer_confirmed_but_a_missing_member_is_news_once() {
    let mut s = CollectState::default();
    let amis = vec![ami("ami-1")];
    let cand = verdicts(vec![verdict("ami-1", Kind::Candidate, Some("2026-11-01T00:00:00Z"), CANDIDATE)]);
    s.record_verdicts(&cand, &amis, t("2026-12-01T00:00:00Z"));
    let missing = verdicts(vec![verdict("ami-1", Kind::Unknown, None, &[Reason::MemberProbeMissing])]);
    let per_ami = s.record_verdicts(&missing, &amis, t("2026-12-02T00:00:00Z"));
    assert!(per_ami.is_empty(), "a missing member is announced once per gap (member_gaps), not per AMI");
    let lost = verdicts(vec![verdict("ami-1", Kind::Unknown, None, &[Reason::MemberLostSight])]);
    let n = s.record_verdicts(&lost, &amis, t("2026-12-03T00:00:00Z"));
    assert!(
        matches!(&n[..], [News::EvidenceStale { image_id, member_probe_missing: true, .. }] if image_id == "ami-1"),
        "{n:?}"
    );
    let saved: News = serde_json::from_str(&serde_json::to_string(&n[0]).unwrap()).unwrap();
    assert_eq!(saved, n[0]);
    let before = r#"{"kind":"evidence_stale","image_id":"ami-1","name":"x","candidate_since":"2026-12-01T00:00:00.000Z","newest_zero_report":null}"#;
    let loaded: News = serde_json::from_str(before).expect("an outbox saved before the field loads");
    assert!(matches!(loaded, News::EvidenceStale { member_probe_missing: false, .. }));
}

#[test]
fn amis_without_a_recent_report_of_any_state_are_gaps() {
    let now = t("2026-12-10T00:00:00Z");
    let (old, fresh, young) = (ami("ami-old"), ami("ami-fresh"), ami("ami-young"));
    let young = Ami { creation_date: Some(now - Duration::hours(30)), ..young };
    let obs = |h: i64| vec![Observation::new(now - Duration::hours(h), ObservedState::Pending, 0, ResourceTypes::ALL)];
    let input = |a, history| AmiInput {
        ami: a,
        history,
        unused_since: None,
        owner: Default::default(),
        owner_history: vec![],
        members: Default::default(),
    };
    let inputs = [input(&old, obs(72)), input(&fresh, obs(20)), input(&young, vec![])];
    let gaps = report_gaps(&inputs, now, Duration::hours(48));
    assert!(matches!(&gaps[..], [News::NoRecentReport { image_id, .. }] if image_id == "ami-old"));
}

#[test]
fn only_a_run_at_or_after_the_newest_one_moves_the_state() {
    let mut s = CollectState::default();
    assert!(s.moved_by(t("2026-01-01T00:00:00Z")), "a new state moves with any run");
    s.latest_run = Some(t("2026-12-01T10:00:00Z"));
    assert!(s.moved_by(t("2026-12-01T10:00:00Z")) && s.moved_by(t("2026-12-01T11:00:00Z")));
    assert!(!s.moved_by(t("2026-12-01T09:59:59Z")), "a backfill leaves it alone");
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains(r#""latest_run":"2026-12-01T10:00:00.000Z""#), "{json}");
    assert_eq!(serde_json::from_str::<CollectState>(&json).unwrap(), s);
}

#[test]
fn new_candidates_are_those_announced_by_the_outbox_the_rest_stand() {
    let mut state = CollectState::default();
    let candidate = |id: &str| News::Candidate {
        image_id: id.into(),
        name: format!("name-{id}"),
        image_created: None,
        unused_since: t("2026-01-01T00:00:00Z"),
        snapshot_size_gib: 8,
        has_billing_codes: false,
        reasons: vec![],
        not_checked: vec![],
        deregistration_protected: false,
    };
    state.enqueue([candidate("ami-new")]);
    let candidates = ["ami-old".to_string(), "ami-new".to_string()].into_iter().collect();
    let (new, standing) = state.new_and_standing(&candidates);
    assert_eq!((new, standing), (vec!["ami-new".to_string()], vec!["ami-old".to_string()]));
}
