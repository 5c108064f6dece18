//! The vocabulary of the retirement pipeline (a **contract**: the `actions` archive,
//! the summary and the alert carry these codes): settings, stages, actions, outcomes,
//! the state's per-AMI record, and what the core decides. The rules are in
//! [`crate::retire::plan`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::LaunchPermissions;
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
    /// The shortest Recycle Bin retention a deregistration may rely on (days).
    pub min_recycle_bin_days: u32,
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
            min_recycle_bin_days: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Deprecate,
    Disable,
    Deregister,
    CancelDeprecation,
    Enable,
    #[default]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    Would,
    Failed,
    #[default]
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
    EnableDeprecation {
        deprecate_at: DateTime<Utc>,
    },
    DisableDeprecation,
    Disable,
    Enable,
    /// ModifyImageAttribute `LaunchPermission.Add`: what DisableImage removed (after EnableImage).
    AddLaunchPermissions {
        permissions: LaunchPermissions,
    },
    Deregister {
        delete_snapshots: bool,
    },
    Tag {
        value: String,
    },
    Untag,
}

/// What a deregistration leaves to restore, fixed before DeregisterImage and saved in
/// its intent: a run that dies right after the call still has all of it for the row,
/// the announcement and the restore commands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Deregistration {
    /// When the deregistration was intended: the Recycle Bin's retention runs from here.
    #[serde(with = "timestamp")]
    pub at: DateTime<Utc>,
    pub image_name: String,
    /// The `EC2_IMAGE` rule counted on (the shortest retention among those covering it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recycle_bin_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    pub delete_snapshots: bool,
    /// The AMI's snapshots (EBS block devices), deleted with it when `delete_snapshots`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshot_ids: Vec<String>,
    /// With `delete_snapshots`: the shortest retention of the `EBS_SNAPSHOT` rules
    /// covering the snapshots (the AMI cannot be restored without them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_retention_days: Option<u32>,
}

/// One item of DeregisterImage's `DeleteSnapshotResults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotResult {
    pub snapshot_id: String,
    /// `success`, `skipped` (another AMI uses it), `missing-permissions`, `internal-error`, `client-error`.
    pub return_code: String,
}

/// "Intended `action` at `at`": saved in the state before the calls, replaced by the
/// result after them. A run that finds one checks what the AMI shows and completes it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Intent {
    pub action: Action,
    #[serde(with = "timestamp")]
    pub at: DateTime<Utc>,
    /// deprecate: the `DeprecateAt` the step sets (or keeps): how a later run knows its
    /// call took effect.
    #[serde(with = "timestamp::option", default, skip_serializing_if = "Option::is_none")]
    pub deprecate_at: Option<DateTime<Utc>>,
    /// deprecate: the AMI's `DeprecationTime` before the step (its owners'), restored on undo.
    #[serde(with = "timestamp::option", default, skip_serializing_if = "Option::is_none")]
    pub deprecation_before: Option<DateTime<Utc>>,
    /// disable (and its undo): the launch permissions read just before DisableImage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_permissions: Option<LaunchPermissions>,
    /// deregister: everything its row and announcement need once the AMI is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregistration: Option<Deregistration>,
}

/// What the state remembers of one AMI in the pipeline (`CollectState::retire`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RetireRecord {
    pub stage: Stage,
    /// When the AMI entered `stage`: the next step waits from here.
    #[serde(with = "timestamp")]
    pub since: DateTime<Utc>,
    /// The deprecation the pipeline set (none: the AMI's deprecation is its owners').
    #[serde(with = "timestamp::option", default, skip_serializing_if = "Option::is_none")]
    pub deprecate_at: Option<DateTime<Utc>>,
    /// The `DeprecationTime` its owners had set before the deprecate step: an undo
    /// puts it back when the pipeline replaced it.
    #[serde(with = "timestamp::option", default, skip_serializing_if = "Option::is_none")]
    pub deprecation_before: Option<DateTime<Utc>>,
    /// The launch permissions DisableImage removed, restored on undo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_permissions: Option<LaunchPermissions>,
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
#[derive(Debug, Clone, PartialEq, Default)]
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
    /// deprecate: the owners' `DeprecationTime` found before the step; cancel_deprecation:
    /// the owners' time put back.
    pub team_deprecation: Option<DateTime<Utc>>,
    /// disable: the permissions recorded before DisableImage; enable: those restored
    /// (`None`: not known, e.g. a state rebuilt from the stage tag).
    pub launch_permissions: Option<LaunchPermissions>,
    /// deregister: what the Recycle Bin keeps and how to restore it.
    pub deregistration: Option<Deregistration>,
    /// deregister: DeregisterImage's `DeleteSnapshotResults` (empty: none asked, or the
    /// answer was lost with an interrupted run).
    pub snapshot_results: Vec<SnapshotResult>,
    /// deregister: the last moment it can be restored (the Recycle Bin's exit time, or the
    /// deregistration + retention; the snapshots' retention if shorter).
    pub restorable_until: Option<DateTime<Utc>>,
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
    /// deprecate: the owners' `DeprecationTime` found; cancel_deprecation: the one put back.
    #[serde(with = "timestamp::option", default)]
    pub team_deprecation_at: Option<DateTime<Utc>>,
    /// disable: recorded before DisableImage; enable: restored.
    #[serde(default)]
    pub launch_permissions: Option<PermissionsRow>,
    #[serde(default)]
    pub recycle_bin_retention_days: Option<u32>,
    /// deregister: the last moment the AMI can be restored.
    #[serde(with = "timestamp::option", default)]
    pub restorable_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub snapshot_results: Vec<SnapshotResult>,
}

/// `launch_permissions` of a row: every field always present (the Glue struct).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PermissionsRow {
    pub accounts: Vec<String>,
    pub organizations: Vec<String>,
    pub organizational_units: Vec<String>,
    pub public: bool,
}

impl From<&LaunchPermissions> for PermissionsRow {
    fn from(p: &LaunchPermissions) -> Self {
        Self {
            accounts: p.accounts.clone(),
            organizations: p.organizations.clone(),
            organizational_units: p.organizational_units.clone(),
            public: p.public,
        }
    }
}
