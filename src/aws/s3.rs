//! S3: immutable archive objects (written once with `If-None-Match: *`, streamed as a
//! multipart upload when they outgrow one part), partition listings, and the small
//! collect-state object.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};

use super::s3_error_text;
use crate::core::archive::ArchiveKeys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Written,
    /// The key exists: an earlier run archived it. Archive objects are immutable.
    AlreadyExists,
}

/// S3's smallest part (all parts but the last): a streamed object is shipped in parts
/// of at least this size, so the bytes held per object in flight stay near it.
pub const PART_SIZE: usize = 5 * 1024 * 1024;
const GZIP_JSONL: (&str, &str) = ("application/x-ndjson", "gzip");

/// One immutable gzip JSON Lines object written while it is produced. Parts of at
/// least [`PART_SIZE`] go up as they fill; an object that never fills one part is a
/// single `PutObject`. Both paths create the key only if it is absent
/// (`If-None-Match: *`, on `CompleteMultipartUpload` for the multipart path). Any
/// failure aborts the multipart upload, so no parts are left behind (a killed process
/// leaves them to the bucket's `AbortIncompleteMultipartUpload` lifecycle rule).
pub struct StreamedObject<'a> {
    s3: &'a Client,
    bucket: &'a str,
    key: &'a str,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
}

impl<'a> StreamedObject<'a> {
    pub fn new(s3: &'a Client, bucket: &'a str, key: &'a str) -> Self {
        Self { s3, bucket, key, upload_id: None, parts: Vec::new() }
    }

    /// Ships one full part (≥ [`PART_SIZE`] bytes).
    pub async fn part(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        let result = self.upload_part(bytes).await;
        self.abort_on_error(result).await
    }

    /// Writes the object from the remaining bytes: a single PutObject when no part was
    /// shipped, else the last part and CompleteMultipartUpload.
    pub async fn finish(mut self, last: Vec<u8>) -> anyhow::Result<PutOutcome> {
        if self.upload_id.is_none() {
            return put_if_absent(self.s3, self.bucket, self.key, last).await;
        }
        let result = async {
            if !last.is_empty() {
                self.upload_part(last).await?;
            }
            self.complete().await
        }
        .await;
        self.abort_on_error(result).await
    }

    /// Gives up the object: aborts the multipart upload if one was started.
    pub async fn abort(&mut self) {
        let Some(upload_id) = self.upload_id.take() else {
            return;
        };
        let aborted =
            self.s3.abort_multipart_upload().bucket(self.bucket).key(self.key).upload_id(&upload_id).send().await;
        if let Err(e) = aborted {
            tracing::warn!(key = self.key, upload_id, error = %s3_error_text(self.s3, &e),
                "could not abort the multipart upload; the bucket's lifecycle rule removes its parts");
        }
    }

    async fn abort_on_error<T>(&mut self, result: anyhow::Result<T>) -> anyhow::Result<T> {
        if result.is_err() {
            self.abort().await;
        }
        result
    }

    async fn upload_part(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        let (bucket, key) = (self.bucket, self.key);
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let created = self
                    .s3
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .content_type(GZIP_JSONL.0)
                    .content_encoding(GZIP_JSONL.1)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow!("s3:CreateMultipartUpload s3://{bucket}/{key} failed: {}", s3_error_text(self.s3, &e))
                    })?;
                let id = created
                    .upload_id()
                    .ok_or_else(|| anyhow!("s3:CreateMultipartUpload s3://{bucket}/{key} returned no UploadId"))?
                    .to_string();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(self.parts.len() + 1)?;
        let out = self
            .s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| {
                anyhow!("s3:UploadPart {number} of s3://{bucket}/{key} failed: {}", s3_error_text(self.s3, &e))
            })?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_string))
                .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    async fn complete(&mut self) -> anyhow::Result<PutOutcome> {
        let (bucket, key) = (self.bucket, self.key);
        let upload_id = self.upload_id.clone().expect("a part was uploaded");
        let result = self
            .s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder().set_parts(Some(std::mem::take(&mut self.parts))).build(),
            )
            .if_none_match("*")
            .send()
            .await;
        match result {
            Ok(_) => {
                self.upload_id = None;
                Ok(PutOutcome::Written)
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
                self.abort().await;
                Ok(PutOutcome::AlreadyExists)
            }
            Err(e) => {
                Err(anyhow!("s3:CompleteMultipartUpload s3://{bucket}/{key} failed: {}", s3_error_text(self.s3, &e)))
            }
        }
    }
}

pub async fn put_if_absent(s3: &Client, bucket: &str, key: &str, body: Vec<u8>) -> anyhow::Result<PutOutcome> {
    put_new(s3, bucket, key, body, GZIP_JSONL).await
}

