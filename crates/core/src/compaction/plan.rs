//! Compaction of closed days into Parquet parts (ARCHITECTURE.md, "Compaction"): which
//! datasets, which days are closed, the parts' keys, what the next part of a day holds,
//! and the record of what is compacted. A dataset is a raw directory plus the typed
//! columns of its Glue table; a new one joins with one `DatasetSpec`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::archive::is_archivable;
use crate::model::{ReportState, UsageReport};

/// When a dataset's day can be compacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Rows keyed by a report's creation date: closed once no report of that date is
    /// still due (pending, or listed and not archived yet), or the day is old enough to
    /// be forced (late reports then go into the next part).
    Reports,
    /// Rows keyed by a run's date (verdicts): closed once the day ended.
    DayEnded,
}

/// A dataset: its raw directory under the prefix (also the compacted one's name) and
/// the columns of its Glue table, `(name, Hive type)` in the table's order.
#[derive(Debug)]
pub struct DatasetSpec {
    pub name: &'static str,
    pub closing: Closing,
    pub columns: &'static [(&'static str, &'static str)],
}

const IMAGE_TYPE: &str = "struct<name:string,description:string,creation_date:timestamp,state:string,architecture:string,platform_details:string,usage_operation:string,tags:map<string,string>,billing_products:array<string>,product_codes:array<struct<product_code_id:string,product_code_type:string>>,block_devices:array<struct<device_name:string,snapshot_id:string,volume_size_gib:bigint>>,snapshot_size_gib_total:bigint>";

pub const ENTRIES: DatasetSpec = DatasetSpec {
    name: "entries",
    closing: Closing::Reports,
    columns: &[
        ("schema_version", "int"),
        ("report_id", "string"),
        ("image_id", "string"),
        ("account_id", "string"),
        ("resource_type", "string"),
        ("usage_count", "bigint"),
        ("report_creation_time", "timestamp"),
        ("owner_account_id", "string"),
        ("collected_at", "timestamp"),
    ],
};

pub const REPORTS: DatasetSpec = DatasetSpec {
    name: "reports",
    closing: Closing::Reports,
    columns: &[
        ("schema_version", "int"),
        ("report_id", "string"),
        ("image_id", "string"),
        ("owner_account_id", "string"),
        ("state", "string"),
        ("state_reason", "string"),
        (
            "resource_types",
            "array<struct<resource_type:string,options:array<struct<name:string,values:array<string>>>>>",
        ),
        ("account_ids", "array<string>"),
        ("report_creation_time", "timestamp"),
        ("report_expiration_time", "timestamp"),
        ("tags", "map<string,string>"),
        ("image", IMAGE_TYPE),
        ("entry_count", "bigint"),
        ("account_count", "bigint"),
        ("total_usage", "bigint"),
        ("instance_usage", "bigint"),
        ("launch_template_usage", "bigint"),
        ("collected_at", "timestamp"),
    ],
};

pub const VERDICTS: DatasetSpec = DatasetSpec {
    name: "verdicts",
    closing: Closing::DayEnded,
    columns: &[
        ("schema_version", "int"),
        ("evaluated_at", "timestamp"),
        ("owner_account_id", "string"),
        ("image_id", "string"),
        ("name", "string"),
        ("verdict", "string"),
        ("reasons", "array<string>"),
        ("image_creation_date", "timestamp"),
        ("age_days", "bigint"),
        ("unused_since", "timestamp"),
        ("days_unused", "bigint"),
        ("reports_in_window", "bigint"),
        ("zero_usage_reports", "bigint"),
        ("latest_report_id", "string"),
        ("latest_total_usage", "bigint"),
        ("owner_references", "array<string>"),
        ("last_launched_time", "timestamp"),
        ("group_value", "string"),
        ("snapshot_size_gib_total", "bigint"),
        ("estimated_snapshot_usd_month", "double"),
        ("has_billing_codes", "boolean"),
        ("unused_min_days", "bigint"),
        ("min_reports", "bigint"),
        ("checked", "array<string>"),
        ("not_checked", "array<string>"),
        ("newest_zero_usage_report", "timestamp"),
        ("max_evidence_age_hours", "bigint"),
        ("owner_last_used", "timestamp"),
        ("deregistration_protection", "string"),
        ("deprecation_time", "timestamp"),
        ("image_allowed", "boolean"),
        ("source_image_id", "string"),
        ("member_references", "array<string>"),
        ("member_references_in_window", "array<string>"),
        ("member_last_used", "timestamp"),
    ],
};

/// Every compacted dataset of an owner account, in the order compaction visits them.
pub const DATASETS: &[&DatasetSpec] = &[&ENTRIES, &REPORTS, &VERDICTS];

