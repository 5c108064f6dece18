//! The Slack rendering of the alert: an AWS Chatbot custom notification (version 1.0,
//! `client-markdown`), short lists, the same news as the e-mail.

use serde_json::json;

use super::{
    AlertContext, News, Standing, athena_hint, clean, counts_line, days, monthly_cost, other_line, plural, sections,
};

/// Slack shows long messages poorly: the chat rendering lists this many per section.
const CHAT_ITEMS: usize = 10;
const CHAT_DESCRIPTION_CHARS: usize = 3500;

pub(super) fn chat(news: &[News], standing: &Standing, ctx: &AlertContext, subject: &str) -> String {
    let s = sections(news);
    let mut lines = vec![format!("*{}*", counts_line(&s, standing.still_unused))];
    if !standing.failing.is_empty() {
        lines.push(format!(
            "{} still failing (see the e-mail)",
            plural(standing.failing.len(), "AMI's reports", "AMIs' reports")
        ));
    }
    let mut push_section = |title: &str, items: &[&News], render: &dyn Fn(&News) -> String| {
        if items.is_empty() {
            return;
        }
        lines.push(format!("*{title}*"));
        for n in items.iter().take(CHAT_ITEMS) {
            lines.push(render(n));
        }
        if items.len() > CHAT_ITEMS {
            lines.push(format!("… and {} more", items.len() - CHAT_ITEMS));
        }
    };
    let cand = |n: &News| match n {
        News::Candidate {
            image_id,
            name,
            unused_since,
            snapshot_size_gib,
            has_billing_codes,
            deregistration_protected,
            ..
        } => format!(
            "• `{image_id}` {} — unused {} days, ≤ ${:.2}/month{}{}",
            clean(name),
            days(*unused_since, ctx.now),
            monthly_cost(*snapshot_size_gib, ctx),
            if *has_billing_codes { " — :warning: billing codes" } else { "" },
            if *deregistration_protected { " — :lock: deregistration protection on" } else { "" }
        ),
        other => other_line(other),
    };
    push_section("Candidate list withheld (circuit breaker)", &s.withheld, &|n| other_line(n).replacen('-', "•", 1));
    push_section("New deregistration candidates", &s.candidates, &cand);
    push_section("Used again (do not deregister)", &s.used_again, &|n| other_line(n).replacen('-', "•", 1));
    push_section("Reports in error", &s.errors, &|n| other_line(n).replacen('-', "•", 1));
    push_section("Pending too long", &s.pending, &|n| other_line(n).replacen('-', "•", 1));
    push_section("Expiring unarchived", &s.expiring, &|n| other_line(n).replacen('-', "•", 1));
    push_section("No longer confirmed (do not deregister)", &s.stale, &|n| other_line(n).replacen('-', "•", 1));
    push_section("Without new reports", &s.gaps, &|n| other_line(n).replacen('-', "•", 1));
    push_section("Reports quarantined", &s.malformed, &|n| other_line(n).replacen('-', "•", 1));
    let mut description = lines.join("\n");
    if description.chars().count() > CHAT_DESCRIPTION_CHARS {
        description = description.chars().take(CHAT_DESCRIPTION_CHARS - 1).collect::<String>() + "…";
    }
    let related: Vec<&str> = news
        .iter()
        .filter_map(|n| match n {
            News::Candidate { image_id, .. }
            | News::UsedAgain { image_id, .. }
            | News::EvidenceStale { image_id, .. } => Some(image_id.as_str()),
            _ => None,
        })
        .take(CHAT_ITEMS)
        .collect();
    json!({
        "version": "1.0",
        "source": "custom",
        "id": format!("ami-usage-reporter-{}", ctx.now.timestamp()),
        "content": {
            "textType": "client-markdown",
            "title": format!(":mag: {subject}"),
            "description": description,
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
            "relatedResources": related,
        }
    })
    .to_string()
}
