//! The retirement pipeline (a **contract**: the `actions` archive, the summary and the
//! alert carry its codes): deprecate → disable → deregister, one recorded step at a time,
//! each on this run's fresh verdict, undone at once when an AMI is needed again.

mod carry;
mod model;
mod plan;
mod rbin;
mod rows;
mod steps;

pub use model::{
    Action, ActionRow, Call, Decision, Intent, Outcome, Plan, RetireMode, RetireRecord, RetireSettings, RetireState,
    STAGE_TAG, Stage,
};
pub use plan::{RetireInput, carried_state, deprecate_at, plan, stage_tag_value, state_while_off, tagged};
pub use rbin::{RecycleBinRule, covering_rule};
pub use rows::{ActionEntry, action_row, actions_object, entry_of, rows_by_run, undo_command};
