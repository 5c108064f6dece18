//! The retirement pipeline's rules: from this run's verdicts, the AMIs as DescribeImages
//! shows them, the Recycle Bin rules and the state's records, the plan of the run.
//!
//! An AMI walks `candidate` → deprecate → `deprecated` → disable → `disabled` →
//! deregister → `deregistered`, each step a configured number of days after the
//! previous one, each re-checked with this run's fresh verdict: still `candidate`,
//! owned by the run's account, within the run's action budget, and for deregister: not
//! deregistration-protected, still disabled, and covered by a Recycle Bin rule. Otherwise the step is
//! held and the hold says why. An AMI deprecated or disabled whose verdict turns
//! `in_use` or `excluded` is restored at once, budget or not. `unknown` holds.
//!
//! Idempotency: the job saves "intended X at t" before the calls and the result after.
//! A record found with an intent is completed from what the AMI shows (the calls
//! already done are not made again); a deregistration whose AMI is gone is done and is
//! never repeated.
//!
//! Every AMI carrying the stage tag is the pipeline's until it is undone or
//! deregistered: one that left the selection is undone like an excluded one, one that
//! vanished is forgotten, and an AMI tagged `deregistered` (restored from the Recycle
//! Bin) is never retired again.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::model::{
    Action, Decision, Outcome, Plan, RetireMode, RetireRecord, RetireSettings, RetireState, STAGE_TAG, Stage,
};
use super::rbin::RecycleBinRule;
use crate::model::{Ami, Tags};
use crate::verdict::{Kind, Verdict};

pub struct RetireInput<'a> {
    pub settings: &'a RetireSettings,
    pub owner_account_id: &'a str,
    pub now: DateTime<Utc>,
    /// The selected AMIs (disabled ones included), as DescribeImages showed them.
    pub amis: &'a [Ami],
    pub verdicts: &'a [Verdict],
    /// `AmiState::candidate_since` per AMI: when it became a candidate.
    pub candidate_since: &'a BTreeMap<String, DateTime<Utc>>,
    /// Recycle Bin rules of both resource types (`EC2_IMAGE`, `EBS_SNAPSHOT`).
    pub rules: &'a [RecycleBinRule],
    pub state: &'a RetireState,
    /// AMIs outside the selection the pipeline still answers for (carrying the stage tag,
    /// or with a record), as DescribeImages shows them; `None`: they could not be looked
    /// up, so records of AMIs not selected wait.
    pub others: Option<&'a [Ami]>,
    /// DescribeSnapshots' tags of the snapshots [`snapshots_to_read`] named.
    pub snapshot_tags: &'a BTreeMap<String, Tags>,
}

/// The state as this mode carries it: records of another mode dropped (a dry run's
/// simulated stages never steer enforce, nor the reverse), then an AMI that carries
/// our stage tag but has no record (a lost state, a mode switched back) picked up at
/// the stage its tag names, from the time the tag gives.
pub fn carried_state(state: &RetireState, mode: RetireMode, amis: &[Ami], now: DateTime<Utc>) -> RetireState {
    let mut records = if state.mode == mode { state.records.clone() } else { BTreeMap::new() };
    for ami in amis {
        if let Some(record) = ami.tags.get(STAGE_TAG).and_then(|v| record_from_tag(v, now))
            && !records.contains_key(&ami.image_id)
        {
            records.insert(ami.image_id.clone(), record);
        }
    }
    RetireState { mode, records, unarchived: state.unarchived.clone() }
}

/// What `RETIRE_MODE=off` keeps: real stages (enforce records), never simulated ones,
/// and the rows still to archive (written when the pipeline runs again).
pub fn state_while_off(state: &RetireState) -> RetireState {
    match state.mode {
        RetireMode::Enforce => state.clone(),
        _ => RetireState { unarchived: state.unarchived.clone(), ..RetireState::default() },
    }
}

/// The AMIs left deprecated or disabled (the stage tag), for the summary while the
/// pipeline is off.
pub fn tagged(amis: &[Ami]) -> Vec<String> {
    let left = |a: &&Ami| matches!(in_stage(a), Some(Stage::Deprecated | Stage::Disabled));
    amis.iter().filter(left).map(|a| a.image_id.clone()).collect()
}

