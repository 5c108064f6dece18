//! The weekly digest phase: read the week's verdicts and report objects from the
//! archive (only the week's partitions and the day before), ask Cost Explorer about
//! reservations when `DIGEST_RESERVATIONS=on`, let the core compute and render the
//! digest, then write `ri_utilization.json.gz`, publish (kind `digest`; one message per
//! team with `ROUTE_TAG`, see `jobs::digest::publish`), and write `digest.json.gz` last. The
//! digest object is the mark of a digest published (or only logged, without a topic):
//! a re-run of the same day finds it and publishes nothing; a failed publish leaves no
//! digest object, so a re-run publishes what is missing.

use anyhow::Context;
use chrono::NaiveDate;
use futures::StreamExt;

use super::publish::publish;
use super::summary::{DigestSummary, Place};
use crate::aws::{cost_explorer, s3};
use crate::core::archive::jsonl;
use crate::core::archive::{ArchiveKeys, Dataset, ReportRow};
use crate::core::digest::{self, MAX_COST_EXPLORER_CALLS, ReservationsPart, RiContext};
use crate::core::digest::{DigestContext, DigestInput, DigestRow, digest, digest_object, partition_days, ri_object};
use crate::core::verdict::VerdictRow;
use crate::jobs::durable::durably;
use crate::jobs::{Failure, PartialRun, Run, Summary};

/// Objects read at once.
const READ_CONCURRENCY: usize = 8;

pub async fn run(r: &Run<'_>) -> anyhow::Result<DigestSummary> {
    let place = Place {
        run: r,
        bucket: r.config.require_bucket()?,
        keys: ArchiveKeys { prefix: r.config.archive_prefix.clone() },
        account: r.clients.account_id().await?,
        region: r.clients.region.clone(),
    };
    let key = digest_object(&place.keys, &place.region, r.now.date_naive());
    if let Some(existing) = already_digested(&place, &key).await? {
        return Ok(existing);
    }
    let mut failed = Vec::new();
    let (verdicts, verdict_objects) = read_rows::<VerdictRow>(&place, &verdicts_prefix(&place), &mut failed).await?;
    let reports_prefix = place.keys.dataset_prefix(Dataset::Reports, &place.region);
    let (reports, report_objects) = read_rows::<ReportRow>(&place, &reports_prefix, &mut failed).await?;
    in_time(r)?;
    let (reservations, calls) = reservations(&place).await?;
    in_time(r)?;
    let ctx = DigestContext {
        owner_account_id: place.account.clone(),
        region: place.region.clone(),
        now: r.now,
        snapshot_gb_month_usd: r.config.snapshot_gb_month_usd,
        ri_alert_percent: r.config.digest.ri_utilization_alert_percent,
        route_tag: r.config.route_tag.clone(),
    };
    let row = digest(&DigestInput { verdicts: &verdicts, reports: &reports, reservations: &reservations }, &ctx);
    let mut summary = DigestSummary {
        verdicts_objects_read: verdict_objects,
        report_objects_read: report_objects,
        cost_explorer_calls: calls,
        failed,
        ..DigestSummary::of(&row, None)
    };
    summary.ri_object = write_ri(&place, &reservations).await?;
    match publish(&place, &row, &reservations, &mut summary).await {
        Ok(true) => {}
        Ok(false) => return Ok(summary),
        Err(e) => return Err(PartialRun::new(Summary::Digest(Box::new(summary)), e).into()),
    }
    match write_digest(&place, &key, &row).await {
        Ok(()) => {
            summary.object = Some(key);
            Ok(summary)
        }
        Err(e) => Err(PartialRun::new(Summary::Digest(Box::new(summary)), e).into()),
    }
}

/// The digest object, after the publish: retried like collect's state save, since a
/// digest published without it would be published again by a re-run.
async fn write_digest(place: &Place<'_>, key: &str, row: &DigestRow) -> anyhow::Result<()> {
    let body = jsonl::encode(std::slice::from_ref(row))?;
    let s3 = &place.run.clients.s3;
    durably(|| s3::put_if_absent(s3, place.bucket, key, body.clone())).await?;
    Ok(())
}

/// A digest is all or nothing: past the deadline (Lambda's, `--time-budget`) nothing is
/// published and the run fails, so the scheduler's retry or a re-run sends it whole.
fn in_time(r: &Run<'_>) -> anyhow::Result<()> {
    anyhow::ensure!(
        !r.deadline.passed(),
        "the time budget ran out before the digest was complete: nothing was published; run it again"
    );
    Ok(())
}

