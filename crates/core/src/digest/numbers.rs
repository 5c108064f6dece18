//! The digest's numbers block, at the top of the e-mail and of the Slack notification.

use super::lines::DigestRenderContext;
use super::model::DigestRow;
use super::page::Page;
use super::ri::ReservationsPart;
use crate::alert::{clean, plural};

/// The numbers, one line each: what the page is about before any list.
pub(super) fn numbers(row: &DigestRow, part: &ReservationsPart, ctx: &DigestRenderContext, page: &Page) -> Vec<String> {
    let mut out = vec![
        format!(
            "{} ({} new this week), snapshots at most ${:.2}/month (upper bound: snapshots are billed incrementally)",
            plural(row.counts.candidates_standing, "deregistration candidate", "deregistration candidates"),
            row.counts.candidates_new,
            row.counts.snapshot_cost_usd_upper_bound
        ),
        format!("{} used again this week", plural(row.counts.used_again, "former candidate", "former candidates")),
        families_line(row, page),
        format!("{} this week", plural(row.counts.report_problems, "report in error", "reports in error")),
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
        plural(row.counts.versions_still_used, "older version", "older versions")
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
