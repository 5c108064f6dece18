//! The vocabulary of the retirement pipeline (a **contract**: the `actions` archive,
//! the summary and the alert carry these codes): settings, stages, actions, outcomes,
//! the state's per-AMI record, and what the core decides. The rules are in
//! [`crate::retire::plan`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::timestamp;

/// The tag the pipeline puts on an AMI it deprecated or disabled: value = stage name,
/// a space, details. Removed on undo; kept by DeregisterImage into the Recycle Bin.
pub const STAGE_TAG: &str = "ami-usage-reporter:retire-stage";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RetireMode {
    #[default]
    #[serde(rename = "off")]
    Off,
    #[serde(rename = "dry-run")]
    DryRun,
    #[serde(rename = "enforce")]
    Enforce,
}

impl RetireMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RetireMode::Off => "off",
            RetireMode::DryRun => "dry-run",
            RetireMode::Enforce => "enforce",
        }
    }
}

/// `RETIRE_*` (see docs/retirement.md); defaults are the documented ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetireSettings {
    pub mode: RetireMode,
    pub deprecate_after_days: u32,
    pub deprecation_notice_days: u32,
    pub disable_after_days: u32,
    pub deregister_after_days: u32,
    pub require_recycle_bin: bool,
    pub delete_snapshots: bool,
    pub max_actions_per_run: u32,
}

impl Default for RetireSettings {
    fn default() -> Self {
        Self {
            mode: RetireMode::Off,
            deprecate_after_days: 0,
            deprecation_notice_days: 14,
            disable_after_days: 30,
            deregister_after_days: 30,
            require_recycle_bin: true,
            delete_snapshots: false,
            max_actions_per_run: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Candidate,
    Deprecated,
    Disabled,
    Deregistered,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Candidate => "candidate",
            Stage::Deprecated => "deprecated",
            Stage::Disabled => "disabled",
            Stage::Deregistered => "deregistered",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Deprecate,
    Disable,
    Deregister,
    CancelDeprecation,
    Enable,
    Hold,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deprecate => "deprecate",
            Action::Disable => "disable",
            Action::Deregister => "deregister",
            Action::CancelDeprecation => "cancel_deprecation",
            Action::Enable => "enable",
            Action::Hold => "hold",
        }
    }

    /// Forward steps count against `RETIRE_MAX_ACTIONS_PER_RUN`; undos never do.
    pub fn is_forward(self) -> bool {
        matches!(self, Action::Deprecate | Action::Disable | Action::Deregister)
    }

    pub fn is_undo(self) -> bool {
        matches!(self, Action::CancelDeprecation | Action::Enable)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    Would,
    Failed,
    Held,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Would => "would",
            Outcome::Failed => "failed",
            Outcome::Held => "held",
        }
    }
}

/// One mutating AWS call the job makes for a decision, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    EnableDeprecation { deprecate_at: DateTime<Utc> },
    DisableDeprecation,
    Disable,
    Enable,
    Deregister { delete_snapshots: bool },
    Tag { value: String },
    Untag,
}

/// "Intended `action` at `at`": saved in the state before the calls, replaced by the
/// result after them. A run that finds one checks what the AMI shows and completes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub action: Action,
    #[serde(with = "timestamp")]
    pub at: DateTime<Utc>,
}

/// What the state remembers of one AMI in the pipeline (`CollectState::retire`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetireRecord {
    pub stage: Stage,
    /// When the AMI entered `stage`: the next step waits from here.
    #[serde(with = "timestamp")]
    pub since: DateTime<Utc>,
    #[serde(with = "timestamp::option", default, skip_serializing_if = "Option::is_none")]
    pub deprecate_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
}

/// The pipeline's memory: the mode its records were made in (a dry run's simulated
/// stages are discarded when the mode changes) and one record per AMI.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RetireState {
    pub mode: RetireMode,
    #[serde(default)]
    pub records: std::collections::BTreeMap<String, RetireRecord>,
    /// Rows of decisions carried out whose `actions` object is not written yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unarchived: Vec<ActionRow>,
}

impl RetireState {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.unarchived.is_empty()
    }
}

/// One decision of the run about one AMI: what to do, why, the calls it takes, and the
/// record the state holds once it is done (`None`: the AMI leaves the pipeline).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub image_id: String,
    pub image_name: String,
    pub action: Action,
    pub outcome: Outcome,
    pub stage_before: Stage,
    pub stage_after: Stage,
    /// When the AMI entered `stage_before`: with it, the decision's news key.
    pub stage_since: DateTime<Utc>,
    pub reason: String,
    pub detail: String,
    pub deprecate_at: Option<DateTime<Utc>>,
    pub recycle_bin_rule: Option<String>,
    pub delete_snapshots: bool,
    /// The mutating calls (enforce only; empty in dry-run and for holds).
    pub calls: Vec<Call>,
    pub after: Option<RetireRecord>,
}

/// The run's plan: decisions in the order they are carried out, and the records of
/// AMIs with nothing to do this run (kept as they are, or newly entered as candidates).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub decisions: Vec<Decision>,
    pub state: RetireState,
}

/// One row of the `actions` dataset: one decision or action of a run. Kept in the
/// state until its object is written (`RetireState::unarchived`), so a run that dies
/// after acting still has its rows archived by the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRow {
    #[serde(with = "timestamp")]
    pub action_time: DateTime<Utc>,
    pub owner_account_id: String,
    pub region: String,
    pub image_id: String,
    pub image_name: String,
    pub mode: RetireMode,
    pub action: Action,
    pub outcome: Outcome,
    pub stage_before: super::model::Stage,
    pub stage_after: super::model::Stage,
    pub reason: String,
    pub detail: Option<String>,
    #[serde(with = "timestamp::option")]
    pub deprecate_at: Option<DateTime<Utc>>,
    pub recycle_bin_rule: Option<String>,
    pub delete_snapshots: bool,
    pub undo_command: Option<String>,
}
