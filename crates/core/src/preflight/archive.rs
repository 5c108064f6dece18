//! The archive bucket and the alert topic: what the bucket probe's steps and the
//! topic's answer mean.

use super::access::{CREDENTIALS_FIX, is_bad_credentials, is_denied, is_transient, one_line};
use super::model::{Check, Level, Refusal};
use crate::archive::wrong_region_hint;

/// S3's refusal of one step, with what the Region rule needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Refusal {
    pub refusal: Refusal,
    pub status: u16,
    /// S3's `x-amz-bucket-region` answer header.
    pub bucket_region_header: Option<String>,
    /// S3's error document.
    pub body: String,
}

/// The bucket probe's steps, in order: list the prefix, write the test object only if
/// absent, read it back, delete it only if it is still the one written. `None`: the
/// step was not taken (an earlier one failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketProbe {
    pub bucket: String,
    pub prefix: String,
    /// The Region the S3 client signs for (`ARCHIVE_BUCKET_REGION` or the function's).
    pub signed_for: String,
    pub key: String,
    pub list: Result<(), S3Refusal>,
    pub write: Option<Result<(), S3Refusal>>,
    pub read: Option<Result<(), S3Refusal>>,
    pub delete: Option<Result<(), S3Refusal>>,
}

const BUCKET_UNSET_FIX: &str = "Set ARCHIVE_BUCKET to the archive bucket (stack output ArchiveBucketName).";

/// The table's bucket lines: `bucket` (Region and listing), `bucket write`,
/// `bucket read`, `bucket delete`.
pub fn bucket(probe: Option<&BucketProbe>) -> Vec<Check> {
    let Some(p) = probe else {
        return vec![
            Check::new("bucket", Level::Fail, "ARCHIVE_BUCKET is not set: collect, probe and digest refuse to start")
                .with_fix(BUCKET_UNSET_FIX),
        ];
    };
    let mut out = vec![step(p, "bucket", &p.list, listed(p), "s3:ListBucket", list_fix(p))];
    let steps = [
        ("bucket write", &p.write, format!("wrote s3://{}/{} with If-None-Match: *", p.bucket, p.key), "s3:PutObject"),
        ("bucket read", &p.read, "read the test object back".to_string(), "s3:GetObject"),
        ("bucket delete", &p.delete, "deleted the test object (If-Match: its ETag)".to_string(), "s3:DeleteObject"),
    ];
    for (name, result, ok, action) in steps {
        match result {
            Some(r) => out.push(step(p, name, r, ok, action, object_fix(p, action))),
            None => out.push(Check::new(name, Level::Skip, "not tried: an earlier step failed")),
        }
    }
    out
}

fn listed(p: &BucketProbe) -> String {
    format!("s3://{}/{}/ listed; the bucket answers in {}", p.bucket, p.prefix, p.signed_for)
}

fn list_fix(p: &BucketProbe) -> String {
    format!(
        "Grant s3:ListBucket on arn:aws:s3:::{} with s3:prefix {}/* (statement ListArchivePrefixOnly).",
        p.bucket, p.prefix
    )
}

fn object_fix(p: &BucketProbe, action: &str) -> String {
    let (statement, resource) = match action {
        "s3:DeleteObject" => ("DeletePreflightObjects", format!("{}/_preflight/*", p.prefix)),
        _ => ("ReadWriteArchiveObjects", format!("{}/*", p.prefix)),
    };
    format!("Grant {action} on arn:aws:s3:::{}/{resource} (statement {statement}).", p.bucket)
}

