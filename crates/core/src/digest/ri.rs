//! Reserved Instance utilization (the digest's opt-in part): the two periods asked of
//! Cost Explorer, its answers (numbers as strings) turned into typed rows of the
//! `ri_utilization` dataset (a **contract**: its Glue table reads them), and which
//! reservations the digest flags: used less than `RI_UTILIZATION_ALERT_PERCENT` over
//! the last 7 days (month to date when the week has no figure), or ending within
//! [`ENDING_SOON_DAYS`].

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::archive::SCHEMA_VERSION;
use crate::timestamp;

/// A reservation ending this close to the run is listed as ending soon.
pub const ENDING_SOON_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RiPeriod {
    #[serde(rename = "last_7_days")]
    Last7Days,
    #[serde(rename = "month_to_date")]
    MonthToDate,
}

/// One period as Cost Explorer takes it: dates, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodRange {
    pub period: RiPeriod,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// The last 7 days `[today − 7, today)` and the month to date `[1st, today)`; on the
/// 1st, the month to date is the whole previous month (an empty period is refused).
pub fn ri_periods(now: DateTime<Utc>) -> [PeriodRange; 2] {
    let today = now.date_naive();
    let month_start = today.with_day(1).unwrap_or(today);
    let mtd_start =
        if month_start == today { (today - Duration::days(1)).with_day(1).unwrap_or(today) } else { month_start };
    [
        PeriodRange { period: RiPeriod::Last7Days, start: today - Duration::days(7), end: today },
        PeriodRange { period: RiPeriod::MonthToDate, start: mtd_start, end: today },
    ]
}

/// Cost Explorer's refusals that mean "this account cannot see reservations here" (no
/// permission, Cost Explorer not enabled or not subscribed, no data for the period):
/// the digest says so in one line and the run succeeds. Any other error fails the run.
pub fn is_no_ri_access(code: &str) -> bool {
    const CODES: [&str; 6] = [
        "AccessDeniedException",
        "AccessDenied",
        "UnauthorizedOperation",
        "DataUnavailableException",
        "OptInRequired",
        "SubscriptionRequiredException",
    ];
    CODES.contains(&code)
}

/// The most Cost Explorer requests one digest makes (both periods, every page).
pub const MAX_COST_EXPLORER_CALLS: usize = 10;

/// One `UtilizationsByTime[].Groups[]` entry as Cost Explorer sends it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CeGroup {
    /// The group's `Value` (the subscription id under `GroupBy SUBSCRIPTION_ID`).
    pub value: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub utilization_percentage: Option<String>,
    pub purchased_hours: Option<String>,
    pub total_actual_hours: Option<String>,
    pub unused_hours: Option<String>,
    pub net_ri_savings: Option<String>,
}

/// One row of `ri_utilization/region=<region>/report_date=<digest_date>/ri_utilization.json.gz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiRow {
    pub schema_version: u32,
    pub digest_date: NaiveDate,
    pub period: RiPeriod,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub subscription_id: String,
    pub account_id: Option<String>,
    pub account_name: Option<String>,
    pub instance_type: Option<String>,
    pub reservation_region: Option<String>,
    pub platform: Option<String>,
    pub number_of_instances: Option<i64>,
    #[serde(with = "timestamp::option")]
    pub end_date_time: Option<DateTime<Utc>>,
    pub utilization_percentage: Option<f64>,
    pub purchased_hours: Option<f64>,
    pub total_actual_hours: Option<f64>,
    pub unused_hours: Option<f64>,
    pub net_ri_savings: Option<f64>,
    pub owner_account_id: String,
    pub region: String,
}

/// Who and when the rows are about (stamped on each).
#[derive(Debug, Clone, PartialEq)]
pub struct RiContext {
    pub owner_account_id: String,
    pub region: String,
    pub now: DateTime<Utc>,
}

/// A Cost Explorer number: finite decimals only; anything else is absent, never a guess.
fn number(s: &Option<String>) -> Option<f64> {
    s.as_deref()?.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

fn end_date(s: Option<&String>) -> Option<DateTime<Utc>> {
    let s = s?;
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).ok().or_else(|| {
        let day = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
        Some(day.and_hms_opt(0, 0, 0)?.and_utc())
    })
}

/// Typed rows of one period's groups; a group without a subscription id is skipped.
pub fn ri_rows(range: &PeriodRange, groups: &[CeGroup], ctx: &RiContext) -> Vec<RiRow> {
    groups.iter().filter_map(|g| row_of(range, g, ctx)).collect()
}

