//! create: one usage report per selected AMI and period, resumable and idempotent.

use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use serde::Serialize;

use super::{Failure, Run};
use crate::aws::ec2::{self, CreateRequest};
use crate::core::create::{CreateOutcome, documented_fallback, fallback_token};
use crate::core::create::{Skip, client_token, period_label, period_of, plan_create};

#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateSummary {
    pub period: String,
    /// AMIs owned by the account that match the tag filters.
    pub selected: usize,
    pub created: usize,
    pub already_reported: usize,
    pub not_available: usize,
    pub failed: Vec<Failure>,
    /// AMIs whose report of an earlier period is still pending (EC2 allows one pending
    /// report per AMI); they are also counted in `remaining`.
    pub previous_still_pending: usize,
    /// Those AMIs: their verdicts rest on older reports until a report is created
    /// (`MAX_EVIDENCE_AGE_HOURS`); collect's alert lists AMIs left without one too long.
    pub previous_still_pending_images: Vec<String>,
    /// AMIs still without a report in this period (quota or deadline reached, or an
    /// earlier report still pending): the next run in the same period creates them.
    pub remaining: usize,
    pub stopped_because: Option<String>,
    /// EC2 refused the configured report resource types (`InvalidParameterValue`): the
    /// run asked for the documented two instead, from the first refusal on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_types_refused: Option<TypesRefused>,
    /// Wall time of the create calls alone (after listing AMIs and reports): what the
    /// account's mutating token bucket bounds, so the figure to compare with it.
    pub creating_seconds: f64,
}

/// The configured types EC2 refused, the ones this run used instead, and EC2's words.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TypesRefused {
    pub configured: Vec<String>,
    pub used: Vec<String>,
    pub error: String,
    /// Reports created with the documented types (their verdicts say the other types
    /// were not checked).
    pub created_with_fallback: usize,
}

/// What the create calls share: whether an account-wide stop was reached, and the
/// refusal of the configured types (then every later create asks for the fallback).
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    stop_reason: std::sync::Mutex<Option<String>>,
    refused: std::sync::Mutex<Option<TypesRefused>>,
}

pub async fn run(r: &Run<'_>) -> anyhow::Result<CreateSummary> {
    let period = period_of(r.now);
    let amis = ec2::owned_images(&r.clients.ec2, &r.config.tag_filters).await?;
    let reported = ec2::reported_in_period(&r.clients.ec2, period).await?;
    let plan = plan_create(&amis, &r.config.tag_filters, &reported);

    let mut summary = CreateSummary { period: period_label(period), ..Default::default() };
    for (_, skip) in &plan.skipped {
        match skip {
            Skip::AlreadyReported => summary.already_reported += 1,
            Skip::NotAvailable(_) => summary.not_available += 1,
            Skip::TagMismatch => {}
        }
    }
    summary.selected = plan.to_create.len() + summary.already_reported + summary.not_available;

    let creating = std::time::Instant::now();
    let (outcomes, stopped_because, refused) = create_all(r, &plan.to_create, period).await;
    summary.resource_types_refused = refused;
    summary.creating_seconds = creating.elapsed().as_secs_f64();
    for (image_id, outcome) in outcomes {
        count(&mut summary, image_id, outcome);
    }
    summary.failed.sort_by(|a, b| a.id.cmp(&b.id));
    summary.previous_still_pending_images.sort();
    summary.stopped_because = stopped_because;
    Ok(summary)
}

