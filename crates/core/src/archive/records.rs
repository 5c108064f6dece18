//! The archive's record layout and object keys (a **contract**: users' Athena tables
//! and queries read these names). Adding a field is backwards compatible; renaming or
//! retyping one needs a new `schema_version` (see ARCHITECTURE.md).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Ami, ReportState, UsageEntry, UsageReport};
use crate::timestamp;

pub const SCHEMA_VERSION: u32 = 1;

/// Timestamps are written as ISO 8601 UTC with milliseconds, e.g. `2026-11-22T01:02:03.004Z`.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceTypeRow {
    pub resource_type: String,
    pub options: Vec<OptionRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionRow {
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductCodeRow {
    pub product_code_id: String,
    pub product_code_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockDeviceRow {
    pub device_name: String,
    pub snapshot_id: Option<String>,
    pub volume_size_gib: Option<i64>,
}

/// The AMI as it was described when its report was collected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRow {
    pub name: String,
    pub description: Option<String>,
    #[serde(with = "timestamp::option")]
    pub creation_date: Option<DateTime<Utc>>,
    pub state: String,
    pub architecture: Option<String>,
    pub platform_details: Option<String>,
    pub usage_operation: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub billing_products: Vec<String>,
    pub product_codes: Vec<ProductCodeRow>,
    pub block_devices: Vec<BlockDeviceRow>,
    pub snapshot_size_gib_total: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    pub schema_version: u32,
    pub report_id: String,
    pub image_id: String,
    pub owner_account_id: String,
    pub region: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub resource_types: Vec<ResourceTypeRow>,
    pub account_ids: Vec<String>,
    #[serde(with = "timestamp")]
    pub report_creation_time: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub report_expiration_time: DateTime<Utc>,
    pub tags: BTreeMap<String, String>,
    /// `None` when the AMI no longer exists at collection time.
    pub image: Option<ImageRow>,
    pub entry_count: i64,
    pub account_count: i64,
    pub total_usage: i64,
    pub instance_usage: i64,
    pub launch_template_usage: i64,
    #[serde(with = "timestamp")]
    pub collected_at: DateTime<Utc>,
}

/// Where the run happens and when: stamped on every row.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub owner_account_id: String,
    pub region: String,
    pub collected_at: DateTime<Utc>,
}

/// One row of the `entries` dataset (**contract**: the Glue table's columns), borrowing
/// instead of copying: collect serialises one per entry, a million per large report.
/// The tests hold it byte for byte to an owned, typed reader's view of the same row.
#[derive(Debug, Serialize)]
pub struct EntryRowRef<'a> {
    schema_version: u32,
    report_id: &'a str,
    image_id: &'a str,
    account_id: &'a str,
    resource_type: &'a str,
    usage_count: i64,
    report_creation_time: &'a str,
    owner_account_id: &'a str,
    region: &'a str,
    collected_at: &'a str,
}

/// Makes the entry rows of one run. The two timestamps are the same on every row of a
/// report (EC2 stamps its creation time, the run its collection time), so each is
/// formatted once rather than once per row.
pub struct EntryRows<'p> {
    provenance: &'p Provenance,
    collected_at: String,
    creation: Option<(DateTime<Utc>, String)>,
}

impl<'p> EntryRows<'p> {
    pub fn new(provenance: &'p Provenance) -> Self {
        Self { provenance, collected_at: timestamp::format(&provenance.collected_at), creation: None }
    }

    pub fn row<'a>(&'a mut self, e: &'a UsageEntry) -> EntryRowRef<'a> {
        if self.creation.as_ref().is_none_or(|(t, _)| *t != e.report_creation_time) {
            self.creation = Some((e.report_creation_time, timestamp::format(&e.report_creation_time)));
        }
        let creation = self.creation.as_ref().map_or("", |(_, s)| s.as_str());
        EntryRowRef {
            schema_version: SCHEMA_VERSION,
            report_id: &e.report_id,
            image_id: &e.image_id,
            account_id: &e.account_id,
            resource_type: &e.resource_type,
            usage_count: e.usage_count,
            report_creation_time: creation,
            owner_account_id: &self.provenance.owner_account_id,
            region: &self.provenance.region,
            collected_at: &self.collected_at,
        }
    }
}

pub fn image_row(a: &Ami) -> ImageRow {
    ImageRow {
        name: a.name.clone(),
        description: a.description.clone(),
        creation_date: a.creation_date,
        state: a.state.clone(),
        architecture: a.architecture.clone(),
        platform_details: a.platform_details.clone(),
        usage_operation: a.usage_operation.clone(),
        tags: a.tags.clone(),
        billing_products: a.billing_products.clone(),
        product_codes: a
            .product_codes
            .iter()
            .map(|c| ProductCodeRow {
                product_code_id: c.product_code_id.clone(),
                product_code_type: c.product_code_type.clone(),
            })
            .collect(),
        block_devices: a
            .block_devices
            .iter()
            .map(|d| BlockDeviceRow {
                device_name: d.device_name.clone(),
                snapshot_id: d.snapshot_id.clone(),
                volume_size_gib: d.volume_size_gib,
            })
            .collect(),
        snapshot_size_gib_total: a.snapshot_size_gib_total(),
    }
}

