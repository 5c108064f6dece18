//! Rendering of the weekly digest (a **contract** like the alert's: people read it, and
//! Chatbot parses it). One SNS message, `MessageStructure=json`: `email` a plain-text
//! page, numbers first and then the lists, each cut at `DIGEST_LIST_LIMIT` with
//! "… and N more" and the Athena query that lists all; `default` an AWS Chatbot custom
//! notification. Both stay under the alert's limits (`alert::MAX_MESSAGE_BYTES`,
//! `alert::MAX_SUBJECT_CHARS`, no control characters). With `ROUTE_TAG`, a [`Page`] is
//! a team's message or the account message beside them (see [`super::digest_teams`]).

use chrono::{DateTime, Utc};

use super::alert::{Alert, MAX_MESSAGE_BYTES, MAX_SUBJECT_CHARS, clean};
use super::digest::{DigestCandidate, DigestProblem, DigestRow, DigestUsedAgain, FamilyVersion};
use super::records::timestamp;
use super::ri::{Reservation, ReservationsPart, reservations};
pub use page::Page;
use page::{heading, team_filter, team_line, teams_query, title};

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

/// Renders the digest as its only message.
pub fn render(row: &DigestRow, part: &ReservationsPart, ctx: &DigestRenderContext) -> Alert {
    render_page(row, part, ctx, &Page::Whole)
}

/// Renders one page, cutting the lists further until the whole message fits.
pub fn render_page(row: &DigestRow, part: &ReservationsPart, ctx: &DigestRenderContext, page: &Page) -> Alert {
    let subject = subject(row, ctx, page);
    let listed = match page {
        Page::Team(_) => Vec::new(),
        _ => reservations(part.rows(), row.generated_at, ctx.ri_alert_percent),
    };
    let chat = chat::chat(row, part, &listed, ctx, &subject, page);
    let mut limit = ctx.list_limit.max(1);
    loop {
        let email = email(row, part, &listed, ctx, limit, page);
        let alert = Alert { subject: subject.clone(), chat: chat.clone(), email };
        if alert.sns_message().len() <= MAX_MESSAGE_BYTES || limit == 1 {
            return alert;
        }
        limit = (limit * 3 / 4).max(1);
    }
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn subject(row: &DigestRow, ctx: &DigestRenderContext, page: &Page) -> String {
    let mut parts = vec![
        format!(
            "{} ${:.2}/mo",
            plural(row.candidates_standing, "candidate", "candidates"),
            row.snapshot_cost_usd_upper_bound
        ),
        format!("{} used again", row.used_again),
        format!("{} report problems", row.report_problems),
    ];
    if row.reservations_under_threshold > 0 {
        parts.push(format!("{} RIs <{}%", row.reservations_under_threshold, ctx.ri_alert_percent));
    }
    let team = page.team_text(|t| format!("[{t}] "));
    let text = format!("AMI digest {team}{} {}: {}", row.region, row.digest_date, parts.join(", "));
    let ascii: String = text.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).collect();
    if ascii.len() <= MAX_SUBJECT_CHARS { ascii } else { format!("{}...", &ascii[..MAX_SUBJECT_CHARS - 3]) }
}

