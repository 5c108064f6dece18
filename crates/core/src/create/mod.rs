//! The create phase's rules: which AMIs get a usage report in a period, how a report is
//! recognised as this tool's, and what EC2's answer to CreateImageUsageReport means.

mod outcome;
mod selection;

pub use outcome::{CreateOutcome, DOCUMENTED_REPORT_TYPES, documented_fallback, fallback_token};
pub use selection::{
    CreatePlan, PERIOD_TAG, Skip, TagFilter, TagFilters, client_token, is_selectable_state, period_label, period_of,
    plan_create, selected_for_verdict,
};
