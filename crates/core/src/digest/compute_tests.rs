use super::*;
use crate::digest::ri::{RiPeriod, RiRow};
use crate::fixtures::digest::{NOW, report, week_verdicts};
use crate::fixtures::t;

pub(crate) fn ctx() -> DigestContext {
    DigestContext {
        owner_account_id: "123456789012".into(),
        region: "eu-west-1".into(),
        now: t(NOW),
        snapshot_gb_month_usd: 0.05,
        ri_alert_percent: 80,
        route_tag: None,
    }
}

fn week_reports() -> Vec<ReportRow> {
    vec![
        report("amiur-1", "app-v1", "available", "2026-11-25T01:00:00Z", 3),
        report("amiur-2", "app-v1", "available", "2026-11-29T01:00:00Z", 2),
        report("amiur-3", "app-v2", "available", "2026-11-29T01:00:00Z", 9),
        report("amiur-4", "ami-x", "error", "2026-11-27T01:00:00Z", 0),
        report("amiur-5", "ami-x", "error", "2026-11-20T01:00:00Z", 0),
    ]
}

fn run(verdicts: &[VerdictRow], reports: &[ReportRow]) -> DigestRow {
    digest(&DigestInput { verdicts, reports, reservations: &ReservationsPart::Off }, &ctx())
}

#[test]
fn standing_new_and_used_again_follow_the_baseline_and_the_newest_object() {
    let row = run(&week_verdicts(), &week_reports());
    assert_eq!(row.verdicts_evaluated_at, Some(t("2026-11-30T07:00:00Z")));
    let ids: Vec<(&str, bool)> = row.candidates.iter().map(|c| (c.image_id.as_str(), c.new_this_week)).collect();
    assert_eq!(ids, [("ami-new", true), ("ami-old", false)], "new first; the run after now is ignored");
    assert_eq!((row.counts.candidates_standing, row.counts.candidates_new), (2, 1));
    let again: Vec<&str> = row.used_again_amis.iter().map(|u| u.image_id.as_str()).collect();
    assert_eq!(again, ["ami-back", "ami-flip"], "candidates of the baseline or of the week, in use now");
    assert_eq!(row.counts.used_again, 2);
    assert_eq!(row.counts.snapshot_cost_usd_upper_bound, 6.0, "(100 + 20) GiB x $0.05");
    assert_eq!(row.candidates[1].snapshot_usd_month, 5.0);
}

#[test]
fn families_count_accounts_of_each_older_versions_newest_report_of_the_week() {
    let row = run(&week_verdicts(), &week_reports());
    assert_eq!(row.families.len(), 2, "app-v1 and ami-new are older than app-v2");
    let v1 = &row.families[0];
    assert_eq!((v1.image_id.as_str(), v1.newest_image_id.as_str()), ("app-v1", "app-v2"));
    assert_eq!((v1.accounts, v1.total_usage), (Some(2), Some(4)), "the newest report (amiur-2), not amiur-1");
    assert_eq!(row.families[1].image_id, "ami-new");
    assert_eq!(row.families[1].accounts, None, "no report this week");
    assert_eq!(row.counts.versions_still_used, 1);
}

#[test]
fn report_problems_are_the_weeks_reports_in_error() {
    let row = run(&week_verdicts(), &week_reports());
    assert_eq!(row.counts.report_problems, 1, "amiur-5 is before the week");
    assert_eq!(row.problems[0].report_id, "amiur-4");
    assert_eq!(row.problems[0].state_reason.as_deref(), Some("Internal error"));
    assert_eq!(row.problems[0].name.as_deref(), Some("ami-x-name"));
}

#[test]
fn without_a_baseline_every_candidate_is_new_and_without_verdicts_nothing_stands() {
    let in_week: Vec<VerdictRow> =
        week_verdicts().into_iter().filter(|v| v.evaluated_at > t("2026-11-24T00:00:00Z")).collect();
    let row = run(&in_week, &[]);
    assert_eq!((row.counts.candidates_standing, row.counts.candidates_new), (2, 2));
    let empty = run(&[], &[]);
    assert_eq!((empty.verdicts_evaluated_at, empty.counts.candidates_standing, empty.counts.used_again), (None, 0, 0));
    assert_eq!(empty.reservations_status, "off");
}

