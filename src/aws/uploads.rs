//! Multipart uploads left behind under the archive prefix (a run killed while it
//! streamed a large entries object): listed and aborted, so their parts stop being
//! billed long before the bucket's lifecycle rule would remove them.

use anyhow::anyhow;
use aws_sdk_s3::Client;
use chrono::{DateTime, Utc};

use super::s3_error_text;
use crate::core::model::PendingUpload;

/// Every multipart upload in progress under `prefix` (ListMultipartUploads pages by
/// key and upload id markers; it has no paginator in the SDK).
pub async fn in_progress(s3: &Client, bucket: &str, prefix: &str) -> anyhow::Result<Vec<PendingUpload>> {
    let mut uploads = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let page = s3
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(id_marker.take())
            .send()
            .await
            .map_err(|e| anyhow!("s3:ListMultipartUploads s3://{bucket}/{prefix} failed: {}", s3_error_text(s3, &e)))?;
        for u in page.uploads() {
            let (Some(key), Some(upload_id)) = (u.key(), u.upload_id()) else { continue };
            uploads.push(PendingUpload {
                key: key.to_string(),
                upload_id: upload_id.to_string(),
                initiated: u.initiated().and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())),
            });
        }
        if page.is_truncated() != Some(true) {
            return Ok(uploads);
        }
        key_marker = page.next_key_marker().map(str::to_string);
        id_marker = page.next_upload_id_marker().map(str::to_string);
        if key_marker.is_none() && id_marker.is_none() {
            return Ok(uploads);
        }
    }
}

pub async fn abort(s3: &Client, bucket: &str, upload: &PendingUpload) -> anyhow::Result<()> {
    s3.abort_multipart_upload().bucket(bucket).key(&upload.key).upload_id(&upload.upload_id).send().await.map_err(
        |e| anyhow!("s3:AbortMultipartUpload s3://{bucket}/{} failed: {}", upload.key, s3_error_text(s3, &e)),
    )?;
    Ok(())
}
