//! Rendering of the SNS alert (a **contract**: people's subscriptions depend on it).
//!
//! One message, `MessageStructure=json`: `default` is an AWS Chatbot custom
//! notification (Slack), `email` a plain-text digest. SNS limits shape the code: the
//! whole message stays under 256 KB, the subject under 100 ASCII characters, and no
//! control characters reach either rendering.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::news::{ErrorStreak, News};
use super::records::timestamp;

/// SNS accepts 262,144 bytes; keep headroom for the JSON envelope SNS adds.
pub const MAX_MESSAGE_BYTES: usize = 240 * 1024;
pub const MAX_SUBJECT_CHARS: usize = 99;

#[derive(Debug, Clone, PartialEq)]
pub struct AlertContext {
    pub account_id: String,
    pub region: String,
    pub now: DateTime<Utc>,
    pub snapshot_gb_month_usd: f64,
    pub athena_database: String,
    pub athena_workgroup: String,
    pub archive_location: String,
    /// The team of a message split by `ROUTE_TAG` (see `routing`), named in its subject
    /// and first line; `None` for the untagged message and without `ROUTE_TAG`.
    pub team: Option<String>,
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
    stale: Vec<&'a News>,
    gaps: Vec<&'a News>,
    malformed: Vec<&'a News>,
    retirement: Vec<&'a News>,
}

/// What stands beyond this run's news: candidates announced earlier and report
/// failures announced when their streak began (listed with their age, not re-announced).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Standing {
    pub still_unused: usize,
    pub failing: Vec<(String, ErrorStreak)>,
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
            News::EvidenceStale { .. } => s.stale.push(n),
            News::NoRecentReport { .. } => s.gaps.push(n),
            News::MalformedReport { .. } => s.malformed.push(n),
            News::Retirement { .. } => s.retirement.push(n),
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
    if !s.retirement.is_empty() {
        parts.push(retire_rendering::subject_part(&s.retirement));
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
    if !s.stale.is_empty() {
        parts.push(format!("{} candidates no longer confirmed", s.stale.len()));
    }
    if !s.gaps.is_empty() {
        parts.push(plural(s.gaps.len(), "AMI without new reports", "AMIs without new reports"));
    }
    if !s.malformed.is_empty() {
        parts.push(format!("{} reports quarantined", s.malformed.len()));
    }
    let team = ctx.team.as_deref().map_or_else(String::new, |t| format!(" [{}]", clean(t)));
    let text = format!("AMI usage {}{team}: {}", ctx.region, parts.join(", "));
    let ascii: String = text.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).collect();
    if ascii.chars().count() <= MAX_SUBJECT_CHARS { ascii } else { format!("{}...", &ascii[..MAX_SUBJECT_CHARS - 3]) }
}

fn monthly_cost(gib: i64, ctx: &AlertContext) -> f64 {
    gib as f64 * ctx.snapshot_gb_month_usd
}

fn candidate_lines(n: &News, ctx: &AlertContext) -> Vec<String> {
    let News::Candidate {
        image_id,
        name,
        image_created,
        unused_since,
        snapshot_size_gib,
        has_billing_codes,
        reasons,
        not_checked,
        deregistration_protected,
    } = n
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
    if *deregistration_protected {
        lines.push("    ! deregistration protection is on: DeregisterImage fails until it is turned off".into());
    }
    if !not_checked.is_empty() {
        lines.push(format!("    not checked: {}", clean(&not_checked.join(", "))));
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
        News::ReportError { report_id, image_id, reason, .. } => format!(
            "- {report_id} ({image_id}): {} (announced once; the AMI stays unknown while its reports fail)",
            clean(reason.as_deref().unwrap_or("no reason given"))
        ),
        News::EvidenceStale { image_id, name, member_probe_missing: true, .. } => format!(
            "- {image_id}  {}: a required member account's probe facts are missing or stale; unknown until they arrive (do not deregister on the earlier alert)",
            clean(name)
        ),
        News::EvidenceStale { image_id, name, newest_zero_report, .. } => format!(
            "- {image_id}  {}: newest zero-usage report {}; unknown until a fresh report confirms it (do not deregister on the earlier alert)",
            clean(name),
            newest_zero_report.as_ref().map_or_else(|| "none".to_string(), timestamp::format)
        ),
        News::MalformedReport { report_id, image_id, problem } => format!(
            "- {} ({}): {}",
            report_id.as_deref().unwrap_or("no ReportId"),
            image_id.as_deref().unwrap_or("no ImageId"),
            clean(problem)
        ),
        News::NoRecentReport { image_id, name, newest_report } => format!(
            "- {image_id}  {}: {} (creates refused or failing, or the create schedule stopped: see the create run's summary)",
            clean(name),
            newest_report
                .as_ref()
                .map_or_else(|| "no report yet".to_string(), |t| format!("newest report {}", timestamp::format(t)))
        ),
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
        News::Retirement { .. } => retire_rendering::line(n),
    }
}

