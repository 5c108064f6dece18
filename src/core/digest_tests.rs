use std::collections::BTreeMap;

use super::*;
use crate::core::records::ImageRow;
use crate::core::ri::{RiPeriod, RiRow};

pub(crate) fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub(crate) const NOW: &str = "2026-11-30T08:00:00Z";

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

/// A verdicts row of the run at `at`.
pub(crate) fn verdict(
    at: &str,
    image_id: &str,
    kind: &str,
    gib: i64,
    group: Option<&str>,
    created: &str,
) -> VerdictRow {
    VerdictRow {
        schema_version: 1,
        evaluated_at: t(at),
        owner_account_id: "123456789012".into(),
        region: "eu-west-1".into(),
        image_id: image_id.into(),
        name: format!("{image_id}-name"),
        verdict: kind.into(),
        reasons: vec![if kind == "in_use" { "used_in_other_accounts" } else { "unused_for_window" }.into()],
        image_creation_date: Some(t(created)),
        age_days: Some(100),
        unused_since: None,
        days_unused: (kind == "candidate").then_some(35),
        reports_in_window: 30,
        zero_usage_reports: 30,
        latest_report_id: None,
        latest_total_usage: Some(if kind == "in_use" { 4 } else { 0 }),
        owner_references: vec![],
        last_launched_time: None,
        group_value: group.map(str::to_string),
        snapshot_size_gib_total: gib,
        estimated_snapshot_usd_month: gib as f64 * 0.05,
        has_billing_codes: false,
        unused_min_days: 30,
        min_reports: 3,
        checked: vec![],
        not_checked: vec![],
        newest_zero_usage_report: None,
        max_evidence_age_hours: Some(48),
        owner_last_used: None,
        deregistration_protection: None,
        deprecation_time: None,
        image_allowed: None,
        source_image_id: None,
        member_references: vec![],
    }
}

pub(crate) fn report(id: &str, image_id: &str, state: &str, created: &str, accounts: i64) -> ReportRow {
    ReportRow {
        schema_version: 1,
        report_id: id.into(),
        image_id: image_id.into(),
        owner_account_id: "123456789012".into(),
        region: "eu-west-1".into(),
        state: state.into(),
        state_reason: (state == "error").then(|| "Internal error".to_string()),
        resource_types: vec![],
        account_ids: vec![],
        report_creation_time: t(created),
        report_expiration_time: t(created) + Duration::days(30),
        tags: BTreeMap::new(),
        image: Some(ImageRow {
            name: format!("{image_id}-name"),
            description: None,
            creation_date: None,
            state: "available".into(),
            architecture: None,
            platform_details: None,
            usage_operation: None,
            tags: BTreeMap::new(),
            billing_products: vec![],
            product_codes: vec![],
            block_devices: vec![],
            snapshot_size_gib_total: 8,
        }),
        entry_count: accounts,
        account_count: accounts,
        total_usage: accounts * 2,
        instance_usage: accounts * 2,
        launch_template_usage: 0,
        collected_at: t(created),
    }
}

/// The week of the fixtures: a baseline before it (ami-old candidate, ami-back
/// candidate), two runs in it, and a run after `now` that must be ignored.
pub(crate) fn week_verdicts() -> Vec<VerdictRow> {
    let created = "2026-01-01T00:00:00Z";
    let newer = "2026-06-01T00:00:00Z";
    vec![
        verdict("2026-11-23T07:00:00Z", "ami-old", "candidate", 100, None, created),
        verdict("2026-11-23T07:00:00Z", "ami-back", "candidate", 10, None, created),
        verdict("2026-11-23T07:00:00Z", "ami-new", "unknown", 20, None, created),
        verdict("2026-11-26T07:00:00Z", "ami-old", "candidate", 100, None, created),
        verdict("2026-11-26T07:00:00Z", "ami-back", "in_use", 10, None, created),
        verdict("2026-11-26T07:00:00Z", "ami-flip", "candidate", 5, None, created),
        verdict("2026-11-30T07:00:00Z", "ami-old", "candidate", 100, None, created),
        verdict("2026-11-30T07:00:00Z", "ami-back", "in_use", 10, None, created),
        verdict("2026-11-30T07:00:00Z", "ami-flip", "in_use", 5, None, created),
        verdict("2026-11-30T07:00:00Z", "ami-new", "candidate", 20, Some("app"), created),
        verdict("2026-11-30T07:00:00Z", "app-v1", "in_use", 8, Some("app"), "2026-03-01T00:00:00Z"),
        verdict("2026-11-30T07:00:00Z", "app-v2", "in_use", 8, Some("app"), newer),
        verdict("2026-11-30T09:00:00Z", "ami-late", "candidate", 999, None, created),
    ]
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
    assert_eq!((row.candidates_standing, row.candidates_new), (2, 1));
    let again: Vec<&str> = row.used_again_amis.iter().map(|u| u.image_id.as_str()).collect();
    assert_eq!(again, ["ami-back", "ami-flip"], "candidates of the baseline or of the week, in use now");
    assert_eq!(row.used_again, 2);
    assert_eq!(row.snapshot_cost_usd_upper_bound, 6.0, "(100 + 20) GiB x $0.05");
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
    assert_eq!(row.versions_still_used, 1);
}

#[test]
fn report_problems_are_the_weeks_reports_in_error() {
    let row = run(&week_verdicts(), &week_reports());
    assert_eq!(row.report_problems, 1, "amiur-5 is before the week");
    assert_eq!(row.problems[0].report_id, "amiur-4");
    assert_eq!(row.problems[0].state_reason.as_deref(), Some("Internal error"));
    assert_eq!(row.problems[0].name.as_deref(), Some("ami-x-name"));
}

#[test]
fn without_a_baseline_every_candidate_is_new_and_without_verdicts_nothing_stands() {
    let in_week: Vec<VerdictRow> =
        week_verdicts().into_iter().filter(|v| v.evaluated_at > t("2026-11-24T00:00:00Z")).collect();
    let row = run(&in_week, &[]);
    assert_eq!((row.candidates_standing, row.candidates_new), (2, 2));
    let empty = run(&[], &[]);
    assert_eq!((empty.verdicts_evaluated_at, empty.candidates_standing, empty.used_again), (None, 0, 0));
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