fn step(p: &BucketProbe, name: &str, result: &Result<(), S3Refusal>, ok: String, action: &str, fix: String) -> Check {
    let e = match result {
        Ok(()) => return Check::new(name, Level::Ok, ok),
        Err(e) => e,
    };
    let code = e.refusal.code();
    let said = one_line(&e.refusal.message);
    if let Some(hint) = wrong_region_hint(&p.signed_for, e.bucket_region_header.as_deref(), &e.body) {
        return Check::new(name, Level::Fail, format!("S3 refused a request signed for {}: {said}", p.signed_for))
            .with_fix(hint);
    }
    // What the delete finds wrong leaves one small object behind; every phase still works.
    let stays = |level: Level, why: String| {
        let fix = format!("{fix} Then delete s3://{}/{} by hand.", p.bucket, p.key);
        Check::new(name, level, format!("{why}; the test object stays")).with_fix(fix)
    };
    let is_delete = action == "s3:DeleteObject";
    match (code, e.status) {
        _ if is_denied(code) && is_delete => stays(Level::Warn, format!("{action} refused: {said}")),
        _ if is_denied(code) => Check::new(name, Level::Fail, format!("{action} refused: {said}")).with_fix(fix),
        _ if is_bad_credentials(code) => {
            Check::new(name, Level::Fail, format!("credentials refused: {said}")).with_fix(CREDENTIALS_FIX)
        }
        ("NoSuchBucket", _) => Check::new(name, Level::Fail, format!("no bucket {}: {said}", p.bucket))
            .with_fix("Create the bucket or correct ARCHIVE_BUCKET (stack output ArchiveBucketName)."),
        (_, 412) if is_delete => stays(Level::Warn, "the test object changed since it was written".into()),
        (_, 412) => Check::new(name, Level::Warn, "the test key existed already, so nothing was written")
            .with_fix("Run preflight again (its key is new on every run)."),
        ("NotImplemented", _) | (_, 501) if is_delete => {
            stays(Level::Warn, "the bucket does not take If-Match on DeleteObject".into())
        }
        ("NotImplemented", _) | (_, 501) => Check::new(
            name,
            Level::Fail,
            format!("the bucket does not take conditional requests: {said}"),
        )
        .with_fix("Use an S3 general purpose bucket: archive objects are written with If-None-Match: *."),
        _ if code.starts_with("KMS.") || code == "KMSAccessDenied" => {
            Check::new(name, Level::Fail, format!("the bucket's KMS key refused: {said}"))
                .with_fix("Grant the function's role kms:GenerateDataKey and kms:Decrypt on the archive key (template parameter ArchiveKmsKeyArn).")
        }
        _ if is_transient(&e.refusal) && is_delete => stays(Level::Warn, format!("not deleted: {said}")),
        _ if is_transient(&e.refusal) => {
            Check::new(name, Level::Warn, format!("not checked: {said}")).with_fix("Run preflight again.")
        }
        _ if is_delete => stays(Level::Warn, format!("not deleted: {said}")),
        _ => Check::new(name, Level::Fail, format!("{action} failed: {said}")).with_fix(fix),
    }
}

/// The alert topic. Publishing would send subscribers a message, so the check reads
/// the topic's attributes instead: it exists, in this account's reach.
pub fn topic(arn: Option<&str>, answer: Option<&Result<(), Refusal>>) -> Check {
    let (Some(arn), Some(answer)) = (arn, answer) else {
        return Check::new("topic", Level::Warn, "ALERT_TOPIC_ARN is not set: alerts and digests are only logged")
            .with_fix("Set ALERT_TOPIC_ARN to the alert topic (stack output AlertTopicArn).");
    };
    let Err(r) = answer else {
        return Check::new("topic", Level::Ok, format!("{arn} exists (nothing was published)"));
    };
    let said = one_line(&r.message);
    match r.code() {
        "NotFound" => Check::new("topic", Level::Fail, format!("no topic {arn}: {said}"))
            .with_fix("Create the topic or correct ALERT_TOPIC_ARN (stack output AlertTopicArn)."),
        code if is_denied(code) => Check::new(
            "topic",
            Level::Warn,
            format!("cannot see {arn} without sns:GetTopicAttributes ({said}); sns:Publish is not tried"),
        )
        .with_fix("Grant sns:GetTopicAttributes on the topic (statement PublishAlerts) so preflight can check it."),
        code if is_bad_credentials(code) => {
            Check::new("topic", Level::Fail, format!("credentials refused: {said}")).with_fix(CREDENTIALS_FIX)
        }
        _ if is_transient(r) => {
            Check::new("topic", Level::Warn, format!("not checked: {said}")).with_fix("Run preflight again.")
        }
        _ => Check::new("topic", Level::Fail, format!("sns:GetTopicAttributes failed: {said}"))
            .with_fix("Check ALERT_TOPIC_ARN: it must be a topic of this Region the function may publish to."),
    }
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
