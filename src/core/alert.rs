//! Rendering of the SNS alert (a **contract**: people's subscriptions depend on it).
//!
//! One message, `MessageStructure=json`: `default` is an AWS Chatbot custom
//! notification (Slack), `email` a plain-text digest. SNS limits shape the code: the
//! whole message stays under 256 KB, the subject under 100 ASCII characters, and no
//! control characters reach either rendering.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::news::News;
use super::records::timestamp;

/// SNS accepts 262,144 bytes; keep headroom for the JSON envelope SNS adds.
pub const MAX_MESSAGE_BYTES: usize = 240 * 1024;
pub const MAX_SUBJECT_CHARS: usize = 99;
/// Slack shows long messages poorly: the chat rendering lists this many per section.
const CHAT_ITEMS: usize = 10;
const CHAT_DESCRIPTION_CHARS: usize = 3500;

#[derive(Debug, Clone, PartialEq)]
pub struct AlertContext {
    pub account_id: String,
    pub region: String,
    pub now: DateTime<Utc>,
    pub snapshot_gb_month_usd: f64,
    pub athena_database: String,
    pub athena_workgroup: String,
    pub archive_location: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub subject: String,
    /// AWS Chatbot custom notification, serialised.
    pub chat: String,
    pub email: String,
}

impl Alert {
    /// The SNS `Message` for `MessageStructure=json`.
    pub fn sns_message(&self) -> String {
        json!({ "default": self.chat, "email": self.email }).to_string()
    }
}

#[derive(Default)]
struct Sections<'a> {
    candidates: Vec<&'a News>,
    used_again: Vec<&'a News>,
    errors: Vec<&'a News>,
    pending: Vec<&'a News>,
    expiring: Vec<&'a News>,
    withheld: Vec<&'a News>,
}

fn sections(news: &[News]) -> Sections<'_> {
    let mut s = Sections::default();
    for n in news {
        match n {
            News::Candidate { .. } => s.candidates.push(n),
            News::UsedAgain { .. } => s.used_again.push(n),
            News::ReportError { .. } => s.errors.push(n),
            News::PendingTooLong { .. } => s.pending.push(n),
            News::ExpiringUnarchived { .. } => s.expiring.push(n),
            News::CandidatesWithheld { .. } => s.withheld.push(n),
        }
    }
    s
}

/// Removes control characters (keeping nothing that could break a line or a terminal).
pub fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

fn days(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_days().max(0)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn subject(news: &[News], ctx: &AlertContext) -> String {
    let s = sections(news);
    let mut parts = Vec::new();
    if let Some(News::CandidatesWithheld { withheld, .. }) = s.withheld.first() {
        parts.push(format!("{withheld} candidates withheld"));
    }
    if !s.candidates.is_empty() {
        parts.push(plural(s.candidates.len(), "deregistration candidate", "deregistration candidates"));
    }
    if !s.used_again.is_empty() {
        parts.push(format!("{} used again", s.used_again.len()));
    }
    if !s.errors.is_empty() {
        parts.push(plural(s.errors.len(), "report error", "report errors"));
    }
    if !s.pending.is_empty() {
        parts.push(format!("{} pending too long", s.pending.len()));
    }
    if !s.expiring.is_empty() {
        parts.push(format!("{} expiring unarchived", s.expiring.len()));
    }
    let text = format!("AMI usage {}: {}", ctx.region, parts.join(", "));
    let ascii: String = text.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).collect();
    if ascii.chars().count() <= MAX_SUBJECT_CHARS { ascii } else { format!("{}...", &ascii[..MAX_SUBJECT_CHARS - 3]) }
}

fn monthly_cost(gib: i64, ctx: &AlertContext) -> f64 {
    gib as f64 * ctx.snapshot_gb_month_usd
}

fn candidate_lines(n: &News, ctx: &AlertContext) -> Vec<String> {
    let News::Candidate { image_id, name, image_created, unused_since, snapshot_size_gib, has_billing_codes, reasons } =
        n
    else {
        return Vec::new();
    };
    let age = image_created.map_or("unknown age".to_string(), |c| format!("age {} days", days(c, ctx.now)));
    let mut lines = vec![
        format!("- {image_id}  {}", clean(name)),
        format!(
            "    {age}, no usage since {} ({} days), snapshots {} GiB = at most ${:.2}/month (upper bound: snapshots are billed incrementally)",
            unused_since.format("%Y-%m-%d"),
            days(*unused_since, ctx.now),
            snapshot_size_gib,
            monthly_cost(*snapshot_size_gib, ctx)
        ),
    ];
    if !reasons.is_empty() {
        lines.push(format!("    reasons: {}", clean(&reasons.join(", "))));
    }
    if *has_billing_codes {
        lines.push(
            "    ! carries billing products / product codes: an AMI re-registered from its snapshot loses them".into(),
        );
    }
    lines
}

