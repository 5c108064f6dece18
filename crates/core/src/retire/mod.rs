//! The retirement pipeline (a **contract**: the `actions` archive, the summary and the
//! alert carry its codes): deprecate → disable → deregister, one recorded step at a time,
//! each on this run's fresh verdict, undone at once when an AMI is needed again.

mod carry;
mod model;
mod plan;
mod rbin;
mod rows;
mod steps;
mod undo;

pub use model::{
    Action, ActionRow, Call, Decision, Deregistration, Intent, Outcome, PermissionsRow, Plan, RetireMode, RetireRecord,
    RetireSettings, RetireState, STAGE_TAG, SnapshotResult, Stage,
};
pub use plan::{
    RetireInput, carried_state, deprecate_at, plan, records_to_look_up, snapshots_to_read, stage_tag_value,
    state_while_off, tagged,
};
pub use rbin::{IMAGE_RULES, RecycleBinRule, Retention, SNAPSHOT_RULES, covering_rule, restorable, snapshot_ids};
pub use rows::{ActionEntry, action_row, actions_object, entry_of, rows_by_run, undo_command};
pub use undo::owners_deprecation_back;
