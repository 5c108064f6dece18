//! S3: immutable archive objects (written once with `If-None-Match: *`), partition
//! listings, and the small collect-state object.

use std::collections::BTreeSet;

use anyhow::anyhow;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use super::error_text;
use crate::core::records::ArchiveKeys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Written,
    /// The key exists: an earlier run archived it. Archive objects are immutable.
    AlreadyExists,
}

pub async fn put_if_absent(s3: &Client, bucket: &str, key: &str, body: Vec<u8>) -> anyhow::Result<PutOutcome> {
    let result = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .content_type("application/x-ndjson")
        .content_encoding("gzip")
        .if_none_match("*")
        .send()
        .await;
    match result {
        Ok(_) => Ok(PutOutcome::Written),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(PutOutcome::AlreadyExists),
        Err(e) => Err(anyhow!("s3:PutObject s3://{bucket}/{key} failed: {}", error_text(&e))),
    }
}

/// Report ids archived under one partition prefix.
pub async fn archived_ids(s3: &Client, bucket: &str, partition: &str) -> anyhow::Result<BTreeSet<String>> {
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(partition).into_paginator().send();
    let mut ids = BTreeSet::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| anyhow!("s3:ListObjectsV2 s3://{bucket}/{partition} failed: {}", error_text(&e)))?;
        for o in page.contents() {
            if let Some(id) = o.key().and_then(ArchiveKeys::report_id_of) {
                ids.insert(id.to_string());
            }
        }
    }
    Ok(ids)
}

/// The object's bytes, or `None` when it does not exist.
pub async fn get_optional(s3: &Client, bucket: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let bytes = out.body.collect().await.map_err(|e| anyhow!("reading s3://{bucket}/{key} failed: {e}"))?;
            Ok(Some(bytes.into_bytes().to_vec()))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(anyhow!("s3:GetObject s3://{bucket}/{key} failed: {}", error_text(&e))),
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
        .map_err(|e| anyhow!("s3:PutObject s3://{bucket}/{key} failed: {}", error_text(&e)))?;
    Ok(())
}
