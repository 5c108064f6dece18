//! S3: immutable archive objects (written once with `If-None-Match: *`, streamed as a
//! multipart upload when they outgrow one part), partition listings, and the small
//! collect-state object.

use std::collections::BTreeSet;

use anyhow::anyhow;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};

use super::error_text;
use crate::core::records::ArchiveKeys;

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
            tracing::warn!(key = self.key, upload_id, error = %error_text(&e),
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
                    .map_err(|e| anyhow!("s3:CreateMultipartUpload s3://{bucket}/{key} failed: {}", error_text(&e)))?;
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
            .map_err(|e| anyhow!("s3:UploadPart {number} of s3://{bucket}/{key} failed: {}", error_text(&e)))?;
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
            Err(e) => Err(anyhow!("s3:CompleteMultipartUpload s3://{bucket}/{key} failed: {}", error_text(&e))),
        }
    }
}

pub async fn put_if_absent(s3: &Client, bucket: &str, key: &str, body: Vec<u8>) -> anyhow::Result<PutOutcome> {
    let result = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .content_type(GZIP_JSONL.0)
        .content_encoding(GZIP_JSONL.1)
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_runtime_api::client::http::{HttpConnectorFuture, SharedHttpConnector, http_client_fn};
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_types::body::SdkBody;

    use super::*;

    /// One request as the fake S3 saw it: `METHOD path?query`, If-None-Match, body.
    #[derive(Debug, Clone)]
    struct Seen {
        call: String,
        if_none_match: Option<String>,
        body: String,
    }

    /// A fake S3 endpoint answering like S3 does; `fail` picks requests to answer
    /// with an error status instead.
    fn fake_s3(fail: impl Fn(&str) -> Option<u16> + Send + Sync + 'static) -> (Client, Arc<Mutex<Vec<Seen>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let fail = Arc::new(fail);
        let http = http_client_fn(move |_, _| {
            let (log, fail) = (log.clone(), fail.clone());
            SharedHttpConnector::new(FakeS3 { log, fail })
        });
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("akid", "secret", None, None, "test"))
            .endpoint_url("http://s3.test")
            .force_path_style(true)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .http_client(http)
            .build();
        (Client::from_conf(config), seen)
    }

    type Fail = Arc<dyn Fn(&str) -> Option<u16> + Send + Sync>;

    struct FakeS3 {
        log: Arc<Mutex<Vec<Seen>>>,
        fail: Fail,
    }

    impl std::fmt::Debug for FakeS3 {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("FakeS3")
        }
    }

    impl aws_smithy_runtime_api::client::http::HttpConnector for FakeS3 {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let uri = request.uri().trim_start_matches("http://s3.test").to_string();
            let query = uri.split_once('?').map(|(_, q)| q).unwrap_or("");
            let call = format!("{} {uri}", request.method());
            let body = request.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            self.log.lock().unwrap().push(Seen {
                call: call.clone(),
                if_none_match: request.headers().get("if-none-match").map(str::to_string),
                body,
            });
            let (status, xml, etag) = if let Some(status) = (self.fail)(&call) {
                let code = if status == 412 { "PreconditionFailed" } else { "InternalError" };
                (status, format!("<Error><Code>{code}</Code><Message>no</Message></Error>"), None)
            } else if query == "uploads" || query.starts_with("uploads&") {
                (
                    200,
                    "<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>".into(),
                    None,
                )
            } else if query.contains("partNumber=") {
                let n = query.split("partNumber=").nth(1).unwrap().split('&').next().unwrap().to_string();
                (200, String::new(), Some(format!("\"etag{n}\"")))
            } else if request.method() == "DELETE" {
                (204, String::new(), None)
            } else {
                (
                    200,
                    "<CompleteMultipartUploadResult><ETag>\"x\"</ETag></CompleteMultipartUploadResult>".into(),
                    Some("\"x\"".into()),
                )
            };
            let mut response = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(xml));
            if let Some(etag) = etag {
                response.headers_mut().insert("ETag", etag);
            }
            HttpConnectorFuture::ready(Ok(response))
        }
    }

    fn calls(seen: &Arc<Mutex<Vec<Seen>>>) -> Vec<String> {
        seen.lock().unwrap().iter().map(|s| s.call.split('&').next().unwrap().replace("x-id=", "")).collect()
    }

    /// Part bodies for the fake need not be full size: S3's 5 MiB minimum is the
    /// caller's rule (see `Archive::stream_entries`), not this type's.
    const PART: usize = 1024;

    fn is_complete(call: &str) -> bool {
        call.starts_with("POST") && call.contains("uploadId=")
    }

    #[tokio::test]
    async fn a_small_object_is_one_conditional_put() {
        let (s3, seen) = fake_s3(|_| None);
        let object = StreamedObject::new(&s3, "b", "k.json.gz");
        assert_eq!(object.finish(b"tiny".to_vec()).await.unwrap(), PutOutcome::Written);
        assert_eq!(calls(&seen), vec!["PUT /b/k.json.gz?PutObject"]);
        assert_eq!(seen.lock().unwrap()[0].if_none_match.as_deref(), Some("*"));
    }

    #[tokio::test]
    async fn parts_stream_then_complete_only_if_absent() {
        let (s3, seen) = fake_s3(|_| None);
        let mut object = StreamedObject::new(&s3, "b", "k");
        object.part(vec![1; PART]).await.unwrap();
        object.part(vec![2; PART]).await.unwrap();
        assert_eq!(object.finish(b"end".to_vec()).await.unwrap(), PutOutcome::Written);
        assert_eq!(
            calls(&seen),
            vec![
                "POST /b/k?uploads",
                "PUT /b/k?UploadPart",
                "PUT /b/k?UploadPart",
                "PUT /b/k?UploadPart",
                "POST /b/k?uploadId=U1"
            ]
        );
        let seen = seen.lock().unwrap();
        let complete = seen.last().unwrap();
        assert_eq!(complete.if_none_match.as_deref(), Some("*"));
        for n in 1..=3 {
            assert!(complete.body.contains(&format!("<PartNumber>{n}</PartNumber>")), "{}", complete.body);
            assert!(complete.body.contains(&format!("etag{n}")), "{}", complete.body);
        }
    }

    #[tokio::test]
    async fn a_failed_part_aborts_the_upload() {
        let (s3, seen) = fake_s3(|call| call.contains("partNumber=2").then_some(500));
        let mut object = StreamedObject::new(&s3, "b", "k");
        object.part(vec![1; PART]).await.unwrap();
        let e = object.part(vec![2; PART]).await.unwrap_err();
        assert!(e.to_string().contains("UploadPart 2"), "{e}");
        let calls = calls(&seen);
        assert_eq!(calls.last().unwrap(), "DELETE /b/k?AbortMultipartUpload");
        assert!(seen.lock().unwrap().last().unwrap().call.contains("uploadId=U1"));
        // Aborting again (the caller's error path) sends nothing more.
        object.abort().await;
        assert_eq!(seen.lock().unwrap().len(), calls.len());
    }

    #[tokio::test]
    async fn an_existing_key_means_already_archived_and_the_parts_are_dropped() {
        let (s3, seen) = fake_s3(|call| is_complete(call).then_some(412));
        let mut object = StreamedObject::new(&s3, "b", "k");
        object.part(vec![1; PART]).await.unwrap();
        assert_eq!(object.finish(Vec::new()).await.unwrap(), PutOutcome::AlreadyExists);
        assert_eq!(
            calls(&seen),
            vec![
                "POST /b/k?uploads",
                "PUT /b/k?UploadPart",
                "POST /b/k?uploadId=U1",
                "DELETE /b/k?AbortMultipartUpload"
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_completion_aborts_and_reports_the_error() {
        let (s3, seen) = fake_s3(|call| is_complete(call).then_some(500));
        let mut object = StreamedObject::new(&s3, "b", "k");
        object.part(vec![1; PART]).await.unwrap();
        let e = object.finish(b"end".to_vec()).await.unwrap_err();
        assert!(e.to_string().contains("CompleteMultipartUpload"), "{e}");
        assert_eq!(calls(&seen).last().unwrap(), "DELETE /b/k?AbortMultipartUpload");
    }
}
