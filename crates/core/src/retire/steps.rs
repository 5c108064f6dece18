//! The planner's two moves: a candidate's next step (or why it is held), and the undo
//! of an AMI that is needed again.

use chrono::Duration;

use super::model::{Action, Call, Decision, RetireRecord, RetireSettings, STAGE_TAG, Stage};
use super::plan::{Planner, deprecate_at, stage_tag_value};
use super::rbin::covering_rule;
use crate::model::Ami;
use crate::verdict::Verdict;

/// The AMI already carries the stage tag of `stage` (a run killed after tagging it).
fn tagged_at(ami: &Ami, stage: Stage) -> bool {
    ami.tags.get(STAGE_TAG).is_some_and(|v| v.split(' ').next() == Some(stage.as_str()))
}

/// Whether the AMI's deprecation is the one the pipeline set: the record's (or, for a
/// deprecate interrupted before its result was saved, the one that intent asked for),
/// to the minute EC2 keeps. A deprecation its owners set, or moved since, is theirs:
/// an undo leaves it alone.
pub(super) fn deprecation_ours(r: &RetireRecord, ami: &Ami, s: &RetireSettings) -> bool {
    let Some(current) = ami.lifecycle.deprecation_time else { return false };
    let intended = r.intent.as_ref().filter(|i| i.action == Action::Deprecate);
    let set = r.deprecate_at.or_else(|| intended.map(|i| deprecate_at(i.at, s.deprecation_notice_days)));
    set.is_some_and(|t| (t - current).num_seconds().abs() < 60)
}

/// The step out of a stage and how many days it waits in that stage first.
fn next_step(stage: Stage, p: &Planner) -> Option<(Action, u32)> {
    let s = p.input.settings;
    match stage {
        Stage::Candidate => Some((Action::Deprecate, s.deprecate_after_days)),
        Stage::Deprecated => Some((Action::Disable, s.disable_after_days)),
        Stage::Disabled => Some((Action::Deregister, s.deregister_after_days)),
        Stage::Deregistered => None,
    }
}

