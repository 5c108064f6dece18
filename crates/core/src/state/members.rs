//! Collect's memory of the evidence that does not come from its own reports: the
//! required members' probe facts (kept like the owner checks, so a member resource seen
//! inside the window still counts after it is gone), the gaps in members' facts
//! (announced once per gap), and reports that asked EC2 for fewer resource types than
//! configured (announced once).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::collect_state::CollectState;
use super::news::News;
use crate::archive::ReportRow;
use crate::verdict::member_facts::MemberFacts;
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

#[cfg(test)]
#[path = "members_tests.rs"]
mod tests;
