//! The digest's messages. Without `ROUTE_TAG`, one message (no `team`). With it, the
//! core's split (`core::digest` (teams)): each team's message (`team` = its name), then the
//! account message (no `team`). The day's progress object is written before the run's
//! first publish (a digest run racing this one loses that write and stops before it
//! publishes) and names each message right after its publish (saved with retries), so
//! a re-run of the day sends only the messages not yet named; a run dying between a
//! publish and its save sends that one message again, no other.

use std::collections::BTreeSet;

use anyhow::Context;

use super::summary::{DigestSummary, Place};
use crate::aws::sns;
use crate::core::alert::Alert;
use crate::core::digest::ReservationsPart;
use crate::core::digest::{DigestProgress, groups_of, split};
use crate::core::digest::{DigestRenderContext, Page, render_page};
use crate::core::digest::{DigestRow, progress_object};
use crate::core::state::{DIGEST_KIND, MessageAttributes};
use crate::jobs::Failure;
use crate::jobs::durable::StateFile;

/// One message to send: its team (`None`: the account's), its row and its page.
struct Message {
    team: Option<String>,
    row: DigestRow,
    page: Page,
}

fn messages(place: &Place<'_>, row: &DigestRow) -> Vec<Message> {
    if place.run.config.route_tag.is_none() {
        return vec![Message { team: None, row: row.clone(), page: Page::Whole }];
    }
    let split = split(row, place.run.config.snapshot_gb_month_usd);
    let account_page = if split.numbers.is_empty() { Page::Whole } else { Page::Account(split.numbers) };
    let mut out: Vec<Message> = split
        .teams
        .into_iter()
        .map(|(team, row)| Message { page: Page::Team(team.clone()), team: Some(team), row })
        .collect();
    out.push(Message { team: None, row: split.account, page: account_page });
    out
}

fn render_context(place: &Place<'_>) -> DigestRenderContext {
    let r = place.run;
    DigestRenderContext {
        athena_database: r.config.athena_database.clone(),
        athena_workgroup: r.config.athena_workgroup.clone(),
        archive_location: format!("s3://{}/{}", place.bucket, place.keys.prefix),
        list_limit: r.config.digest.list_limit,
        ri_alert_percent: r.config.digest.ri_utilization_alert_percent,
    }
}

/// Renders and publishes each message not yet published today (or logs them without a
/// topic). Returns whether every message counts as delivered; a refused publish is a
/// failure of the run and the later messages are still tried. A progress that cannot
/// be saved after a publish ends the run (an error), before anything else is sent.
pub(super) async fn publish(
    place: &Place<'_>,
    row: &DigestRow,
    part: &ReservationsPart,
    summary: &mut DigestSummary,
) -> anyhow::Result<bool> {
    let r = place.run;
    let ctx = render_context(place);
    let (file, mut progress) = load_progress(place).await?;
    let mut claimed = false;
    let mut delivered = true;
    for m in messages(place, row) {
        let rendered = render_page(&m.row, part, &ctx, &m.page);
        if m.team.is_none() {
            summary.subject = Some(rendered.subject.clone());
        }
        if progress.is_published(m.team.as_deref()) {
            tracing::info!(team = ?m.team, "already published today (digest progress): not sent again");
            continue;
        }
        let Some(topic) = &r.config.alert_topic_arn else {
            tracing::info!(subject = %rendered.subject, email = %rendered.email, "no ALERT_TOPIC_ARN: digest only logged");
            continue;
        };
        if !claimed {
            // The progress is written once before the first publish: a digest run
            // racing this one loses here, before it announces anything.
            file.save(&progress).await?;
            claimed = true;
        }
        let Some(id) = send(place, topic, &m, &rendered, summary).await else {
            delivered = false;
            continue;
        };
        summary.messages_published += 1;
        if let Some(team) = &m.team {
            summary.teams_published.push(team.clone());
        } else {
            summary.message_id = Some(id);
        }
        progress.mark(m.team.as_deref());
        file.save(&progress).await?;
    }
    summary.published = delivered && r.config.alert_topic_arn.is_some();
    Ok(delivered)
}

/// Publishes one message; `None` (a failure recorded) when SNS refuses it.
async fn send(
    place: &Place<'_>,
    topic: &str,
    m: &Message,
    rendered: &Alert,
    summary: &mut DigestSummary,
) -> Option<String> {
    let attributes = MessageAttributes {
        kinds: BTreeSet::from([DIGEST_KIND.to_string()]),
        account: place.account.clone(),
        groups: groups_of(&m.row),
        team: m.team.clone(),
    };
    match sns::publish(&place.run.clients.sns, topic, rendered, &attributes).await {
        Ok(id) => Some(id),
        Err(e) => {
            let id = m.team.as_deref().map_or_else(|| "digest".to_string(), |t| format!("digest:{t}"));
            tracing::warn!(team = ?m.team, error = %format!("{e:#}"), "digest not published; a re-run today publishes it");
            summary.failed.push(Failure { id, error: format!("{e:#}") });
            None
        }
    }
}

/// The day's progress (another day's is ignored), with its object: saved before the
/// first publish of a run and right after each publish, over the version read, so a
/// message published but not named there is published again by a re-run, and a run
/// racing another stops before it publishes.
async fn load_progress<'a>(place: &'a Place<'a>) -> anyhow::Result<(StateFile<'a>, DigestProgress)> {
    let key = progress_object(&place.keys, &place.region);
    let (file, bytes) = StateFile::read(&place.run.clients.s3, place.bucket, key).await?;
    let stored = match bytes {
        Some(bytes) => Some(serde_json::from_slice::<DigestProgress>(&bytes).with_context(|| {
            format!(
                "s3://{}/{} is unreadable: delete it to publish the day's digest messages again",
                place.bucket, file.key
            )
        })?),
        None => None,
    };
    Ok((file, DigestProgress::of_day(stored, place.run.now.date_naive())))
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
