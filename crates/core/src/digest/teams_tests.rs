use super::*;
use crate::digest::compute::tests::ctx;
use crate::digest::compute::{DigestContext, DigestInput, digest};
use crate::digest::ri::ReservationsPart;
use crate::fixtures::digest::{team_reports, week_verdicts};

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
        (
            plain.counts.candidates_standing,
            plain.counts.used_again,
            plain.counts.report_problems,
            plain.counts.snapshot_cost_usd_upper_bound
        ),
        (
            teamed.counts.candidates_standing,
            teamed.counts.used_again,
            teamed.counts.report_problems,
            teamed.counts.snapshot_cost_usd_upper_bound
        )
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
    assert_eq!(
        (a.counts.candidates_new, a.counts.candidates_standing, a.counts.snapshot_cost_usd_upper_bound),
        (1, 1, 1.0)
    );
    assert_eq!((a.counts.used_again, a.counts.report_problems, a.counts.versions_still_used), (1, 1, 0));
    assert_eq!((a.reservations, a.reservations_status.as_str()), (0, TEAM_RESERVATIONS_STATUS));
    let b = &s.teams[1].1;
    assert_eq!(
        (b.counts.candidates_new, b.counts.candidates_standing, b.counts.snapshot_cost_usd_upper_bound),
        (0, 1, 5.0)
    );
    assert_eq!((b.counts.used_again, b.counts.report_problems, b.counts.versions_still_used), (0, 0, 1));
    let account = &s.account;
    assert_eq!(
        (account.counts.candidates_standing, account.counts.used_again, account.counts.report_problems),
        (2, 2, 1)
    );
    assert_eq!(account.counts.snapshot_cost_usd_upper_bound, row.counts.snapshot_cost_usd_upper_bound);
    assert!(account.candidates.is_empty() && account.families.is_empty() && account.problems.is_empty());
    assert_eq!(account.used_again_amis.iter().map(|u| u.image_id.as_str()).collect::<Vec<_>>(), ["ami-flip"]);
    assert_eq!(s.numbers[1], TeamNumbers { team: "team-b".into(), counts: b.counts.clone() });
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
