//! The planner's forward move: a candidate's next step, or why it is held. Every fact an
//! undo or a completion needs later (the owners' deprecation, the launch permissions,
//! what the Recycle Bin keeps) is put on the decision here, saved with its intent.

use chrono::{DateTime, Duration, Utc};

use super::model::{Action, Call, Decision, Deregistration, RetireRecord, Stage};
use super::plan::{Planner, deprecate_at, in_stage, stage_tag_value};
use super::rbin::{NotRestorable, Retention, covering_rule, restorable, snapshot_ids};
use crate::model::Ami;
use crate::verdict::Verdict;

/// The AMI already carries the stage tag of `stage` (a run killed after tagging it).
fn tagged_at(ami: &Ami, stage: Stage) -> bool {
    in_stage(ami) == Some(stage)
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
            let entered = RetireRecord { stage: Stage::Candidate, since, ..RetireRecord::default() };
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
        match action {
            Action::Deprecate => self.deprecate(ami, verdict, &record, done_at, &mut d),
            Action::Disable => self.disable(ami, verdict, &record, done_at, &mut d),
            _ => self.deregister(ami, verdict, &record, done_at, &mut d),
        }
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
        if action == Action::Deregister
            && s.require_recycle_bin
            && let Err((reason, detail)) = self.restorable(ami)
        {
            return Some((reason, format!("{detail} (RETIRE_REQUIRE_RECYCLE_BIN=true)")));
        }
        if self.budget == 0 {
            return Some(("action_budget_reached", format!("RETIRE_MAX_ACTIONS_PER_RUN={}", s.max_actions_per_run)));
        }
        None
    }

    fn restorable(&self, ami: &Ami) -> Result<Retention, NotRestorable> {
        let s = self.input.settings;
        restorable(self.input.rules, ami, self.input.snapshot_tags, s.min_recycle_bin_days, s.delete_snapshots)
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

    /// Deprecate at now + notice, unless its owners had set an earlier time (kept). The
    /// time found before is recorded, so an undo puts back one the pipeline replaced.
    fn deprecate(&self, ami: &Ami, verdict: &Verdict, r: &RetireRecord, done_at: DateTime<Utc>, d: &mut Decision) {
        let notice = self.input.settings.deprecation_notice_days;
        let interrupted = r.intent.as_ref().filter(|i| i.action == Action::Deprecate);
        let found = interrupted.map_or(ami.lifecycle.deprecation_time, |i| i.deprecation_before);
        let planned = deprecate_at(self.input.now, notice);
        // A call the interrupted run made shows its own time: that is the one.
        let intended = interrupted.map(|i| i.deprecate_at.unwrap_or_else(|| deprecate_at(i.at, notice)));
        let at = match intended {
            Some(t) if ami.lifecycle.deprecation_time == Some(t) && found != Some(t) => t,
            _ => found.filter(|t| *t <= planned).unwrap_or(planned),
        };
        if ami.lifecycle.deprecation_time != Some(at) {
            d.calls.push(Call::EnableDeprecation { deprecate_at: at });
        }
        // Only a deprecation the pipeline set is remembered (and named in the tag): an
        // undo cancels that one, or puts back the owners' one it replaced.
        let ours = (found != Some(at)).then_some(at);
        let replaced = found.filter(|_| ours.is_some());
        if !tagged_at(ami, Stage::Deprecated) {
            let value = stage_tag_value(Stage::Deprecated, done_at, verdict.unused_since, ours, replaced);
            d.calls.push(Call::Tag { value });
        }
        d.deprecate_at = Some(at);
        d.team_deprecation = found;
        d.stage_after = Stage::Deprecated;
        d.after = Some(RetireRecord {
            stage: Stage::Deprecated,
            since: done_at,
            deprecate_at: ours,
            deprecation_before: replaced,
            ..RetireRecord::default()
        });
    }

    /// DisableImage removes every launch permission: the job reads them just before
    /// (`Decision::needs_launch_permissions`); a completion takes them from the intent.
    fn disable(&self, ami: &Ami, verdict: &Verdict, r: &RetireRecord, done_at: DateTime<Utc>, d: &mut Decision) {
        if ami.state != "disabled" {
            d.calls.push(Call::Disable);
        } else {
            d.launch_permissions = r.intent.as_ref().and_then(|i| i.launch_permissions.clone());
        }
        if !tagged_at(ami, Stage::Disabled) {
            let value =
                stage_tag_value(Stage::Disabled, done_at, verdict.unused_since, r.deprecate_at, r.deprecation_before);
            d.calls.push(Call::Tag { value });
        }
        d.stage_after = Stage::Disabled;
        d.after = Some(RetireRecord {
            stage: Stage::Disabled,
            since: done_at,
            launch_permissions: d.launch_permissions.clone(),
            intent: None,
            ..r.clone()
        });
    }

    /// DeregisterImage, after the tag `deregistered` (kept into the Recycle Bin, so an AMI
    /// restored from it is never retired again), with everything its row and
    /// announcement need fixed beforehand.
    fn deregister(&self, ami: &Ami, verdict: &Verdict, r: &RetireRecord, done_at: DateTime<Utc>, d: &mut Decision) {
        let s = self.input.settings;
        let (rule, days, snapshot_days) = match self.restorable(ami) {
            Ok(kept) => (Some(kept.rule), Some(kept.days), kept.snapshot_days),
            Err(_) => match covering_rule(self.input.rules, ami) {
                Some(rule) => (Some(rule.identifier.clone()), rule.retention_days, None),
                None => (None, None, None),
            },
        };
        let facts = Deregistration {
            at: done_at,
            image_name: ami.name.clone(),
            recycle_bin_rule: rule,
            retention_days: days,
            delete_snapshots: s.delete_snapshots,
            snapshot_ids: if s.delete_snapshots { snapshot_ids(ami) } else { Vec::new() },
            snapshot_retention_days: snapshot_days,
        };
        if let (Some(rule), Some(days)) = (&facts.recycle_bin_rule, facts.retention_days) {
            d.detail = format!("{}; Recycle Bin rule {rule} ({days} days)", d.detail);
        }
        if !tagged_at(ami, Stage::Deregistered) {
            let value = stage_tag_value(Stage::Deregistered, done_at, verdict.unused_since, None, None);
            d.calls.push(Call::Tag { value });
        }
        d.calls.push(Call::Deregister { delete_snapshots: s.delete_snapshots });
        d.delete_snapshots = s.delete_snapshots;
        d.recycle_bin_rule = facts.recycle_bin_rule.clone();
        d.restorable_until = facts.restorable_until(None);
        d.deregistration = Some(facts);
        d.stage_after = Stage::Deregistered;
        d.after = Some(RetireRecord {
            stage: Stage::Deregistered,
            since: done_at,
            launch_permissions: None,
            intent: None,
            ..r.clone()
        });
    }
}
