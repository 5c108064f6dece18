//! The planner's way back: an AMI needed again (used, excluded, out of the selection)
//! is enabled with the launch permissions DisableImage removed, and its deprecation
//! left as its owners had it. Never budgeted.

use chrono::{DateTime, Duration, Utc};

use super::model::{Action, Call, RetireRecord, RetireSettings, STAGE_TAG, Stage};
use super::plan::{Planner, deprecate_at};
use crate::model::{Ami, LaunchPermissions};

/// Whether the AMI's deprecation is the one the pipeline set: the record's (or, for a
/// deprecate interrupted before its result was saved, the one that intent asked for),
/// to the minute EC2 keeps. A deprecation its owners set, or moved since, is theirs:
/// an undo leaves it alone.
pub(super) fn deprecation_ours(r: &RetireRecord, ami: &Ami, s: &RetireSettings) -> bool {
    let Some(current) = ami.lifecycle.deprecation_time else { return false };
    let intended = r.intent.as_ref().filter(|i| i.action == Action::Deprecate);
    let set = r
        .deprecate_at
        .or_else(|| intended.map(|i| i.deprecate_at.unwrap_or_else(|| deprecate_at(i.at, s.deprecation_notice_days))));
    set.is_some_and(|t| (t - current).num_seconds().abs() < 60)
}

/// The owners' deprecation time to put back where the pipeline replaced it. AWS refuses
/// a `DeprecateAt` in the past, so one that has passed meanwhile comes back as the next
/// minute AWS accepts: deprecated again at once, as the owners' time would have it, and
/// never counted as deprecated for longer than under their own time (Allowed AMIs'
/// `MaximumDaysSinceDeprecated` cannot block earlier than it would have).
pub fn owners_deprecation_back(r: &RetireRecord, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let intended = r.intent.as_ref().filter(|i| i.action == Action::Deprecate);
    let theirs = r.deprecation_before.or_else(|| intended.and_then(|i| i.deprecation_before))?;
    Some(theirs.max(deprecate_at(now + Duration::minutes(1), 0)))
}

/// The launch permissions recorded before DisableImage (on the record, or on the intent
/// of a disable or an undo that was interrupted).
fn recorded_permissions(r: &RetireRecord) -> Option<LaunchPermissions> {
    r.launch_permissions.clone().or_else(|| r.intent.as_ref().and_then(|i| i.launch_permissions.clone()))
}

impl Planner<'_> {
    /// Restores an AMI that is needed again: enable and give back its launch
    /// permissions (if we disabled it), then put its deprecation back as its owners had
    /// it and remove the tag; the record is dropped.
    pub(super) fn undo(&mut self, ami: &Ami, r: &RetireRecord, reason: &str, detail: String) {
        let mut record = r.clone();
        if let Some(i) = r.intent.as_ref().filter(|i| i.action == Action::Deprecate)
            && deprecation_ours(r, ami, self.input.settings)
        {
            // An interrupted deprecate that took effect: the record it would have left, so
            // that an interrupted undo still knows the deprecation and the owners' time.
            record.deprecate_at = ami.lifecycle.deprecation_time;
            record.deprecation_before = i.deprecation_before;
            self.state.records.insert(ami.image_id.clone(), record.clone());
        }
        if r.stage == Stage::Disabled || r.intent.as_ref().is_some_and(|i| i.action == Action::Disable) {
            record = self.enable(ami, r, record, reason, &detail);
        }
        let enforce = self.enforce();
        let mut d = self.base(ami, &record, Action::CancelDeprecation, reason);
        d.outcome = self.outcome();
        d.detail = detail;
        if enforce && deprecation_ours(&record, ami, self.input.settings) {
            match owners_deprecation_back(&record, self.input.now) {
                Some(theirs) => {
                    d.calls.push(Call::EnableDeprecation { deprecate_at: theirs });
                    d.team_deprecation = Some(theirs);
                }
                None => d.calls.push(Call::DisableDeprecation),
            }
        } else if enforce {
            // Its deprecation is its owners' (kept, or moved since): left as it is.
            d.deprecate_at = None;
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

    /// EnableImage (if it is disabled), then the launch permissions recorded before
    /// DisableImage; returns the record it leaves (`deprecated`, its wait restarted:
    /// should the undo stop halfway, the AMI is not disabled again at once).
    fn enable(
        &mut self,
        ami: &Ami,
        r: &RetireRecord,
        record: RetireRecord,
        reason: &str,
        detail: &str,
    ) -> RetireRecord {
        let enforce = self.enforce();
        let mut d = self.base(ami, &record, Action::Enable, reason);
        d.outcome = self.outcome();
        d.detail = detail.to_string();
        let disabled = ami.state == "disabled";
        if enforce && disabled {
            d.calls.push(Call::Enable);
        }
        let permissions = recorded_permissions(r);
        if let Some(p) = permissions.as_ref().filter(|p| !p.is_empty())
            && enforce
            && (disabled || r.stage == Stage::Disabled)
        {
            d.calls.push(Call::AddLaunchPermissions { permissions: p.clone() });
        }
        d.launch_permissions = permissions;
        let after = RetireRecord {
            stage: Stage::Deprecated,
            since: self.input.now,
            intent: None,
            launch_permissions: None,
            ..record
        };
        d.stage_after = Stage::Deprecated;
        d.after = Some(after.clone());
        self.decisions.push(d);
        after
    }
}