impl Planner<'_> {
    /// A candidate's next step once its stage has lasted long enough (at once when an
    /// interrupted one is to be completed), unless a re-check holds it.
    pub(super) fn forward(&mut self, ami: &Ami, verdict: &Verdict, record: Option<RetireRecord>) {
        let now = self.input.now;
        let record = record.unwrap_or_else(|| {
            let since = self.input.candidate_since.get(&ami.image_id).copied().unwrap_or(now).min(now);
            let entered = RetireRecord { stage: Stage::Candidate, since, deprecate_at: None, intent: None };
            self.state.records.insert(ami.image_id.clone(), entered.clone());
            entered
        });
        let Some((action, wait_days)) = next_step(record.stage, self) else { return };
        let interrupted = record.intent.as_ref().filter(|i| i.action == action);
        if interrupted.is_none() && now < record.since + Duration::days(i64::from(wait_days)) {
            return;
        }
        if let Some((reason, detail)) = self.held_because(ami, action) {
            return self.hold(ami, &record, reason, detail);
        }
        self.budget -= 1;
        let mut d = self.base(ami, &record, action, "candidate_for_days");
        d.outcome = self.outcome();
        d.detail = verdict.reasons.iter().map(|r| r.code()).collect::<Vec<_>>().join(",");
        if let Some(i) = interrupted {
            d.detail = format!("completing the {} interrupted at {}; {}", action.as_str(), i.at.to_rfc3339(), d.detail);
        }
        let done_at = interrupted.map_or(now, |i| i.at);
        self.step(ami, verdict, &record, done_at, &mut d);
        if !self.enforce() {
            d.calls.clear();
        }
        self.decisions.push(d);
    }

    /// Why this step must wait, if it must: the checks every forward step repeats.
    fn held_because(&self, ami: &Ami, action: Action) -> Option<(&'static str, String)> {
        let s = self.input.settings;
        if ami.owner_id.as_deref() != Some(self.input.owner_account_id) {
            let owner = ami.owner_id.as_deref().unwrap_or("unknown");
            return Some(("not_owned", format!("owned by {owner}, not by {}", self.input.owner_account_id)));
        }
        if action == Action::Deregister && ami.lifecycle.deregistration_protected() {
            let p = ami.lifecycle.deregistration_protection.clone().unwrap_or_default();
            return Some((
                "deregistration_protected",
                format!("deregistration protection {p}: never turned off by us"),
            ));
        }
        if let Some(hold) = self.undone_outside(ami, action) {
            return Some(hold);
        }
        if action == Action::Deregister && s.require_recycle_bin && covering_rule(self.input.rules, ami).is_none() {
            return Some((
                "no_recycle_bin_rule",
                "no available EC2_IMAGE Recycle Bin rule covers it (RETIRE_REQUIRE_RECYCLE_BIN=true)".into(),
            ));
        }
        if self.budget == 0 {
            return Some(("action_budget_reached", format!("RETIRE_MAX_ACTIONS_PER_RUN={}", s.max_actions_per_run)));
        }
        None
    }

    /// A stage undone by hand (deprecation cancelled, AMI enabled) is a sign someone
    /// needs the AMI: the next step would skip the notice or the scream test, so it waits
    /// (enforce only: a dry run's stages are simulated).
    fn undone_outside(&self, ami: &Ami, action: Action) -> Option<(&'static str, String)> {
        if !self.enforce() {
            return None;
        }
        match action {
            Action::Disable if ami.lifecycle.deprecation_time.is_none() => Some((
                "not_deprecated",
                "its deprecation was cancelled outside the pipeline: add EXCLUDE_TAG to keep it, or deprecate it again"
                    .into(),
            )),
            Action::Deregister if ami.state != "disabled" => Some((
                "not_disabled",
                format!(
                    "it is {} (enabled outside the pipeline): add EXCLUDE_TAG to keep it, or disable it again",
                    ami.state
                ),
            )),
            _ => None,
        }
    }

    /// The calls and the resulting record of one forward step; calls already done (as
    /// the AMI shows after an interruption) are left out.
    fn step(
        &self,
        ami: &Ami,
        verdict: &Verdict,
        r: &RetireRecord,
        done_at: chrono::DateTime<chrono::Utc>,
        d: &mut Decision,
    ) {
        let s = self.input.settings;
        let next = |stage, deprecate_at| Some(RetireRecord { stage, since: done_at, deprecate_at, intent: None });
        match d.action {
            Action::Deprecate => {
                let ours = deprecate_at(self.input.now, s.deprecation_notice_days);
                let at = ami.lifecycle.deprecation_time.filter(|t| *t <= ours || r.intent.is_some()).unwrap_or(ours);
                let set_by_us = ami.lifecycle.deprecation_time != Some(at) || deprecation_ours(r, ami, s);
                if ami.lifecycle.deprecation_time != Some(at) {
                    d.calls.push(Call::EnableDeprecation { deprecate_at: at });
                }
                // Only a deprecation the pipeline set is remembered (and named in the tag):
                // an undo cancels that one and never one its owners set themselves.
                let ours = set_by_us.then_some(at);
                if !tagged_at(ami, Stage::Deprecated) {
                    let value = stage_tag_value(Stage::Deprecated, done_at, verdict.unused_since, ours);
                    d.calls.push(Call::Tag { value });
                }
                d.deprecate_at = Some(at);
                d.stage_after = Stage::Deprecated;
                d.after = next(Stage::Deprecated, ours);
            }
            Action::Disable => {
                if ami.state != "disabled" {
                    d.calls.push(Call::Disable);
                }
                if !tagged_at(ami, Stage::Disabled) {
                    let value = stage_tag_value(Stage::Disabled, done_at, verdict.unused_since, r.deprecate_at);
                    d.calls.push(Call::Tag { value });
                }
                d.stage_after = Stage::Disabled;
                d.after = next(Stage::Disabled, r.deprecate_at);
            }
            _ => {
                d.delete_snapshots = s.delete_snapshots;
                d.recycle_bin_rule = covering_rule(self.input.rules, ami).map(|rule| rule.identifier.clone());
                if let Some(rule) = &d.recycle_bin_rule {
                    d.detail = format!("{}; Recycle Bin rule {rule}", d.detail);
                }
                d.calls.push(Call::Deregister { delete_snapshots: s.delete_snapshots });
                d.stage_after = Stage::Deregistered;
                d.after = next(Stage::Deregistered, r.deprecate_at);
            }
        }
    }

    /// Restores an AMI that is needed again: enable (if we disabled it), then cancel
    /// the deprecation and remove the tag; the record is dropped. Never budgeted.
    pub(super) fn undo(&mut self, ami: &Ami, r: &RetireRecord, reason: &str, detail: String) {
        let intended = |a: Action| r.intent.as_ref().is_some_and(|i| i.action == a);
        let enforce = self.enforce();
        let mut record = r.clone();
        if r.stage == Stage::Disabled || intended(Action::Disable) {
            let mut d = self.base(ami, &record, Action::Enable, reason);
            d.outcome = self.outcome();
            d.detail = detail.clone();
            if enforce && ami.state == "disabled" {
                d.calls.push(Call::Enable);
            }
            // The wait restarts: should the undo stop halfway, the AMI is not disabled
            // again at once.
            record = RetireRecord { stage: Stage::Deprecated, since: self.input.now, intent: None, ..record };
            d.stage_after = Stage::Deprecated;
            d.after = Some(record.clone());
            self.decisions.push(d);
        }
        let mut d = self.base(ami, &record, Action::CancelDeprecation, reason);
        d.outcome = self.outcome();
        d.detail = detail;
        if enforce && deprecation_ours(&record, ami, self.input.settings) {
            d.calls.push(Call::DisableDeprecation);
        }
        if enforce && ami.tags.contains_key(STAGE_TAG) {
            d.calls.push(Call::Untag);
        }
        d.stage_after = Stage::Candidate;
        d.after = None;
        if record.stage == Stage::Candidate && (d.calls.is_empty() || !enforce) {
            // Never deprecated (an interrupted deprecate that did not happen): leave quietly.
            self.state.records.remove(&ami.image_id);
            return;
        }
        self.decisions.push(d);
    }
}
