//! Which Recycle Bin rules keep a deregistered AMI (and its deleted snapshots)
//! restorable long enough.

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
        retention_days: Some(30),
        ..Default::default()
    }
}

fn snapshot_rule(id: &str, days: u32) -> RecycleBinRule {
    RecycleBinRule {
        identifier: id.into(),
        resource_type: "EBS_SNAPSHOT".into(),
        retention_days: Some(days),
        ..region_level()
    }
}

/// An AMI of two snapshots, and their tags as DescribeSnapshots shows them.
fn with_snapshots() -> (Ami, BTreeMap<String, Tags>) {
    let device = |id: &str| crate::model::BlockDevice {
        device_name: format!("/dev/{id}"),
        snapshot_id: Some(id.into()),
        volume_size_gib: Some(8),
    };
    let ami = Ami { block_devices: vec![device("snap-1"), device("snap-2")], ..ami(&[]) };
    let tags = BTreeMap::from([
        ("snap-1".to_string(), fixtures::tags(&[("keep", "yes")])),
        ("snap-2".to_string(), fixtures::tags(&[])),
    ]);
    (ami, tags)
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

#[test]
fn a_rule_keeping_the_ami_shorter_than_the_minimum_holds_it() {
    let none = BTreeMap::new();
    let short = RecycleBinRule { retention_days: Some(1), ..region_level() };
    let (reason, detail) = restorable(&[short], &ami(&[]), &none, 30, false).unwrap_err();
    assert_eq!(reason, "recycle_bin_retention_too_short");
    assert!(detail.contains("rule0000001") && detail.contains("1 days") && detail.contains("=30"), "{detail}");
    let kept = restorable(&[region_level()], &ami(&[]), &none, 30, false).unwrap();
    assert_eq!(kept, Retention { rule: "rule0000001".into(), days: 30, snapshot_days: None });
    let unknown_unit = RecycleBinRule { retention_days: None, ..region_level() };
    assert_eq!(
        restorable(&[unknown_unit], &ami(&[]), &none, 1, false).unwrap_err().0,
        "recycle_bin_retention_too_short"
    );
}

#[test]
fn the_shortest_of_the_rules_covering_it_counts_whichever_precedence_aws_applies() {
    let none = BTreeMap::new();
    let long = RecycleBinRule { identifier: "rule0000009".into(), retention_days: Some(365), ..region_level() };
    let tagged = RecycleBinRule {
        identifier: "rule0000002".into(),
        retention_days: Some(7),
        resource_tags: vec![tag("team", Some("a"))],
        ..region_level()
    };
    let rules = [long.clone(), tagged];
    assert_eq!(
        restorable(&rules, &ami(&[("team", "a")]), &none, 30, false).unwrap_err().0,
        "recycle_bin_retention_too_short"
    );
    assert_eq!(
        restorable(&rules, &ami(&[]), &none, 30, false).unwrap().days,
        365,
        "the tag-level rule does not cover it"
    );
    assert_eq!(covering_rule(&rules, &ami(&[("team", "a")])).unwrap().identifier, "rule0000002");
}

#[test]
fn a_rule_being_unlocked_holds_locked_unlocked_or_never_locked_ones_do_not() {
    let none = BTreeMap::new();
    for lock in [None, Some("locked"), Some("unlocked")] {
        let rule = RecycleBinRule { lock_state: lock.map(str::to_string), ..region_level() };
        assert!(restorable(&[rule], &ami(&[]), &none, 30, false).is_ok(), "{lock:?}");
    }
    let unlocking = RecycleBinRule { lock_state: Some("pending_unlock".into()), ..region_level() };
    let (reason, detail) = restorable(&[unlocking], &ami(&[]), &none, 30, false).unwrap_err();
    assert_eq!(reason, "recycle_bin_rule_unlocking");
    assert!(detail.contains("pending_unlock"), "{detail}");
}

#[test]
fn deleting_snapshots_needs_a_snapshot_rule_for_each_of_them() {
    let (ami, tags) = with_snapshots();
    let (reason, detail) = restorable(&[region_level()], &ami, &tags, 30, true).unwrap_err();
    assert_eq!(reason, "no_snapshot_rule");
    assert!(detail.contains("snap-1") && detail.contains("RETIRE_DELETE_SNAPSHOTS"), "{detail}");
    assert!(restorable(&[region_level()], &ami, &tags, 30, false).is_ok(), "kept snapshots need no rule");
    let by_tag = RecycleBinRule { resource_tags: vec![tag("keep", Some("yes"))], ..snapshot_rule("rule0000003", 40) };
    let rules = [region_level(), by_tag.clone()];
    let (reason, detail) = restorable(&rules, &ami, &tags, 30, true).unwrap_err();
    assert_eq!(reason, "no_snapshot_rule");
    assert!(detail.contains("snap-2"), "the untagged snapshot is not covered: {detail}");
    let rules = [region_level(), by_tag, snapshot_rule("rule0000004", 60)];
    let kept = restorable(&rules, &ami, &tags, 30, true).unwrap();
    assert_eq!(kept.snapshot_days, Some(40), "the shortest snapshot retention");
}

#[test]
fn a_snapshot_rule_too_short_or_tags_unread_hold_too() {
    let (ami, tags) = with_snapshots();
    let rules = [region_level(), snapshot_rule("rule0000003", 1)];
    let (reason, detail) = restorable(&rules, &ami, &tags, 30, true).unwrap_err();
    assert_eq!(reason, "recycle_bin_retention_too_short");
    assert!(detail.contains("EBS_SNAPSHOT rule rule0000003"), "{detail}");
    let rules = [region_level(), snapshot_rule("rule0000003", 30)];
    let (reason, detail) = restorable(&rules, &ami, &BTreeMap::new(), 30, true).unwrap_err();
    assert_eq!(reason, "no_snapshot_rule");
    assert!(detail.contains("could not be read"), "{detail}");
}