/// Creates the reports, `create_concurrency` at a time, until the deadline passes or an
/// account-wide quota is reached; an image not tried has no outcome. Returns why it
/// stopped early, if it did, and the refusal of the configured types, if any.
async fn create_all(
    r: &Run<'_>,
    to_create: &[String],
    period: chrono::NaiveDate,
) -> (Vec<(String, Option<CreateOutcome>)>, Option<String>, Option<TypesRefused>) {
    let shared = Shared::default();
    let outcomes = futures::stream::iter(to_create)
        .map(|image_id| {
            let shared = &shared;
            async move {
                if shared.stop.load(Ordering::SeqCst) {
                    return (image_id.clone(), None);
                }
                if r.deadline.passed() {
                    shared.stop.store(true, Ordering::SeqCst);
                    shared.stop_reason.lock().unwrap().get_or_insert("time budget reached".into());
                    return (image_id.clone(), None);
                }
                let outcome = create_one(r, image_id, period, shared).await;
                if let CreateOutcome::QuotaReached(why) = &outcome {
                    shared.stop.store(true, Ordering::SeqCst);
                    shared.stop_reason.lock().unwrap().get_or_insert(why.clone());
                }
                (image_id.clone(), Some(outcome))
            }
        })
        .buffer_unordered(r.config.create_concurrency)
        .collect()
        .await;
    (outcomes, shared.stop_reason.into_inner().unwrap(), shared.refused.into_inner().unwrap())
}

/// One AMI's create: with the configured types until EC2 refuses them, then (for this
/// AMI at once, and for every later one) with the documented fallback.
async fn create_one(r: &Run<'_>, image_id: &str, period: chrono::NaiveDate, shared: &Shared) -> CreateOutcome {
    let configured = &r.config.report_resource_types;
    let fallback = documented_fallback(configured);
    let refused_before = shared.refused.lock().unwrap().is_some();
    let first = match (&fallback, refused_before) {
        (Some(types), true) => return create_with(r, image_id, period, types, true, shared).await,
        _ => create_with(r, image_id, period, configured, false, shared).await,
    };
    match (first, fallback) {
        (CreateOutcome::TypesRefused(error), Some(types)) => {
            tracing::warn!(image_id, error, used = ?types, "EC2 refused the configured report resource types; using the documented ones for the rest of the run");
            shared.refused.lock().unwrap().get_or_insert_with(|| TypesRefused {
                configured: configured.clone(),
                used: types.clone(),
                error,
                created_with_fallback: 0,
            });
            create_with(r, image_id, period, &types, true, shared).await
        }
        (outcome, _) => outcome,
    }
}

async fn create_with(
    r: &Run<'_>,
    image_id: &str,
    period: chrono::NaiveDate,
    types: &[String],
    fallback: bool,
    shared: &Shared,
) -> CreateOutcome {
    let token = fallback_token(&client_token(image_id, period), fallback);
    let req = CreateRequest {
        image_id,
        client_token: &token,
        period,
        version_depth: r.config.launch_template_version_depth,
        account_ids: &r.config.report_account_ids,
        resource_types: types,
    };
    let outcome = ec2::create_report(&r.clients.ec2, &req).await;
    if fallback
        && matches!(outcome, CreateOutcome::Created(_))
        && let Some(refused) = shared.refused.lock().unwrap().as_mut()
    {
        refused.created_with_fallback += 1;
    }
    outcome
}

/// Where one image's outcome counts in the summary.
fn count(summary: &mut CreateSummary, image_id: String, outcome: Option<CreateOutcome>) {
    match outcome {
        Some(CreateOutcome::Created(report_id)) => {
            tracing::info!(image_id, report_id, "created usage report");
            summary.created += 1;
        }
        Some(CreateOutcome::AlreadyExists) => summary.already_reported += 1,
        Some(CreateOutcome::Failed(error)) => {
            tracing::warn!(image_id, error, "could not create usage report");
            summary.failed.push(Failure { id: image_id, error });
        }
        Some(CreateOutcome::PreviousPending(why)) => {
            tracing::warn!(image_id, why, "previous usage report still pending; creating it next run");
            summary.previous_still_pending += 1;
            summary.previous_still_pending_images.push(image_id);
            summary.remaining += 1;
        }
        // Only `create_one` sees this outcome: it retries with the fallback at once.
        Some(CreateOutcome::TypesRefused(error)) => summary.failed.push(Failure { id: image_id, error }),
        Some(CreateOutcome::QuotaReached(_)) | None => summary.remaining += 1,
    }
}

#[cfg(test)]
#[path = "create_tests.rs"]
mod tests;
