use super::*;
use crate::core::digest::tests::{ctx, report, week_verdicts};
use crate::core::digest::{DigestContext, DigestInput, digest};
use crate::core::ri::ReservationsPart;

/// A report of the fixtures whose image carries `team=<value>`.
pub(crate) fn tagged(id: &str, image_id: &str, state: &str, created: &str, accounts: i64, team: &str) -> ReportRow {
    let mut r = report(id, image_id, state, created, accounts);
    r.image.as_mut().unwrap().tags.insert("team".into(), team.into());
    r
}

/// The fixtures' AMIs spread over two teams, one untagged, and reports that must not count.
pub(crate) fn team_reports() -> Vec<ReportRow> {
    vec![
        tagged("amiur-1", "ami-new", "available", "2026-11-29T01:00:00Z", 0, "team-a"),
        tagged("amiur-2", "ami-old", "available", "2026-11-25T01:00:00Z", 0, "team-x"),
        tagged("amiur-3", "ami-old", "available", "2026-11-28T01:00:00Z", 0, "team-b"),
        tagged("amiur-4", "ami-back", "available", "2026-11-28T01:00:00Z", 1, "team-a"),
        tagged("amiur-5", "app-v1", "available", "2026-11-28T01:00:00Z", 3, "team-b"),
        tagged("amiur-6", "ami-x", "error", "2026-11-27T01:00:00Z", 0, "team-a"),
        tagged("amiur-7", "ami-flip", "available", "2026-11-20T01:00:00Z", 0, "team-z"),
        tagged("amiur-8", "app-v2", "available", "2026-11-28T01:00:00Z", 9, ""),
    ]
}

pub(crate) fn team_ctx() -> DigestContext {
    DigestContext { route_tag: Some("team".into()), ..ctx() }
}

pub(crate) fn team_row() -> DigestRow {
    let input =
        DigestInput { verdicts: &week_verdicts(), reports: &team_reports(), reservations: &ReservationsPart::Off };
    digest(&input, &team_ctx())
}

#[test]
fn an_items_team_is_the_tag_of_its_newest_report_of_the_week() {
    let row = team_row();
    let teams = |items: Vec<(&str, Option<&str>)>| -> Vec<(String, Option<String>)> {
        items.into_iter().map(|(i, t)| (i.to_string(), t.map(str::to_string))).collect()
    };
    let candidates: Vec<_> = row.candidates.iter().map(|c| (c.image_id.clone(), c.team.clone())).collect();
    assert_eq!(candidates, teams(vec![("ami-new", Some("team-a")), ("ami-old", Some("team-b"))]));
    let used: Vec<_> = row.used_again_amis.iter().map(|u| (u.image_id.clone(), u.team.clone())).collect();
    assert_eq!(used, teams(vec![("ami-back", Some("team-a")), ("ami-flip", None)]), "a report before the week");
    let families: Vec<_> = row.families.iter().map(|f| (f.image_id.clone(), f.team.clone())).collect();
    assert_eq!(families, teams(vec![("app-v1", Some("team-b")), ("ami-new", Some("team-a"))]));
    assert_eq!(row.problems[0].team.as_deref(), Some("team-a"), "the problem report's own tags");
}

#[test]
fn without_route_tag_no_item_has_a_team_and_the_numbers_do_not_move() {
    let input =
        DigestInput { verdicts: &week_verdicts(), reports: &team_reports(), reservations: &ReservationsPart::Off };
    let plain = digest(&input, &ctx());
    assert!(plain.candidates.iter().all(|c| c.team.is_none()));
    assert!(plain.problems.iter().all(|p| p.team.is_none()));
    let teamed = team_row();
    assert_eq!(
        (plain.candidates_standing, plain.used_again, plain.report_problems, plain.snapshot_cost_usd_upper_bound),
        (teamed.candidates_standing, teamed.used_again, teamed.report_problems, teamed.snapshot_cost_usd_upper_bound)
    );
}

