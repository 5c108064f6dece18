//! Rendering of the weekly digest (a **contract** like the alert's: people read it, and
//! Chatbot parses it). One SNS message, `MessageStructure=json`: `email` a plain-text
//! page, numbers first and then the lists, each cut at `DIGEST_LIST_LIMIT` with
//! "… and N more" and the Athena query that lists all; `default` an AWS Chatbot custom
//! notification. Both stay under the alert's limits (`alert::MAX_MESSAGE_BYTES`,
//! `alert::MAX_SUBJECT_CHARS`, no control characters). With `ROUTE_TAG`, a [`Page`] is
//! a team's message or the account message beside them (see [`crate::digest::teams`]).

use super::chat::chat;
use super::lines::{
    DigestRenderContext, candidate_line, family_line, problem_line, reservation_line, used_again_line, where_clause,
};
use super::model::DigestRow;
use super::numbers::numbers;
use super::page::{Page, heading, list_query, team_line, teams_query, title};
use super::ri::{Reservation, ReservationsPart, reservations};
use crate::alert::{Alert, MAX_MESSAGE_BYTES, MAX_SUBJECT_CHARS, plural};
use crate::timestamp;

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
    let chat = chat(row, part, &listed, ctx, &subject, page);
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

pub fn subject(row: &DigestRow, ctx: &DigestRenderContext, page: &Page) -> String {
    let mut parts = vec![
        format!(
            "{} ${:.2}/mo",
            plural(row.counts.candidates_standing, "candidate", "candidates"),
            row.counts.snapshot_cost_usd_upper_bound
        ),
        format!("{} used again", row.counts.used_again),
        format!("{} report problems", row.counts.report_problems),
    ];
    if row.reservations_under_threshold > 0 {
        parts.push(format!("{} RIs <{}%", row.reservations_under_threshold, ctx.ri_alert_percent));
    }
    let team = page.team_text(|t| format!("[{t}] "));
    let text = format!("AMI digest {team}{} {}: {}", row.region, row.digest_date, parts.join(", "));
    let ascii: String = text.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).collect();
    if ascii.len() <= MAX_SUBJECT_CHARS { ascii } else { format!("{}...", &ascii[..MAX_SUBJECT_CHARS - 3]) }
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

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
