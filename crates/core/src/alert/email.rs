//! Rendering of the SNS alert (a **contract**: people's subscriptions depend on it).
//!
//! One message, `MessageStructure=json`: `default` is an AWS Chatbot custom
//! notification (Slack), `email` a plain-text digest. SNS limits shape the code: the
//! whole message stays under 256 KB, the subject under 100 ASCII characters, and no
//! control characters reach either rendering.

use super::model::{AlertContext, MAX_SUBJECT_CHARS};
use super::retire as retire_rendering;
use super::text::{clean, days, monthly_cost, plural};
use crate::state::{News, Standing};
use crate::timestamp;

#[derive(Default)]
pub(super) struct Sections<'a> {
    pub(super) candidates: Vec<&'a News>,
    pub(super) used_again: Vec<&'a News>,
    pub(super) errors: Vec<&'a News>,
    pub(super) pending: Vec<&'a News>,
    pub(super) expiring: Vec<&'a News>,
    pub(super) withheld: Vec<&'a News>,
    pub(super) stale: Vec<&'a News>,
    pub(super) gaps: Vec<&'a News>,
    pub(super) malformed: Vec<&'a News>,
    pub(super) retirement: Vec<&'a News>,
    pub(super) gaps_in_evidence: Vec<&'a News>,
}

pub(super) fn sections(news: &[News]) -> Sections<'_> {
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
            News::ReportTypesNarrowed { .. } | News::MemberProbeMissing { .. } => s.gaps_in_evidence.push(n),
        }
    }
    s
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
    if !s.gaps_in_evidence.is_empty() {
        parts.push(plural(s.gaps_in_evidence.len(), "evidence gap", "evidence gaps"));
    }
    let team = ctx.team.as_deref().map_or_else(String::new, |t| format!(" [{}]", clean(t)));
    let text = format!("AMI usage {}{team}: {}", ctx.region, parts.join(", "));
    let ascii: String = text.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).collect();
    if ascii.chars().count() <= MAX_SUBJECT_CHARS { ascii } else { format!("{}...", &ascii[..MAX_SUBJECT_CHARS - 3]) }
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

pub(super) fn other_line(n: &News) -> String {
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
        News::ReportTypesNarrowed { configured, used, since } => format!(
            "- usage reports since {} asked EC2 for {} only (REPORT_RESOURCE_TYPES={}; EC2 refused the others): verdicts list the other types as not checked, owner checks and member probes still look for Image Builder recipes (announced once)",
            since.format("%Y-%m-%d"),
            clean(&used.join(", ")),
            clean(&configured.join(","))
        ),
        News::MemberProbeMissing { member, since, held } => format!(
            "- member account {} has no fresh probe facts since {}: the AMIs it can see stay unknown until it probes again ({}{}; announced once per gap)",
            clean(member),
            timestamp::format(since),
            plural(held.len(), "AMI held", "AMIs held"),
            held_list(held)
        ),
    }
}

/// The first few AMIs a missing member holds back, for the alert line.
fn held_list(held: &[String]) -> String {
    const SHOWN: usize = 10;
    match held.len() {
        0 => String::new(),
        n if n <= SHOWN => format!(": {}", clean(&held.join(", "))),
        n => format!(": {}, and {} more", clean(&held[..SHOWN].join(", ")), n - SHOWN),
    }
}

/// Where to see every current candidate: the latest verdicts object of this account
/// and Region (an earlier run of the day may have called an AMI a candidate that a
/// later run found in use), which is what the saved query `unused_amis` reads.
pub(super) fn athena_hint(ctx: &AlertContext) -> String {
    let (db, day) = (&ctx.athena_database, ctx.now.format("%Y-%m-%d"));
    let this =
        format!("report_date = '{day}' AND region = '{}' AND owner_account_id = '{}'", ctx.region, ctx.account_id);
    format!(
        "Athena (workgroup {}, database {db}), every current candidate with its reasons: the saved query unused_amis, or SELECT * FROM {db}.verdicts WHERE {this} AND verdict = 'candidate' AND evaluated_at = (SELECT max(evaluated_at) FROM {db}.verdicts WHERE {this})",
        ctx.athena_workgroup,
    )
}

pub(super) fn counts_line(s: &Sections, still_unused: usize) -> String {
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

pub(super) fn email(news: &[News], standing: &Standing, ctx: &AlertContext, max_candidates: usize) -> String {
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
    let titled: [(&str, &Vec<&News>); 9] = [
        ("USED AGAIN (do not deregister)", &s.used_again),
        (retire_rendering::EMAIL_TITLE, &s.retirement),
        ("CANDIDATES NO LONGER CONFIRMED (evidence stale: do not deregister)", &s.stale),
        ("AMIS WITHOUT NEW REPORTS (their verdicts stay unknown)", &s.gaps),
        ("REPORTS IN ERROR", &s.errors),
        ("REPORTS PENDING TOO LONG", &s.pending),
        ("REPORTS EXPIRING BEFORE THEY WERE ARCHIVED", &s.expiring),
        ("REPORTS QUARANTINED (EC2 described them unusably; retried every run, the AMI stays unknown)", &s.malformed),
        ("EVIDENCE NOT CHECKED (verdicts stay unknown or say so)", &s.gaps_in_evidence),
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

#[cfg(test)]
#[path = "email_tests.rs"]
pub(crate) mod tests;
