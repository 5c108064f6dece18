//! The archive writer: one report at a time, entries object first and report object
//! last, both immutable (`If-None-Match: *`); plus the collect-state object. Entries
//! stream from EC2's pages through the gzip encoder to S3 (multipart past one part).

use anyhow::Context;
use futures::StreamExt;

use super::Run;
use crate::aws::{ec2, s3};
use crate::core::jsonl::{self, JsonlGzWriter};
use crate::core::model::{Ami, ReportState, UsageReport};
use crate::core::news::CollectState;
use crate::core::records::{ArchiveKeys, Dataset, EntryTotals, Provenance, ReportRow, entry_row, report_row};

pub struct Archive<'a> {
    pub run: &'a Run<'a>,
    pub bucket: &'a str,
    pub keys: ArchiveKeys,
    pub provenance: Provenance,
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
                    object.finish(last).await?;
                }
                Err(e) => {
                    object.abort().await;
                    return Err(e);
                }
            }
        }
        let row = report_row(report, image, &totals, &self.provenance);
        let body = jsonl::encode(std::slice::from_ref(&row))?;
        s3::put_if_absent(&clients.s3, self.bucket, &self.key(Dataset::Reports, report), body).await?;
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
        let mut pages = ec2::entry_pages(&self.run.clients.ec2, report);
        while let Some(page) = pages.next().await {
            for e in &page? {
                totals.add(e);
                writer.push(&entry_row(e, &self.provenance))?;
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

    pub async fn load_state(&self) -> anyhow::Result<CollectState> {
        let key = self.keys.state_object();
        match s3::get_optional(&self.run.clients.s3, self.bucket, &key).await? {
            None => Ok(CollectState::default()),
            Some(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "the state object s3://{}/{key} is unreadable; delete it to rebuild it from the archive (recent news may then be sent once more)",
                    self.bucket
                )
            }),
        }
    }

    pub async fn save_state(&self, state: &CollectState) -> anyhow::Result<()> {
        let body = serde_json::to_vec(state)?;
        s3::put(&self.run.clients.s3, self.bucket, &self.keys.state_object(), body, "application/json").await
    }
}
