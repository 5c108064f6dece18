//! A fake AWS for in-process tests of the jobs: every client of a [`Clients`] sends to
//! one handler, which sees each request as a [`Call`] and answers it, and every call is
//! logged in the order it was sent (retries included, each one a call). EC2, SNS and
//! STS speak the Query protocol (a form body naming the action); an S3 call's action is
//! `METHOD /bucket/key?query`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;

use super::Clients;

#[derive(Debug, Clone)]
pub struct Call {
    /// `ec2`, `s3`, `sns`, `sts` or `ce`: the endpoint's host name is `<service>.test`.
    pub service: String,
    pub action: String,
    /// The Query form, decoded (empty for S3).
    pub params: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Call {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Bytes, so that an S3 object body may be gzip.
    pub body: Vec<u8>,
}

impl Answer {
    pub fn ok(body: impl Into<String>) -> Self {
        Self { status: 200, body: body.into().into_bytes() }
    }

    /// An error as EC2, SNS and STS (the Query protocol) send it.
    pub fn query_error(status: u16, code: &str) -> Self {
        let body = format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>{code} (fake)</Message></Error></Errors>\
             <RequestID>req</RequestID></Response>"
        );
        Self { status, body: body.into() }
    }

    /// An error as JSON-protocol services (Cost Explorer) send it.
    pub fn json_error(status: u16, code: &str) -> Self {
        let body = format!(r#"{{"__type":"{code}","message":"{code} (fake)"}}"#);
        Self { status, body: body.into() }
    }
}

/// What [`Fake::with_bytes`] handlers return: an [`Answer`], whose body is bytes already.
pub type Reply = Answer;

type Handler = dyn Fn(&Call) -> Answer + Send + Sync;

pub struct Fake {
    pub clients: Clients,
    log: Arc<Mutex<Vec<Call>>>,
}

impl Fake {
    /// Clients of every service sending to `handler`, with the SDK's `retry` policy.
    pub fn new(retry: RetryConfig, handler: impl Fn(&Call) -> Answer + Send + Sync + 'static) -> Self {
        Self::with_bytes(retry, handler)
    }

    /// Like [`Fake::new`], for handlers that answer with bytes.
    pub fn with_bytes(retry: RetryConfig, handler: impl Fn(&Call) -> Reply + Send + Sync + 'static) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let endpoint = Endpoint { log: log.clone(), handler: Arc::new(handler) };
        let http = http_client_fn(move |_, _| SharedHttpConnector::new(endpoint.clone()));
        let shared = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "akid", "secret", None, None, "fake",
            )))
            .retry_config(retry)
            .http_client(http)
            .build();
        let s3 = aws_sdk_s3::config::Builder::from(&shared).endpoint_url("http://s3.test").force_path_style(true);
        let clients = Clients {
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(&shared).endpoint_url("http://ec2.test").build(),
            ),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            autoscaling: aws_sdk_autoscaling::Client::from_conf(
                aws_sdk_autoscaling::config::Builder::from(&shared).endpoint_url("http://autoscaling.test").build(),
            ),
            rbin: aws_sdk_rbin::Client::from_conf(
                aws_sdk_rbin::config::Builder::from(&shared).endpoint_url("http://rbin.test").build(),
            ),
            ssm: aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(&shared).endpoint_url("http://ssm.test").build(),
            ),
            imagebuilder: aws_sdk_imagebuilder::Client::from_conf(
                aws_sdk_imagebuilder::config::Builder::from(&shared).endpoint_url("http://imagebuilder.test").build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(&shared).endpoint_url("http://sns.test").build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&shared).endpoint_url("http://sts.test").build(),
            ),
            cost_explorer_config: aws_sdk_costexplorer::config::Builder::from(&shared)
                .endpoint_url("http://ce.test")
                .build(),
            region: "us-east-1".into(),
        };
        Self { clients, log }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.log.lock().unwrap().clone()
    }

    /// `service:action` of every call, in order.
    pub fn actions(&self) -> Vec<String> {
        self.calls().iter().map(|c| format!("{}:{}", c.service, c.action)).collect()
    }
}

#[derive(Clone)]
struct Endpoint {
    log: Arc<Mutex<Vec<Call>>>,
    handler: Arc<Handler>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fake AWS endpoint")
    }
}

impl HttpConnector for Endpoint {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let call = call_of(&request);
        let answer = (self.handler)(&call);
        let etag = etag_of(&call, &answer);
        self.log.lock().unwrap().push(call);
        let mut response =
            HttpResponse::new(answer.status.try_into().expect("a valid status"), SdkBody::from(answer.body));
        if let Some(etag) = etag {
            response.headers_mut().insert("ETag", etag);
        }
        HttpConnectorFuture::ready(Ok(response))
    }
}

/// S3 names every object version by its ETag: a successful GET answers the ETag of the
/// body it returns, a PUT the ETag of the body it stored (a digest of the bytes, as S3's
/// ETag of a single-part upload is), so the jobs' conditional writes work against
/// every fake S3 of the tests.
fn etag_of(call: &Call, answer: &Answer) -> Option<String> {
    if call.service != "s3" || answer.status != 200 {
        return None;
    }
    let body = if call.action.starts_with("PUT ") { &call.body } else { &answer.body };
    Some(etag(body))
}

/// The fake S3's ETag of an object's bytes (a quoted FNV-1a digest).
pub fn etag(body: &[u8]) -> String {
    let digest = body.iter().fold(0xcbf29ce484222325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3));
    format!("\"{digest:016x}\"")
}

fn call_of(request: &HttpRequest) -> Call {
    let uri = request.uri().trim_start_matches("http://");
    let (host, path) = uri.split_once('/').unwrap_or((uri, ""));
    let service = host.trim_end_matches(".test").to_string();
    let body = request.body().bytes().unwrap_or_default().to_vec();
    let json = request.headers().get("x-amz-target").is_some();
    let params: BTreeMap<String, String> = if service == "s3" || json { BTreeMap::new() } else { form(&body) };
    // JSON-protocol services (Cost Explorer) name the action in `X-Amz-Target`.
    let target = request.headers().get("x-amz-target").and_then(|t| t.rsplit('.').next());
    let action = match (params.get("Action"), target) {
        (Some(action), _) => action.clone(),
        (None, Some(target)) => target.to_string(),
        (None, None) => format!("{} /{path}", request.method()),
    };
    let headers = request.headers().iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect();
    Call { service, action, params, headers, body }
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// Percent-decoding of a form value or URI part.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 2;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
