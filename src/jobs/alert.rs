//! Collect's last step: the outbox, split into messages by the core (one per team with
//! `ROUTE_TAG`, else one), each rendered from its own news, published with its routing
//! attributes, and marked published in the state right after its publish, so a run
//! that dies between two messages resends only the unpublished ones.

use std::collections::BTreeSet;

use serde::Serialize;

use super::Failure;
use super::archive::Archive;
use crate::aws::sns;
use crate::core::alert::{AlertContext, render};
use crate::core::state::{CollectState, News};
use crate::core::state::{MessageAttributes, batches, standing_for};

/// One message of a run split by team.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TeamMessage {
    /// The `ROUTE_TAG` value; `None` for the untagged message.
    pub team: Option<String>,
    pub subject: String,
    pub news: usize,
    pub published: bool,
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertSummary {
    /// The first message's subject.
    pub subject: String,
    pub news: usize,
    /// Every message was published.
    pub published: bool,
    /// The first message's id.
    pub message_id: Option<String>,
    /// Each message, when `ROUTE_TAG` is set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<TeamMessage>,
}

fn context(archive: &Archive<'_>, team: Option<&str>) -> AlertContext {
    let r = archive.run;
    AlertContext {
        account_id: archive.provenance.owner_account_id.clone(),
        region: archive.provenance.region.clone(),
        now: r.now,
        snapshot_gb_month_usd: r.config.snapshot_gb_month_usd,
        athena_database: r.config.athena_database.clone(),
        athena_workgroup: r.config.athena_workgroup.clone(),
        archive_location: format!("s3://{}/{}", archive.bucket, archive.keys.prefix),
        team: team.map(str::to_string),
    }
}

/// Renders and publishes each message of the outbox (when a topic is configured) and
/// marks its news sent, saving the state after each. A refused publish keeps that
/// message's news queued for the next run and is a failure; the other messages still go.
pub async fn alert(
    archive: &Archive<'_>,
    state: &mut CollectState,
    still_unused: &[String],
    failed: &mut Vec<Failure>,
) -> anyhow::Result<AlertSummary> {
    let split = archive.run.config.route_tag.is_some();
    let planned = batches(&state.outbox, &state.routes, split);
    let own: BTreeSet<String> = planned.iter().filter_map(|b| b.team.clone()).collect();
    let plans: Vec<(Option<String>, Vec<News>)> =
        planned.into_iter().map(|b| (b.team, b.news.iter().map(|&i| state.outbox[i].clone()).collect())).collect();
    let mut messages = Vec::new();
    for (team, news) in plans {
        let message = Message { team: team.as_deref(), news: &news, still_unused, own: &own };
        let (summary, sent) = send(archive, state, &message, failed).await;
        if sent {
            let keys: BTreeSet<String> = news.iter().map(News::key).collect();
            state.mark_published_keys(&keys, archive.run.now);
            let state: &CollectState = state;
            archive.save_state(state).await?;
        }
        messages.push(summary);
    }
    Ok(summary(messages, split))
}

/// One message to send: its team, its news, and what the standing lists are cut from.
struct Message<'a> {
    team: Option<&'a str>,
    news: &'a [News],
    still_unused: &'a [String],
    own: &'a BTreeSet<String>,
}

/// Renders and publishes one message; returns its summary and whether it counts as sent
/// (published, or only logged without a topic).
async fn send(
    archive: &Archive<'_>,
    state: &CollectState,
    m: &Message<'_>,
    failed: &mut Vec<Failure>,
) -> (TeamMessage, bool) {
    let r = archive.run;
    let ctx = context(archive, m.team);
    let standing = standing_for(m.team, m.still_unused, &state.failing_reports(), &state.routes, m.own);
    let rendered = render(m.news, &standing, &ctx);
    let mut message = TeamMessage {
        team: m.team.map(str::to_string),
        subject: rendered.subject.clone(),
        news: m.news.len(),
        ..Default::default()
    };
    let Some(topic) = &r.config.alert_topic_arn else {
        tracing::info!(subject = %rendered.subject, email = %rendered.email, "no ALERT_TOPIC_ARN: alert only logged");
        return (message, true);
    };
    let attributes = MessageAttributes::of_news(m.news, &state.routes, &ctx.account_id, m.team);
    match sns::publish(&r.clients.sns, topic, &rendered, &attributes).await {
        Ok(id) => {
            message.published = true;
            message.message_id = Some(id);
            (message, true)
        }
        Err(e) => {
            tracing::warn!(team = ?m.team, error = %format!("{e:#}"), "alert not published; it stays queued for the next run");
            let id = m.team.map_or_else(|| "alert".to_string(), |t| format!("alert:{t}"));
            failed.push(Failure { id, error: format!("{e:#}") });
            (message, false)
        }
    }
}

fn summary(messages: Vec<TeamMessage>, split: bool) -> AlertSummary {
    let first = messages.first().cloned().unwrap_or_default();
    AlertSummary {
        subject: first.subject,
        news: messages.iter().map(|m| m.news).sum(),
        published: messages.iter().all(|m| m.published),
        message_id: first.message_id,
        messages: if split { messages } else { Vec::new() },
    }
}

#[cfg(test)]
#[path = "alert_tests.rs"]
mod tests;
