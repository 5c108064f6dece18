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
            let code = match status {
                412 => "PreconditionFailed",
                301 => "PermanentRedirect",
                _ => "InternalError",
            };
            (status, format!("<Error><Code>{code}</Code><Message>no</Message></Error>"), None)
        } else if query == "uploads" || query.starts_with("uploads&") {
            (200, "<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>".into(), None)
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
        if status == 301 {
            // What S3 sends with a redirect to the bucket's Region.
            response.headers_mut().insert("x-amz-bucket-region", "eu-west-1");
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
        vec!["POST /b/k?uploads", "PUT /b/k?UploadPart", "POST /b/k?uploadId=U1", "DELETE /b/k?AbortMultipartUpload"]
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

#[tokio::test]
async fn a_bucket_in_another_region_names_the_setting_that_fixes_it() {
    let (s3, _) = fake_s3(|call| call.starts_with("GET").then_some(301));
    let e = get_optional(&s3, "b", "k").await.unwrap_err().to_string();
    assert!(e.starts_with("s3:GetObject s3://b/k failed: the archive bucket is in eu-west-1, not us-east-1"), "{e}");
    assert!(e.contains("set ARCHIVE_BUCKET_REGION=eu-west-1") && e.contains("PermanentRedirect"), "{e}");
    let (s3, _) = fake_s3(|_| Some(500));
    let e = put(&s3, "b", "k", Vec::new(), "application/json").await.unwrap_err().to_string();
    assert!(!e.contains("ARCHIVE_BUCKET_REGION"), "{e}");
}
