use super::*;
use crate::digest::compute::tests::ri_row;
use crate::fixtures::t;

fn ctx() -> RiContext {
    RiContext { owner_account_id: "123456789012".into(), region: "eu-west-1".into(), now: t("2026-11-30T08:00:00Z") }
}

#[test]
fn periods_are_dates_with_an_exclusive_end_and_the_1st_takes_the_previous_month() {
    let [week, month] = ri_periods(t("2026-11-30T08:00:00Z"));
    assert_eq!((week.start.to_string(), week.end.to_string()), ("2026-11-23".into(), "2026-11-30".into()));
    assert_eq!((month.start.to_string(), month.end.to_string()), ("2026-11-01".into(), "2026-11-30".into()));
    let [_, first] = ri_periods(t("2026-12-01T08:00:00Z"));
    assert_eq!((first.start.to_string(), first.end.to_string()), ("2026-11-01".into(), "2026-12-01".into()));
    let [_, january] = ri_periods(t("2027-01-01T00:00:00Z"));
    assert_eq!(january.start.to_string(), "2026-12-01");
}

#[test]
fn cost_explorer_strings_become_typed_rows() {
    let attributes: BTreeMap<String, String> = [
        ("accountId", "111122223333"),
        ("accountName", "payments"),
        ("instanceType", "m5.large"),
        ("region", "eu-west-1"),
        ("platform", "Linux/UNIX"),
        ("numberOfInstances", "2"),
        ("endDateTime", "2027-01-15T00:00:00.000Z"),
        ("subscriptionId", "sub-attr"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let group = CeGroup {
        value: Some("sub-1".into()),
        attributes,
        utilization_percentage: Some("45.5".into()),
        purchased_hours: Some("336".into()),
        total_actual_hours: Some("152.88".into()),
        unused_hours: Some("183.12".into()),
        net_ri_savings: Some("-12.345".into()),
    };
    let odd = CeGroup { value: None, utilization_percentage: Some("NaN".into()), ..CeGroup::default() };
    let [week, _] = ri_periods(ctx().now);
    let rows = ri_rows(&week, &[group, odd], &ctx());
    assert_eq!(rows.len(), 1, "a group without a subscription id is skipped");
    let j = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(j["period"], "last_7_days");
    assert_eq!(j["subscription_id"], "sub-1");
    assert_eq!(j["utilization_percentage"], 45.5);
    assert_eq!(j["net_ri_savings"], -12.345);
    assert_eq!(j["number_of_instances"], 2);
    assert_eq!(j["end_date_time"], "2027-01-15T00:00:00.000Z");
    assert_eq!((j["period_start"].as_str(), j["period_end"].as_str()), (Some("2026-11-23"), Some("2026-11-30")));
    assert_eq!((j["account_name"].as_str(), j["reservation_region"].as_str()), (Some("payments"), Some("eu-west-1")));
    assert_eq!(serde_json::from_value::<RiRow>(j).unwrap(), rows[0]);
}

#[test]
fn under_threshold_first_then_ending_soon_then_the_rest() {
    let now = ctx().now;
    let rows = vec![
        ri_row(RiPeriod::Last7Days, "a-fine", 95.0, "2027-06-01T00:00:00Z"),
        ri_row(RiPeriod::Last7Days, "b-ending-later", 99.0, "2026-12-20T00:00:00Z"),
        ri_row(RiPeriod::Last7Days, "c-ending", 99.0, "2026-12-05T00:00:00Z"),
        ri_row(RiPeriod::Last7Days, "d-low", 70.0, "2027-06-01T00:00:00Z"),
        ri_row(RiPeriod::Last7Days, "e-lowest", 10.0, "2026-12-02T00:00:00Z"),
        ri_row(RiPeriod::MonthToDate, "f-month-only", 50.0, "2026-11-01T00:00:00Z"),
        ri_row(RiPeriod::Last7Days, "g-exactly", 80.0, "2026-12-30T09:00:00Z"),
    ];
    let listed = reservations(&rows, now, 80);
    let ids: Vec<&str> = listed.iter().map(|r| r.subscription_id).collect();
    assert_eq!(ids, ["e-lowest", "f-month-only", "d-low", "c-ending", "b-ending-later", "a-fine", "g-exactly"]);
    assert!(listed[0].ending_soon && listed[0].under_threshold);
    assert!(!listed[1].ending_soon, "ended before now");
    assert!(!listed[6].under_threshold && !listed[6].ending_soon, "80% is not under 80%; 30 days and an hour away");
    let totals = RiTotals::of(&ReservationsPart::Collected { rows, complete: true }, now, 80);
    assert_eq!((totals.reservations, totals.under_threshold, totals.ending_soon), (7, 3, 3));
}

#[test]
fn refusals_that_mean_no_access_and_the_status_line() {
    for code in ["AccessDeniedException", "DataUnavailableException", "OptInRequired"] {
        assert!(is_no_ri_access(code), "{code}");
    }
    for code in ["LimitExceededException", "InvalidNextTokenException", "ThrottlingException", ""] {
        assert!(!is_no_ri_access(code), "{code}");
    }
    assert_eq!(ReservationsPart::Off.status(), "off");
    assert_eq!(ReservationsPart::NoAccess("AccessDeniedException".into()).status(), "no_access: AccessDeniedException");
    assert_eq!(ReservationsPart::Collected { rows: vec![], complete: false }.status(), "ok");
}
