//! The Slack rendering of the digest: an AWS Chatbot custom notification (version 1.0,
//! `client-markdown`), the numbers and the head of each list; the e-mail has the rest.

use serde_json::json;

use super::lines::{
    DigestRenderContext, candidate_line, family_line, problem_line, reservation_line, used_again_line, where_clause,
};
use super::model::DigestRow;
use super::numbers::numbers;
use super::page::{Page, list_query, team_line, title};
use super::ri::{Reservation, ReservationsPart};
use crate::alert::clean;

/// Items per list in Slack (the limit applies too when it is smaller).
const CHAT_ITEMS: usize = 5;
const CHAT_DESCRIPTION_CHARS: usize = 3500;

fn bullet(line: String) -> String {
    line.replacen('-', "•", 1)
}

fn description(
    row: &DigestRow,
    part: &ReservationsPart,
    listed: &[Reservation],
    ctx: &DigestRenderContext,
    page: &Page,
) -> String {
    let mut lines: Vec<String> = numbers(row, part, ctx, page).into_iter().map(|l| format!("• {l}")).collect();
    let items = CHAT_ITEMS.min(ctx.list_limit.max(1));
    let teams = match page {
        Page::Account(teams) => teams.iter().map(team_line).collect(),
        _ => Vec::new(),
    };
    let t = |base: &str| title(base, page);
    let sections: [(String, Vec<String>); 6] = [
        ("Teams (each has its own digest)".into(), teams),
        (t("Deregistration candidates"), row.candidates.iter().map(candidate_line).collect()),
        (t("Used again (do not deregister)"), row.used_again_amis.iter().map(used_again_line).collect()),
        (t("Older versions still in use"), row.families.iter().map(family_line).collect()),
        (t("Report problems"), row.problems.iter().map(problem_line).collect()),
        ("Reserved Instances".into(), listed.iter().map(reservation_line).collect()),
    ];
    for (title, section) in sections.into_iter().filter(|(_, s)| !s.is_empty()) {
        lines.push(format!("*{title}*"));
        let total = section.len();
        lines.extend(section.into_iter().take(items).map(bullet));
        if total > items {
            lines.push(format!("… and {} more (see the e-mail or Athena)", total - items));
        }
    }
    let text = lines.join("\n");
    if text.chars().count() <= CHAT_DESCRIPTION_CHARS {
        return text;
    }
    text.chars().take(CHAT_DESCRIPTION_CHARS - 1).collect::<String>() + "…"
}

pub(super) fn chat(
    row: &DigestRow,
    part: &ReservationsPart,
    listed: &[Reservation],
    ctx: &DigestRenderContext,
    subject: &str,
    page: &Page,
) -> String {
    let related: Vec<&str> = row.candidates.iter().take(CHAT_ITEMS).map(|c| c.image_id.as_str()).collect();
    let team = page.team_text(|t| format!("-{t}"));
    let mut keywords =
        vec!["ami-usage-reporter".to_string(), "digest".into(), row.region.clone(), row.owner_account_id.clone()];
    keywords.extend(page.team());
    json!({
        "version": "1.0",
        "source": "custom",
        "id": format!("ami-usage-reporter-digest-{}{team}", row.generated_at.timestamp()),
        "content": {
            "textType": "client-markdown",
            "title": format!(":bar_chart: {}", clean(subject)),
            "description": description(row, part, listed, ctx, page),
            "nextSteps": [
                format!("Every candidate: {}", list_query(row, "candidates", ctx, page)),
                format!("The whole digest: SELECT * FROM {}.digests WHERE {}", ctx.athena_database, where_clause(row)),
            ],
            "keywords": keywords,
        },
        "metadata": {
            "threadId": format!("ami-usage-reporter-digest-{}-{}{team}", row.owner_account_id, row.region),
            "summary": subject,
            "eventType": "AmiUsageDigest",
            "relatedResources": related,
        }
    })
    .to_string()
}