/// A day is compacted this long after it ended at the earliest (clock skew, runs that
/// started before midnight and write after it).
pub const COMPACT_MARGIN: Duration = Duration::hours(1);
/// A `Reports` day still waiting for a report is compacted anyway this long after it
/// ended, well before it leaves the views' raw window (template parameter
/// `RawQueryHours`, default 6 hours into the next day); the late report goes into the
/// next part, in the run that archives it.
pub const FORCE_CLOSE_AFTER: Duration = Duration::hours(3);
/// EC2 deletes a report 30 days after creation: a day older than this can gain no raw
/// object, and its record keeps only its part numbers.
pub const SEAL_AFTER_DAYS: i64 = 35;

/// Where the parts and the record of a Region live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionKeys {
    pub prefix: String,
}

impl CompactionKeys {
    pub fn part(&self, dataset: &str, region: &str, day: NaiveDate, number: u32) -> String {
        format!("{}/compacted/{dataset}/region={region}/report_date={day}/part-{number:04}.parquet", self.prefix)
    }

    /// The raw objects of one day of a dataset (the archive's partition).
    pub fn raw_partition(&self, dataset: &str, region: &str, day: NaiveDate) -> String {
        format!("{}/{dataset}/region={region}/report_date={day}/", self.prefix)
    }

    pub fn raw_dataset(&self, dataset: &str, region: &str) -> String {
        format!("{}/{dataset}/region={region}/", self.prefix)
    }

    pub fn state(&self, region: &str) -> String {
        format!("{}/state/region={region}/compaction-state.json", self.prefix)
    }

    /// The day of a `report_date=YYYY-MM-DD/` listing prefix.
    pub fn day_of(common_prefix: &str) -> Option<NaiveDate> {
        let segment = common_prefix.trim_end_matches('/').rsplit('/').next()?;
        NaiveDate::parse_from_str(segment.strip_prefix("report_date=")?, "%Y-%m-%d").ok()
    }
}

/// Report dates that may still gain a report object: a listed report that is not
/// archived and not given up (pending longer than `pending_alert`).
pub fn open_report_days(
    reports: &[UsageReport],
    archived: &BTreeSet<String>,
    now: DateTime<Utc>,
    pending_alert: Duration,
) -> BTreeSet<NaiveDate> {
    reports
        .iter()
        .filter(|r| !archived.contains(&r.report_id))
        .filter(|r| match &r.state {
            ReportState::Pending => now - r.creation_time <= pending_alert,
            state => is_archivable(state),
        })
        .map(|r| r.creation_time.date_naive())
        .collect()
}

/// The days of `days` that are closed for `spec` at `now`, oldest first.
pub fn closed_days(
    spec: &DatasetSpec,
    days: &BTreeSet<NaiveDate>,
    open: &BTreeSet<NaiveDate>,
    now: DateTime<Utc>,
) -> Vec<NaiveDate> {
    days.iter()
        .copied()
        .filter(|day| {
            let Some(ended) = day.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc()) else {
                return false;
            };
            let since = now - ended;
            since >= COMPACT_MARGIN
                && match spec.closing {
                    Closing::DayEnded => true,
                    Closing::Reports => !open.contains(day) || since >= FORCE_CLOSE_AFTER,
                }
        })
        .collect()
}

/// How much raw input one part holds at most (always at least one raw object): the
/// part, the memory that builds it (its rows) and its footer stay bounded whatever the
/// size of the day (measured in BENCHMARKS.md, "Compaction").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartBounds {
    /// Gzip bytes as listed, known before any read.
    pub raw_bytes: u64,
    /// Raw objects: their ids are the footer, read to plan a day that gained one.
    pub sources: usize,
    /// Rows, known only while the part is built: once it holds this many, it takes no
    /// further raw object (the rest of its plan goes to the next part).
    pub rows: u64,
}

impl PartBounds {
    pub const DEFAULT: PartBounds = PartBounds { raw_bytes: 64 * 1024 * 1024, sources: 10_000, rows: 500_000 };

    /// Whether a part holding `rows` rows takes no further raw object.
    pub fn is_full(&self, rows: u64) -> bool {
        rows >= self.rows
    }
}

/// One part: its number in the day, how many raw objects it holds (its footer names
/// them: `parquet_part::SOURCES_KEY`) and its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub number: u32,
    /// A count; the first format of the state held the ids themselves (read as their count).
    #[serde(default, deserialize_with = "source_count")]
    pub sources: u64,
    pub rows: u64,
}

