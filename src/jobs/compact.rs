//! The compaction step of collect (COMPACTION.md): every closed day of every dataset of
//! this Region into Parquet parts. A day found complete that cannot have changed since
//! (`CompactionState::needs_listing`, from collect's own count of its report objects)
//! is not listed, so an idle run costs the same whatever the length of the history.
//! Any other closed day: list its raw objects; if the state counts them all, done; else
//! read the footers of its recorded parts (what is compacted), then per part: read the
//! raw objects the core planned, write the part (`If-None-Match: *`), record it in the
//! compaction state. A part an earlier run wrote but did not record is adopted with the
//! sources its footer names, so a killed run never duplicates or loses a row.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use chrono::NaiveDate;
use futures::StreamExt;
use serde::Serialize;

use super::Failure;
use super::archive::Archive;
use super::durable::StateFile;
use crate::aws::s3;
use crate::core::archive::{LostRace, jsonl};
use crate::core::compaction::parquet_part::{FOOTER_READ, PartWriter, footer_len, sources_of};
use crate::core::compaction::{
    CompactionKeys, CompactionState, DATASETS, DatasetSpec, DayStatus, PartBounds, PartPlan, PartRecord, ReportDates,
    closed_days, next_part,
};
use crate::core::model::UsageReport;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CompactionSummary {
    pub parts_written: usize,
    /// Parts an earlier (killed) run wrote and this one recorded.
    pub parts_adopted: usize,
    pub rows: u64,
    /// Closed days left for the next run by the deadline.
    pub days_left: usize,
    /// Closed days whose raw objects this run listed; the others were found complete
    /// by an earlier run and cannot have changed since (COMPACTION.md).
    pub days_listed: usize,
}

/// Raw objects fetched at once while a part is built (small GETs: latency, not
/// bandwidth, bounds them; 10,000 reports a day are 20,000 objects).
const READS_IN_FLIGHT: usize = 32;

struct Step<'a> {
    archive: &'a Archive<'a>,
    keys: CompactionKeys,
    state: CompactionState,
    /// The state object, written over the version this run read.
    file: StateFile<'a>,
    bounds: PartBounds,
}

/// Collect's last step: its failure is one failed item of the run (the next run resumes
/// it), never a loss of what the run archived, decided or announced. Losing the
/// compaction state to another run (`LostRace`) stops the run like any state write does.
/// `listed`: the report ids collect listed in the partition of each date EC2 lists;
/// `archived`: every id archived once collect's archiving is done.
pub async fn after_collect<'a>(
    archive: &'a Archive<'a>,
    reports: &[UsageReport],
    listed: &BTreeMap<NaiveDate, BTreeSet<String>>,
    archived: &BTreeSet<String>,
) -> anyhow::Result<(CompactionSummary, Option<Failure>)> {
    let r = archive.run;
    let pending_alert = chrono::Duration::hours(i64::from(r.config.pending_alert_hours));
    let dates = ReportDates::of(reports, listed, archived, r.now, pending_alert);
    let mut summary = CompactionSummary::default();
    match run(archive, &dates, &mut summary).await {
        Ok(()) => Ok((summary, None)),
        Err(e) if e.downcast_ref::<LostRace>().is_some() => Err(e),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "compaction stopped; the next run resumes it");
            Ok((summary, Some(Failure { id: "compaction".into(), error: format!("{e:#}") })))
        }
    }
}

/// Compacts the closed days of every dataset, from what collect's listing knows of
/// the report dates (`core::compaction::ReportDates`).
pub async fn run<'a>(
    archive: &'a Archive<'a>,
    dates: &ReportDates,
    summary: &mut CompactionSummary,
) -> anyhow::Result<()> {
    run_bounded(archive, dates, summary, PartBounds::DEFAULT).await
}

