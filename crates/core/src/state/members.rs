//! Collect's memory of the evidence that does not come from its own reports: the
//! required members' probe facts (kept like the owner checks, so a member resource seen
//! inside the window still counts after it is gone), the gaps in members' facts
//! (announced once per gap), and reports that asked EC2 for fewer resource types than
//! configured (announced once).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::collect_state::CollectState;
use super::news::News;
use crate::archive::{ReportRow, SCHEMA_VERSION};
use crate::retire::{Action, RetireMode, RetireState, Stage};
use crate::verdict::AllowedImages;
use crate::verdict::member_facts::MemberFacts;
use crate::verdict::member_probe::{RetiringImage, RetiringList, deprecation_blocks_in};
use crate::verdict::{AmiInput, Reason, Verdicts};

impl CollectState {
    /// Remembers what each required member's fresh facts said of the selected AMIs: that
    /// they listed it, and the resources referencing it. Reading the same facts in a
    /// later run changes nothing; the history is pruned with the rest (`prune`).
    pub fn record_member_facts(&mut self, facts: &BTreeMap<String, MemberFacts>, selected: &BTreeSet<&str>) {
        for (member, f) in facts {
            let Some(at) = f.probed_at else { continue };
            for (image_id, (_, references)) in f.images.iter().filter(|(id, _)| selected.contains(id.as_str())) {
                let arns: Vec<String> = references.iter().map(|r| r.arn.clone()).collect();
                self.amis.entry(image_id.clone()).or_default().members.record(member, at, &arns);
            }
        }
    }

    /// News of required members without fresh facts: one per member and gap (its key
    /// names the gap's start), with the AMIs it holds back; a member with fresh facts
    /// again ends its gap, so the next one is news again.
    pub fn member_gaps(
        &mut self,
        missing: &[String],
        held: &BTreeMap<String, Vec<String>>,
        now: DateTime<Utc>,
    ) -> Vec<News> {
        self.members_missing.retain(|m, _| missing.contains(m));
        missing
            .iter()
            .map(|member| {
                let since = *self.members_missing.entry(member.clone()).or_insert(now.timestamp());
                News::MemberProbeMissing {
                    member: member.clone(),
                    since: DateTime::from_timestamp(since, 0).unwrap_or(now),
                    held: held.get(member).cloned().unwrap_or_default(),
                }
            })
            .collect()
    }
}

impl CollectState {
    /// Whether `list` differs from the last one published (`retiring_published`). A
    /// state that never published one counts as having published an empty list, so a
    /// deployment that retires nothing writes nothing (a stale list left behind by a lost
    /// state only makes members look for more ids, never fewer).
    pub fn retiring_changed(&self, list: &RetiringList) -> bool {
        let published = match &self.retiring_published {
            Some(p) => p.clone(),
            None => retiring_identity(&RetiringList { images: vec![], ..list.clone() }),
        };
        published != retiring_identity(list)
    }

    pub fn mark_retiring_published(&mut self, list: &RetiringList) {
        self.retiring_published = Some(retiring_identity(list));
    }

    /// Names, on each deprecation news of this run, the member accounts whose Allowed AMIs
    /// settings refuse the AMI once deprecated (`allowed`: each member's settings, from
    /// its fresh facts): launches there stop at `DeprecateAt`, or so many days after.
    pub fn name_blocked_launches(&self, news: &mut [News], owner: &str, allowed: &BTreeMap<String, AllowedImages>) {
        for n in news.iter_mut() {
            if let News::Retirement { image_id, action: Action::Deprecate, blocks_launches_in, .. } = n {
                let seen = self.amis.get(image_id.as_str()).map(|a| a.members.seen.clone()).unwrap_or_default();
                *blocks_launches_in = deprecation_blocks_in(owner, &seen, allowed);
            }
        }
    }
}

/// The AMIs in retirement the owner publishes for its members: every AMI the pipeline
/// deprecated or disabled (enforce mode only: a dry run changed nothing members see).
pub fn retiring_list(retire: &RetireState, owner: &str, region: &str) -> RetiringList {
    let images = match retire.mode {
        RetireMode::Enforce => retire
            .records
            .iter()
            .filter(|(_, r)| matches!(r.stage, Stage::Deprecated | Stage::Disabled))
            .map(|(id, r)| RetiringImage { image_id: id.clone(), stage: r.stage.as_str().to_string(), since: r.since })
            .collect(),
        _ => Vec::new(),
    };
    RetiringList { schema_version: SCHEMA_VERSION, owner_account_id: owner.into(), region: region.into(), images }
}

fn retiring_identity(list: &RetiringList) -> String {
    let images: Vec<String> = list.images.iter().map(|i| format!("{}:{}", i.image_id, i.stage)).collect();
    format!("{}:{}", list.region, images.join(","))
}

/// The AMIs each missing member holds back this run: verdicts `unknown` with
/// `member_probe_missing` whose findings (scoped to the AMIs it can see) name it.
pub fn held_by_missing(inputs: &[AmiInput], verdicts: &Verdicts) -> BTreeMap<String, Vec<String>> {
    let held: BTreeSet<&str> = verdicts
        .verdicts
        .iter()
        .filter(|v| v.reasons.contains(&Reason::MemberProbeMissing))
        .map(|v| v.image_id.as_str())
        .collect();
    let mut by_member: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in inputs.iter().filter(|i| held.contains(i.ami.image_id.as_str())) {
        for m in &i.members.missing {
            by_member.entry(m.clone()).or_default().push(i.ami.image_id.clone());
        }
    }
    by_member
}

/// News when archived reports asked for fewer resource types than configured: the
/// newest such report's types, since the oldest of them (rows of this run).
pub fn narrowed_report_types(rows: &[ReportRow], configured: &[String]) -> Option<News> {
    let narrowed = |row: &&ReportRow| {
        let asked: BTreeSet<&str> = row.resource_types.iter().map(|t| t.resource_type.as_str()).collect();
        row.state == "available" && configured.iter().any(|c| !asked.contains(c.as_str()))
    };
    let rows: Vec<&ReportRow> = rows.iter().filter(narrowed).collect();
    let newest = rows.iter().max_by_key(|r| r.report_creation_time)?;
    Some(News::ReportTypesNarrowed {
        configured: configured.to_vec(),
        used: newest.resource_types.iter().map(|t| t.resource_type.clone()).collect(),
        since: rows.iter().map(|r| r.report_creation_time).min()?,
    })
}

/// Selected AMIs, older than the evidence may age, whose newest report of any state
/// (archived or only listed) is older than that: the creates for them are refused or
/// failing, or the create schedule stopped. Their verdicts are already `unknown`
/// (`evidence_stale`); this says why in the alert, once per gap.
pub fn report_gaps(inputs: &[AmiInput], now: DateTime<Utc>, max_age: Duration) -> Vec<News> {
    inputs
        .iter()
        .filter(|i| i.ami.creation_date.is_some_and(|c| now - c > max_age))
        .filter_map(|i| {
            let newest = i.history.iter().map(|o| o.created_at()).max();
            newest.is_none_or(|t| now - t > max_age).then(|| News::NoRecentReport {
                image_id: i.ami.image_id.clone(),
                name: i.ami.name.clone(),
                newest_report: newest,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "members_tests.rs"]
mod tests;