/// `sources` as a count, or as the list of ids the first state format kept.
fn source_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Sources {
        Count(u64),
        Ids(Vec<serde::de::IgnoredAny>),
    }
    Ok(match Sources::deserialize(d)? {
        Sources::Count(n) => n,
        Sources::Ids(ids) => ids.len() as u64,
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRecord {
    pub parts: Vec<PartRecord>,
    /// No raw object can arrive any more: never planned again.
    #[serde(default)]
    pub sealed: bool,
}

/// What is compacted, per `(dataset, day)` of one Region (the Region is in the key):
/// counts only, so its size does not grow with the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionState {
    pub days: BTreeMap<String, BTreeMap<NaiveDate, DayRecord>>,
}

/// What a day needs, from its raw listing's size and the state alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayStatus {
    /// Sealed, or as many raw objects as its parts hold: nothing to read.
    Done,
    /// Some raw object is in no recorded part: the sources of these recorded parts
    /// (their footers) are what is compacted already.
    Compact { recorded: Vec<u32> },
}

/// The next part of a day: its number and the raw objects it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartPlan {
    pub number: u32,
    pub sources: Vec<String>,
}

impl CompactionState {
    pub fn day(&self, dataset: &str, day: NaiveDate) -> Option<&DayRecord> {
        self.days.get(dataset)?.get(&day)
    }

    pub fn is_sealed(&self, dataset: &str, day: NaiveDate) -> bool {
        self.day(dataset, day).is_some_and(|d| d.sealed)
    }

    /// Raw objects are only added to a day, each into exactly one part: when the
    /// listing counts as many as the parts hold, every one of them is compacted.
    pub fn status(&self, dataset: &str, day: NaiveDate, raw_objects: usize) -> DayStatus {
        let Some(record) = self.day(dataset, day) else {
            return if raw_objects == 0 { DayStatus::Done } else { DayStatus::Compact { recorded: vec![] } };
        };
        let compacted: u64 = record.parts.iter().map(|p| p.sources).sum();
        if record.sealed || compacted == raw_objects as u64 {
            return DayStatus::Done;
        }
        DayStatus::Compact { recorded: record.parts.iter().map(|p| p.number).collect() }
    }

    /// The number of the day's next part (parts are numbered from 0, never reused).
    pub fn next_number(&self, dataset: &str, day: NaiveDate) -> u32 {
        self.day(dataset, day).and_then(|r| r.parts.iter().map(|p| p.number + 1).max()).unwrap_or(0)
    }

    /// Records a written part (or one an earlier run wrote: its own sources, read from
    /// its footer). A number recorded already is an error: parts are never rewritten.
    pub fn record(&mut self, dataset: &str, day: NaiveDate, part: PartRecord) -> Result<(), String> {
        let record = self.days.entry(dataset.to_string()).or_default().entry(day).or_default();
        if record.parts.iter().any(|p| p.number == part.number) {
            return Err(format!("{dataset} {day}: part {} is recorded already", part.number));
        }
        record.parts.push(part);
        record.parts.sort_by_key(|p| p.number);
        Ok(())
    }

    /// Seals a recorded day found complete (every raw object of it in a part) when it
    /// is older than `SEAL_AFTER_DAYS` before `now`'s date: it can gain no raw object
    /// any more. Never a day a deadline left half done (a backlog's old day of several
    /// parts): its other objects would never be compacted.
    pub fn seal_complete(&mut self, dataset: &str, day: NaiveDate, now: DateTime<Utc>) {
        let old = day < now.date_naive() - Duration::days(SEAL_AFTER_DAYS);
        if let Some(record) = self.days.get_mut(dataset).and_then(|d| d.get_mut(&day)).filter(|_| old) {
            record.sealed = true;
        }
    }
}

/// The next part `number` of a day: the first raw objects (in id order) of `raw`
/// (id → listed size) that are not `compacted`, as many as fit `bounds`, at least
/// one; `None` when every one is compacted.
pub fn next_part(
    raw: &BTreeMap<String, u64>,
    compacted: &BTreeSet<String>,
    number: u32,
    bounds: PartBounds,
) -> Option<PartPlan> {
    let mut bytes = 0u64;
    let sources: Vec<String> = raw
        .iter()
        .filter(|(id, _)| !compacted.contains(*id))
        .take(bounds.sources.max(1))
        .enumerate()
        .take_while(|(i, (_, size))| {
            bytes = bytes.saturating_add(**size);
            *i == 0 || bytes <= bounds.raw_bytes
        })
        .map(|(_, (id, _))| id.clone())
        .collect();
    (!sources.is_empty()).then_some(PartPlan { number, sources })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
