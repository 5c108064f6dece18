//! The planner's rules, one per test; the worst defect is acting on an AMI that is
//! still needed, so every path that could act is tested for when it must not.

use chrono::{DateTime, Duration, Utc};

use super::super::model::*;
use super::super::undo::owners_deprecation_back;
use super::*;
use crate::fixtures::{self, t};
use crate::verdict::Reason;

const OWNER: &str = "111122223333";

fn now() -> DateTime<Utc> {
    t("2026-12-31T12:00:00Z")
}

fn days_ago(n: i64) -> DateTime<Utc> {
    now() - Duration::days(n)
}

fn ami(id: &str) -> Ami {
    Ami { owner_id: Some(OWNER.into()), ..fixtures::ami(id) }
}

/// An AMI as DescribeImages shows it once the pipeline deprecated it.
fn deprecated_ami(id: &str) -> Ami {
    let mut a = ami(id);
    a.lifecycle.deprecation_time = Some(our_deprecation());
    a.tags.insert(STAGE_TAG.into(), "deprecated 2026-12-01T00:00:00Z".into());
    a
}

/// … and once it disabled it.
fn disabled_ami(id: &str) -> Ami {
    let mut a = deprecated_ami(id);
    a.state = "disabled".into();
    a
}

fn verdict(id: &str, kind: Kind) -> Verdict {
    let reasons = match kind {
        Kind::Candidate => vec![Reason::UnusedForWindow, Reason::NoOwnerAccountUse],
        Kind::InUse => vec![Reason::UsedInOtherAccounts],
        Kind::Excluded => vec![Reason::ExcludedByTag],
        Kind::Unknown => vec![Reason::WithheldByCircuitBreaker],
    };
    Verdict { unused_since: Some(t("2026-10-01T00:00:00Z")), ..Verdict::for_test(id, kind, &reasons) }
}

fn settings(mode: RetireMode) -> RetireSettings {
    RetireSettings { mode, ..RetireSettings::default() }
}

/// A Region-level rule keeping AMIs 90 days (the default minimum is 30).
fn region_rule() -> RecycleBinRule {
    RecycleBinRule {
        identifier: "rule0000001".into(),
        resource_type: "EC2_IMAGE".into(),
        status: "available".into(),
        retention_days: Some(90),
        ..Default::default()
    }
}

/// The deprecation time `deprecated_ami` shows: the one the pipeline set.
fn our_deprecation() -> DateTime<Utc> {
    t("2027-01-14T12:00:00Z")
}

/// A record as the pipeline keeps it: past `candidate`, with the deprecation it set.
fn record(stage: Stage, since: DateTime<Utc>) -> RetireRecord {
    let deprecate_at = (stage != Stage::Candidate).then(our_deprecation);
    RetireRecord { stage, since, deprecate_at, ..RetireRecord::default() }
}

fn state(mode: RetireMode, records: &[(&str, RetireRecord)]) -> RetireState {
    RetireState {
        mode,
        records: records.iter().map(|(id, r)| (id.to_string(), r.clone())).collect(),
        ..Default::default()
    }
}

/// One run: the plan for these AMIs, verdicts, rules and state.
struct Run {
    settings: RetireSettings,
    amis: Vec<Ami>,
    verdicts: Vec<Verdict>,
    rules: Vec<RecycleBinRule>,
    state: RetireState,
    candidate_since: BTreeMap<String, DateTime<Utc>>,
    /// AMIs outside the selection (`None`: they could not be looked up).
    others: Option<Vec<Ami>>,
    snapshot_tags: BTreeMap<String, crate::model::Tags>,
    /// The run's clock.
    now: DateTime<Utc>,
}

impl Run {
    fn enforce(amis: Vec<Ami>, verdicts: Vec<Verdict>) -> Self {
        Self {
            settings: settings(RetireMode::Enforce),
            amis,
            verdicts,
            rules: vec![region_rule()],
            state: RetireState { mode: RetireMode::Enforce, ..Default::default() },
            candidate_since: BTreeMap::new(),
            others: Some(Vec::new()),
            snapshot_tags: BTreeMap::new(),
            now: now(),
        }
    }

    fn with_state(mut self, records: &[(&str, RetireRecord)]) -> Self {
        self.state = state(self.settings.mode, records);
        self
    }

    fn plan(&self) -> Plan {
        plan(&RetireInput {
            settings: &self.settings,
            owner_account_id: OWNER,
            now: self.now,
            amis: &self.amis,
            verdicts: &self.verdicts,
            candidate_since: &self.candidate_since,
            rules: &self.rules,
            state: &self.state,
            others: self.others.as_deref(),
            snapshot_tags: &self.snapshot_tags,
        })
    }
}

fn only(plan: &Plan) -> &Decision {
    assert_eq!(plan.decisions.len(), 1, "{:#?}", plan.decisions);
    &plan.decisions[0]
}

fn actions(plan: &Plan) -> Vec<(&str, Action, Outcome, &str)> {
    plan.decisions.iter().map(|d| (d.image_id.as_str(), d.action, d.outcome, d.reason.as_str())).collect()
}

/// Never an AWS call that changes an AMI.
fn no_calls(plan: &Plan) -> bool {
    plan.decisions.iter().all(|d| d.calls.is_empty())
}

#[path = "forward_tests.rs"]
mod forward;

#[path = "undo_tests.rs"]
mod undo;

#[path = "promises_tests.rs"]
mod promises;

