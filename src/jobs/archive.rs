//! The archive writer: one report at a time, entries object first and report object
//! last, both immutable (`If-None-Match: *`); plus the collect-state object of the
//! collected Region (migrated once from the single-Region key). Entries
//! stream from EC2's pages through the gzip encoder to S3 (multipart past one part).

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use futures::StreamExt;

use super::Run;
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
    /// Set when the state came from the legacy key and that key is not yet claimed.
    pub claim_legacy: AtomicBool,
}

/// An object an earlier run wrote is kept as it is (archive objects are immutable): the
/// trace of a run that died after writing it, resumed now.
fn note_existing(outcome: s3::PutOutcome, key: &str) {
    if outcome == s3::PutOutcome::AlreadyExists {
        tracing::info!(key, "already archived by an earlier run; kept as it is");
    }
}

impl Archive<'_> {
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
    pub async fn load_state(&self) -> anyhow::Result<CollectState> {
        let region = &self.provenance.region;
        let state = match self.read_state(&self.keys.state_object(region)).await? {
            Some(state) => state,
            None => self.adopt_legacy_state(region).await?,
        };
        Ok(CollectState { region: Some(region.clone()), ..state })
    }

    async fn adopt_legacy_state(&self, region: &str) -> anyhow::Result<CollectState> {
        let legacy = self.keys.legacy_state_object();
        Ok(match self.read_state(&legacy).await? {
            Some(state) if state.adoptable_by(region) => {
                tracing::info!(key = %legacy, "adopting the state of the single-Region layout");
                self.claim_legacy.store(true, Ordering::SeqCst);
                state
            }
            Some(state) => {
                tracing::info!(key = %legacy, owner = ?state.region, "the legacy state belongs to another Region; starting afresh");
                CollectState::default()
            }
            None => CollectState::default(),
        })
    }

    async fn read_state(&self, key: &str) -> anyhow::Result<Option<CollectState>> {
        let Some(bytes) = s3::get_optional(&self.run.clients.s3, self.bucket, key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).with_context(|| {
            format!(
                "the state object s3://{}/{key} is unreadable; delete it to rebuild it from the archive (recent news may then be sent once more)",
                self.bucket
            )
        })
    }

    pub async fn save_state(&self, state: &CollectState) -> anyhow::Result<()> {
        let body = serde_json::to_vec(state)?;
        if self.claim_legacy.load(Ordering::SeqCst) {
            // The legacy object is claimed for this Region before this Region's own
            // object exists: a run dying in between adopts it again next time, and no
            // other Region sharing the prefix takes it over.
            let legacy = self.keys.legacy_state_object();
            s3::put(&self.run.clients.s3, self.bucket, &legacy, body.clone(), "application/json").await?;
            self.claim_legacy.store(false, Ordering::SeqCst);
        }
        let key = self.keys.state_object(&self.provenance.region);
        s3::put(&self.run.clients.s3, self.bucket, &key, body, "application/json").await
    }
}
