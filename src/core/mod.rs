//! The pure core: plain data in, plain data out, no AWS and no I/O. Everything that
//! decides something (which AMIs, which reports, what is news, what the archive and
//! the alert look like) lives here and is unit-tested with literals.

pub mod alert;
pub mod bucket_region;
pub mod compaction;
pub mod create_outcome;
pub mod digest;
pub mod digest_render;
pub mod digest_teams;
pub mod evidence;
pub mod family_metrics;
pub mod glue_type;
pub mod jsonl;
pub mod member_facts;
pub mod model;
pub mod news;
pub mod news_items;
pub mod parquet_part;
pub mod records;
pub mod retire;
pub mod retire_model;
pub mod retire_rbin;
pub mod retire_rows;
pub mod ri;
pub mod routing;
pub mod selection;
pub mod triage;
pub mod verdict;
pub mod verdict_model;
pub mod verdict_row;
