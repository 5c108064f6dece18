use std::collections::BTreeMap;

use super::*;
use crate::create::TagFilter;
use crate::fixtures;
use crate::preflight::model::{Level, PreflightSettings, Refusal};

fn golden() -> TagFilters {
    TagFilters(vec![TagFilter { key: "Golden".into(), values: vec!["true".into()] }])
}

fn rule(id: &str, tags: &[(&str, &str)]) -> RecycleBinRule {
    RecycleBinRule {
        identifier: id.into(),
        resource_type: "EC2_IMAGE".into(),
        status: "available".into(),
        resource_tags: tags
            .iter()
            .map(|(k, v)| crate::verdict::TagMatch { key: k.to_string(), value: Some(v.to_string()) })
            .collect(),
        ..Default::default()
    }
}

fn tagged(id: &str, team: &str) -> Ami {
    Ami { tags: fixtures::tags(&[("team", team)]), ..fixtures::ami(id) }
}

fn enforce() -> PreflightSettings {
    PreflightSettings { retire_mode: RetireMode::Enforce, require_recycle_bin: true, ..Default::default() }
}

#[test]
fn the_selection_counts_the_amis_and_warns_when_there_are_none() {
    let mut disabled = fixtures::ami("ami-2");
    disabled.state = "disabled".into();
    let c = selection(&Ok(vec![fixtures::ami("ami-1"), disabled]), &golden());
    assert_eq!((c.result, c.detail.as_str()), (Level::Ok, "2 AMIs match AMI_TAG_FILTERS Golden=true (1 disabled)"));
    let none = selection(&Ok(vec![]), &TagFilters::default());
    assert_eq!(none.result, Level::Warn);
    assert!(none.detail.contains("every AMI the account owns"), "{}", none.detail);
    let denied = selection(&Err(Refusal::new(Some("UnauthorizedOperation"), "no")), &golden());
    assert_eq!(denied.result, Level::Fail);
    assert!(denied.fix.unwrap().contains("ec2:DescribeImages"));
}

#[test]
fn in_enforce_no_rule_fails_some_uncovered_warns_all_covered_is_green() {
    let amis = [tagged("ami-1", "a"), tagged("ami-2", "b")];
    let none = recycle_bin(&enforce(), &Ok(vec![]), &amis, &BTreeMap::new());
    assert_eq!(none.result, Level::Fail);
    assert!(none.fix.unwrap().contains("aws rbin create-rule --resource-type EC2_IMAGE"));
    let some = recycle_bin(&enforce(), &Ok(vec![rule("r1", &[("team", "a")])]), &amis, &BTreeMap::new());
    assert_eq!(
        (some.result, some.detail.as_str()),
        (
            Level::Warn,
            "1 of 2 selected AMIs would not stay restorable (ami-2): their deregistration is held (ami-2: \
             no_recycle_bin_rule, no available EC2_IMAGE Recycle Bin rule covers it)"
        )
    );
    let all = recycle_bin(&enforce(), &Ok(vec![rule("r0", &[])]), &amis, &BTreeMap::new());
    assert_eq!(all.result, Level::Ok);
    let pending = RecycleBinRule { status: "pending".into(), ..rule("r0", &[]) };
    assert_eq!(recycle_bin(&enforce(), &Ok(vec![pending]), &amis, &BTreeMap::new()).result, Level::Fail);
}

/// Preflight applies the retirement step's rule: a rule shorter than
/// `RETIRE_MIN_RECYCLE_BIN_DAYS` holds deregistration as surely as none.
#[test]
fn a_rule_shorter_than_the_minimum_is_not_enough() {
    let amis = [tagged("ami-1", "a")];
    let month = PreflightSettings { min_recycle_bin_days: 30, ..enforce() };
    let short = RecycleBinRule { retention_days: Some(7), ..rule("r7", &[]) };
    let c = recycle_bin(&month, &Ok(vec![short.clone()]), &amis, &BTreeMap::new());
    assert_eq!(c.result, Level::Fail);
    assert!(c.detail.contains("recycle_bin_retention_too_short"), "{}", c.detail);
    let week = PreflightSettings { min_recycle_bin_days: 7, ..enforce() };
    assert_eq!(recycle_bin(&week, &Ok(vec![short]), &amis, &BTreeMap::new()).result, Level::Ok);
}

#[test]
fn a_dry_run_only_warns_and_an_unrequired_bin_is_fine() {
    let amis = [tagged("ami-1", "a")];
    let dry = PreflightSettings { retire_mode: RetireMode::DryRun, ..enforce() };
    assert_eq!(recycle_bin(&dry, &Ok(vec![]), &amis, &BTreeMap::new()).result, Level::Warn);
    let unrequired = PreflightSettings { require_recycle_bin: false, ..enforce() };
    let c = recycle_bin(&unrequired, &Ok(vec![]), &amis, &BTreeMap::new());
    assert_eq!(c.result, Level::Ok);
    assert!(c.detail.contains("deleted for good"));
    assert_eq!(recycle_bin(&enforce(), &Ok(vec![]), &[], &BTreeMap::new()).result, Level::Fail);
    assert_eq!(recycle_bin(&enforce(), &Ok(vec![rule("r0", &[])]), &[], &BTreeMap::new()).result, Level::Ok);
    let denied =
        recycle_bin(&enforce(), &Err(Refusal::new(Some("AccessDeniedException"), "no")), &amis, &BTreeMap::new());
    assert_eq!(denied.result, Level::Fail);
    assert!(denied.fix.unwrap().contains("rbin:ListRules and rbin:GetRule"));
}

#[test]
fn cost_explorer_names_the_charge_and_tells_not_enabled_from_not_granted() {
    let ok = cost_explorer(&Ok(()));
    assert_eq!(ok.result, Level::Ok);
    assert!(ok.detail.contains("USD 0.01"));
    let off =
        cost_explorer(&Err(Refusal::new(Some("AccessDeniedException"), "User not enabled for cost explorer access")));
    assert_eq!(off.result, Level::Fail);
    assert!(off.fix.unwrap().starts_with("Enable Cost Explorer"));
    let denied = cost_explorer(&Err(Refusal::new(
        Some("AccessDeniedException"),
        "User: arn:aws:sts::1:assumed-role/r is not authorized to perform: ce:GetReservationUtilization",
    )));
    assert_eq!(denied.result, Level::Fail);
    assert!(denied.fix.unwrap().starts_with("Grant ce:GetReservationUtilization"));
    let no_data = cost_explorer(&Err(Refusal::new(Some("DataUnavailableException"), "no data")));
    assert_eq!(no_data.result, Level::Warn);
}

#[test]
fn members_without_fresh_facts_warn_and_unreadable_facts_fail() {
    let required = vec!["111111111111".to_string(), "222222222222".to_string()];
    let fresh = MemberFreshness { required: required.clone(), ..Default::default() };
    assert_eq!(member_probes(&fresh, 48).detail, "all 2 members probed within 48 hours");
    let stale = MemberFreshness { missing: vec!["222222222222".into()], ..fresh.clone() };
    let c = member_probes(&stale, 48);
    assert_eq!(c.result, Level::Warn);
    assert!(c.detail.starts_with("1 of 2 members have no facts newer than 48 hours (222222222222)"), "{}", c.detail);
    let unreadable = MemberFreshness { missing: required, unreadable: 2, ..fresh };
    assert_eq!(member_probes(&unreadable, 48).result, Level::Fail);
}