fn other_line(n: &News) -> String {
    match n {
        News::UsedAgain { image_id, name, total_usage, reasons } => format!(
            "- {image_id}  {}: {} ({total_usage} uses in other accounts in the latest report)",
            clean(name),
            clean(&reasons.join(", "))
        ),
        News::ReportError { report_id, image_id, reason } => {
            format!("- {report_id} ({image_id}): {}", clean(reason.as_deref().unwrap_or("no reason given")))
        }
        News::PendingTooLong { report_id, image_id, created } => {
            format!("- {report_id} ({image_id}): pending since {}", timestamp::format(created))
        }
        News::ExpiringUnarchived { report_id, image_id, state, expires } => {
            format!("- {report_id} ({image_id}): {state}, EC2 deletes it at {}", timestamp::format(expires))
        }
        News::CandidatesWithheld { withheld, selected, limit_percent, .. } => format!(
            "- {withheld} of {selected} selected AMIs look unused, more than MAX_CANDIDATE_PERCENT={limit_percent}%: something is off (a report that is wrong, an AMI_TAG_FILTERS that selects too much?). No candidate is recommended until that is understood."
        ),
        News::Candidate { image_id, .. } => format!("- {image_id}"),
    }
}

fn athena_hint(ctx: &AlertContext) -> String {
    format!(
        "Athena (workgroup {}, database {}), every candidate with its reasons: SELECT * FROM {}.verdicts WHERE report_date = '{}' AND verdict = 'candidate' ORDER BY evaluated_at DESC",
        ctx.athena_workgroup,
        ctx.athena_database,
        ctx.athena_database,
        ctx.now.format("%Y-%m-%d")
    )
}

fn counts_line(s: &Sections, still_unused: usize) -> String {
    let withheld = match s.withheld.first() {
        Some(News::CandidatesWithheld { withheld, .. }) => format!("{withheld} candidates withheld, "),
        _ => String::new(),
    };
    format!(
        "{withheld}{} new deregistration candidates, {} still unused, {} used again, {} reports in error, {} pending too long, {} expiring unarchived",
        s.candidates.len(),
        still_unused,
        s.used_again.len(),
        s.errors.len(),
        s.pending.len(),
        s.expiring.len()
    )
}

fn email(news: &[News], still_unused: usize, ctx: &AlertContext, max_candidates: usize) -> String {
    let s = sections(news);
    let mut out = vec![
        format!(
            "AMI usage alert for account {} in {} at {}",
            ctx.account_id,
            ctx.region,
            ctx.now.format("%Y-%m-%d %H:%M UTC")
        ),
        String::new(),
        counts_line(&s, still_unused),
    ];
    if !s.withheld.is_empty() {
        out.push(String::new());
        out.push("CANDIDATE LIST WITHHELD (circuit breaker)".into());
        out.extend(s.withheld.iter().map(|n| other_line(n)));
    }
    if !s.candidates.is_empty() {
        out.push(String::new());
        out.push(
            "NEW DEREGISTRATION CANDIDATES (no usage in any account or resource type for the whole window, none in this account)".into(),
        );
        for n in s.candidates.iter().take(max_candidates) {
            out.extend(candidate_lines(n, ctx));
        }
        if s.candidates.len() > max_candidates {
            out.push(format!(
                "... and {} more: see all with the Athena query below.",
                s.candidates.len() - max_candidates
            ));
        }
        out.push(
            "Reports may miss the last 24 h of instance launches: deregister with a grace period (EC2 can restore a deregistered AMI from the Recycle Bin if a retention rule exists).".into(),
        );
    }
    let titled: [(&str, &Vec<&News>); 4] = [
        ("USED AGAIN (do not deregister)", &s.used_again),
        ("REPORTS IN ERROR", &s.errors),
        ("REPORTS PENDING TOO LONG", &s.pending),
        ("REPORTS EXPIRING BEFORE THEY WERE ARCHIVED", &s.expiring),
    ];
    for (title, items) in titled {
        if items.is_empty() {
            continue;
        }
        out.push(String::new());
        out.push(title.into());
        for n in items.iter().take(max_candidates) {
            out.push(other_line(n));
        }
        if items.len() > max_candidates {
            out.push(format!("... and {} more.", items.len() - max_candidates));
        }
    }
    out.push(String::new());
    out.push(athena_hint(ctx));
    out.push(format!("Archive: {}", ctx.archive_location));
    out.join("\n") + "\n"
}

