use super::*;
use crate::fixtures::t;

fn used_again(image_id: &str) -> News {
    News::UsedAgain { image_id: image_id.into(), name: image_id.into(), total_usage: 1, reasons: vec![] }
}

fn error(image_id: &str) -> News {
    News::ReportError {
        report_id: format!("r-{image_id}"),
        image_id: image_id.into(),
        reason: None,
        since: Some(t("2026-11-22T00:00:00Z")),
    }
}

fn routes(pairs: &[(&str, Option<&str>, Option<&str>)]) -> BTreeMap<String, Route> {
    pairs
        .iter()
        .map(|(id, group, team)| {
            (id.to_string(), Route { group: group.map(str::to_string), team: team.map(str::to_string) })
        })
        .collect()
}

#[test]
fn routes_come_from_the_amis_tags() {
    let ami = |id: &str, tags: &[(&str, &str)]| Ami {
        image_id: id.into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Ami::default()
    };
    let amis =
        [ami("ami-1", &[("Family", "app"), ("Team", "payments")]), ami("ami-2", &[("Team", "")]), ami("ami-3", &[])];
    let r = routes_of(&amis, Some("Family"), Some("Team"));
    assert_eq!(r, routes(&[("ami-1", Some("app"), Some("payments"))]), "empty values and untagged AMIs route nowhere");
    assert!(routes_of(&amis, None, None).is_empty());
}

#[test]
fn one_message_per_team_then_the_untagged_one_each_news_once() {
    let outbox = vec![
        used_again("ami-p"),
        error("ami-s"),
        used_again("ami-none"),
        error("ami-p"),
        News::CandidatesWithheld {
            withheld: 3,
            selected: 4,
            limit_percent: 50,
            day: t("2026-11-22T00:00:00Z").date_naive(),
        },
    ];
    let r = routes(&[
        ("ami-p", None, Some("payments")),
        ("ami-s", Some("base"), Some("search")),
        ("ami-none", Some("base"), None),
    ]);
    let b = batches(&outbox, &r, true);
    assert_eq!(
        b,
        [
            Batch { team: Some("payments".into()), news: vec![0, 3] },
            Batch { team: Some("search".into()), news: vec![1] },
            Batch { team: None, news: vec![2, 4] },
        ]
    );
    assert_eq!(
        batches(&outbox, &r, false),
        [Batch { team: None, news: vec![0, 1, 2, 3, 4] }],
        "no ROUTE_TAG: one message"
    );
}

#[test]
fn teams_beyond_the_bound_go_in_the_untagged_message() {
    let outbox: Vec<News> = (0..MAX_TEAM_MESSAGES + 3).map(|i| used_again(&format!("ami-{i:03}"))).collect();
    let pairs: Vec<(String, String)> =
        (0..outbox.len()).map(|i| (format!("ami-{i:03}"), format!("team-{i:03}"))).collect();
    let r: BTreeMap<String, Route> =
        pairs.iter().map(|(id, team)| (id.clone(), Route { group: None, team: Some(team.clone()) })).collect();
    let b = batches(&outbox, &r, true);
    assert_eq!(b.len(), MAX_TEAM_MESSAGES + 1);
    assert_eq!(b.last().unwrap(), &Batch { team: None, news: vec![50, 51, 52] });
    let total: usize = b.iter().map(|b| b.news.len()).sum();
    assert_eq!(total, outbox.len(), "nothing sent twice, nothing left out");
}

#[test]
fn attributes_name_the_kinds_groups_account_and_team() {
    let outbox = vec![used_again("ami-s"), error("ami-s"), error("ami-x")];
    let r = routes(&[("ami-s", Some("base"), Some("search"))]);
    let a = MessageAttributes::of_news(&outbox, &r, "123456789012", Some("search"));
    assert_eq!(
        a.entries(),
        [
            ("kind", "String.Array", r#"["report_problem","used_again"]"#.to_string()),
            ("account", "String", "123456789012".to_string()),
            ("group", "String.Array", r#"["base"]"#.to_string()),
            ("team", "String", "search".to_string()),
        ]
    );
    let plain = MessageAttributes::of_news(&outbox[2..], &r, "123456789012", None);
    assert_eq!(plain.entries().iter().map(|e| e.0).collect::<Vec<_>>(), ["kind", "account"], "no group, no team");
}

#[test]
fn the_group_attribute_stays_bounded() {
    let groups: BTreeSet<String> = (0..2000).map(|i| format!("family-{i:05}")).collect();
    let a = MessageAttributes { kinds: ["digest".to_string()].into(), account: "1".into(), groups, team: None };
    let group = a.entries().into_iter().find(|e| e.0 == "group").unwrap().2;
    assert!(group.len() <= MAX_GROUP_ATTRIBUTE_BYTES, "{}", group.len());
    assert!(serde_json::from_str::<Vec<String>>(&group).unwrap().len() > 100);
}

#[test]
fn every_news_variant_has_its_own_kind() {
    let day = t("2026-11-22T00:00:00Z");
    let all = [
        News::Candidate {
            image_id: "a".into(),
            name: "a".into(),
            image_created: None,
            unused_since: day,
            snapshot_size_gib: 1,
            has_billing_codes: false,
            reasons: vec![],
            not_checked: vec![],
            deregistration_protected: false,
        },
        used_again("a"),
        News::CandidatesWithheld { withheld: 1, selected: 1, limit_percent: 1, day: day.date_naive() },
        error("a"),
        News::EvidenceStale {
            image_id: "a".into(),
            name: "a".into(),
            candidate_since: day,
            newest_zero_report: None,
            member_probe_missing: false,
        },
        News::MalformedReport { report_id: None, image_id: None, problem: "x".into() },
        News::NoRecentReport { image_id: "a".into(), name: "a".into(), newest_report: None },
        News::PendingTooLong { report_id: "r".into(), image_id: "a".into(), created: day },
        News::ExpiringUnarchived { report_id: "r".into(), image_id: "a".into(), state: "pending".into(), expires: day },
    ];
    let kinds: BTreeSet<&str> = all.iter().map(kind_of).collect();
    assert_eq!(kinds.len(), all.len());
    assert!(!kinds.contains(DIGEST_KIND));
}

#[test]
fn the_state_keeps_the_routes_its_outbox_needs_and_marks_one_teams_news() {
    use crate::state::collect_state::CollectState;
    let mut s = CollectState { outbox: vec![used_again("ami-queued"), error("ami-gone")], ..CollectState::default() };
    s.routes = routes(&[("ami-queued", None, Some("payments")), ("ami-old", None, Some("search"))]);
    s.remember_routes(routes(&[("ami-new", Some("app"), None)]));
    assert_eq!(s.routes, routes(&[("ami-new", Some("app"), None), ("ami-queued", None, Some("payments"))]));
    let key: BTreeSet<String> = [s.outbox[0].key()].into();
    s.mark_published_keys(&key, t("2026-11-22T02:00:00Z"));
    assert_eq!(s.outbox, [error("ami-gone")]);
    assert!(s.notified.contains_key("used-again:ami-queued"));
    let old: CollectState = serde_json::from_str(r#"{"schema_version":1,"outbox":[]}"#).unwrap();
    assert!(old.routes.is_empty(), "a state of an earlier version loads without routes");
    assert!(!serde_json::to_string(&old).unwrap().contains("routes"));
}
