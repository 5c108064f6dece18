//! Compaction of closed days into Parquet parts (a **contract** for the compacted
//! layout; design notes in COMPACTION.md): the datasets, which days are
//! closed, what the next part of a day holds, the record of what is compacted (and
//! which closed days a run must list), and the Parquet writer typed by the Glue
//! tables' own column types.

mod glue_type;
pub mod parquet_part;
mod plan;
mod state;

pub use plan::{
    COMPACT_MARGIN, Closing, CompactionKeys, DATASETS, DatasetSpec, ENTRIES, FORCE_CLOSE_AFTER, PartBounds, PartPlan,
    REPORTS, ReportDates, SEAL_AFTER_DAYS, VERDICTS, closed_days, next_part, open_report_days,
};
pub use state::{CompactionState, Complete, DayRecord, DayStatus, PartRecord};