/// The stage the AMI's tag names (`deregistered`: restored from the Recycle Bin).
pub(super) fn in_stage(ami: &Ami) -> Option<Stage> {
    match ami.tags.get(STAGE_TAG)?.split(' ').next()? {
        "deprecated" => Some(Stage::Deprecated),
        "disabled" => Some(Stage::Disabled),
        "deregistered" => Some(Stage::Deregistered),
        _ => None,
    }
}

/// The AMIs with a record but not selected: the job looks them up by id (those that
/// carry the stage tag it lists itself).
pub fn records_to_look_up(state: &RetireState, selected: &[Ami]) -> BTreeSet<String> {
    let selected: BTreeSet<&str> = selected.iter().map(|a| a.image_id.as_str()).collect();
    state.records.keys().filter(|id| !selected.contains(id.as_str())).cloned().collect()
}

/// The snapshots whose tags the deregistrations of this run may need (snapshot deletion
/// on, a Recycle Bin rule required): those of the AMIs at `disabled` (by record or tag).
pub fn snapshots_to_read(settings: &RetireSettings, state: &RetireState, amis: &[Ami]) -> BTreeSet<String> {
    if !settings.delete_snapshots || !settings.require_recycle_bin || settings.mode == RetireMode::Off {
        return BTreeSet::new();
    }
    let disabled = |a: &Ami| {
        state.records.get(&a.image_id).is_some_and(|r| r.stage == Stage::Disabled)
            || in_stage(a) == Some(Stage::Disabled)
    };
    amis.iter().filter(|a| disabled(a)).flat_map(super::rbin::snapshot_ids).collect()
}