fn chat(news: &[News], still_unused: usize, ctx: &AlertContext, subject: &str) -> String {
    let s = sections(news);
    let mut lines = vec![format!("*{}*", counts_line(&s, still_unused))];
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
        News::Candidate { image_id, name, unused_since, snapshot_size_gib, has_billing_codes, .. } => format!(
            "• `{image_id}` {} — unused {} days, ≤ ${:.2}/month{}",
            clean(name),
            days(*unused_since, ctx.now),
            monthly_cost(*snapshot_size_gib, ctx),
            if *has_billing_codes { " — :warning: billing codes" } else { "" }
        ),
        other => other_line(other),
    };
    push_section("Candidate list withheld (circuit breaker)", &s.withheld, &|n| other_line(n).replacen('-', "•", 1));
    push_section("New deregistration candidates", &s.candidates, &cand);
    push_section("Used again (do not deregister)", &s.used_again, &|n| other_line(n).replacen('-', "•", 1));
    push_section("Reports in error", &s.errors, &|n| other_line(n).replacen('-', "•", 1));
    push_section("Pending too long", &s.pending, &|n| other_line(n).replacen('-', "•", 1));
    push_section("Expiring unarchived", &s.expiring, &|n| other_line(n).replacen('-', "•", 1));
    let mut description = lines.join("\n");
    if description.chars().count() > CHAT_DESCRIPTION_CHARS {
        description = description.chars().take(CHAT_DESCRIPTION_CHARS - 1).collect::<String>() + "…";
    }
    let related: Vec<&str> = news
        .iter()
        .filter_map(|n| match n {
            News::Candidate { image_id, .. } | News::UsedAgain { image_id, .. } => Some(image_id.as_str()),
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

/// Renders the alert, cutting the e-mail's lists until the whole SNS message fits.
pub fn render(news: &[News], still_unused: usize, ctx: &AlertContext) -> Alert {
    let subject = subject(news, ctx);
    let chat = chat(news, still_unused, ctx, &subject);
    let mut max_items = news.len().max(1);
    loop {
        let alert =
            Alert { subject: subject.clone(), chat: chat.clone(), email: email(news, still_unused, ctx, max_items) };
        if alert.sns_message().len() <= MAX_MESSAGE_BYTES || max_items == 1 {
            return alert;
        }
        max_items = (max_items * 3 / 4).max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn ctx() -> AlertContext {
        AlertContext {
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            now: t("2026-11-22T10:00:00Z"),
            snapshot_gb_month_usd: 0.05,
            athena_database: "ami_usage".into(),
            athena_workgroup: "ami-usage".into(),
            archive_location: "s3://bucket/ami-usage".into(),
        }
    }

    fn candidate(i: usize) -> News {
        News::Candidate {
            image_id: format!("ami-{i:017x}"),
            name: format!("golden-al2023-{i}"),
            image_created: Some(t("2026-09-01T00:00:00Z")),
            unused_since: t("2026-11-12T00:00:00Z"),
            snapshot_size_gib: 30,
            has_billing_codes: i % 2 == 1,
            reasons: vec!["unused_for_window".into(), "no_owner_account_use".into(), "older_than_min_age".into()],
        }
    }

    fn golden_news() -> Vec<News> {
        vec![
            candidate(1),
            News::UsedAgain {
                image_id: "ami-2".into(),
                name: "golden-old".into(),
                total_usage: 4,
                reasons: vec!["used_in_other_accounts".into()],
            },
            News::ReportError {
                report_id: "amiur-3".into(),
                image_id: "ami-3".into(),
                reason: Some("Internal\u{7}error".into()),
            },
            News::PendingTooLong {
                report_id: "amiur-4".into(),
                image_id: "ami-4".into(),
                created: t("2026-11-20T00:00:00Z"),
            },
            News::ExpiringUnarchived {
                report_id: "amiur-5".into(),
                image_id: "ami-5".into(),
                state: "pending".into(),
                expires: t("2026-11-25T00:00:00Z"),
            },
            News::CandidatesWithheld {
                withheld: 12,
                selected: 20,
                limit_percent: 50,
                day: t("2026-11-22T00:00:00Z").date_naive(),
            },
        ]
    }

    #[test]
    fn email_golden() {
        let a = render(&golden_news(), 2, &ctx());
        let expected = "\
AMI usage alert for account 123456789012 in eu-west-1 at 2026-11-22 10:00 UTC

12 candidates withheld, 1 new deregistration candidates, 2 still unused, 1 used again, 1 reports in error, 1 pending too long, 1 expiring unarchived

CANDIDATE LIST WITHHELD (circuit breaker)
- 12 of 20 selected AMIs look unused, more than MAX_CANDIDATE_PERCENT=50%: something is off (a report that is wrong, an AMI_TAG_FILTERS that selects too much?). No candidate is recommended until that is understood.

NEW DEREGISTRATION CANDIDATES (no usage in any account or resource type for the whole window, none in this account)
- ami-00000000000000001  golden-al2023-1
    age 82 days, no usage since 2026-11-12 (10 days), snapshots 30 GiB = at most $1.50/month (upper bound: snapshots are billed incrementally)
    reasons: unused_for_window, no_owner_account_use, older_than_min_age
    ! carries billing products / product codes: an AMI re-registered from its snapshot loses them
Reports may miss the last 24 h of instance launches: deregister with a grace period (EC2 can restore a deregistered AMI from the Recycle Bin if a retention rule exists).

USED AGAIN (do not deregister)
- ami-2  golden-old: used_in_other_accounts (4 uses in other accounts in the latest report)

REPORTS IN ERROR
- amiur-3 (ami-3): Internalerror

REPORTS PENDING TOO LONG
- amiur-4 (ami-4): pending since 2026-11-20T00:00:00.000Z

REPORTS EXPIRING BEFORE THEY WERE ARCHIVED
- amiur-5 (ami-5): pending, EC2 deletes it at 2026-11-25T00:00:00.000Z

Athena (workgroup ami-usage, database ami_usage), every candidate with its reasons: SELECT * FROM ami_usage.verdicts WHERE report_date = '2026-11-22' AND verdict = 'candidate' ORDER BY evaluated_at DESC
Archive: s3://bucket/ami-usage
";
        assert_eq!(a.email, expected);
        assert_eq!(
            a.subject,
            "AMI usage eu-west-1: 12 candidates withheld, 1 deregistration candidate, 1 used again, 1 report error, 1 pending too long"
                .chars()
                .take(96)
                .collect::<String>()
                + "..."
        );
    }

    #[test]
    fn chat_golden_is_a_chatbot_custom_notification() {
        let a = render(&golden_news(), 2, &ctx());
        let v: serde_json::Value = serde_json::from_str(&a.chat).unwrap();
        assert_eq!(v["version"], "1.0");
        assert_eq!(v["source"], "custom");
        assert_eq!(v["content"]["textType"], "client-markdown");
        assert_eq!(v["content"]["title"], format!(":mag: {}", a.subject));
        let expected_description = "\
*12 candidates withheld, 1 new deregistration candidates, 2 still unused, 1 used again, 1 reports in error, 1 pending too long, 1 expiring unarchived*
*Candidate list withheld (circuit breaker)*
• 12 of 20 selected AMIs look unused, more than MAX_CANDIDATE_PERCENT=50%: something is off (a report that is wrong, an AMI_TAG_FILTERS that selects too much?). No candidate is recommended until that is understood.
*New deregistration candidates*
• `ami-00000000000000001` golden-al2023-1 — unused 10 days, ≤ $1.50/month — :warning: billing codes
*Used again (do not deregister)*
• ami-2  golden-old: used_in_other_accounts (4 uses in other accounts in the latest report)
*Reports in error*
• amiur-3 (ami-3): Internalerror
*Pending too long*
• amiur-4 (ami-4): pending since 2026-11-20T00:00:00.000Z
*Expiring unarchived*
• amiur-5 (ami-5): pending, EC2 deletes it at 2026-11-25T00:00:00.000Z";
        assert_eq!(v["content"]["description"], expected_description);
        assert_eq!(v["metadata"]["relatedResources"], json!(["ami-00000000000000001", "ami-2"]));
        let msg: serde_json::Value = serde_json::from_str(&a.sns_message()).unwrap();
        assert_eq!(msg["default"], a.chat);
        assert_eq!(msg["email"], a.email);
    }

    #[test]
    fn subject_is_short_ascii_without_control_characters() {
        let news = vec![candidate(1)];
        let mut c = ctx();
        c.region = "eu-west-1\n".into();
        let s = subject(&news, &c);
        assert!(s.len() < 100);
        assert!(s.chars().all(|ch| ch.is_ascii() && !ch.is_ascii_control()), "{s:?}");
        assert_eq!(s, "AMI usage eu-west-1: 1 deregistration candidate");
    }

    #[test]
    fn five_thousand_candidates_fit_in_one_sns_message() {
        let news: Vec<News> = (0..5000).map(candidate).collect();
        let a = render(&news, 0, &ctx());
        let msg = a.sns_message();
        assert!(msg.len() <= 256 * 1024, "{} bytes", msg.len());
        assert!(a.email.contains("... and "), "the list must be cut");
        assert!(a.email.contains("FROM ami_usage.verdicts WHERE report_date = '2026-11-22' AND verdict = 'candidate'"));
        let listed = a.email.lines().filter(|l| l.starts_with("- ami-")).count();
        let more: usize =
            a.email.lines().find_map(|l| l.strip_prefix("... and ")?.split(' ').next()?.parse().ok()).unwrap();
        assert_eq!(listed + more, 5000);
        let chat: serde_json::Value = serde_json::from_str(&a.chat).unwrap();
        assert!(chat["content"]["description"].as_str().unwrap().contains("… and 4990 more"));
    }
}