/// The summary of the day's digest when an earlier run wrote it.
async fn already_digested(place: &Place<'_>, key: &str) -> anyhow::Result<Option<DigestSummary>> {
    let Some(bytes) = s3::get_optional(&place.run.clients.s3, place.bucket, key).await? else {
        return Ok(None);
    };
    let rows: Vec<DigestRow> =
        jsonl::decode(&bytes).with_context(|| format!("s3://{}/{key} is unreadable", place.bucket))?;
    let row = rows.first().with_context(|| format!("s3://{}/{key} holds no row", place.bucket))?;
    tracing::info!(key, "the day's digest exists: nothing is published again");
    Ok(Some(DigestSummary { already_digested: true, ..DigestSummary::of(row, Some(key.to_string())) }))
}

fn verdicts_prefix(place: &Place<'_>) -> String {
    format!("{}/verdicts/region={}/", place.keys.prefix, place.region)
}

/// The partition date of a key (`…/report_date=YYYY-MM-DD/…`).
fn partition_date(key: &str) -> Option<NaiveDate> {
    let (_, rest) = key.rsplit_once("/report_date=")?;
    NaiveDate::parse_from_str(rest.get(..10)?, "%Y-%m-%d").ok()
}

/// Every row of the objects under `dataset_prefix` in the digest's partitions; an
/// unreadable object is a failure of the run (named), never a reason to stop.
async fn read_rows<T: serde::de::DeserializeOwned>(
    place: &Place<'_>,
    dataset_prefix: &str,
    failed: &mut Vec<Failure>,
) -> anyhow::Result<(Vec<T>, usize)> {
    let r = place.run;
    let days = partition_days(r.now);
    let (first, last) = (days[0], days[days.len() - 1]);
    let start_after = format!("{dataset_prefix}report_date={}", first.format("%Y-%m-%d"));
    let keys: Vec<String> = s3::keys_after(&r.clients.s3, place.bucket, dataset_prefix, &start_after)
        .await?
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| partition_date(key).is_some_and(|d| d >= first && d <= last))
        .collect();
    let results: Vec<(String, anyhow::Result<Vec<T>>)> = futures::stream::iter(keys)
        .map(|key| async move {
            let read = async {
                let bytes = s3::get_optional(&r.clients.s3, place.bucket, &key).await?.unwrap_or_default();
                jsonl::decode::<T>(&bytes).with_context(|| format!("s3://{}/{key} is unreadable", place.bucket))
            };
            let rows = read.await;
            (key, rows)
        })
        .buffer_unordered(READ_CONCURRENCY)
        .collect()
        .await;
    let objects = results.len();
    let mut rows = Vec::new();
    for (key, result) in results {
        match result {
            Ok(more) => rows.extend(more),
            Err(e) => failed.push(Failure { id: key, error: format!("{e:#}") }),
        }
    }
    Ok((rows, objects))
}

/// The Reserved Instance part and the Cost Explorer calls it took.
async fn reservations(place: &Place<'_>) -> anyhow::Result<(ReservationsPart, usize)> {
    let r = place.run;
    if !r.config.digest.reservations {
        return Ok((ReservationsPart::Off, 0));
    }
    let ce = r.clients.cost_explorer();
    let ctx = RiContext { owner_account_id: place.account.clone(), region: place.region.clone(), now: r.now };
    let mut calls_left = MAX_COST_EXPLORER_CALLS;
    let (mut rows, mut complete) = (Vec::new(), true);
    for range in digest::ri_periods(r.now) {
        match cost_explorer::reservation_utilization(&ce, &range, &mut calls_left).await {
            Ok(answer) => {
                rows.extend(digest::ri_rows(&range, &answer.groups, &ctx));
                complete &= answer.complete;
            }
            Err(refusal) if refusal.code.as_deref().is_some_and(digest::is_no_ri_access) => {
                tracing::warn!(error = %refusal, "Cost Explorer refused: the digest says so");
                let code = refusal.code.unwrap_or_default();
                return Ok((ReservationsPart::NoAccess(code), MAX_COST_EXPLORER_CALLS - calls_left));
            }
            Err(refusal) => return Err(refusal.into()),
        }
    }
    Ok((ReservationsPart::Collected { rows, complete }, MAX_COST_EXPLORER_CALLS - calls_left))
}

/// Writes the reservation rows (immutable, like every archive object); returns the key.
async fn write_ri(place: &Place<'_>, part: &ReservationsPart) -> anyhow::Result<Option<String>> {
    let rows = part.rows();
    if rows.is_empty() {
        return Ok(None);
    }
    let key = ri_object(&place.keys, &place.region, place.run.now.date_naive());
    let outcome = s3::put_if_absent(&place.run.clients.s3, place.bucket, &key, jsonl::encode(rows)?).await?;
    if outcome == s3::PutOutcome::AlreadyExists {
        tracing::info!(key, "the day's reservation rows exist (an earlier run); kept as they are");
    }
    Ok(Some(key))
}

#[cfg(test)]
#[path = "run_tests.rs"]
pub(super) mod tests;