/// A Parquet part of the compacted layout, written once like every archive object.
pub async fn put_parquet_if_absent(s3: &Client, bucket: &str, key: &str, body: Vec<u8>) -> anyhow::Result<PutOutcome> {
    put_new(s3, bucket, key, body, ("application/vnd.apache.parquet", "")).await
}

/// `PutObject` with `If-None-Match: *`; `(content type, content encoding)`.
async fn put_new(
    s3: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    (content_type, encoding): (&str, &str),
) -> anyhow::Result<PutOutcome> {
    let request = s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body)).content_type(content_type);
    let request = if encoding.is_empty() { request } else { request.content_encoding(encoding) };
    let result = request.if_none_match("*").send().await;
    match result {
        Ok(_) => Ok(PutOutcome::Written),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(PutOutcome::AlreadyExists),
        Err(e) => Err(anyhow!("s3:PutObject s3://{bucket}/{key} failed: {}", s3_error_text(s3, &e))),
    }
}

/// Report ids archived under one partition prefix.
pub async fn archived_ids(s3: &Client, bucket: &str, partition: &str) -> anyhow::Result<BTreeSet<String>> {
    Ok(archived_sizes(s3, bucket, partition).await?.into_keys().collect())
}

/// The archived objects of one partition: report id (object name) → size in bytes.
pub async fn archived_sizes(s3: &Client, bucket: &str, partition: &str) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(partition).into_paginator().send();
    let mut ids = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| anyhow!("s3:ListObjectsV2 s3://{bucket}/{partition} failed: {}", s3_error_text(s3, &e)))?;
        for o in page.contents() {
            if let Some(id) = o.key().and_then(ArchiveKeys::report_id_of) {
                ids.insert(id.to_string(), o.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0));
            }
        }
    }
    Ok(ids)
}

/// The "folders" directly under `prefix` (`ListObjectsV2` with delimiter `/`): the
/// partitions of a dataset without listing its objects.
pub async fn child_prefixes(s3: &Client, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(prefix).delimiter("/").into_paginator().send();
    let mut prefixes = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| anyhow!("s3:ListObjectsV2 s3://{bucket}/{prefix} failed: {}", s3_error_text(s3, &e)))?;
        prefixes.extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_string)));
    }
    Ok(prefixes)
}

/// Every key under `prefix` that sorts after `start_after`, with its size (S3 lists in
/// key order, so a date-partitioned prefix is listed from a given day on).
pub async fn keys_after(
    s3: &Client,
    bucket: &str,
    prefix: &str,
    start_after: &str,
) -> anyhow::Result<Vec<(String, i64)>> {
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(prefix).start_after(start_after).into_paginator().send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| anyhow!("s3:ListObjectsV2 s3://{bucket}/{prefix} failed: {}", s3_error_text(s3, &e)))?;
        keys.extend(page.contents().iter().filter_map(|o| Some((o.key()?.to_string(), o.size().unwrap_or(0)))));
    }
    Ok(keys)
}

/// The object's bytes, or `None` when it does not exist.
pub async fn get_optional(s3: &Client, bucket: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let bytes = out.body.collect().await.map_err(|e| anyhow!("reading s3://{bucket}/{key} failed: {e}"))?;
            Ok(Some(bytes.into_bytes().to_vec()))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(anyhow!("s3:GetObject s3://{bucket}/{key} failed: {}", s3_error_text(s3, &e))),
    }
}

/// The last `len` bytes of an object (all of it when shorter), or `None` when it does
/// not exist. A server that ignores `Range` answers the whole object: its end is used.
pub async fn get_tail(s3: &Client, bucket: &str, key: &str, len: usize) -> anyhow::Result<Option<Vec<u8>>> {
    match s3.get_object().bucket(bucket).key(key).range(format!("bytes=-{len}")).send().await {
        Ok(out) => {
            let bytes = out.body.collect().await.map_err(|e| anyhow!("reading s3://{bucket}/{key} failed: {e}"))?;
            let bytes = bytes.into_bytes();
            Ok(Some(bytes[bytes.len().saturating_sub(len)..].to_vec()))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => {
            Err(anyhow!("s3:GetObject s3://{bucket}/{key} (its last {len} bytes) failed: {}", s3_error_text(s3, &e)))
        }
    }
}

pub async fn put(s3: &Client, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> anyhow::Result<()> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .content_type(content_type)
        .send()
        .await
        .map_err(|e| anyhow!("s3:PutObject s3://{bucket}/{key} failed: {}", s3_error_text(s3, &e)))?;
    Ok(())
}

#[cfg(test)]
#[path = "s3_tests.rs"]
mod tests;
