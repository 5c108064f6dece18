//! preflight: everything the configured phases need, checked in the account with the
//! configuration, without effect (see `core::preflight`). The order: the credentials
//! (nothing else is asked without them), the selection (its first AMI is what the
//! permissions are asked about), each permission, the bucket's four steps on the one
//! test object, the topic, then what only some configurations use. It writes nothing
//! but that object, and deletes it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::Run;
use super::archive::Archive;
use crate::aws::preflight::{self as calls, Ask, refusal_of};
use crate::aws::{ec2, retire};
use crate::core::archive::{ArchiveKeys, Provenance};
use crate::core::create::{documented_fallback, selected_for_verdict};
use crate::core::model::Ami;
use crate::core::preflight as judge;
use crate::core::preflight::{
    Answer, BucketProbe, Check, Identity, Level, MemberFreshness, PLACEHOLDER_IMAGE_ID, PLACEHOLDER_SNAPSHOT_ID,
    Permission, PreflightSettings, Status, Subject, not_needed, permissions, subject_image, subject_snapshot,
    test_object_key,
};
use crate::core::retire::RetireMode;

/// preflight's summary: the Lambda answer, and the CLI's `--json`. `status` is the
/// CLI's exit code in words (ok 0, warn 3, fail 1).
#[derive(Debug, Clone, Serialize)]
pub struct PreflightSummary {
    pub status: Status,
    pub account_id: Option<String>,
    pub region: String,
    pub failed: usize,
    pub warnings: usize,
    pub ok: usize,
    pub not_needed: usize,
    /// The one object written (and deleted) under `<prefix>/_preflight/`.
    pub test_object: Option<String>,
    pub checks: Vec<Check>,
    /// The checks as the CLI prints them.
    pub table: String,
}

impl PreflightSummary {
    fn of(checks: Vec<Check>, account_id: Option<String>, region: String, test_object: Option<String>) -> Self {
        Self {
            status: judge::status(&checks),
            failed: judge::count(&checks, Level::Fail),
            warnings: judge::count(&checks, Level::Warn),
            ok: judge::count(&checks, Level::Ok),
            not_needed: judge::count(&checks, Level::Skip),
            table: judge::render(&checks),
            account_id,
            region,
            test_object,
            checks,
        }
    }
}

fn settings(r: &Run<'_>) -> PreflightSettings {
    let c = r.config;
    PreflightSettings {
        retire_mode: c.retire.mode,
        require_recycle_bin: c.retire.require_recycle_bin,
        delete_snapshots: c.retire.delete_snapshots,
        min_recycle_bin_days: c.retire.min_recycle_bin_days,
        digest_reservations: c.digest.reservations,
        require_member_probes: c.require_member_probes.clone(),
        bucket: c.archive_bucket.clone(),
        topic: c.alert_topic_arn.clone(),
    }
}

pub async fn run(r: &Run<'_>) -> anyhow::Result<PreflightSummary> {
    let s = settings(r);
    let region = r.clients.region.clone();
    let me = calls::identity(r.clients).await;
    let mut checks = vec![judge::identity(&me, &region, r.config.archive_bucket_region.as_deref())];
    let Ok(me) = me else {
        checks.push(Check::new(
            "everything else",
            Level::Skip,
            "not tried: without working credentials every call would be refused the same way",
        ));
        return Ok(PreflightSummary::of(checks, None, region, None));
    };
    let selected = selection(r, &mut checks).await;
    permissions_of(r, &s, &me.account, &selected, &mut checks).await;
    let test_object = match &s.bucket {
        Some(bucket) => {
            let probe = bucket_probe(r, bucket).await;
            checks.extend(judge::bucket(Some(&probe)));
            Some(probe.key)
        }
        None => {
            checks.extend(judge::bucket(None));
            None
        }
    };
    let topic = match &s.topic {
        Some(arn) => Some(calls::topic(r.clients, arn).await),
        None => None,
    };
    checks.push(judge::topic(s.topic.as_deref(), topic.as_ref()));
    configured(r, &s, &me, &selected, &mut checks).await;
    checks.extend(not_needed(&s));
    Ok(PreflightSummary::of(checks, Some(me.account), region, test_object))
}

/// The selected AMIs (as create and collect select them), and the selection's line.
async fn selection(r: &Run<'_>, checks: &mut Vec<Check>) -> Vec<Ami> {
    let filters = &r.config.tag_filters;
    let listing = ec2::owned_images(&r.clients.ec2, filters)
        .await
        .map(|amis| selected_for_verdict(amis, filters))
        .map_err(|e| refusal_of(&e));
    checks.push(judge::selection(&listing, filters));
    listing.unwrap_or_default()
}