#[test]
fn each_team_gets_its_items_and_recomputed_counts_the_account_the_rest_and_the_totals() {
    let row = team_row();
    let s = split(&row, 0.05);
    let names: Vec<&str> = s.teams.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, ["team-a", "team-b"]);
    let a = &s.teams[0].1;
    assert_eq!(a.candidates.iter().map(|c| c.image_id.as_str()).collect::<Vec<_>>(), ["ami-new"]);
    assert_eq!((a.candidates_new, a.candidates_standing, a.snapshot_cost_usd_upper_bound), (1, 1, 1.0));
    assert_eq!((a.used_again, a.report_problems, a.versions_still_used), (1, 1, 0));
    assert_eq!((a.reservations, a.reservations_status.as_str()), (0, TEAM_RESERVATIONS_STATUS));
    let b = &s.teams[1].1;
    assert_eq!((b.candidates_new, b.candidates_standing, b.snapshot_cost_usd_upper_bound), (0, 1, 5.0));
    assert_eq!((b.used_again, b.report_problems, b.versions_still_used), (0, 0, 1));
    let account = &s.account;
    assert_eq!((account.candidates_standing, account.used_again, account.report_problems), (2, 2, 1));
    assert_eq!(account.snapshot_cost_usd_upper_bound, row.snapshot_cost_usd_upper_bound);
    assert!(account.candidates.is_empty() && account.families.is_empty() && account.problems.is_empty());
    assert_eq!(account.used_again_amis.iter().map(|u| u.image_id.as_str()).collect::<Vec<_>>(), ["ami-flip"]);
    assert_eq!(s.numbers[1], TeamNumbers::of("team-b", b));
}

#[test]
fn every_item_is_in_exactly_one_message() {
    let row = team_row();
    let s = split(&row, 0.05);
    let rows: Vec<&DigestRow> = s.teams.iter().map(|(_, r)| r).chain([&s.account]).collect();
    let total = |f: fn(&DigestRow) -> usize| rows.iter().map(|r| f(r)).sum::<usize>();
    assert_eq!(total(|r| r.candidates.len()), row.candidates.len());
    assert_eq!(total(|r| r.used_again_amis.len()), row.used_again_amis.len());
    assert_eq!(total(|r| r.families.len()), row.families.len());
    assert_eq!(total(|r| r.problems.len()), row.problems.len());
}

#[test]
fn teams_beyond_the_bound_stay_in_the_account_message() {
    let mut row = team_row();
    let template = row.candidates[0].clone();
    row.candidates = (0..MAX_TEAM_MESSAGES + 2)
        .map(|i| DigestCandidate { image_id: format!("ami-{i}"), team: Some(format!("t{i:03}")), ..template.clone() })
        .collect();
    let s = split(&row, 0.05);
    assert_eq!(s.teams.len(), MAX_TEAM_MESSAGES);
    assert_eq!(s.teams.last().unwrap().0, format!("t{:03}", MAX_TEAM_MESSAGES - 1), "name order");
    let rest: Vec<_> = s.account.candidates.iter().filter_map(|c| c.team.as_deref()).collect();
    let (first, second) = (MAX_TEAM_MESSAGES, MAX_TEAM_MESSAGES + 1);
    assert_eq!(rest, [format!("t{first:03}"), format!("t{second:03}")]);
}

#[test]
fn the_progress_names_the_days_messages_and_forgets_another_day() {
    let day: NaiveDate = "2026-11-30".parse().unwrap();
    let mut p = DigestProgress::of_day(None, day);
    p.mark(Some("team-a"));
    p.mark(None);
    p.mark(Some("team-a"));
    assert_eq!(
        serde_json::to_value(&p).unwrap(),
        serde_json::json!({"digest_date": "2026-11-30", "published": ["team-a", null]})
    );
    assert!(p.is_published(None) && p.is_published(Some("team-a")) && !p.is_published(Some("team-b")));
    let kept = DigestProgress::of_day(Some(p.clone()), day);
    assert_eq!(kept, p);
    let next_week = DigestProgress::of_day(Some(p), "2026-12-07".parse().unwrap());
    assert!(next_week.published.is_empty());
}

#[test]
fn an_older_row_without_teams_still_reads() {
    let mut j = serde_json::to_value(team_row()).unwrap();
    for list in ["candidates", "used_again_amis", "families", "problems"] {
        for item in j[list].as_array_mut().unwrap() {
            item.as_object_mut().unwrap().remove("team");
        }
    }
    let row: DigestRow = serde_json::from_value(j).unwrap();
    assert!(row.candidates.iter().all(|c| c.team.is_none()));
}
