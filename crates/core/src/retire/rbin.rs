//! Whether a Recycle Bin retention rule covers an AMI: only then can a deregistered
//! AMI still be restored (`RestoreImageFromRecycleBin`), so only then does the
//! pipeline deregister (unless `RETIRE_REQUIRE_RECYCLE_BIN=false`).

use crate::model::{Ami, Tags};
use crate::verdict::TagMatch;

/// A retention rule as `rbin:ListRules` + `rbin:GetRule` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecycleBinRule {
    pub identifier: String,
    /// `EC2_IMAGE`, `EBS_SNAPSHOT`, …
    pub resource_type: String,
    /// `available` or `pending`: only an available rule retains anything.
    pub status: String,
    /// `locked`, `pending_unlock`, `unlocked`, or none (never locked): any retains.
    pub lock_state: Option<String>,
    /// Tag-level rule: the AMI must carry one of these. Empty: a Region-level rule.
    pub resource_tags: Vec<TagMatch>,
    /// Region-level rule only: an AMI carrying one of these is not retained.
    pub exclude_resource_tags: Vec<TagMatch>,
}

fn any_matches(tags: &Tags, matches: &[TagMatch]) -> bool {
    matches.iter().any(|m| m.matches(tags))
}

impl RecycleBinRule {
    /// AWS's matching: an available `EC2_IMAGE` rule covers an AMI when it is
    /// Region-level and none of its exclusion tags is on the AMI, or tag-level and any
    /// of its tags is (a tag without a value matches any value of its key).
    pub fn covers(&self, ami: &Ami) -> bool {
        if self.resource_type != "EC2_IMAGE" || self.status != "available" {
            return false;
        }
        if self.resource_tags.is_empty() {
            !any_matches(&ami.tags, &self.exclude_resource_tags)
        } else {
            any_matches(&ami.tags, &self.resource_tags)
        }
    }
}

/// The first rule (by identifier) that covers the AMI.
pub fn covering_rule<'a>(rules: &'a [RecycleBinRule], ami: &Ami) -> Option<&'a RecycleBinRule> {
    rules.iter().filter(|r| r.covers(ami)).min_by(|a, b| a.identifier.cmp(&b.identifier))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn tag(key: &str, value: Option<&str>) -> TagMatch {
        TagMatch { key: key.into(), value: value.map(str::to_string) }
    }

    fn ami(tags: &[(&str, &str)]) -> Ami {
        Ami { tags: fixtures::tags(tags), ..Ami::default() }
    }

    fn region_level() -> RecycleBinRule {
        RecycleBinRule {
            identifier: "rule0000001".into(),
            resource_type: "EC2_IMAGE".into(),
            status: "available".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_region_level_rule_covers_every_ami_but_the_excluded() {
        let rule = RecycleBinRule { exclude_resource_tags: vec![tag("scratch", Some("yes"))], ..region_level() };
        assert!(rule.covers(&ami(&[])));
        assert!(rule.covers(&ami(&[("scratch", "no")])));
        assert!(!rule.covers(&ami(&[("scratch", "yes")])));
    }

    #[test]
    fn a_tag_level_rule_covers_amis_with_any_of_its_tags() {
        let rule =
            RecycleBinRule { resource_tags: vec![tag("team", Some("a")), tag("keep-in-bin", None)], ..region_level() };
        assert!(rule.covers(&ami(&[("team", "a")])));
        assert!(rule.covers(&ami(&[("keep-in-bin", "")])));
        assert!(rule.covers(&ami(&[("keep-in-bin", "anything")])));
        assert!(!rule.covers(&ami(&[("team", "b")])));
        assert!(!rule.covers(&ami(&[])));
    }

    #[test]
    fn only_available_image_rules_cover_locked_or_not() {
        assert!(!RecycleBinRule { resource_type: "EBS_SNAPSHOT".into(), ..region_level() }.covers(&ami(&[])));
        assert!(!RecycleBinRule { status: "pending".into(), ..region_level() }.covers(&ami(&[])));
        for lock in [None, Some("locked"), Some("pending_unlock"), Some("unlocked")] {
            let rule = RecycleBinRule { lock_state: lock.map(str::to_string), ..region_level() };
            assert!(rule.covers(&ami(&[])), "{lock:?}");
        }
    }

    #[test]
    fn the_covering_rule_is_the_first_by_identifier() {
        let tagged = RecycleBinRule {
            identifier: "rule0000000".into(),
            resource_tags: vec![tag("team", Some("a"))],
            ..region_level()
        };
        let rules = [region_level(), tagged];
        assert_eq!(covering_rule(&rules, &ami(&[("team", "a")])).unwrap().identifier, "rule0000000");
        assert_eq!(covering_rule(&rules, &ami(&[])).unwrap().identifier, "rule0000001");
        assert!(covering_rule(&[], &ami(&[])).is_none());
    }
}