/// Each permission the configured phases use, asked about the first selected AMI (its
/// first snapshot), or the placeholders when nothing is selected.
async fn permissions_of(
    r: &Run<'_>,
    s: &PreflightSettings,
    own_account: &str,
    selected: &[Ami],
    checks: &mut Vec<Check>,
) {
    let image = subject_image(selected);
    let snapshot = subject_snapshot(image);
    let ask = Ask {
        image_id: image.map_or(PLACEHOLDER_IMAGE_ID, |a| a.image_id.as_str()),
        snapshot_id: snapshot.unwrap_or(PLACEHOLDER_SNAPSHOT_ID),
        now: r.now,
        resource_types: &r.config.report_resource_types,
        version_depth: r.config.launch_template_version_depth,
        account_ids: &r.config.report_account_ids,
        delete_snapshots: s.delete_snapshots,
        own_account,
    };
    for p in permissions(s) {
        let real = match p {
            Permission::DeleteSnapshot => snapshot.is_some(),
            _ => image.is_some(),
        };
        let subject = if real || !p.names_a_resource() { Subject::Selected } else { Subject::Placeholder };
        let answer = calls::ask(r.clients, p, &ask).await;
        if p == Permission::CreateImageUsageReport {
            checks.push(create_permission(r, &ask, subject, &answer).await);
        } else {
            checks.push(judge::permission(p, subject, &answer));
        }
    }
}

/// The bucket's steps in order: list, write if absent, read back, delete if unchanged.
/// A step after a failed write is not taken: there is no object to read or delete.
async fn bucket_probe(r: &Run<'_>, bucket: &str) -> BucketProbe {
    let prefix = r.config.archive_prefix.clone();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let key = test_object_key(&prefix, r.now, &format!("{:x}{nanos:08x}", std::process::id()));
    let signed_for = r.clients.s3.config().region().map_or_else(|| r.clients.region.clone(), |g| g.to_string());
    let list = calls::list_prefix(r.clients, bucket, &prefix).await;
    let body =
        format!("ami-usage-reporter preflight at {}: a test of the archive's permissions, deleted at once\n", r.now);
    let (write, read, delete) = match calls::put_test_object(r.clients, bucket, &key, body).await {
        Err(e) => (Some(Err(e)), None, None),
        Ok(etag) => {
            let read = calls::get_test_object(r.clients, bucket, &key).await;
            let delete = calls::delete_test_object(r.clients, bucket, &key, etag.as_deref()).await;
            if delete.is_err() {
                tracing::warn!(bucket, key, "preflight could not delete its test object; delete it by hand");
            }
            (Some(Ok(())), Some(read), Some(delete))
        }
    };
    BucketProbe { bucket: bucket.into(), prefix, signed_for, key, list, write, read, delete }
}

/// CreateImageUsageReport's line: when EC2 refused the configured resource types, the
/// same DryRun with the types create falls back to decides it (`judge::create_permission`).
async fn create_permission(r: &Run<'_>, ask: &Ask<'_>, subject: Subject, answer: &Answer) -> Check {
    let fallback = match answer {
        Answer::Refused(_) => documented_fallback(ask.resource_types),
        _ => None,
    };
    let Some(types) = fallback else {
        return judge::create_permission(subject, answer, None);
    };
    let again =
        calls::ask(r.clients, Permission::CreateImageUsageReport, &Ask { resource_types: &types, ..*ask }).await;
    judge::create_permission(subject, answer, Some(judge::TypesFallback { types: &types, answer: &again }))
}

/// What only some configurations use: the Recycle Bin (retirement), Cost Explorer (the
/// digest's reservations), the members' probe facts (`REQUIRE_MEMBER_PROBES`).
async fn configured(r: &Run<'_>, s: &PreflightSettings, me: &Identity, selected: &[Ami], checks: &mut Vec<Check>) {
    if s.retire_mode != RetireMode::Off {
        let rules = retire::rules(r.clients, s.delete_snapshots).await.map_err(|e| refusal_of(&e));
        let snapshot_tags = match s.delete_snapshots {
            true => {
                let ids = selected.iter().flat_map(crate::core::retire::snapshot_ids).collect();
                retire::snapshot_tags(r.clients, &ids).await.unwrap_or_default()
            }
            false => Default::default(),
        };
        checks.push(judge::recycle_bin(s, &rules, selected, &snapshot_tags));
    }
    if s.digest_reservations {
        checks.push(judge::cost_explorer(&calls::reservations(r.clients, r.now).await));
    }
    if s.require_member_probes.is_empty() {
        return;
    }
    let Some(bucket) = &s.bucket else {
        checks.push(Check::new("member probes", Level::Skip, "not tried: ARCHIVE_BUCKET is not set"));
        return;
    };
    let provenance =
        Provenance { owner_account_id: me.account.clone(), region: r.clients.region.clone(), collected_at: r.now };
    let archive = Archive::new(r, bucket, ArchiveKeys { prefix: r.config.archive_prefix.clone() }, provenance);
    let (_, counts) = super::member_probes::read(&archive).await;
    let freshness = MemberFreshness {
        required: s.require_member_probes.clone(),
        missing: counts.missing,
        unreadable: counts.unreadable,
    };
    checks.push(judge::member_probes(&freshness, r.config.verdict.max_evidence_age_hours));
}

#[cfg(test)]
#[path = "preflight_tests.rs"]
mod tests;
