//! The archive (a **contract**: users' Athena tables and queries read it): the rows and
//! keys of the report and entries objects, their per-report totals, the gzip JSON Lines
//! format every archive object uses, and what S3's wrong-Region answer means.

mod bucket_region;
pub mod jsonl;
mod records;
mod state_write;
mod totals;

pub use bucket_region::wrong_region_hint;
pub use records::{
    ArchiveKeys, BlockDeviceRow, Dataset, EntryRowRef, EntryRows, ImageRow, OptionRow, ProductCodeRow, Provenance,
    ReportRow, ResourceTypeRow, SCHEMA_VERSION, image_row, is_archivable, report_row,
};
pub use state_write::{LostRace, Refusal, Version, WriteStamp, refusal_of, stamped};
pub use totals::{EntryTotals, TotalOverflow};
