//! The digest split by team (`ROUTE_TAG`), like collect's alerts (see
//! [`crate::state::routing`]):
//!
//! - an item's **team** is the `ROUTE_TAG` value (non-empty) in the image tags archived
//!   with its AMI's newest report row of the week that has an image; a report problem's
//!   team is its own report's. No such report or no tag: no team;
//! - each team (name order, at most [`MAX_TEAM_MESSAGES`]) gets one message holding only
//!   its items, its counts recomputed from them and no reservations (they are the
//!   account's); the **account message** keeps the whole account's numbers (the archived
//!   row, unchanged), a per-team numbers table, and lists only the items of no own-message
//!   team, so that no item is listed twice;
//! - the job's **progress** of the day names the messages published, so a re-run sends
//!   only the others.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::model::{DigestCandidate, DigestCounts, DigestRow, DigestUsedAgain, FamilyVersion};
use crate::archive::ReportRow;
use crate::state::MAX_TEAM_MESSAGES;

/// The `reservations_status` of a team's row: reservations are in the account message.
pub const TEAM_RESERVATIONS_STATUS: &str = "account_digest";

/// The `ROUTE_TAG` value in a report's own image tags.
pub fn image_team(report: &ReportRow, route_tag: Option<&str>) -> Option<String> {
    let tag = route_tag?;
    report.image.as_ref()?.tags.get(tag).filter(|v| !v.is_empty()).cloned()
}

/// The week's reports that `keep` accepts, by AMI: its newest one (greatest creation
/// time, then report id).
pub(super) fn newest_by_image<'a>(
    reports: &[&'a ReportRow],
    keep: impl Fn(&ReportRow) -> bool,
) -> BTreeMap<&'a str, &'a ReportRow> {
    let mut newest: BTreeMap<&str, &ReportRow> = BTreeMap::new();
    for &r in reports.iter().filter(|r| keep(r)) {
        let slot = newest.entry(r.image_id.as_str()).or_insert(r);
        if (r.report_creation_time, &r.report_id) > (slot.report_creation_time, &slot.report_id) {
            *slot = r;
        }
    }
    newest
}

/// The team of each AMI: from its newest report row of the week with an image.
fn teams_by_image(reports: &[&ReportRow], route_tag: &str) -> BTreeMap<String, Option<String>> {
    let newest = newest_by_image(reports, |r| r.image.is_some());
    newest.into_iter().map(|(id, r)| (id.to_string(), image_team(r, Some(route_tag)))).collect()
}

/// Sets the team of the AMI items from the week's reports (`reports`: the week's only).
pub fn assign(
    candidates: &mut [DigestCandidate],
    used_again: &mut [DigestUsedAgain],
    families: &mut [FamilyVersion],
    reports: &[&ReportRow],
    route_tag: Option<&str>,
) {
    let Some(tag) = route_tag else { return };
    let teams = teams_by_image(reports, tag);
    let team = |id: &str| teams.get(id).cloned().flatten();
    candidates.iter_mut().for_each(|c| c.team = team(&c.image_id));
    used_again.iter_mut().for_each(|u| u.team = team(&u.image_id));
    families.iter_mut().for_each(|f| f.team = team(&f.image_id));
}

/// One team's numbers, shown in the account message.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamNumbers {
    pub team: String,
    pub counts: DigestCounts,
}

/// The messages of one digest with `ROUTE_TAG`.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamSplit {
    /// One row per team with its own message, in team name order.
    pub teams: Vec<(String, DigestRow)>,
    /// The account message: the whole account's numbers, the other items.
    pub account: DigestRow,
    /// The numbers of each team in `teams`, same order.
    pub numbers: Vec<TeamNumbers>,
}

fn all_teams(row: &DigestRow) -> BTreeSet<&str> {
    let teams = row.candidates.iter().map(|c| &c.team);
    let teams = teams.chain(row.used_again_amis.iter().map(|u| &u.team));
    let teams = teams.chain(row.families.iter().map(|f| &f.team));
    teams.chain(row.problems.iter().map(|p| &p.team)).filter_map(|t| t.as_deref()).collect()
}

/// Keeps the items whose team `keep` accepts.
fn lists_of(row: &DigestRow, keep: impl Fn(Option<&str>) -> bool) -> DigestRow {
    let mut out = row.clone();
    out.candidates.retain(|c| keep(c.team.as_deref()));
    out.used_again_amis.retain(|u| keep(u.team.as_deref()));
    out.families.retain(|f| keep(f.team.as_deref()));
    out.problems.retain(|p| keep(p.team.as_deref()));
    out
}

/// One team's row: its items, the counts recomputed from them as `digest()` does.
fn team_row(row: &DigestRow, team: &str, snapshot_gb_month_usd: f64) -> DigestRow {
    let mut out = lists_of(row, |t| t == Some(team));
    out.counts = DigestCounts::of_row(&out, snapshot_gb_month_usd);
    out.reservations = 0;
    out.reservations_under_threshold = 0;
    out.reservations_ending_soon = 0;
    out.reservations_status = TEAM_RESERVATIONS_STATUS.into();
    out
}

/// Splits the account's digest row (items' teams set) into its messages.
pub fn split(row: &DigestRow, snapshot_gb_month_usd: f64) -> TeamSplit {
    let own: BTreeSet<&str> = all_teams(row).into_iter().take(MAX_TEAM_MESSAGES).collect();
    let teams: Vec<(String, DigestRow)> =
        own.iter().map(|t| (t.to_string(), team_row(row, t, snapshot_gb_month_usd))).collect();
    let numbers = teams.iter().map(|(t, r)| TeamNumbers { team: t.clone(), counts: r.counts.clone() }).collect();
    let account = lists_of(row, |t| t.is_none_or(|t| !own.contains(t)));
    TeamSplit { teams, account, numbers }
}

/// The groups (`GROUP_TAG`) of a message's items: its `group` attribute.
pub fn groups_of(row: &DigestRow) -> BTreeSet<String> {
    let candidates = row.candidates.iter().filter_map(|c| c.group_value.clone());
    candidates.chain(row.families.iter().map(|f| f.group_value.clone())).collect()
}

/// `<prefix>/state/region=<region>/digest-progress.json`: the messages of the day's
/// digest already published (a team's name; `None` for the account message).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestProgress {
    pub digest_date: Option<NaiveDate>,
    pub published: Vec<Option<String>>,
}

impl DigestProgress {
    /// The progress of `day`: the stored one when it is that day's, else empty.
    pub fn of_day(stored: Option<DigestProgress>, day: NaiveDate) -> Self {
        match stored {
            Some(p) if p.digest_date == Some(day) => p,
            _ => DigestProgress { digest_date: Some(day), published: Vec::new() },
        }
    }

    pub fn is_published(&self, team: Option<&str>) -> bool {
        self.published.iter().any(|p| p.as_deref() == team)
    }

    pub fn mark(&mut self, team: Option<&str>) {
        if !self.is_published(team) {
            self.published.push(team.map(str::to_string));
        }
    }
}

#[cfg(test)]
#[path = "teams_tests.rs"]
pub(crate) mod tests;
