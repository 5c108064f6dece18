//! The rules of ami-usage-reporter: plain data in, plain data out, no AWS and no I/O.
//! Everything that decides something (which AMIs, which reports, what is news, what the
//! archive and the alert look like) lives here and is unit-tested with literals. This
//! crate depends on no AWS crate, so "no AWS in the core" is Cargo's to enforce.
//!
//! One folder per capability, each showing a small surface from its `mod.rs`; the
//! dependency order is `model`/`timestamp` ← `create`, `archive` ← `compaction`,
//! `verdict` ← `retire` ← `state` ← `alert` ← `digest` ← `preflight` (ARCHITECTURE.md).

pub mod alert;
pub mod archive;
pub mod compaction;
pub mod create;
pub mod digest;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod model;
pub mod preflight;
pub mod retire;
pub mod state;
pub mod timestamp;
pub mod verdict;
