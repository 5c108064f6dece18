//! Whether a deregistered AMI stays restorable: only an available Recycle Bin retention
//! rule keeps it (`RestoreImageFromRecycleBin`), only for its retention, and with
//! `RETIRE_DELETE_SNAPSHOTS=true` only as long as an `EBS_SNAPSHOT` rule keeps its
//! snapshots too (AWS restores an AMI only after its snapshots). The pipeline
//! deregisters only when all of that holds for at least `RETIRE_MIN_RECYCLE_BIN_DAYS`
//! (unless `RETIRE_REQUIRE_RECYCLE_BIN=false`).
//!
//! Safe under both documented precedences (the live user guide: the longest retention of
//! the matching rules wins; an older one: a tag-level rule beats a Region-level one), the
//! retention counted on is the *shortest* of the rules covering a resource. A change to a
//! rule, or its deletion, never touches what is already in the bin (AWS: "The changes do
//! not affect resources that it previously sent to the Recycle Bin"), so what counts is
//! the rule as it is at the call: locked, unlocked or never locked alike. A rule
//! `pending_unlock` is held against: its owner is taking its protection apart.

use std::collections::BTreeMap;

use crate::model::{Ami, Tags};
use crate::verdict::TagMatch;

pub const IMAGE_RULES: &str = "EC2_IMAGE";
pub const SNAPSHOT_RULES: &str = "EBS_SNAPSHOT";

/// A retention rule as `rbin:ListRules` + `rbin:GetRule` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecycleBinRule {
    pub identifier: String,
    /// `EC2_IMAGE`, `EBS_SNAPSHOT`, …
    pub resource_type: String,
    /// `available` or `pending`: only an available rule retains anything.
    pub status: String,
    /// `locked`, `pending_unlock`, `unlocked`, or none (never locked).
    pub lock_state: Option<String>,
    /// `RetentionPeriod` in days (`None`: a unit other than `DAYS`, counted as no retention).
    pub retention_days: Option<u32>,
    /// Tag-level rule: the resource must carry one of these. Empty: a Region-level rule.
    pub resource_tags: Vec<TagMatch>,
    /// Region-level rule only: a resource carrying one of these is not retained.
    pub exclude_resource_tags: Vec<TagMatch>,
}

fn any_matches(tags: &Tags, matches: &[TagMatch]) -> bool {
    matches.iter().any(|m| m.matches(tags))
}

impl RecycleBinRule {
    /// AWS's matching: an available rule of `resource_type` covers a resource when it is
    /// Region-level and none of its exclusion tags is on it, or tag-level and any of its
    /// tags is (a tag without a value matches any value of its key).
    pub fn covers_resource(&self, resource_type: &str, tags: &Tags) -> bool {
        if self.resource_type != resource_type || self.status != "available" {
            return false;
        }
        if self.resource_tags.is_empty() {
            !any_matches(tags, &self.exclude_resource_tags)
        } else {
            any_matches(tags, &self.resource_tags)
        }
    }

    pub fn covers(&self, ami: &Ami) -> bool {
        self.covers_resource(IMAGE_RULES, &ami.tags)
    }

    fn days(&self) -> u32 {
        self.retention_days.unwrap_or(0)
    }
}

/// The rule counted on for an AMI: the shortest retention among the rules covering it
/// (ties: the first by identifier).
pub fn covering_rule<'a>(rules: &'a [RecycleBinRule], ami: &Ami) -> Option<&'a RecycleBinRule> {
    shortest(rules, IMAGE_RULES, &ami.tags)
}

fn shortest<'a>(rules: &'a [RecycleBinRule], resource_type: &str, tags: &Tags) -> Option<&'a RecycleBinRule> {
    rules
        .iter()
        .filter(|r| r.covers_resource(resource_type, tags))
        .min_by(|a, b| (a.days(), &a.identifier).cmp(&(b.days(), &b.identifier)))
}

/// What the Recycle Bin will keep of a deregistered AMI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub rule: String,
    pub days: u32,
    /// With snapshot deletion: the shortest retention of the snapshots' rules.
    pub snapshot_days: Option<u32>,
}

/// Why a deregistration must wait: a reason code and the detail naming the rule or
/// resource and the fix.
pub type NotRestorable = (&'static str, String);

/// The AMI's EBS snapshots (their restore precedes the AMI's).
pub fn snapshot_ids(ami: &Ami) -> Vec<String> {
    ami.block_devices.iter().filter_map(|d| d.snapshot_id.clone()).collect()
}

/// Whether the AMI, once deregistered, stays restorable for at least `min_days`
/// (its snapshots too when `delete_snapshots`); `snapshot_tags` are DescribeSnapshots'
/// tags of its snapshots (a snapshot missing there could not be read: not covered).
pub fn restorable(
    rules: &[RecycleBinRule],
    ami: &Ami,
    snapshot_tags: &BTreeMap<String, Tags>,
    min_days: u32,
    delete_snapshots: bool,
) -> Result<Retention, NotRestorable> {
    let Some(rule) = covering_rule(rules, ami) else {
        return Err(("no_recycle_bin_rule", "no available EC2_IMAGE Recycle Bin rule covers it".into()));
    };
    lasting(rules, IMAGE_RULES, &ami.tags, "the AMI", min_days)?;
    let mut retention = Retention { rule: rule.identifier.clone(), days: rule.days(), snapshot_days: None };
    if !delete_snapshots {
        return Ok(retention);
    }
    for id in snapshot_ids(ami) {
        let Some(tags) = snapshot_tags.get(&id) else {
            return Err(("no_snapshot_rule", format!("{id}: its tags could not be read (ec2:DescribeSnapshots)")));
        };
        let Some(rule) = shortest(rules, SNAPSHOT_RULES, tags) else {
            return Err((
                "no_snapshot_rule",
                format!(
                    "no available EBS_SNAPSHOT Recycle Bin rule covers {id}, which RETIRE_DELETE_SNAPSHOTS=true deletes: \
                     without it the AMI cannot be restored"
                ),
            ));
        };
        lasting(rules, SNAPSHOT_RULES, tags, &id, min_days)?;
        retention.snapshot_days = Some(retention.snapshot_days.map_or(rule.days(), |d| d.min(rule.days())));
    }
    Ok(retention)
}

/// Every rule covering the resource keeps it `min_days` at least and is not being unlocked.
fn lasting(rules: &[RecycleBinRule], kind: &str, tags: &Tags, what: &str, min_days: u32) -> Result<(), NotRestorable> {
    for rule in rules.iter().filter(|r| r.covers_resource(kind, tags)) {
        if rule.lock_state.as_deref() == Some("pending_unlock") {
            return Err((
                "recycle_bin_rule_unlocking",
                format!(
                    "{kind} rule {} covering {what} is pending_unlock: waits until it is locked or unlocked",
                    rule.identifier
                ),
            ));
        }
        if rule.days() < min_days {
            let days = rule.retention_days.map_or_else(|| "no".to_string(), |d| d.to_string());
            return Err((
                "recycle_bin_retention_too_short",
                format!(
                    "{kind} rule {} keeps {what} {days} days, less than RETIRE_MIN_RECYCLE_BIN_DAYS={min_days}",
                    rule.identifier
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "rbin_tests.rs"]
mod tests;
