//! The state objects' reads and conditional writes (`core::archive::state_write`): a
//! read returns the object with its version (ETag), a write replaces exactly that
//! version and answers the next one; a refusal (412 Precondition Failed, 409
//! ConditionalRequestConflict, or 404 for an `If-Match` whose object is gone) is read
//! back to tell our own landed write from another run's.

use anyhow::anyhow;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};

use super::s3_error_text;
use crate::core::archive::{Refusal, Version, WriteStamp, refusal_of};

/// An object read with its version.
pub struct Versioned {
    pub bytes: Option<Vec<u8>>,
    pub version: Version,
    pub last_modified: Option<DateTime<Utc>>,
}

/// The object and its version (`Absent` when there is none).
pub async fn get_versioned(s3: &Client, bucket: &str, key: &str) -> anyhow::Result<Versioned> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let version = out.e_tag().map(|e| Version::ETag(e.to_string()));
            let last_modified = out.last_modified().and_then(|t| DateTime::from_timestamp(t.secs(), 0));
            let bytes = out.body.collect().await.map_err(|e| anyhow!("reading s3://{bucket}/{key} failed: {e}"))?;
            let version = version.ok_or_else(|| anyhow!("s3:GetObject s3://{bucket}/{key} answered no ETag"))?;
            Ok(Versioned { bytes: Some(bytes.into_bytes().to_vec()), version, last_modified })
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            Ok(Versioned { bytes: None, version: Version::Absent, last_modified: None })
        }
        Err(e) => Err(anyhow!("s3:GetObject s3://{bucket}/{key} failed: {}", s3_error_text(s3, &e))),
    }
}

/// Writes `body` (stamped with `stamp`) over exactly the version `expected`, and
/// answers the new version. Another run's write in between is a
/// [`LostRace`](crate::core::archive::LostRace) error.
pub async fn put_state(
    s3: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    expected: &Version,
    stamp: &WriteStamp,
) -> anyhow::Result<Version> {
    let request = s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body)).content_type("application/json");
    let request = match expected {
        Version::Absent => request.if_none_match("*"),
        Version::ETag(etag) => request.if_match(etag),
    };
    match request.send().await {
        Ok(out) => out
            .e_tag()
            .map(|e| Version::ETag(e.to_string()))
            .ok_or_else(|| anyhow!("s3:PutObject s3://{bucket}/{key} answered no ETag")),
        Err(e) if refused(e.raw_response().map(|r| r.status().as_u16()), expected) => {
            let now = get_versioned(s3, bucket, key).await?;
            match refusal_of(&format!("s3://{bucket}/{key}"), now.bytes.as_deref(), now.last_modified, stamp) {
                Refusal::OwnWriteLanded => Ok(now.version),
                Refusal::Lost(lost) => Err(anyhow::Error::new(lost)),
            }
        }
        Err(e) => Err(anyhow!("s3:PutObject s3://{bucket}/{key} failed: {}", s3_error_text(s3, &e))),
    }
}

/// Whether S3's answer is the refusal of the write's condition.
fn refused(status: Option<u16>, expected: &Version) -> bool {
    match status {
        Some(412 | 409) => true,
        Some(404) => matches!(expected, Version::ETag(_)),
        _ => false,
    }
}
