use super::*;
use crate::preflight::model::{Level, Refusal};

fn s3_error(status: u16, code: &str, header: Option<&str>, body: &str) -> S3Refusal {
    S3Refusal {
        refusal: Refusal::new(Some(code), format!("{code} (test)")),
        status,
        bucket_region_header: header.map(str::to_string),
        body: body.into(),
    }
}

fn probe() -> BucketProbe {
    BucketProbe {
        bucket: "archive".into(),
        prefix: "ami-usage".into(),
        signed_for: "us-east-1".into(),
        key: "ami-usage/_preflight/20261122T060000Z-1.txt".into(),
        list: Ok(()),
        write: Some(Ok(())),
        read: Some(Ok(())),
        delete: Some(Ok(())),
    }
}

fn levels(checks: &[Check]) -> Vec<(&str, Level)> {
    checks.iter().map(|c| (c.check.as_str(), c.result)).collect()
}

#[test]
fn a_bucket_that_lists_takes_the_conditional_write_and_delete_is_green() {
    let checks = bucket(Some(&probe()));
    assert_eq!(
        levels(&checks),
        [("bucket", Level::Ok), ("bucket write", Level::Ok), ("bucket read", Level::Ok), ("bucket delete", Level::Ok)]
    );
    assert_eq!(
        checks[1].detail,
        "wrote s3://archive/ami-usage/_preflight/20261122T060000Z-1.txt with If-None-Match: *"
    );
}

#[test]
fn a_bucket_in_another_region_fails_with_the_archive_rule_s_fix() {
    let wrong = s3_error(301, "PermanentRedirect", Some("eu-west-1"), "<Error><Code>PermanentRedirect</Code></Error>");
    let p = BucketProbe { list: Err(wrong.clone()), write: Some(Err(wrong)), read: None, delete: None, ..probe() };
    let checks = bucket(Some(&p));
    assert_eq!(checks[0].result, Level::Fail);
    assert_eq!(
        checks[0].fix.as_deref(),
        Some(
            "the archive bucket is in eu-west-1, not us-east-1; set ARCHIVE_BUCKET_REGION=eu-west-1 (template \
             parameter ArchiveBucketRegion)"
        )
    );
    assert_eq!(levels(&checks)[2..], [("bucket read", Level::Skip), ("bucket delete", Level::Skip)]);
}

#[test]
fn a_missing_bucket_or_a_denied_write_fails_and_names_the_grant() {
    assert_eq!(bucket(None)[0].result, Level::Fail);
    assert!(bucket(None)[0].fix.as_deref().unwrap().contains("ARCHIVE_BUCKET"));
    let p = BucketProbe { list: Err(s3_error(404, "NoSuchBucket", None, "")), ..probe() };
    assert!(bucket(Some(&p))[0].fix.as_deref().unwrap().starts_with("Create the bucket"));
    let p = BucketProbe { write: Some(Err(s3_error(403, "AccessDenied", None, ""))), ..probe() };
    let write = &bucket(Some(&p))[1];
    assert_eq!(write.result, Level::Fail);
    assert_eq!(
        write.fix.as_deref(),
        Some("Grant s3:PutObject on arn:aws:s3:::archive/ami-usage/* (statement ReadWriteArchiveObjects).")
    );
    let p = BucketProbe { write: Some(Err(s3_error(501, "NotImplemented", None, ""))), ..probe() };
    assert!(bucket(Some(&p))[1].fix.as_deref().unwrap().contains("If-None-Match"));
}

#[test]
fn a_refused_delete_only_warns_and_says_which_object_to_remove() {
    let p = BucketProbe { delete: Some(Err(s3_error(403, "AccessDenied", None, ""))), ..probe() };
    let delete = &bucket(Some(&p))[3];
    assert_eq!(delete.result, Level::Warn);
    assert!(delete.detail.ends_with("the test object stays"), "{}", delete.detail);
    assert_eq!(
        delete.fix.as_deref(),
        Some(
            "Grant s3:DeleteObject on arn:aws:s3:::archive/ami-usage/_preflight/* (statement DeletePreflightObjects). \
             Then delete s3://archive/ami-usage/_preflight/20261122T060000Z-1.txt by hand."
        )
    );
    let p = BucketProbe { delete: Some(Err(s3_error(412, "PreconditionFailed", None, ""))), ..probe() };
    assert_eq!(bucket(Some(&p))[3].result, Level::Warn);
}

#[test]
fn the_topic_is_read_never_published_to() {
    let arn = "arn:aws:sns:us-east-1:123456789012:alerts";
    assert_eq!(topic(Some(arn), Some(&Ok(()))).result, Level::Ok);
    let missing = topic(Some(arn), Some(&Err(Refusal::new(Some("NotFound"), "Topic does not exist"))));
    assert_eq!(missing.result, Level::Fail);
    let unseen = topic(Some(arn), Some(&Err(Refusal::new(Some("AuthorizationError"), "not authorized"))));
    assert_eq!(unseen.result, Level::Warn);
    assert!(unseen.fix.unwrap().contains("sns:GetTopicAttributes"));
    let unset = topic(None, None);
    assert_eq!(unset.result, Level::Warn);
    assert!(unset.fix.unwrap().contains("ALERT_TOPIC_ARN"));
}
