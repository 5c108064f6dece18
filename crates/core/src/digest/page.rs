//! The pages of a digest split by team (see `core::digest` (teams)): what differs between
//! the only message, a team's message and the account message beside them.

use super::lines::{DigestRenderContext, minute, where_clause};
use super::model::DigestRow;
use super::teams::TeamNumbers;
use crate::alert::{clean, plural};

/// Which message of the digest a page is.
#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    /// The only message (no `ROUTE_TAG`, or no item has a team).
    Whole,
    /// A team's message: its items only; reservations are in the account message.
    Team(String),
    /// The account message beside the team messages: these teams' numbers, and lists
    /// without their items.
    Account(Vec<TeamNumbers>),
}

impl Page {
    /// The team of a team's page, cleaned for display (`None` on the other pages).
    pub fn team(&self) -> Option<String> {
        match self {
            Page::Team(team) => Some(clean(team)),
            _ => None,
        }
    }

    /// `format` of the page's team, or nothing on the other pages.
    pub(super) fn team_text(&self, format: impl Fn(&str) -> String) -> String {
        self.team().map_or_else(String::new, |t| format(&t))
    }
}

fn sql_text(value: &str) -> String {
    format!("'{}'", clean(value).replace('\'', "''"))
}

/// The items of a page among the archived row's (which holds every team's).
pub(super) fn team_filter(page: &Page) -> String {
    match page {
        Page::Whole => String::new(),
        Page::Account(teams) if teams.is_empty() => String::new(),
        Page::Team(team) => format!(" AND item.team = {}", sql_text(team)),
        Page::Account(teams) => {
            let names: Vec<String> = teams.iter().map(|t| sql_text(&t.team)).collect();
            format!(" AND (item.team IS NULL OR item.team NOT IN ({}))", names.join(", "))
        }
    }
}

/// A list's title; on the account page, it says that team items are elsewhere.
pub(super) fn title(base: &str, page: &Page) -> String {
    match page {
        Page::Account(teams) if !teams.is_empty() => format!("{base}, NOT IN A TEAM DIGEST"),
        _ => base.to_string(),
    }
}

pub(super) fn team_line(t: &TeamNumbers) -> String {
    format!(
        "- {}: {} ({} new), at most ${:.2}/month; {} used again; {}; {}",
        clean(&t.team),
        plural(t.counts.candidates_standing, "candidate", "candidates"),
        t.counts.candidates_new,
        t.counts.snapshot_cost_usd_upper_bound,
        t.counts.used_again,
        plural(t.counts.versions_still_used, "older version still used", "older versions still used"),
        plural(t.counts.report_problems, "report in error", "reports in error")
    )
}

/// The query of the teams' candidate numbers (the account page's team list).
pub(super) fn teams_query(row: &DigestRow, ctx: &DigestRenderContext) -> String {
    format!(
        "SELECT item.team, count(*) AS candidates, sum(item.snapshot_size_gib) AS gib FROM {}.digests \
         CROSS JOIN UNNEST(candidates) AS t(item) WHERE {} GROUP BY item.team ORDER BY item.team",
        ctx.athena_database,
        where_clause(row)
    )
}

pub(super) fn heading(row: &DigestRow, page: &Page) -> String {
    let team = page.team_text(|t| format!("team {t}, "));
    format!(
        "AMI usage weekly digest for {team}account {} in {}, {} to {} UTC",
        row.owner_account_id,
        row.region,
        minute(&row.week_start),
        minute(&row.week_end)
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