fn row_of(range: &PeriodRange, g: &CeGroup, ctx: &RiContext) -> Option<RiRow> {
    let attr = |k: &str| g.attributes.get(k).filter(|v| !v.is_empty()).cloned();
    let subscription_id = g.value.clone().filter(|v| !v.is_empty()).or_else(|| attr("subscriptionId"))?;
    Some(RiRow {
        schema_version: SCHEMA_VERSION,
        digest_date: ctx.now.date_naive(),
        period: range.period,
        period_start: range.start,
        period_end: range.end,
        subscription_id,
        account_id: attr("accountId"),
        account_name: attr("accountName"),
        instance_type: attr("instanceType"),
        reservation_region: attr("region"),
        platform: attr("platform"),
        number_of_instances: attr("numberOfInstances").and_then(|n| n.trim().parse().ok()),
        end_date_time: end_date(g.attributes.get("endDateTime")),
        utilization_percentage: number(&g.utilization_percentage),
        purchased_hours: number(&g.purchased_hours),
        total_actual_hours: number(&g.total_actual_hours),
        unused_hours: number(&g.unused_hours),
        net_ri_savings: number(&g.net_ri_savings),
        owner_account_id: ctx.owner_account_id.clone(),
        region: ctx.region.clone(),
    })
}

/// The digest's Reserved Instance part.
#[derive(Debug, Clone, PartialEq)]
pub enum ReservationsPart {
    /// `DIGEST_RESERVATIONS=off`.
    Off,
    /// Cost Explorer refused (no access, not enabled, no data): the error code.
    NoAccess(String),
    /// The rows of both periods; `complete` is false when paging stopped at the call cap.
    Collected { rows: Vec<RiRow>, complete: bool },
}

impl ReservationsPart {
    /// `off` | `ok` | `no_access: <reason>` (the digest row's `reservations_status`).
    pub fn status(&self) -> String {
        match self {
            ReservationsPart::Off => "off".into(),
            ReservationsPart::NoAccess(reason) => format!("no_access: {reason}"),
            ReservationsPart::Collected { .. } => "ok".into(),
        }
    }

    pub fn rows(&self) -> &[RiRow] {
        match self {
            ReservationsPart::Collected { rows, .. } => rows,
            _ => &[],
        }
    }
}

/// One reservation as the digest lists it: both periods' rows and its flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation<'a> {
    pub subscription_id: &'a str,
    pub last_7_days: Option<&'a RiRow>,
    pub month_to_date: Option<&'a RiRow>,
    pub under_threshold: bool,
    pub ending_soon: bool,
}

impl<'a> Reservation<'a> {
    /// The row describing the reservation (attributes are the same in both periods).
    pub fn row(&self) -> &'a RiRow {
        self.last_7_days.or(self.month_to_date).expect("a reservation has a row")
    }

    /// The utilization the flag is about: the last 7 days, else the month to date.
    pub fn utilization(&self) -> Option<f64> {
        let of = |row: Option<&RiRow>| row.and_then(|r| r.utilization_percentage);
        of(self.last_7_days).or_else(|| of(self.month_to_date))
    }
}

/// Every reservation, under-threshold ones first (least used first), then those ending
/// soon (soonest first), then the rest by subscription id.
pub fn reservations(rows: &[RiRow], now: DateTime<Utc>, threshold_percent: u32) -> Vec<Reservation<'_>> {
    let mut by_id: BTreeMap<&str, (Option<&RiRow>, Option<&RiRow>)> = BTreeMap::new();
    for row in rows {
        let slot = by_id.entry(row.subscription_id.as_str()).or_default();
        match row.period {
            RiPeriod::Last7Days => slot.0 = Some(row),
            RiPeriod::MonthToDate => slot.1 = Some(row),
        }
    }
    let soon = now + Duration::days(ENDING_SOON_DAYS);
    let mut out: Vec<Reservation> = by_id
        .into_iter()
        .map(|(id, (week, month))| {
            let mut r = Reservation {
                subscription_id: id,
                last_7_days: week,
                month_to_date: month,
                under_threshold: false,
                ending_soon: false,
            };
            r.under_threshold = r.utilization().is_some_and(|u| u < f64::from(threshold_percent));
            r.ending_soon = r.row().end_date_time.is_some_and(|end| end >= now && end <= soon);
            r
        })
        .collect();
    out.sort_by(|a, b| order_key(a).partial_cmp(&order_key(b)).unwrap_or(std::cmp::Ordering::Equal));
    out
}

fn order_key<'a>(r: &Reservation<'a>) -> (u8, f64, i64, &'a str) {
    let rank = if r.under_threshold {
        0
    } else if r.ending_soon {
        1
    } else {
        2
    };
    let utilization = if r.under_threshold { r.utilization().unwrap_or(0.0) } else { 0.0 };
    let end = if r.ending_soon { r.row().end_date_time.map_or(i64::MAX, |e| e.timestamp()) } else { 0 };
    (rank, utilization, end, r.subscription_id)
}

/// The digest row's reservation counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RiTotals {
    pub reservations: usize,
    pub under_threshold: usize,
    pub ending_soon: usize,
}

impl RiTotals {
    pub fn of(part: &ReservationsPart, now: DateTime<Utc>, threshold_percent: u32) -> Self {
        let listed = reservations(part.rows(), now, threshold_percent);
        RiTotals {
            reservations: listed.len(),
            under_threshold: listed.iter().filter(|r| r.under_threshold).count(),
            ending_soon: listed.iter().filter(|r| r.ending_soon).count(),
        }
    }
}

#[cfg(test)]
#[path = "ri_tests.rs"]
mod tests;