pub(super) fn minute(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The numbers, one line each: what the page is about before any list.
pub(super) fn numbers(row: &DigestRow, part: &ReservationsPart, ctx: &DigestRenderContext, page: &Page) -> Vec<String> {
    let mut out = vec![
        format!(
            "{} ({} new this week), snapshots at most ${:.2}/month (upper bound: snapshots are billed incrementally)",
            plural(row.candidates_standing, "deregistration candidate", "deregistration candidates"),
            row.candidates_new,
            row.snapshot_cost_usd_upper_bound
        ),
        format!("{} used again this week", plural(row.used_again, "former candidate", "former candidates")),
        families_line(row, page),
        format!("{} this week", plural(row.report_problems, "report in error", "reports in error")),
        match page {
            Page::Team(_) => "Reserved Instances: in the account digest (reservations belong to the account)".into(),
            _ => reservations_line(row, part, ctx),
        },
    ];
    if row.verdicts_evaluated_at.is_none() {
        out.push("no verdicts were archived this week: is collect running?".into());
    }
    if let Page::Account(teams) = page
        && !teams.is_empty()
    {
        out.push(format!(
            "{} (ROUTE_TAG): their items are listed there, not here",
            plural(teams.len(), "team has its own digest", "teams have their own digests")
        ));
    }
    out
}

fn families_line(row: &DigestRow, page: &Page) -> String {
    let account_beside_teams = matches!(page, Page::Account(teams) if !teams.is_empty());
    if row.families.is_empty() && !account_beside_teams {
        return "no older family versions (GROUP_TAG groups AMIs into families)".into();
    }
    format!(
        "{} of a family still used by some account",
        plural(row.versions_still_used, "older version", "older versions")
    )
}

fn reservations_line(row: &DigestRow, part: &ReservationsPart, ctx: &DigestRenderContext) -> String {
    match part {
        ReservationsPart::Off => "Reserved Instances: not part of this digest (DIGEST_RESERVATIONS=off)".into(),
        ReservationsPart::NoAccess(reason) => format!(
            "Reserved Instances: Cost Explorer is not available to this account ({}); see deploy/ORGANIZATION.md",
            clean(reason)
        ),
        ReservationsPart::Collected { complete, .. } => format!(
            "Reserved Instances: {}, {} under {}% utilization, {} ending within 30 days{}",
            plural(row.reservations, "reservation", "reservations"),
            row.reservations_under_threshold,
            ctx.ri_alert_percent,
            row.reservations_ending_soon,
            if *complete { "" } else { " (Cost Explorer paging stopped at the call cap: the list is incomplete)" }
        ),
    }
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

/// The query listing every item of one of the digest row's arrays on this page.
pub(super) fn list_query(row: &DigestRow, column: &str, ctx: &DigestRenderContext, page: &Page) -> String {
    format!(
        "SELECT item.* FROM {}.digests CROSS JOIN UNNEST({column}) AS t(item) WHERE {}{}",
        ctx.athena_database,
        where_clause(row),
        team_filter(page)
    )
}

fn ri_query(row: &DigestRow, ctx: &DigestRenderContext) -> String {
    format!(
        "SELECT * FROM {}.ri_utilization WHERE {} ORDER BY period, utilization_percentage",
        ctx.athena_database,
        where_clause(row)
    )
}

/// A titled list cut at `limit`, with the query that lists all.
fn section(out: &mut Vec<String>, title: &str, lines: Vec<String>, limit: usize, query: String) {
    if lines.is_empty() {
        return;
    }
    out.push(String::new());
    out.push(title.into());
    let total = lines.len();
    out.extend(lines.into_iter().take(limit));
    if total > limit {
        out.push(format!("… and {} more: {query}", total - limit));
    }
}

fn email(
    row: &DigestRow,
    part: &ReservationsPart,
    listed: &[Reservation],
    ctx: &DigestRenderContext,
    limit: usize,
    page: &Page,
) -> String {
    let mut out = vec![heading(row, page), String::new()];
    out.extend(numbers(row, part, ctx, page).into_iter().map(|l| format!("- {l}")));
    if let Page::Account(teams) = page {
        let lines = teams.iter().map(team_line).collect();
        section(&mut out, "TEAMS (each has its own digest)", lines, limit, teams_query(row, ctx));
    }
    let q = |column: &str| list_query(row, column, ctx, page);
    let t = |base: &str| title(base, page);
    section(
        &mut out,
        &t("DEREGISTRATION CANDIDATES (new first, then by snapshot size)"),
        row.candidates.iter().map(candidate_line).collect(),
        limit,
        q("candidates"),
    );
    let used = row.used_again_amis.iter().map(used_again_line).collect();
    section(&mut out, &t("USED AGAIN THIS WEEK (do not deregister)"), used, limit, q("used_again_amis"));
    let families = row.families.iter().map(family_line).collect();
    let families_title = t("FAMILIES: OLDER VERSIONS STILL IN USE (migration nudge)");
    section(&mut out, &families_title, families, limit, q("families"));
    let problems = row.problems.iter().map(problem_line).collect();
    section(&mut out, &t("REPORT PROBLEMS THIS WEEK"), problems, limit, q("problems"));
    let ri = listed.iter().map(reservation_line).collect();
    section(&mut out, "RESERVED INSTANCES (under threshold first, then ending soon)", ri, limit, ri_query(row, ctx));
    out.push(String::new());
    out.push(format!(
        "Athena (workgroup {}): SELECT * FROM {}.digests WHERE {}",
        ctx.athena_workgroup,
        ctx.athena_database,
        where_clause(row)
    ));
    out.push(format!("Archive: {}", ctx.archive_location));
    out.push(format!("Generated at {}", timestamp::format(&row.generated_at)));
    out.join("\n") + "\n"
}

#[path = "digest_chat.rs"]
mod chat;
#[path = "digest_page.rs"]
mod page;

#[cfg(test)]
#[path = "digest_render_tests.rs"]
mod tests;
