//! The digest's lines: one per item, the same in the e-mail and in Slack.

use chrono::{DateTime, Utc};

use super::model::{DigestCandidate, DigestProblem, DigestRow, DigestUsedAgain, FamilyVersion};
use super::ri::Reservation;
use crate::alert::{clean, plural};

#[derive(Debug, Clone, PartialEq)]
pub struct DigestRenderContext {
    pub athena_database: String,
    pub athena_workgroup: String,
    pub archive_location: String,
    /// `DIGEST_LIST_LIMIT`: items per list before "… and N more".
    pub list_limit: usize,
    /// `RI_UTILIZATION_ALERT_PERCENT`.
    pub ri_alert_percent: u32,
}

pub(super) fn minute(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

pub(super) fn candidate_line(c: &DigestCandidate) -> String {
    format!(
        "- {}  {}{}: unused {} days, snapshots {} GiB = at most ${:.2}/month{}{}",
        c.image_id,
        clean(&c.name),
        if c.new_this_week { " [new]" } else { "" },
        c.days_unused.map_or_else(|| "?".into(), |d| d.to_string()),
        c.snapshot_size_gib,
        c.snapshot_usd_month,
        c.group_value.as_deref().map_or_else(String::new, |g| format!(", family {}", clean(g))),
        if c.has_billing_codes { " ! billing codes" } else { "" }
    )
}

pub(super) fn used_again_line(u: &DigestUsedAgain) -> String {
    format!(
        "- {}  {}: {} ({} uses in the latest report)",
        u.image_id,
        clean(&u.name),
        clean(&u.reasons.join(", ")),
        u.latest_total_usage.map_or_else(|| "?".into(), |n| n.to_string())
    )
}

pub(super) fn family_line(f: &FamilyVersion) -> String {
    let accounts = match f.accounts {
        Some(n) => format!("still used by {}", plural(usize::try_from(n).unwrap_or(0), "account", "accounts")),
        None => "no report this week".into(),
    };
    format!(
        "- {}: {}  {}: {accounts}; newest is {}",
        clean(&f.group_value),
        f.image_id,
        clean(&f.name),
        f.newest_image_id
    )
}

pub(super) fn problem_line(p: &DigestProblem) -> String {
    format!(
        "- {} ({}{}) {}: {}",
        p.report_id,
        p.image_id,
        p.name.as_deref().map_or_else(String::new, |n| format!(" {}", clean(n))),
        p.report_creation_time.format("%Y-%m-%d"),
        clean(p.state_reason.as_deref().unwrap_or("no reason given"))
    )
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "?".into(), |v| format!("{v:.1}%"))
}

pub(super) fn reservation_line(r: &Reservation) -> String {
    let row = r.row();
    let text = |v: &Option<String>| v.as_deref().map_or_else(|| "?".to_string(), clean);
    let week = r.last_7_days;
    format!(
        "- {} {} x{} in {}, account {}{}: {} used over the last 7 days, {} month to date, {} unused hours, net RI savings ${}, ends {}{}{}",
        clean(r.subscription_id),
        text(&row.instance_type),
        row.number_of_instances.map_or_else(|| "?".into(), |n| n.to_string()),
        text(&row.reservation_region),
        text(&row.account_id),
        row.account_name.as_deref().map_or_else(String::new, |n| format!(" ({})", clean(n))),
        percent(week.and_then(|w| w.utilization_percentage)),
        percent(r.month_to_date.and_then(|m| m.utilization_percentage)),
        week.and_then(|w| w.unused_hours).map_or_else(|| "?".into(), |h| format!("{h:.0}")),
        week.and_then(|w| w.net_ri_savings).map_or_else(|| "?".into(), |s| format!("{s:.2}")),
        row.end_date_time.as_ref().map_or_else(|| "?".into(), |e| e.format("%Y-%m-%d").to_string()),
        if r.under_threshold { " [under threshold]" } else { "" },
        if r.ending_soon { " [ending soon]" } else { "" },
    )
}

/// Where the digest's full lists are: its own row (`digests`) and the RI rows.
pub(super) fn where_clause(row: &DigestRow) -> String {
    format!(
        "report_date = '{}' AND region = '{}' AND owner_account_id = '{}'",
        row.digest_date, row.region, row.owner_account_id
    )
}