use super::totals::EntryTotals;

pub fn report_row(r: &UsageReport, image: Option<&Ami>, totals: &EntryTotals, p: &Provenance) -> ReportRow {
    ReportRow {
        schema_version: SCHEMA_VERSION,
        report_id: r.report_id.clone(),
        image_id: r.image_id.clone(),
        owner_account_id: p.owner_account_id.clone(),
        region: p.region.clone(),
        state: r.state.as_str().to_string(),
        state_reason: r.state_reason.clone(),
        resource_types: r
            .resource_types
            .iter()
            .map(|t| ResourceTypeRow {
                resource_type: t.resource_type.clone(),
                options: t
                    .options
                    .iter()
                    .map(|o| OptionRow { name: o.name.clone(), values: o.values.clone() })
                    .collect(),
            })
            .collect(),
        account_ids: r.account_ids.clone(),
        report_creation_time: r.creation_time,
        report_expiration_time: r.expiration_time,
        tags: r.tags.clone(),
        image: image.map(image_row),
        entry_count: totals.entry_count,
        account_count: totals.account_count(),
        total_usage: totals.total_usage,
        instance_usage: totals.instance_usage,
        launch_template_usage: totals.launch_template_usage,
        collected_at: p.collected_at,
    }
}

/// The archive's object keys. `report_date` is the UTC date the report was created,
/// so a report's keys never change between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveKeys {
    pub prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    Entries,
    Reports,
    /// The retirement pipeline's decisions and actions (`core::retire` (rows)).
    Actions,
}

impl Dataset {
    fn dir(self) -> &'static str {
        match self {
            Dataset::Entries => "entries",
            Dataset::Reports => "reports",
            Dataset::Actions => "actions",
        }
    }
}

impl ArchiveKeys {
    pub fn partition(&self, dataset: Dataset, region: &str, report_date: NaiveDate) -> String {
        format!("{}/{}/region={}/report_date={}/", self.prefix, dataset.dir(), region, report_date.format("%Y-%m-%d"))
    }

    /// Every partition of one Region's dataset.
    pub fn dataset_prefix(&self, dataset: Dataset, region: &str) -> String {
        format!("{}/{}/region={}/", self.prefix, dataset.dir(), region)
    }

    pub fn object(&self, dataset: Dataset, region: &str, report_date: NaiveDate, report_id: &str) -> String {
        format!("{}{}.json.gz", self.partition(dataset, region, report_date), report_id)
    }

    /// The report id of an object key in a partition listing, if the key is one of ours.
    pub fn report_id_of(key: &str) -> Option<&str> {
        key.rsplit('/').next()?.strip_suffix(".json.gz")
    }

    /// The report date and id of an object key in a dataset listing, if it is one of ours.
    pub fn date_and_id_of(key: &str) -> Option<(NaiveDate, &str)> {
        let mut segments = key.rsplit('/');
        let id = segments.next()?.strip_suffix(".json.gz")?;
        let date = segments.next()?.strip_prefix("report_date=")?;
        Some((NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?, id))
    }

    /// The ids archived in the partition of each of `dates` (every one present, empty
    /// when it holds none), from the keys of one listing of the dataset (other dates'
    /// keys are ignored). One listing from the oldest date's partition on takes fewer
    /// calls than a listing per partition (1,000 keys a page either way) and, unlike
    /// it, a number that does not grow with the dates while they are small.
    pub fn ids_by_date<'k>(
        keys: impl IntoIterator<Item = &'k str>,
        dates: &BTreeSet<NaiveDate>,
    ) -> BTreeMap<NaiveDate, BTreeSet<String>> {
        let mut by_date: BTreeMap<NaiveDate, BTreeSet<String>> = dates.iter().map(|d| (*d, BTreeSet::new())).collect();
        for (date, id) in keys.into_iter().filter_map(Self::date_and_id_of) {
            if let Some(ids) = by_date.get_mut(&date) {
                ids.insert(id.to_string());
            }
        }
        by_date
    }

    /// The collect state of the Region whose reports are collected (the function's
    /// Region, never the bucket's). Several Regions of one account share a prefix in
    /// organisation mode; one shared object would let each Region's run overwrite the
    /// other's history, outbox and announced news.
    pub fn state_object(&self, region: &str) -> String {
        format!("{}/state/region={region}/collect-state.json", self.prefix)
    }

    /// Where the state lived before it was per Region. Read only while the Region's own
    /// object does not exist yet, so an upgraded deployment keeps its outbox and what it
    /// already announced (see `CollectState::adoptable_by`).
    pub fn legacy_state_object(&self) -> String {
        format!("{}/state/collect-state.json", self.prefix)
    }
}

/// True for reports whose archiving is final: `available` ones get entries and a report
/// row; `error` ones get a report row only, so the failure stays on record.
pub fn is_archivable(state: &ReportState) -> bool {
    matches!(state, ReportState::Available | ReportState::Error)
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