#[test]
fn deprecate_at_is_rounded_up_to_the_next_whole_minute() {
    assert_eq!(deprecate_at(t("2026-12-31T12:00:00Z"), 14), t("2027-01-14T12:00:00Z"));
    assert_eq!(deprecate_at(t("2026-12-31T12:00:01Z"), 14), t("2027-01-14T12:01:00Z"));
    assert_eq!(deprecate_at(t("2026-12-31T12:00:00.001Z"), 0), t("2026-12-31T12:01:00Z"));
    assert_eq!(deprecate_at(t("2026-12-31T12:59:59Z"), 0), t("2026-12-31T13:00:00Z"));
}

#[test]
fn the_tag_value_starts_with_the_stage_and_keeps_to_safe_characters() {
    let v = stage_tag_value(
        Stage::Deprecated,
        t("2026-12-02T08:00:00Z"),
        Some(t("2026-10-01T00:00:00Z")),
        Some(t("2026-12-16T08:00:00Z")),
        None,
    );
    assert_eq!(v, "deprecated 2026-12-02T08:00:00Z unused since 2026-10-01 deprecation at 2026-12-16T08:00:00Z");
    assert_eq!(v.split(' ').next(), Some("deprecated"));
    let disabled = stage_tag_value(Stage::Disabled, now(), None, None, None);
    assert_eq!(disabled, "disabled 2026-12-31T12:00:00Z");
    assert!(v.len() <= 256 && v.chars().all(|c| c.is_ascii_alphanumeric() || " :-".contains(c)));
}

#[test]
fn a_tag_restores_a_lost_record_at_its_stage_and_time() {
    let mut tagged = ami("ami-1");
    tagged.tags.insert(
        STAGE_TAG.into(),
        "disabled 2026-12-01T00:00:00Z unused since 2026-10-01 deprecation at 2027-01-14T12:00:00Z".into(),
    );
    let mut odd = ami("ami-2");
    odd.tags.insert(STAGE_TAG.into(), "deprecated not-a-time".into());
    let mut future = ami("ami-3");
    future.tags.insert(STAGE_TAG.into(), "deprecated 2099-01-01T00:00:00Z".into());
    let mut foreign = ami("ami-4");
    foreign.tags.insert(STAGE_TAG.into(), "something else".into());
    let carried = carried_state(&RetireState::default(), RetireMode::Enforce, &[tagged, odd, future, foreign], now());
    assert_eq!(carried.records["ami-1"], record(Stage::Disabled, t("2026-12-01T00:00:00Z")));
    let unnamed = RetireRecord { deprecate_at: None, ..record(Stage::Deprecated, now()) };
    assert_eq!(carried.records["ami-2"], unnamed, "an unreadable time waits in full");
    assert_eq!(carried.records["ami-3"].since, now(), "a time in the future never shortens a wait");
    assert!(!carried.records.contains_key("ami-4"));
}

#[test]
fn a_mode_change_discards_the_other_modes_records_and_off_keeps_only_real_ones() {
    let dry = state(RetireMode::DryRun, &[("ami-1", record(Stage::Disabled, days_ago(40)))]);
    assert!(carried_state(&dry, RetireMode::Enforce, &[ami("ami-1")], now()).records.is_empty());
    assert!(state_while_off(&dry).records.is_empty());
    let real = state(RetireMode::Enforce, &[("ami-1", record(Stage::Disabled, days_ago(40)))]);
    assert!(carried_state(&real, RetireMode::DryRun, &[ami("ami-1")], now()).records.is_empty());
    assert_eq!(state_while_off(&real), real);
    assert_eq!(carried_state(&real, RetireMode::Enforce, &[], now()), real);
}

#[test]
fn rows_still_to_archive_survive_a_mode_change_and_off() {
    let row = crate::retire::rows::action_row(
        &Decision {
            image_id: "ami-1".into(),
            action: Action::Deprecate,
            outcome: Outcome::Done,
            stage_after: Stage::Deprecated,
            stage_since: now(),
            reason: "candidate_for_days".into(),
            ..Decision::default()
        },
        RetireMode::DryRun,
        &crate::archive::Provenance { owner_account_id: OWNER.into(), region: "us-east-1".into(), collected_at: now() },
    );
    let dry = RetireState {
        unarchived: vec![row.clone()],
        ..state(RetireMode::DryRun, &[("ami-1", record(Stage::Deprecated, now()))])
    };
    assert_eq!(carried_state(&dry, RetireMode::Enforce, &[], now()).unarchived, vec![row.clone()]);
    assert_eq!(state_while_off(&dry).unarchived, vec![row]);
    assert!(state_while_off(&dry).records.is_empty());
}

#[test]
fn tagged_lists_the_amis_carrying_the_stage_tag() {
    let mut a = ami("ami-1");
    a.tags.insert(STAGE_TAG.into(), "deprecated 2026-12-01T00:00:00Z".into());
    assert_eq!(tagged(&[a, ami("ami-2")]), vec!["ami-1".to_string()]);
}

#[test]
fn settings_default_to_the_documented_values() {
    let d = RetireSettings::default();
    assert_eq!(d.mode, RetireMode::Off);
    assert_eq!(
        (d.deprecate_after_days, d.deprecation_notice_days, d.disable_after_days, d.deregister_after_days),
        (0, 14, 30, 30)
    );
    assert!(d.require_recycle_bin && !d.delete_snapshots);
    assert_eq!(d.max_actions_per_run, 10);
    assert_eq!(d.min_recycle_bin_days, 30);
}