fn record_from_tag(value: &str, now: DateTime<Utc>) -> Option<RetireRecord> {
    let mut words = value.split(' ');
    let stage = match words.next()? {
        "deprecated" => Stage::Deprecated,
        "disabled" => Stage::Disabled,
        _ => return None,
    };
    let since =
        words.next().and_then(|w| DateTime::parse_from_rfc3339(w).ok()).map_or(now, |t| t.with_timezone(&Utc)).min(now);
    // The tag names a deprecation only when the pipeline set it, and the owners' one it
    // replaced (see `stage_tag_value`).
    let time_after = |marker: &str| {
        value
            .split_once(marker)
            .and_then(|(_, rest)| rest.split(' ').next())
            .and_then(|w| DateTime::parse_from_rfc3339(w).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    Some(RetireRecord {
        stage,
        since,
        deprecate_at: time_after(" deprecation at "),
        deprecation_before: time_after(" replacing "),
        ..RetireRecord::default()
    })
}

/// The stage tag's value: stage, time, why, (once deprecated) when the deprecation
/// the pipeline set takes effect and the owners' one it replaced — so a state rebuilt
/// from the tag still undoes exactly. Only letters, digits, spaces, `:` and `-`
/// (accepted by every AWS tag grammar), at most 256 characters; tests read the stage as
/// the first word.
pub fn stage_tag_value(
    stage: Stage,
    now: DateTime<Utc>,
    unused_since: Option<DateTime<Utc>>,
    deprecate_at: Option<DateTime<Utc>>,
    replacing: Option<DateTime<Utc>>,
) -> String {
    let mut value = format!("{} {}", stage.as_str(), now.format("%Y-%m-%dT%H:%M:%SZ"));
    if let Some(u) = unused_since {
        value.push_str(&format!(" unused since {}", u.format("%Y-%m-%d")));
    }
    if let Some(d) = deprecate_at {
        value.push_str(&format!(" deprecation at {}", d.format("%Y-%m-%dT%H:%M:%SZ")));
        if let Some(r) = replacing {
            value.push_str(&format!(" replacing {}", r.format("%Y-%m-%dT%H:%M:%SZ")));
        }
    }
    value.chars().map(|c| if c.is_ascii_alphanumeric() || " :-".contains(c) { c } else { '-' }).take(256).collect()
}

/// `now + notice`, rounded up to the next whole minute: AWS keeps DeprecateAt to the
/// minute and refuses a time in the past.
pub fn deprecate_at(now: DateTime<Utc>, notice_days: u32) -> DateTime<Utc> {
    let t = now + Duration::days(i64::from(notice_days));
    let secs = t.timestamp();
    let floor = secs - secs.rem_euclid(60);
    if floor == secs && t.timestamp_subsec_nanos() == 0 {
        return t;
    }
    DateTime::from_timestamp(floor + 60, 0).unwrap_or(t)
}

/// The run's plan (see the module documentation).
pub fn plan(input: &RetireInput) -> Plan {
    let others = input.others.unwrap_or_default();
    let selected: BTreeSet<&str> = input.amis.iter().map(|a| a.image_id.as_str()).collect();
    let others: Vec<&Ami> = others.iter().filter(|a| !selected.contains(a.image_id.as_str())).collect();
    let described: Vec<Ami> = input.amis.iter().chain(others.iter().copied()).cloned().collect();
    let state = carried_state(input.state, input.settings.mode, &described, input.now);
    let mut planner = Planner {
        input,
        amis: input.amis.iter().chain(others).map(|a| (a.image_id.as_str(), a)).collect(),
        selected,
        verdicts: input.verdicts.iter().map(|v| (v.image_id.as_str(), v)).collect(),
        budget: input.settings.max_actions_per_run,
        decisions: Vec::new(),
        state,
    };
    for image_id in planner.order() {
        planner.one(&image_id);
    }
    Plan { decisions: planner.decisions, state: planner.state }
}

/// The plan being made: the steps (`super::steps`) add to it.
pub(super) struct Planner<'a> {
    pub(super) input: &'a RetireInput<'a>,
    /// Every AMI described: the selected ones and the others.
    pub(super) amis: BTreeMap<&'a str, &'a Ami>,
    pub(super) selected: BTreeSet<&'a str>,
    pub(super) verdicts: BTreeMap<&'a str, &'a Verdict>,
    pub(super) budget: u32,
    pub(super) decisions: Vec<Decision>,
    pub(super) state: RetireState,
}

impl Planner<'_> {
    /// Interrupted actions first (so the budget never strands one), then by image id.
    fn order(&self) -> Vec<String> {
        let candidates = self.input.verdicts.iter().filter(|v| v.kind == Kind::Candidate).map(|v| &v.image_id);
        let all: BTreeSet<&String> = self.state.records.keys().chain(candidates).collect();
        let (interrupted, rest): (Vec<&String>, Vec<&String>) =
            all.into_iter().partition(|id| self.state.records.get(*id).is_some_and(|r| r.intent.is_some()));
        interrupted.into_iter().chain(rest).cloned().collect()
    }

    fn one(&mut self, image_id: &str) {
        let record = self.state.records.get(image_id).cloned();
        let Some(ami) = self.amis.get(image_id).copied() else {
            return self.absent(image_id, record);
        };
        let intent = record.as_ref().and_then(|r| r.intent.as_ref());
        if in_stage(ami) == Some(Stage::Deregistered) && intent.is_none() {
            // Restored from the Recycle Bin: the operator's now, never retired again.
            self.state.records.remove(image_id);
            return;
        }
        if let Some(r) = &record
            && intent.is_some_and(|i| i.action.is_undo())
        {
            return self.undo(ami, r, "undo_interrupted", String::new());
        }
        if !self.selected.contains(image_id) {
            return self.left_selection(ami, record);
        }
        let Some(verdict) = self.verdicts.get(image_id).copied() else {
            return;
        };
        let codes = verdict.reasons.iter().map(|r| r.code()).collect::<Vec<_>>().join(",");
        match (verdict.kind, record) {
            (Kind::Candidate, record) => self.forward(ami, verdict, record),
            (Kind::InUse | Kind::Excluded, Some(r)) if r.stage == Stage::Deregistered => {}
            (Kind::InUse | Kind::Excluded, Some(r)) => {
                let reason = if verdict.kind == Kind::InUse { "used_again" } else { "excluded" };
                self.undo(ami, &r, reason, codes)
            }
            (Kind::Unknown, Some(r))
                if r.stage != Stage::Deregistered && (r.stage != Stage::Candidate || r.intent.is_some()) =>
            {
                self.hold(ami, &r, "verdict_unknown", codes)
            }
            _ => {}
        }
    }

    /// An AMI no longer described: an interrupted deregistration is done (never
    /// repeated), completed from its intent; any other record is forgotten (the AMI was
    /// deregistered outside the pipeline) — unless the AMIs outside the selection could
    /// not be looked up, then it waits, since nothing can be done to an AMI not seen.
    fn absent(&mut self, image_id: &str, record: Option<RetireRecord>) {
        let Some(r) = record else { return };
        let Some(intent) = r.intent.as_ref().filter(|i| i.action == Action::Deregister) else {
            // An enforced deregistration's record leaves once its rows are archived
            // (`RetireState::forget_finished`); a dry run's, once its AMI is gone.
            if self.input.others.is_some() && (r.stage != Stage::Deregistered || !self.enforce()) {
                self.state.records.remove(image_id);
            }
            return;
        };
        let facts = intent.deregistration.clone().unwrap_or_default();
        let after = RetireRecord { stage: Stage::Deregistered, since: intent.at, intent: None, ..r.clone() };
        let ami = Ami { image_id: image_id.to_string(), name: facts.image_name.clone(), ..Ami::default() };
        let mut d = self.base(&ami, &r, Action::Deregister, "candidate_for_days");
        d.outcome = self.outcome();
        d.stage_after = Stage::Deregistered;
        d.detail =
            format!("interrupted at {}: the AMI is gone, so the deregistration was done", intent.at.to_rfc3339());
        d.delete_snapshots =
            intent.deregistration.as_ref().map_or(self.input.settings.delete_snapshots, |f| f.delete_snapshots);
        d.recycle_bin_rule = facts.recycle_bin_rule;
        d.deregistration = intent.deregistration.clone();
        d.restorable_until = intent.deregistration.as_ref().and_then(|f| f.restorable_until(None));
        d.after = Some(after);
        self.decisions.push(d);
    }

    /// An AMI the selection no longer holds (its selection tags removed) but the pipeline
    /// still answers for: a stage in effect is undone, like an exclusion; a candidate's
    /// record (or a finished one) is forgotten.
    fn left_selection(&mut self, ami: &Ami, record: Option<RetireRecord>) {
        let Some(r) = record else { return };
        if r.stage == Stage::Deregistered || (r.stage == Stage::Candidate && r.intent.is_none()) {
            self.state.records.remove(&ami.image_id);
            return;
        }
        let detail = "left_selection: its tags no longer match AMI_TAG_FILTERS".to_string();
        self.undo(ami, &r, "excluded", detail)
    }

    pub(super) fn outcome(&self) -> Outcome {
        if self.input.settings.mode == RetireMode::Enforce { Outcome::Done } else { Outcome::Would }
    }

    pub(super) fn enforce(&self) -> bool {
        self.input.settings.mode == RetireMode::Enforce
    }

    pub(super) fn base(&self, ami: &Ami, r: &RetireRecord, action: Action, reason: &str) -> Decision {
        Decision {
            image_id: ami.image_id.clone(),
            image_name: ami.name.clone(),
            action,
            outcome: Outcome::Held,
            stage_before: r.stage,
            stage_after: r.stage,
            stage_since: r.since,
            reason: reason.to_string(),
            deprecate_at: r.deprecate_at,
            after: Some(RetireRecord { intent: None, ..r.clone() }),
            ..Decision::default()
        }
    }

    pub(super) fn hold(&mut self, ami: &Ami, r: &RetireRecord, reason: &str, detail: String) {
        let mut d = self.base(ami, r, Action::Hold, reason);
        d.detail = detail;
        d.after = Some(r.clone());
        self.decisions.push(d);
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
