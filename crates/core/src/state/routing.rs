//! Routing (a **contract**: subscription filter policies match on it). Every publish
//! carries SNS message attributes: `kind` (`String.Array`, the kinds of news in the
//! message), `account` (`String`, the owner account), `group` (`String.Array`, the
//! `GROUP_TAG` values of the AMIs in it; omitted when none) and, with `ROUTE_TAG`,
//! `team` (`String`, the tag's value). With `ROUTE_TAG` set, the outbox is split: one
//! message per team (at most [`MAX_TEAM_MESSAGES`], teams in name order), plus one
//! without `team` for news about AMIs without the tag, news not about an AMI, and the
//! teams beyond the bound. Each piece of news is in exactly one message.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{ErrorStreak, Route, Standing};
use super::news::News;
use crate::model::Ami;

/// Team messages per run at most; the rest of the news goes in the untagged message.
pub const MAX_TEAM_MESSAGES: usize = 50;
/// The `group` attribute's JSON array stays under this many bytes (SNS counts the
/// attributes in the message size); groups beyond it are left out of the attribute.
pub const MAX_GROUP_ATTRIBUTE_BYTES: usize = 8 * 1024;

/// The routes of AMIs that carry either tag (the others route nowhere in particular).
pub fn routes_of(amis: &[Ami], group_tag: Option<&str>, route_tag: Option<&str>) -> BTreeMap<String, Route> {
    let value = |ami: &Ami, tag: Option<&str>| tag.and_then(|t| ami.tags.get(t)).filter(|v| !v.is_empty()).cloned();
    amis.iter()
        .map(|a| (a.image_id.clone(), Route { group: value(a, group_tag), team: value(a, route_tag) }))
        .filter(|(_, r)| r.group.is_some() || r.team.is_some())
        .collect()
}

/// The `kind` attribute's value of one piece of news (one per `News` variant).
pub fn kind_of(news: &News) -> &'static str {
    match news {
        News::Candidate { .. } => "candidate",
        News::UsedAgain { .. } => "used_again",
        News::CandidatesWithheld { .. } => "withheld",
        News::ReportError { .. } => "report_problem",
        News::EvidenceStale { .. } => "no_longer_confirmed",
        News::MalformedReport { .. } => "report_quarantined",
        News::NoRecentReport { .. } => "no_recent_report",
        News::PendingTooLong { .. } => "report_late",
        News::ExpiringUnarchived { .. } => "report_expiring",
        News::Retirement { .. } => "retire",
        News::ReportTypesNarrowed { .. } | News::MemberProbeMissing { .. } => "evidence_gap",
    }
}

/// The `kind` of the weekly digest's message.
pub const DIGEST_KIND: &str = "digest";

/// The AMI a piece of news is about, if any.
pub fn image_of(news: &News) -> Option<&str> {
    match news {
        News::Candidate { image_id, .. }
        | News::UsedAgain { image_id, .. }
        | News::ReportError { image_id, .. }
        | News::EvidenceStale { image_id, .. }
        | News::NoRecentReport { image_id, .. }
        | News::PendingTooLong { image_id, .. }
        | News::ExpiringUnarchived { image_id, .. }
        | News::Retirement { image_id, .. } => Some(image_id),
        News::MalformedReport { image_id, .. } => image_id.as_deref(),
        News::CandidatesWithheld { .. } | News::ReportTypesNarrowed { .. } | News::MemberProbeMissing { .. } => None,
    }
}

/// One message's share of the outbox: its team (`None`: the untagged message) and the
/// indexes of its news in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub team: Option<String>,
    pub news: Vec<usize>,
}

/// Splits the outbox into messages. Without `ROUTE_TAG` (`split` false), one message.
pub fn batches(outbox: &[News], routes: &BTreeMap<String, Route>, split: bool) -> Vec<Batch> {
    let team_of = |n: &News| image_of(n).and_then(|id| routes.get(id)).and_then(|r| r.team.clone());
    let teams: BTreeSet<String> = if split { outbox.iter().filter_map(team_of).collect() } else { BTreeSet::new() };
    let own: BTreeSet<String> = teams.into_iter().take(MAX_TEAM_MESSAGES).collect();
    let mut by_team: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for (i, n) in outbox.iter().enumerate() {
        by_team.entry(message_team(image_of(n), routes, &own)).or_default().push(i);
    }
    let untagged = by_team.remove(&None);
    let mut out: Vec<Batch> = by_team.into_iter().map(|(team, news)| Batch { team, news }).collect();
    out.extend(untagged.map(|news| Batch { team: None, news }));
    out
}

/// The message an AMI's items belong to: its team's, when that team has its own message
/// (`own`), else the untagged one (`None`).
pub fn message_team(
    image_id: Option<&str>,
    routes: &BTreeMap<String, Route>,
    own: &BTreeSet<String>,
) -> Option<String> {
    image_id.and_then(|id| routes.get(id)).and_then(|r| r.team.clone()).filter(|t| own.contains(t))
}

/// The standing part of one message (still-unused candidates and failing reports of
/// its AMIs), so that each team reads its own and the untagged message the rest.
pub fn standing_for(
    team: Option<&str>,
    still_unused: &[String],
    failing: &[(String, ErrorStreak)],
    routes: &BTreeMap<String, Route>,
    own: &BTreeSet<String>,
) -> Standing {
    let mine = |id: &str| message_team(Some(id), routes, own).as_deref() == team;
    Standing {
        still_unused: still_unused.iter().filter(|id| mine(id)).count(),
        failing: failing.iter().filter(|(id, _)| mine(id)).cloned().collect(),
    }
}

/// The message attributes of one publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageAttributes {
    pub kinds: BTreeSet<String>,
    pub account: String,
    pub groups: BTreeSet<String>,
    pub team: Option<String>,
}

/// One attribute as SNS takes it: name, `DataType`, `StringValue`.
pub type Attribute = (&'static str, &'static str, String);

fn string_array(values: &BTreeSet<String>, max_bytes: usize) -> String {
    let mut kept: Vec<&String> = Vec::new();
    for v in values {
        kept.push(v);
        if serde_json::to_string(&kept).map_or(usize::MAX, |s| s.len()) > max_bytes {
            kept.pop();
            break;
        }
    }
    serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into())
}

impl MessageAttributes {
    /// The attributes of a batch of collect's news.
    pub fn of_news<'a>(
        news: impl IntoIterator<Item = &'a News>,
        routes: &BTreeMap<String, Route>,
        account: &str,
        team: Option<&str>,
    ) -> Self {
        let mut attributes =
            MessageAttributes { account: account.into(), team: team.map(str::to_string), ..Self::default() };
        for n in news {
            attributes.kinds.insert(kind_of(n).into());
            if let Some(group) = image_of(n).and_then(|id| routes.get(id)).and_then(|r| r.group.clone()) {
                attributes.groups.insert(group);
            }
        }
        attributes
    }

    /// Name, `DataType` and value of each attribute sent (`group` omitted when empty).
    pub fn entries(&self) -> Vec<Attribute> {
        let mut out = vec![
            ("kind", "String.Array", string_array(&self.kinds, usize::MAX)),
            ("account", "String", self.account.clone()),
        ];
        if !self.groups.is_empty() {
            out.push(("group", "String.Array", string_array(&self.groups, MAX_GROUP_ATTRIBUTE_BYTES)));
        }
        if let Some(team) = &self.team {
            out.push(("team", "String", team.clone()));
        }
        out
    }
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;
