//! How carrying out a decision changes what the state records: the intent saved before
//! the calls, what EC2's refusal of a call means, and the record after the calls. The
//! job only calls; every meaning is decided here.

use chrono::{DateTime, Duration, Utc};

use super::model::{Action, Call, Decision, Deregistration, Intent, Outcome, RetireState, SnapshotResult, Stage};
use crate::model::LaunchPermissions;

/// DeregisterImage's answers for an AMI that is already gone: the step is done.
const ALREADY_GONE: [&str; 2] = ["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"];

impl Call {
    /// Whether EC2 refusing this call with `code` means that its effect already holds,
    /// so the step is done (a deregistration whose AMI is gone is never repeated).
    pub fn refusal_means_done(&self, code: Option<&str>) -> bool {
        matches!(self, Call::Deregister { .. }) && code.is_some_and(|c| ALREADY_GONE.contains(&c))
    }
}

impl Deregistration {
    /// The last moment the AMI can be restored: the Recycle Bin's exit time
    /// (ListImagesInRecycleBin) or, without it, the deregistration + the rule's retention;
    /// earlier when its deleted snapshots leave the bin first (AWS restores an AMI only
    /// with its snapshots). `None`: no rule keeps it.
    pub fn restorable_until(&self, exit_time: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let days = |d: u32| self.at + Duration::days(i64::from(d));
        let image = exit_time.or_else(|| self.recycle_bin_rule.as_ref().and(self.retention_days).map(days))?;
        let snapshots = (self.delete_snapshots && !self.snapshot_ids.is_empty())
            .then(|| self.snapshot_retention_days.map(days))
            .flatten();
        Some(snapshots.map_or(image, |s| s.min(image)))
    }

    /// The snapshots to restore before the AMI: those DeregisterImage deleted (all it
    /// was asked to delete when its answer was lost).
    pub fn snapshots_in_bin(&self, results: &[SnapshotResult]) -> Vec<String> {
        if !self.delete_snapshots {
            return Vec::new();
        }
        if results.is_empty() {
            return self.snapshot_ids.clone();
        }
        results.iter().filter(|r| r.return_code == "success").map(|r| r.snapshot_id.clone()).collect()
    }
}

impl Decision {
    /// DisableImage removes every launch permission: they are read (and saved with the
    /// intent) just before it is called.
    pub fn needs_launch_permissions(&self) -> bool {
        self.calls.contains(&Call::Disable)
    }

    /// The launch permissions read before DisableImage: on the decision (its row and
    /// news) and on the record an undo restores them from.
    pub fn record_launch_permissions(&mut self, permissions: LaunchPermissions) {
        if let Some(after) = self.after.as_mut() {
            after.launch_permissions = Some(permissions.clone());
        }
        self.launch_permissions = Some(permissions);
    }

    /// DeregisterImage took effect: its `DeleteSnapshotResults` (`None`: the answer said
    /// nothing, e.g. the AMI was already gone) and the Recycle Bin's exit time if listed.
    pub fn deregistered(&mut self, results: Option<Vec<SnapshotResult>>, exit_time: Option<DateTime<Utc>>) {
        self.snapshot_results = results.unwrap_or_default();
        if let Some(facts) = &self.deregistration {
            self.restorable_until = facts.restorable_until(exit_time);
        }
    }

    /// A call was refused: the decision failed, the AMI stays at its stage, and the
    /// calls after that one are not made.
    pub fn refused(&mut self, error: String) {
        self.outcome = Outcome::Failed;
        self.stage_after = self.stage_before;
        self.detail = error;
    }
}

impl RetireState {
    /// Before a decision's calls: "intended `action` at `now`" on its record, saved
    /// so that a run dying among the calls is completed by the next one, never repeated.
    /// It carries what the step found before its calls (the owners' deprecation, the
    /// launch permissions, what the Recycle Bin keeps): the next run completes the
    /// step, or undoes it, from these and not from what the calls changed.
    pub fn intend(&mut self, d: &Decision, now: DateTime<Utc>) {
        if let Some(record) = self.records.get_mut(&d.image_id) {
            let deprecating = d.action == Action::Deprecate;
            record.intent = Some(Intent {
                action: d.action,
                at: now,
                deprecate_at: d.deprecate_at.filter(|_| deprecating),
                deprecation_before: d.team_deprecation.filter(|_| deprecating),
                launch_permissions: d.launch_permissions.clone(),
                deregistration: d.deregistration.clone(),
            });
        }
    }