async fn run_bounded<'a>(
    archive: &'a Archive<'a>,
    dates: &ReportDates,
    summary: &mut CompactionSummary,
    bounds: PartBounds,
) -> anyhow::Result<()> {
    let keys = CompactionKeys { prefix: archive.keys.prefix.clone() };
    let (file, loaded) = load(archive, &keys).await?;
    let mut step = Step { archive, keys, state: loaded.clone(), file, bounds };
    for spec in DATASETS {
        let days = step.raw_days(spec).await?;
        for day in closed_days(spec, &days, &dates.open, archive.run.now) {
            let reports = dates.archived_on(day);
            if !step.state.needs_listing(spec, day, reports) {
                continue;
            }
            if archive.run.deadline.passed() {
                summary.days_left += 1;
                continue;
            }
            summary.days_listed += 1;
            step.compact_day(spec, day, reports, summary).await?;
        }
    }
    if step.state == loaded { Ok(()) } else { step.save().await }
}

async fn load<'a>(archive: &'a Archive<'a>, keys: &CompactionKeys) -> anyhow::Result<(StateFile<'a>, CompactionState)> {
    let key = keys.state(&archive.provenance.region);
    let (file, bytes) = StateFile::read(&archive.run.clients.s3, archive.bucket, key).await?;
    let Some(bytes) = bytes else { return Ok((file, CompactionState::default())) };
    let state = serde_json::from_slice(&bytes).with_context(|| {
        format!("the compaction state s3://{}/{} is unreadable; fix or restore it (deleting it makes compaction write every day again)", archive.bucket, file.key)
    })?;
    Ok((file, state))
}