#[test]
fn the_row_carries_the_contract_keys_and_round_trips() {
    let row = run(&week_verdicts(), &week_reports());
    let j = serde_json::to_value(&row).unwrap();
    for key in [
        "digest_date",
        "week_start",
        "week_end",
        "owner_account_id",
        "region",
        "generated_at",
        "candidates_new",
        "candidates_standing",
        "used_again",
        "report_problems",
        "snapshot_cost_usd_upper_bound",
        "reservations",
        "reservations_under_threshold",
        "reservations_ending_soon",
        "reservations_status",
        "candidates",
        "used_again_amis",
        "families",
        "problems",
    ] {
        assert!(j.get(key).is_some(), "{key} missing");
    }
    assert_eq!(j["digest_date"], "2026-11-30");
    assert_eq!(j["week_start"], "2026-11-23T08:00:00.000Z");
    assert_eq!(serde_json::from_value::<DigestRow>(j).unwrap(), row);
    let keys = ArchiveKeys { prefix: "ami-usage".into() };
    assert_eq!(
        digest_object(&keys, "eu-west-1", row.digest_date),
        "ami-usage/digests/region=eu-west-1/report_date=2026-11-30/digest.json.gz"
    );
    assert_eq!(
        ri_object(&keys, "eu-west-1", row.digest_date),
        "ami-usage/ri_utilization/region=eu-west-1/report_date=2026-11-30/ri_utilization.json.gz"
    );
}

#[test]
fn the_partitions_read_are_the_day_before_the_week_through_today() {
    let days = partition_days(t(NOW));
    assert_eq!(days.first().unwrap().to_string(), "2026-11-22");
    assert_eq!(days.last().unwrap().to_string(), "2026-11-30");
    assert_eq!(days.len(), 9);
}

pub(crate) fn ri_row(period: RiPeriod, id: &str, utilization: f64, end: &str) -> RiRow {
    RiRow {
        schema_version: 1,
        digest_date: t(NOW).date_naive(),
        period,
        period_start: "2026-11-23".parse().unwrap(),
        period_end: "2026-11-30".parse().unwrap(),
        subscription_id: id.into(),
        account_id: Some("111122223333".into()),
        account_name: Some("payments".into()),
        instance_type: Some("m5.large".into()),
        reservation_region: Some("eu-west-1".into()),
        platform: Some("Linux/UNIX".into()),
        number_of_instances: Some(2),
        end_date_time: Some(t(end)),
        utilization_percentage: Some(utilization),
        purchased_hours: Some(336.0),
        total_actual_hours: Some(336.0 * utilization / 100.0),
        unused_hours: Some(336.0 * (100.0 - utilization) / 100.0),
        net_ri_savings: Some(12.5),
        owner_account_id: "123456789012".into(),
        region: "eu-west-1".into(),
    }
}

#[test]
fn reservation_counts_come_from_the_collected_rows() {
    let rows = vec![
        ri_row(RiPeriod::Last7Days, "sub-low", 40.0, "2027-06-01T00:00:00Z"),
        ri_row(RiPeriod::MonthToDate, "sub-low", 55.0, "2027-06-01T00:00:00Z"),
        ri_row(RiPeriod::Last7Days, "sub-ending", 100.0, "2026-12-10T00:00:00Z"),
        ri_row(RiPeriod::Last7Days, "sub-fine", 95.0, "2027-06-01T00:00:00Z"),
    ];
    let part = ReservationsPart::Collected { rows, complete: true };
    let row = digest(&DigestInput { verdicts: &[], reports: &[], reservations: &part }, &ctx());
    assert_eq!((row.reservations, row.reservations_under_threshold, row.reservations_ending_soon), (3, 1, 1));
    assert_eq!(row.reservations_status, "ok");
    let refused = ReservationsPart::NoAccess("AccessDeniedException".into());
    let row = digest(&DigestInput { verdicts: &[], reports: &[], reservations: &refused }, &ctx());
    assert_eq!(row.reservations_status, "no_access: AccessDeniedException");
}
