//! The archive writer: one report at a time, entries object first and report object
//! last, both immutable (`If-None-Match: *`); plus the collect-state object of the
//! collected Region (migrated once from the single-Region key). Entries
//! stream from EC2's pages through the gzip encoder to S3 (multipart past one part).

use std::sync::Mutex;

use anyhow::Context;
use futures::StreamExt;

use super::Run;
use super::durable::StateFile;
use crate::aws::{ec2, s3};
use crate::core::archive::jsonl::{self, JsonlGzWriter};
use crate::core::archive::{ArchiveKeys, Dataset, EntryRows, EntryTotals, Provenance, ReportRow, report_row};
use crate::core::model::{Ami, ReportState, UsageReport};
use crate::core::state::CollectState;

pub struct Archive<'a> {
    pub run: &'a Run<'a>,
    pub bucket: &'a str,
    pub keys: ArchiveKeys,
    pub provenance: Provenance,
    /// This Region's state object, once `load_state` read it.
    state: Mutex<Option<std::sync::Arc<StateFile<'a>>>>,
    /// The legacy state object, while it is adopted but not yet claimed for this Region.
    legacy: Mutex<Option<std::sync::Arc<StateFile<'a>>>>,
}

/// An object an earlier run wrote is kept as it is (archive objects are immutable): the
/// trace of a run that died after writing it, resumed now.
fn note_existing(outcome: s3::PutOutcome, key: &str) {
    if outcome == s3::PutOutcome::AlreadyExists {
        tracing::info!(key, "already archived by an earlier run; kept as it is");
    }
}

impl<'a> Archive<'a> {
    pub fn new(run: &'a Run<'a>, bucket: &'a str, keys: ArchiveKeys, provenance: Provenance) -> Self {
        Self { run, bucket, keys, provenance, state: Mutex::new(None), legacy: Mutex::new(None) }
    }

    fn key(&self, dataset: Dataset, report: &UsageReport) -> String {
        self.keys.object(dataset, &self.provenance.region, report.creation_time.date_naive(), &report.report_id)
    }

    /// Archives one report; returns its row and how many entries it had.
    pub async fn report(&self, report: &UsageReport, image: Option<&Ami>) -> anyhow::Result<ReportRow> {
        let clients = self.run.clients;
        let mut totals = EntryTotals::default();
        if report.state == ReportState::Available {
            let key = self.key(Dataset::Entries, report);
            let mut object = s3::StreamedObject::new(&clients.s3, self.bucket, &key);
            let streamed = self.stream_entries(report, &mut object, &mut totals).await;
            match streamed {
                Ok(last) => {
                    if let Some(overflow) = totals.overflow().cloned() {
                        // A clipped total is never archived as if exact: the report fails
                        // (named in the summary) and its AMI's verdict stays unknown.
                        object.abort().await;
                        return Err(overflow.into());
                    }
                    note_existing(object.finish(last).await?, &key);
                }
                Err(e) => {
                    object.abort().await;
                    return Err(e);
                }
            }
        }
        let row = report_row(report, image, &totals, &self.provenance);
        let body = jsonl::encode(std::slice::from_ref(&row))?;
        let key = self.key(Dataset::Reports, report);
        note_existing(s3::put_if_absent(&clients.s3, self.bucket, &key, body).await?, &key);
        Ok(row)
    }

    /// Pages through the entries into the gzip encoder, shipping a part whenever one
    /// fills: memory holds about one part and one page per report, whatever its size.
    /// Returns the compressed bytes not yet shipped.
    async fn stream_entries(
        &self,
        report: &UsageReport,
        object: &mut s3::StreamedObject<'_>,
        totals: &mut EntryTotals,
    ) -> anyhow::Result<Vec<u8>> {
        let mut writer = JsonlGzWriter::new();
        let mut rows = EntryRows::new(&self.provenance);
        let mut pages = ec2::entry_pages(&self.run.clients.ec2, report);
        while let Some(page) = pages.next().await {
            for e in &page? {
                totals.add(e);
                writer.push(&rows.row(e))?;
            }
            if writer.compressed_len() >= s3::PART_SIZE {
                object.part(writer.take_compressed()).await?;
            }
        }
        Ok(writer.finish()?)
    }

    /// A report row an earlier run archived (recovery of news that run did not record).
    pub async fn read_back(&self, report: &UsageReport) -> anyhow::Result<Option<ReportRow>> {
        let key = self.key(Dataset::Reports, report);
        let Some(bytes) = s3::get_optional(&self.run.clients.s3, self.bucket, &key).await? else {
            return Ok(None);
        };
        let rows: Vec<ReportRow> =
            jsonl::decode(&bytes).with_context(|| format!("s3://{}/{key} is unreadable", self.bucket))?;
        Ok(rows.into_iter().next())
    }

    /// This Region's state; on the first run after the upgrade to per-Region states,
    /// the legacy one (see `CollectState::adoptable_by`), so no news is announced twice.
    /// The versions read are what every later `save_state` replaces.
    pub async fn load_state(&self) -> anyhow::Result<CollectState> {
        let region = &self.provenance.region;
        let (file, bytes) = self.read_state(self.keys.state_object(region)).await?;
        *self.state.lock().expect("not poisoned") = Some(file.into());
        let state = match bytes {
            Some(state) => state,
            None => self.adopt_legacy_state(region).await?,
        };
        Ok(CollectState { region: Some(region.clone()), ..state })
    }

    async fn adopt_legacy_state(&self, region: &str) -> anyhow::Result<CollectState> {
        let legacy = self.keys.legacy_state_object();
        let (file, bytes) = self.read_state(legacy.clone()).await?;
        Ok(match bytes {
            Some(state) if state.adoptable_by(region) => {
                tracing::info!(key = %legacy, "adopting the state of the single-Region layout");
                *self.legacy.lock().expect("not poisoned") = Some(file.into());
                state
            }
            Some(state) => {
                tracing::info!(key = %legacy, owner = ?state.region, "the legacy state belongs to another Region; starting afresh");
                CollectState::default()
            }
            None => CollectState::default(),
        })
    }

    async fn read_state(&self, key: String) -> anyhow::Result<(StateFile<'a>, Option<CollectState>)> {
        let (file, bytes) = StateFile::read(&self.run.clients.s3, self.bucket, key).await?;
        let Some(bytes) = bytes else { return Ok((file, None)) };
        let state = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "the state object s3://{}/{} is unreadable; delete it to rebuild it from the archive (recent news may then be sent once more)",
                self.bucket, file.key
            )
        })?;
        Ok((file, Some(state)))
    }

    /// Saves the state over the version this run read (durably; another run's write in
    /// between is a `LostRace`: the run stops before announcing or acting).
    pub async fn save_state(&self, state: &CollectState) -> anyhow::Result<()> {
        let legacy = self.legacy.lock().expect("not poisoned").clone();
        if let Some(legacy) = legacy {
            // The legacy object is claimed for this Region before this Region's own
            // object exists: a run dying in between adopts it again next time, and no
            // other Region sharing the prefix takes it over.
            legacy.save(state).await?;
            *self.legacy.lock().expect("not poisoned") = None;
        }
        let file = self.state.lock().expect("not poisoned").clone();
        let file = file.unwrap_or_else(|| {
            let key = self.keys.state_object(&self.provenance.region);
            let unread = std::sync::Arc::new(StateFile::unread(&self.run.clients.s3, self.bucket, key));
            *self.state.lock().expect("not poisoned") = Some(unread.clone());
            unread
        });
        file.save(state).await
    }
}