/// Where to see every current candidate: the latest verdicts object of this account
/// and Region (an earlier run of the day may have called an AMI a candidate that a
/// later run found in use), which is what the saved query `unused_amis` reads.
fn athena_hint(ctx: &AlertContext) -> String {
    let (db, day) = (&ctx.athena_database, ctx.now.format("%Y-%m-%d"));
    let this =
        format!("report_date = '{day}' AND region = '{}' AND owner_account_id = '{}'", ctx.region, ctx.account_id);
    format!(
        "Athena (workgroup {}, database {db}), every current candidate with its reasons: the saved query unused_amis, or SELECT * FROM {db}.verdicts WHERE {this} AND verdict = 'candidate' AND evaluated_at = (SELECT max(evaluated_at) FROM {db}.verdicts WHERE {this})",
        ctx.athena_workgroup,
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

fn email(news: &[News], standing: &Standing, ctx: &AlertContext, max_candidates: usize) -> String {
    let s = sections(news);
    let mut out = vec![email_heading(ctx), String::new(), counts_line(&s, standing.still_unused)];
    if !s.withheld.is_empty() {
        out.push(String::new());
        out.push("CANDIDATE LIST WITHHELD (circuit breaker)".into());
        out.extend(s.withheld.iter().map(|n| other_line(n)));
    }
    out.extend(candidate_section(&s.candidates, ctx, max_candidates));
    out.extend(titled_sections(&s, max_candidates));
    out.extend(failing_lines(standing, ctx, max_candidates));
    out.push(String::new());
    out.push(athena_hint(ctx));
    out.push(format!("Archive: {}", ctx.archive_location));
    out.join("\n") + "\n"
}

fn email_heading(ctx: &AlertContext) -> String {
    format!(
        "AMI usage alert for account {} in {} at {}{}",
        ctx.account_id,
        ctx.region,
        ctx.now.format("%Y-%m-%d %H:%M UTC"),
        ctx.team.as_deref().map_or_else(String::new, |t| format!(", team {}", clean(t)))
    )
}

/// The new candidates, cut after `max_candidates` with a pointer to the query.
fn candidate_section(candidates: &[&News], ctx: &AlertContext, max_candidates: usize) -> Vec<String> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let mut out = vec![
        String::new(),
        "NEW DEREGISTRATION CANDIDATES (no usage in any account or resource type for the whole window, none in this account)".into(),
    ];
    for n in candidates.iter().take(max_candidates) {
        out.extend(candidate_lines(n, ctx));
    }
    if candidates.len() > max_candidates {
        out.push(format!("... and {} more: see all with the Athena query below.", candidates.len() - max_candidates));
    }
    out.push(
        "Reports may miss the last 24 h of instance launches: deregister with a grace period (EC2 can restore a deregistered AMI from the Recycle Bin if a retention rule exists).".into(),
    );
    out
}

/// Every other kind of news under its title, each list cut after `max_items`.
fn titled_sections(s: &Sections<'_>, max_items: usize) -> Vec<String> {
    let titled: [(&str, &Vec<&News>); 8] = [
        ("USED AGAIN (do not deregister)", &s.used_again),
        (retire_rendering::EMAIL_TITLE, &s.retirement),
        ("CANDIDATES NO LONGER CONFIRMED (evidence stale: do not deregister)", &s.stale),
        ("AMIS WITHOUT NEW REPORTS (their verdicts stay unknown)", &s.gaps),
        ("REPORTS IN ERROR", &s.errors),
        ("REPORTS PENDING TOO LONG", &s.pending),
        ("REPORTS EXPIRING BEFORE THEY WERE ARCHIVED", &s.expiring),
        ("REPORTS QUARANTINED (EC2 described them unusably; retried every run, the AMI stays unknown)", &s.malformed),
    ];
    let mut out = Vec::new();
    for (title, items) in titled.into_iter().filter(|(_, items)| !items.is_empty()) {
        out.push(String::new());
        out.push(title.into());
        out.extend(items.iter().take(max_items).map(|n| other_line(n)));
        if items.len() > max_items {
            out.push(format!("... and {} more.", items.len() - max_items));
        }
    }
    out
}

/// The standing report failures, each announced once when it began.
fn failing_lines(standing: &Standing, ctx: &AlertContext, max_items: usize) -> Vec<String> {
    if standing.failing.is_empty() {
        return Vec::new();
    }
    let mut out = vec![String::new(), "REPORTS STILL FAILING (announced when each streak began)".to_string()];
    for (image_id, streak) in standing.failing.iter().take(max_items) {
        out.push(format!(
            "- {image_id}: failing since {} ({} days, {} reports): {}",
            streak.since.format("%Y-%m-%d"),
            days(streak.since, ctx.now),
            streak.reports,
            clean(streak.reason.as_deref().unwrap_or("no reason given"))
        ));
    }
    if standing.failing.len() > max_items {
        out.push(format!("... and {} more.", standing.failing.len() - max_items));
    }
    out
}

/// Renders the alert, cutting the e-mail's lists until the whole SNS message fits.
pub fn render(news: &[News], standing: &Standing, ctx: &AlertContext) -> Alert {
    let subject = subject(news, ctx);
    let chat = chat(news, standing, ctx, &subject);
    let mut max_items = news.len().max(1);
    loop {
        let alert =
            Alert { subject: subject.clone(), chat: chat.clone(), email: email(news, standing, ctx, max_items) };
        if alert.sns_message().len() <= MAX_MESSAGE_BYTES || max_items == 1 {
            return alert;
        }
        max_items = (max_items * 3 / 4).max(1);
    }
}

#[path = "alert_retire.rs"]
mod retire_rendering;

#[path = "alert_chat.rs"]
mod chat_rendering;
use chat_rendering::chat;

#[cfg(test)]
#[path = "alert_tests.rs"]
pub(crate) mod tests;
