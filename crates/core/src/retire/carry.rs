//! How carrying out a decision changes what the state records: the intent saved before
//! the calls, what EC2's refusal of a call means, and the record after the calls. The
//! job only calls; every meaning is decided here.

use chrono::{DateTime, Utc};

use super::model::{Call, Decision, Intent, Outcome, RetireState};

/// DeregisterImage's answers for an AMI that is already gone: the step is done.
const ALREADY_GONE: [&str; 2] = ["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"];

impl Call {
    /// Whether EC2 refusing this call with `code` means that its effect already holds,
    /// so the step is done (a deregistration whose AMI is gone is never repeated).
    pub fn refusal_means_done(&self, code: Option<&str>) -> bool {
        matches!(self, Call::Deregister { .. }) && code.is_some_and(|c| ALREADY_GONE.contains(&c))
    }
}

impl Decision {
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
    pub fn intend(&mut self, d: &Decision, now: DateTime<Utc>) {
        if let Some(record) = self.records.get_mut(&d.image_id) {
            record.intent = Some(Intent { action: d.action, at: now });
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
    use crate::retire::{Action, RetireRecord, Stage};

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
            detail: String::new(),
            deprecate_at: None,
            recycle_bin_rule: None,
            delete_snapshots: false,
            calls: vec![Call::Disable],
            after,
        }
    }

    fn record(stage: Stage) -> RetireRecord {
        RetireRecord { stage, since: t("2026-01-01T00:00:00Z"), deprecate_at: None, intent: None }
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
