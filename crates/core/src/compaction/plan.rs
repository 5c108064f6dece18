//! Compaction of closed days into Parquet parts (COMPACTION.md): which datasets, which
//! days are closed, what collect knows of each report date, the parts' keys and what
//! the next part of a day holds (the record of what is compacted: `state.rs`). A
//! dataset is a raw directory plus the typed columns of its Glue table; a new one joins
//! with one `DatasetSpec`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};

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

/// What collect's own listing tells compaction of the report dates: collect lists the
/// `reports` partition of every date EC2 lists, so it knows how many report objects
/// each of those dates holds, with no listing of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportDates {
    /// Dates that may still gain a report object (`open_report_days`).
    pub open: BTreeSet<NaiveDate>,
    /// Every date EC2 lists → its archived report objects once the run's archiving is
    /// done: those its listing found in the date's partition and those it archived since.
    pub archived: BTreeMap<NaiveDate, u64>,
}

impl ReportDates {
    /// From EC2's `reports`, the ids the run listed in each of their dates' partitions
    /// (`listed`) and every id archived once its archiving is done (`archived`).
    pub fn of(
        reports: &[UsageReport],
        listed: &BTreeMap<NaiveDate, BTreeSet<String>>,
        archived: &BTreeSet<String>,
        now: DateTime<Utc>,
        pending_alert: Duration,
    ) -> Self {
        let mut objects: BTreeMap<NaiveDate, BTreeSet<&str>> = BTreeMap::new();
        for report in reports {
            let date = report.creation_time.date_naive();
            let ids = objects
                .entry(date)
                .or_insert_with(|| listed.get(&date).into_iter().flatten().map(String::as_str).collect());
            if archived.contains(&report.report_id) {
                ids.insert(&report.report_id);
            }
        }
        Self {
            open: open_report_days(reports, archived, now, pending_alert),
            archived: objects.into_iter().map(|(date, ids)| (date, ids.len() as u64)).collect(),
        }
    }

    /// The archived report objects of `day`, if EC2 still lists a report of that date.
    pub fn archived_on(&self, day: NaiveDate) -> Option<u64> {
        self.archived.get(&day).copied()
    }
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

/// The next part of a day: its number and the raw objects it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartPlan {
    pub number: u32,
    pub sources: Vec<String>,
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
