//! The Slack rendering of the alert: an AWS Chatbot custom notification (version 1.0,
//! `client-markdown`), short lists, the same news as the e-mail.

use serde_json::json;

use super::email::{athena_hint, counts_line, other_line, sections};
use super::model::AlertContext;
use super::text::{clean, days, monthly_cost, plural};
use crate::state::{News, Standing};

/// Slack shows long messages poorly: the chat rendering lists this many per section.
const CHAT_ITEMS: usize = 10;
const CHAT_DESCRIPTION_CHARS: usize = 3500;

/// A news line of the e-mail as a Slack bullet.
fn bullet(n: &News) -> String {
    other_line(n).replacen('-', "•", 1)
}

fn candidate_item(n: &News, ctx: &AlertContext) -> String {
    let News::Candidate {
        image_id,
        name,
        unused_since,
        snapshot_size_gib,
        has_billing_codes,
        deregistration_protected,
        ..
    } = n
    else {
        return bullet(n);
    };
    format!(
        "• `{image_id}` {} — unused {} days, ≤ ${:.2}/month{}{}",
        clean(name),
        days(*unused_since, ctx.now),
        monthly_cost(*snapshot_size_gib, ctx),
        if *has_billing_codes { " — :warning: billing codes" } else { "" },
        if *deregistration_protected { " — :lock: deregistration protection on" } else { "" }
    )
}

/// A titled section of the notification: its news and how one is rendered.
type Section<'a> = (&'static str, &'a [&'a News], &'a dyn Fn(&News) -> String);

/// The notification's markdown: the counts, then each non-empty section, at most
/// [`CHAT_ITEMS`] items each, the whole cut to [`CHAT_DESCRIPTION_CHARS`].
fn description(news: &[News], standing: &Standing, ctx: &AlertContext) -> String {
    let s = sections(news);
    let mut lines = vec![format!("*{}*", counts_line(&s, standing.still_unused))];
    if !standing.failing.is_empty() {
        lines.push(format!(
            "{} still failing (see the e-mail)",
            plural(standing.failing.len(), "AMI's reports", "AMIs' reports")
        ));
    }
    let candidate = |n: &News| candidate_item(n, ctx);
    let titled: [Section; 11] = [
        ("Candidate list withheld (circuit breaker)", &s.withheld, &bullet),
        ("New deregistration candidates", &s.candidates, &candidate),
        ("Used again (do not deregister)", &s.used_again, &bullet),
        (super::retire::CHAT_TITLE, &s.retirement, &bullet),
        ("Reports in error", &s.errors, &bullet),
        ("Pending too long", &s.pending, &bullet),
        ("Expiring unarchived", &s.expiring, &bullet),
        ("No longer confirmed (do not deregister)", &s.stale, &bullet),
        ("Without new reports", &s.gaps, &bullet),
        ("Reports quarantined", &s.malformed, &bullet),
        ("Evidence not checked", &s.gaps_in_evidence, &bullet),
    ];
    for (title, items, render) in titled.into_iter().filter(|(_, items, _)| !items.is_empty()) {
        lines.push(format!("*{title}*"));
        lines.extend(items.iter().take(CHAT_ITEMS).map(|n| render(n)));
        if items.len() > CHAT_ITEMS {
            lines.push(format!("… and {} more", items.len() - CHAT_ITEMS));
        }
    }
    let description = lines.join("\n");
    if description.chars().count() <= CHAT_DESCRIPTION_CHARS {
        return description;
    }
    description.chars().take(CHAT_DESCRIPTION_CHARS - 1).collect::<String>() + "…"
}

/// The AMIs the notification is about (Chatbot links them).
fn related_resources(news: &[News]) -> Vec<&str> {
    news.iter()
        .filter_map(|n| match n {
            News::Candidate { image_id, .. }
            | News::UsedAgain { image_id, .. }
            | News::EvidenceStale { image_id, .. }
            | News::Retirement { image_id, .. } => Some(image_id.as_str()),
            _ => None,
        })
        .take(CHAT_ITEMS)
        .collect()
}

pub(super) fn chat(news: &[News], standing: &Standing, ctx: &AlertContext, subject: &str) -> String {
    json!({
        "version": "1.0",
        "source": "custom",
        "id": format!("ami-usage-reporter-{}", ctx.now.timestamp()),
        "content": {
            "textType": "client-markdown",
            "title": format!(":mag: {subject}"),
            "description": description(news, standing, ctx),
            "nextSteps": [
                athena_hint(ctx),
                "Reports may miss the last 24 h of launches: deregister with a grace period.",
            ],
            "keywords": ["ami-usage-reporter", ctx.region, ctx.account_id],
        },
        "metadata": {
            "threadId": format!("ami-usage-reporter-{}-{}", ctx.account_id, ctx.region),
            "summary": subject,
            "eventType": "AmiUsageAlert",
            "relatedResources": related_resources(news),
        }
    })
    .to_string()
}
