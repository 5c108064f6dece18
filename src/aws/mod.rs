//! Thin edges to AWS: each function is one API conversation, converting SDK types to
//! the core's plain data. No decisions are made here.

pub mod cost_explorer;
pub mod ec2;
#[cfg(test)]
pub mod fake;
pub mod fleets;
pub mod member_scan;
pub mod preflight;
pub mod probe;
pub mod rate;
pub mod references;
pub mod retire;
pub mod s3;
pub mod sns;
pub mod state_object;
pub mod uploads;

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_smithy_http_client::tls;

use crate::config::Config;

/// Clients built once per process (once per Lambda cold start) and shared by every run.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    /// Launch configurations only: the one reference kind no EC2 API reveals.
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// Recycle Bin rules: the retirement pipeline deregisters only what they can restore.
    pub rbin: aws_sdk_rbin::Client,
    /// The member probe's scans: SSM parameters of data type `aws:ec2:image`.
    pub ssm: aws_sdk_ssm::Client,
    /// The member probe's scans: Image Builder image and container recipes.
    pub imagebuilder: aws_sdk_imagebuilder::Client,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub sts: aws_sdk_sts::Client,
    /// Cost Explorer's configuration, pinned to its one Region; the client is made only
    /// by the phase that asks it (the digest, `DIGEST_RESERVATIONS=on`).
    pub cost_explorer_config: aws_sdk_costexplorer::Config,
    /// The function's Region: where EC2's reports are, and where SNS and STS are called.
    /// The S3 client alone is in the archive bucket's Region (`ARCHIVE_BUCKET_REGION`).
    pub region: String,
}

/// Standard retry (exponential back-off with jitter, up to 8 attempts) on top of the
/// client-side pacing of `rate`, which keeps this process under the account's bucket
/// rates. Not the SDK's adaptive mode: it treats every `RequestLimitExceeded` as
/// congestion and cuts its own send rate below the pacing's (BENCHMARKS.md, "Design
/// measurements").
const MAX_ATTEMPTS: u32 = 8;

/// Cost Explorer's one Region (its endpoint `ce.us-east-1.amazonaws.com`).
pub const COST_EXPLORER_REGION: &str = "us-east-1";

/// The SDK's default HTTPS client (hyper 1 + rustls/aws-lc), wrapped so that every EC2
/// request attempt first takes a token from the account's matching bucket.
fn paced_ec2_http_client(config: &Config) -> rate::PacedHttpClient {
    let inner = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .build_https();
    rate::PacedHttpClient::new(inner, Arc::new(rate::Pacer::new(config.ec2_rates)))
}

/// Download protection only. The SDK's upload check runs a timer loop for as long as a
/// request body is unsent, and a paced request waits for its token inside the
/// connector, body unsent, so it would tick through every wait. EC2's request bodies
/// are small forms that cannot stall.
fn ec2_stalled_stream_protection() -> aws_sdk_ec2::config::StalledStreamProtectionConfig {
    aws_sdk_ec2::config::StalledStreamProtectionConfig::enabled().upload_enabled(false).build()
}

impl Clients {
    pub async fn from_env(config: &Config) -> anyhow::Result<Self> {
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .load()
            .await;
        let region = shared
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| anyhow::anyhow!("no AWS Region configured: set AWS_REGION (or a profile's region)"))?;
        // S3 answers a request signed for another Region than the bucket's with a redirect
        // the SDK does not follow. Only the Region changes: AWS_ENDPOINT_URL (an emulator)
        // still applies.
        let s3_region = config.archive_bucket_region.clone().unwrap_or_else(|| region.clone());
        let s3_config = aws_sdk_s3::config::Builder::from(&shared)
            .region(aws_sdk_s3::config::Region::new(s3_region))
            .force_path_style(config.s3_force_path_style)
            .build();
        Ok(Self {
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(&shared)
                    .http_client(paced_ec2_http_client(config))
                    .stalled_stream_protection(ec2_stalled_stream_protection())
                    .build(),
            ),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            autoscaling: aws_sdk_autoscaling::Client::new(&shared),
            rbin: aws_sdk_rbin::Client::new(&shared),
            ssm: aws_sdk_ssm::Client::new(&shared),
            imagebuilder: aws_sdk_imagebuilder::Client::new(&shared),
            sns: aws_sdk_sns::Client::new(&shared),
            sts: aws_sdk_sts::Client::new(&shared),
            cost_explorer_config: aws_sdk_costexplorer::config::Builder::from(&shared)
                .region(aws_sdk_costexplorer::config::Region::new(COST_EXPLORER_REGION))
                .build(),
            region,
        })
    }

    /// Cost Explorer's client (its endpoint answers in us-east-1 only, whatever the
    /// function's Region; `AWS_ENDPOINT_URL` still overrides the endpoint).
    pub fn cost_explorer(&self) -> aws_sdk_costexplorer::Client {
        aws_sdk_costexplorer::Client::from_conf(self.cost_explorer_config.clone())
    }

    /// The account the credentials belong to: the AMI owner, stamped on archive rows.
    pub async fn account_id(&self) -> anyhow::Result<String> {
        let me = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("sts:GetCallerIdentity failed: {}", error_text(&e)))?;
        me.account
            .filter(|a| !a.is_empty())
            .ok_or_else(|| anyhow::anyhow!("sts:GetCallerIdentity returned no account id"))
    }
}

/// `Code: message` of a service error, or the whole error chain for transport errors
/// (the default Display of an SDK error says only "service error").
pub fn error_text<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => aws_sdk_ec2::error::DisplayErrorContext(e).to_string(),
    }
}

/// `error_text` of an S3 call, plus the fix when S3 refused it because the bucket is in
/// another Region than the client signs for (see `core::archive::wrong_region_hint`).
pub fn s3_error_text<E>(
    s3: &aws_sdk_s3::Client,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> String
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = error_text(e);
    let (Some(signed_for), Some(response)) = (s3.config().region(), e.raw_response()) else {
        return text;
    };
    let body = response.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
    let header = response.headers().get("x-amz-bucket-region");
    match crate::core::archive::wrong_region_hint(signed_for.as_ref(), header, &body) {
        Some(hint) => format!("{hint} (S3 answered {text})"),
        None => text,
    }
}

/// The service error code, if the error is one.
pub fn error_code<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Option<&str>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata,
{
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    e.code()
}