impl Step<'_> {
    fn region(&self) -> &str {
        &self.archive.provenance.region
    }

    async fn raw_days(&self, spec: &DatasetSpec) -> anyhow::Result<BTreeSet<NaiveDate>> {
        let prefix = self.keys.raw_dataset(spec.name, self.region());
        let folders = s3::child_prefixes(&self.archive.run.clients.s3, self.archive.bucket, &prefix).await?;
        Ok(folders.iter().filter_map(|f| CompactionKeys::day_of(f)).collect())
    }

    /// Every part a day needs, until none is left or the deadline passes. Each turn
    /// records one more part number (written from ≥ 1 planned source, or adopted): the
    /// loop ends, and a run that stops at its deadline leaves its progress recorded.
    /// `reports`: the day's report count known before its listing, recorded with the
    /// day once every raw object of that listing is in a part.
    async fn compact_day(
        &mut self,
        spec: &DatasetSpec,
        day: NaiveDate,
        reports: Option<u64>,
        summary: &mut CompactionSummary,
    ) -> anyhow::Result<()> {
        let partition = self.keys.raw_partition(spec.name, self.region(), day);
        let raw = s3::archived_sizes(&self.archive.run.clients.s3, self.archive.bucket, &partition).await?;
        let now = self.archive.run.now;
        let DayStatus::Compact { recorded } = self.state.status(spec.name, day, raw.len()) else {
            self.state.found_complete(spec.name, day, reports, now);
            return Ok(());
        };
        self.state.found_incomplete(spec.name, day);
        let mut compacted = self.recorded_sources(spec, day, &recorded).await?;
        loop {
            if self.archive.run.deadline.passed() {
                summary.days_left += 1;
                return Ok(());
            }
            let number = self.state.next_number(spec.name, day);
            let Some(plan) = next_part(&raw, &compacted, number, self.bounds) else {
                self.state.found_complete(spec.name, day, reports, now);
                return Ok(());
            };
            let key = self.keys.part(spec.name, self.region(), day, number);
            let (sources, rows) = match self.footer(&key).await? {
                Some(adopted) => {
                    tracing::info!(key, sources = adopted.0.len(), "part written by an earlier run; recorded as it is");
                    summary.parts_adopted += 1;
                    adopted
                }
                None => match self.write_part(spec, &partition, &key, plan, summary).await? {
                    Some(written) => written,
                    None => {
                        summary.days_left += 1;
                        return Ok(());
                    }
                },
            };
            let record = PartRecord { number, sources: u64::try_from(sources.len())?, rows };
            compacted.extend(sources);
            self.state.record(spec.name, day, record).map_err(anyhow::Error::msg)?;
            self.save().await?;
        }
    }

    /// The sources of a day's recorded parts, from their footers.
    async fn recorded_sources(
        &self,
        spec: &DatasetSpec,
        day: NaiveDate,
        numbers: &[u32],
    ) -> anyhow::Result<BTreeSet<String>> {
        let mut sources = BTreeSet::new();
        for &number in numbers {
            let key = self.keys.part(spec.name, self.region(), day, number);
            let (ids, _) = self.footer(&key).await?.with_context(|| {
                format!(
                    "s3://{}/{key} is recorded in the compaction state but missing; restore it (or delete every part of that day and the day's entry in the state)",
                    self.archive.bucket
                )
            })?;
            sources.extend(ids);
        }
        Ok(sources)
    }

    /// The sources and rows a part's footer names (`None`: no such part), read from
    /// its end: one ranged GET, two when the footer is longer than `FOOTER_READ`.
    async fn footer(&self, key: &str) -> anyhow::Result<Option<(Vec<String>, u64)>> {
        let (s3c, bucket) = (&self.archive.run.clients.s3, self.archive.bucket);
        let Some(mut tail) = s3::get_tail(s3c, bucket, key, FOOTER_READ).await? else {
            return Ok(None);
        };
        let part = |e: String| anyhow::anyhow!("part s3://{bucket}/{key}: {e}");
        let need = footer_len(&tail).map_err(part)?;
        if need > tail.len() {
            tail =
                s3::get_tail(s3c, bucket, key, need).await?.with_context(|| format!("s3://{bucket}/{key} vanished"))?;
        }
        sources_of(&tail).map(Some).map_err(part)
    }

    /// Builds and writes the planned part, or its first sources once it holds
    /// `PartBounds::rows` rows; `None` when the deadline passed while the raw
    /// objects were read (nothing written: the next run plans the day again).
    async fn write_part(
        &self,
        spec: &DatasetSpec,
        partition: &str,
        key: &str,
        plan: PartPlan,
        summary: &mut CompactionSummary,
    ) -> anyhow::Result<Option<(Vec<String>, u64)>> {
        let (s3c, bucket) = (&self.archive.run.clients.s3, self.archive.bucket);
        let mut part = PartWriter::new(spec.name, spec.columns).map_err(anyhow::Error::msg)?;
        let mut objects = futures::stream::iter(&plan.sources)
            .map(|source| async move {
                let raw_key = format!("{partition}{source}.json.gz");
                let bytes = s3::get_optional(s3c, bucket, &raw_key).await?;
                Ok::<_, anyhow::Error>((source, raw_key, bytes))
            })
            .buffered(READS_IN_FLIGHT);
        let mut taken = 0;
        while let Some(object) = objects.next().await {
            if self.archive.run.deadline.passed() {
                return Ok(None);
            }
            if taken > 0 && self.bounds.is_full(part.rows()) {
                break;
            }
            taken += 1;
            let (source, raw_key, bytes) = object?;
            let bytes = bytes.with_context(|| format!("s3://{bucket}/{raw_key} was listed but is gone"))?;
            part.begin_source(source);
            jsonl::for_each_row(&bytes, |row: serde_json::Value| part.push(&row))
                .with_context(|| format!("s3://{bucket}/{raw_key} does not fit the {} table", spec.name))?;
        }
        drop(objects);
        let mut sources = plan.sources;
        sources.truncate(taken);
        let rows = part.rows();
        let body = part.finish().map_err(anyhow::Error::msg)?;
        if s3::put_parquet_if_absent(s3c, bucket, key, body).await? == s3::PutOutcome::AlreadyExists {
            // Another run wrote it between our look and our write: its sources count.
            let adopted = self.footer(key).await?;
            return adopted.map(Some).with_context(|| format!("s3://{bucket}/{key} vanished"));
        }
        tracing::info!(key, sources = sources.len(), rows, "compacted part written");
        summary.parts_written += 1;
        summary.rows += rows;
        Ok(Some((sources, rows)))
    }

    async fn save(&self) -> anyhow::Result<()> {
        self.file.save(&self.state).await
    }
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