    /// Records of AMIs that are gone for good (deregistered) leave once their rows are
    /// archived: the state does not grow with every AMI ever retired. The tag
    /// `deregistered` the AMI keeps in the Recycle Bin stands for the record. A dry
    /// run's simulated deregistration has no such tag (the AMI is still there): its
    /// record stays, or the AMI would walk the stages again.
    pub fn forget_finished(&mut self) {
        if self.mode != super::model::RetireMode::Enforce {
            return;
        }
        let unarchived: std::collections::BTreeSet<&str> =
            self.unarchived.iter().map(|r| r.image_id.as_str()).collect();
        let finished: Vec<String> = self
            .records
            .iter()
            .filter(|(id, r)| r.stage == Stage::Deregistered && r.intent.is_none() && !unarchived.contains(id.as_str()))
            .map(|(id, _)| id.clone())
            .collect();
        for id in finished {
            self.records.remove(&id);
        }
    }

    /// After the calls: the record the decision leaves (none: the AMI left the
    /// pipeline). A failed decision leaves the record with its intent, for the next run
    /// to re-check against what the AMI shows.
    pub fn conclude(&mut self, d: &Decision) {
        if d.outcome == Outcome::Failed {
            return;
        }
        match &d.after {
            Some(after) => self.records.insert(d.image_id.clone(), after.clone()),
            None => self.records.remove(&d.image_id),
        };
    }

    /// Whether the AMI's record carries an intent: the decision completes an action a
    /// run left interrupted, and its result is saved at once like an action's.
    pub fn interrupted(&self, image_id: &str) -> bool {
        self.records.get(image_id).is_some_and(|r| r.intent.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::t;
    use crate::retire::RetireRecord;

    fn decision(after: Option<RetireRecord>) -> Decision {
        Decision {
            image_id: "ami-1".into(),
            image_name: "n".into(),
            action: Action::Disable,
            outcome: Outcome::Done,
            stage_before: Stage::Deprecated,
            stage_after: Stage::Disabled,
            stage_since: t("2026-01-01T00:00:00Z"),
            reason: "r".into(),
            calls: vec![Call::Disable],
            after,
            ..Decision::default()
        }
    }

    fn record(stage: Stage) -> RetireRecord {
        RetireRecord { stage, since: t("2026-01-01T00:00:00Z"), ..RetireRecord::default() }
    }

    #[test]
    fn only_a_gone_ami_makes_a_refused_deregistration_done() {
        let deregister = Call::Deregister { delete_snapshots: false };
        assert!(deregister.refusal_means_done(Some("InvalidAMIID.NotFound")));
        assert!(deregister.refusal_means_done(Some("InvalidAMIID.Unavailable")));
        assert!(!deregister.refusal_means_done(Some("UnauthorizedOperation")));
        assert!(!deregister.refusal_means_done(None));
        assert!(!Call::Disable.refusal_means_done(Some("InvalidAMIID.NotFound")), "disable of a gone AMI failed");
    }

    #[test]
    fn a_refused_call_keeps_the_stage_and_the_intent() {
        let mut state = RetireState::default();
        state.records.insert("ami-1".into(), record(Stage::Deprecated));
        let mut d = decision(Some(record(Stage::Disabled)));
        state.intend(&d, t("2026-02-01T00:00:00Z"));
        assert!(state.interrupted("ami-1"));
        d.refused("ec2:DisableImage failed: denied".into());
        assert_eq!((d.outcome, d.stage_after), (Outcome::Failed, Stage::Deprecated));
        state.conclude(&d);
        assert_eq!(state.records["ami-1"].stage, Stage::Deprecated);
        assert!(state.interrupted("ami-1"), "the next run re-checks the intent");
    }

    #[test]
    fn a_done_decision_replaces_or_removes_the_record() {
        let mut state = RetireState::default();
        state.records.insert("ami-1".into(), record(Stage::Deprecated));
        state.conclude(&decision(Some(record(Stage::Disabled))));
        assert_eq!(state.records["ami-1"].stage, Stage::Disabled);
        state.conclude(&decision(None));
        assert!(!state.records.contains_key("ami-1"));
    }
}
