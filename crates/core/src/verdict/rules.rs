//! Verdicts: which selected AMIs are deregistration candidates, and why each other one
//! is not (a **contract**: the `verdicts` archive and the alert carry these codes).
//!
//! A false "unused" breaks someone's scaling, so every rule errs towards `unknown`:
//! missing, failed, pending or too sparse evidence never yields a candidate. An AMI is
//! a `candidate` only when all of these hold:
//! 1. every report of it in the last `unused_min_days` shows zero usage, and at least
//!    `min_reports` of them span the window (no gap longer than window / min_reports,
//!    counting the window's start and end as edges);
//! 2. the newest zero-usage report is at most `max_evidence_age_hours` old: refused or
//!    failed creates, or a create schedule that stopped, leave old evidence that says
//!    nothing about today (`evidence_stale`);
//! 3. the owner account does not reference it (DescribeImageReferences, launch
//!    configurations), no owner check recorded in the window found a reference, and
//!    its `lastLaunchedTime` is older than the window; no required member's fresh
//!    probe found a reference, and every required member has fresh facts;
//! 4. it is older than `min_age_days`, lacks the exclusion tag and is not among the
//!    `keep_newest` newest AMIs of its group;
//! 5. no report in the window is in `error`, `pending` or left unarchived.
//!
//! Finally a circuit breaker turns every candidate into `unknown` when candidates are
//! more than `max_candidate_percent` of the selected AMIs: that smells of a broken
//! report or a wrong tag filter, not of a real clean-up opportunity.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::evidence::coverage_with_members;
use super::observation::{Observation, ObservedState, ResourceTypes};
use crate::model::Ami;

use super::model::*;

/// How often the owner account is checked for an AMI that is not a would-be candidate
/// (those are checked every run). Daily answers are what gives the owner account a
/// history: an AMI used there until a few days ago must not become a candidate the
/// day the last instance goes, and it cannot be, if that use was recorded.
pub const OWNER_CHECK_EVERY: Duration = Duration::hours(20);

/// The AMIs whose owner-account check is due this run: every would-be candidate, and
/// every AMI that reports do not already show in use whose last recorded check is older
/// than [`OWNER_CHECK_EVERY`].
pub fn owner_checks_due(verdicts: &Verdicts, inputs: &[AmiInput], now: DateTime<Utc>) -> Vec<String> {
    let last_check: BTreeMap<&str, Option<DateTime<Utc>>> =
        inputs.iter().map(|i| (i.ami.image_id.as_str(), i.owner_history.iter().map(|o| o.at()).max())).collect();
    verdicts
        .verdicts
        .iter()
        .filter(|v| {
            let daily_due = !v.reasons.contains(&Reason::UsedInOtherAccounts)
                && last_check.get(v.image_id.as_str()).copied().flatten().is_none_or(|t| now - t >= OWNER_CHECK_EVERY);
            v.needs_owner_check() || daily_due
        })
        .map(|v| v.image_id.clone())
        .collect()
}

/// The AMIs protected as the `keep_newest` newest of their group (by creation date,
/// then image id; an unknown creation date counts as newest, the safe side).
fn kept_newest(inputs: &[AmiInput], s: &VerdictSettings) -> BTreeMap<String, String> {
    let Some(tag) = &s.group_tag else {
        return BTreeMap::new();
    };
    let mut groups: BTreeMap<&str, Vec<&Ami>> = BTreeMap::new();
    for i in inputs {
        if let Some(g) = i.ami.tags.get(tag) {
            groups.entry(g.as_str()).or_default().push(i.ami);
        }
    }
    let mut kept = BTreeMap::new();
    for (group, mut amis) in groups {
        amis.sort_by(|a, b| {
            let newest = |x: &Ami| x.creation_date.unwrap_or(DateTime::<Utc>::MAX_UTC);
            newest(b).cmp(&newest(a)).then_with(|| b.image_id.cmp(&a.image_id))
        });
        for a in amis.into_iter().take(s.keep_newest as usize) {
            kept.insert(a.image_id.clone(), group.to_string());
        }
    }
    kept
}

/// Rules 1, 2 and 5: the reports in the window.
struct HistoryFacts {
    reasons: Vec<Reason>,
    reports_in_window: usize,
    zero_usage_reports: usize,
    first_zero: Option<DateTime<Utc>>,
    newest_zero: Option<DateTime<Utc>>,
    /// Resource types every available report in the window covered.
    covered: Option<ResourceTypes>,
}

fn history_facts(history: &[Observation], s: &VerdictSettings, now: DateTime<Utc>) -> HistoryFacts {
    let start = now - s.window();
    let mut in_window: Vec<&Observation> =
        history.iter().filter(|o| o.created_at() >= start && o.created_at() <= now).collect();
    in_window.sort_by_key(|o| o.created);
    let mut reasons = Vec::new();
    for o in &in_window {
        let reason = match o.state {
            ObservedState::Available if o.total_usage > 0 => Reason::UsedInOtherAccounts,
            ObservedState::Available => continue,
            ObservedState::Error => Reason::ReportError,
            ObservedState::Pending => Reason::ReportPending,
            ObservedState::Unarchived => Reason::ReportUnarchived,
        };
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    let zero: Vec<DateTime<Utc>> = in_window.iter().filter(|o| o.is_zero_usage()).map(|o| o.created_at()).collect();
    if !in_window.iter().any(|o| o.shows_use()) {
        for r in coverage_gaps(&zero, s, now) {
            if !reasons.contains(&r) {
                reasons.push(r);
            }
        }
    }
    let covered = in_window
        .iter()
        .filter(|o| o.state == ObservedState::Available)
        .map(|o| o.resource_types)
        .reduce(ResourceTypes::intersect);
    HistoryFacts {
        reasons,
        reports_in_window: in_window.len(),
        zero_usage_reports: zero.len(),
        first_zero: zero.first().copied(),
        newest_zero: zero.last().copied(),
        covered,
    }
}

/// What keeps zero-usage reports (sorted) from proving non-use: too few, not reaching
/// back to the window's start, a gap between them, or none recent enough.
fn coverage_gaps(zero: &[DateTime<Utc>], s: &VerdictSettings, now: DateTime<Utc>) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if zero.len() < s.min_reports as usize {
        reasons.push(Reason::TooFewReports);
    }
    let (gap, start) = (s.max_gap(), now - s.window());
    let (Some(first), Some(last)) = (zero.first(), zero.last()) else {
        reasons.push(Reason::ReportMissing);
        return reasons;
    };
    if *first - start > gap {
        reasons.push(Reason::HistoryTooShort);
    }
    if zero.windows(2).any(|w| w[1] - w[0] > gap) || now - *last > gap {
        reasons.push(Reason::ReportMissing);
    }
    if now - *last > s.max_evidence_age() {
        reasons.push(Reason::EvidenceStale);
    }
    reasons
}

/// Rule 3: the owner account, now and as recorded earlier in the window.
struct OwnerFindings {
    reasons: Vec<Reason>,
    references: Vec<String>,
    last_launched: Option<DateTime<Utc>>,
    last_used: Option<DateTime<Utc>>,
    kinds: Vec<String>,
}

fn owner_findings(i: &AmiInput, s: &VerdictSettings, now: DateTime<Utc>, undecided: bool) -> OwnerFindings {
    let start = now - s.window();
    let last_used =
        i.owner_history.iter().filter(|o| o.used() && o.at() >= start && o.at() <= now).map(|o| o.at()).max();
    let mut f =
        OwnerFindings { reasons: Vec::new(), references: Vec::new(), last_launched: None, last_used, kinds: vec![] };
    match &i.owner {
        OwnerCheck::Checked(facts) => {
            f.references = facts.references.iter().map(|r| r.arn.clone()).collect();
            f.last_launched = facts.last_launched;
            f.kinds = facts.kinds.clone();
            if !facts.references.is_empty() {
                f.reasons.push(Reason::UsedInOwnerAccount);
            }
            if facts.last_launched.is_some_and(|t| t >= start) {
                f.reasons.push(Reason::LaunchedRecently);
            }
        }
        OwnerCheck::Failed(_) => f.reasons.push(Reason::OwnerCheckFailed),
        OwnerCheck::NotChecked if undecided => f.reasons.push(Reason::OwnerCheckPending),
        OwnerCheck::NotChecked => {}
    }
    if last_used.is_some() && !f.reasons.contains(&Reason::UsedInOwnerAccount) {
        f.reasons.push(Reason::UsedInOwnerAccountInWindow);
    }
    f
}

/// Rule 3 in the members: a reference any required member's fresh probe found is use, and
/// so is one a probe found earlier in the window; a required member without fresh facts
/// (that can see the AMI), or whose fresh facts no longer list an AMI they listed in the
/// window, leaves the AMI `unknown` unless it is already in use or excluded.
fn member_reasons(m: &MemberFindings, so_far: &[Reason]) -> Vec<Reason> {
    if !m.references.is_empty() {
        return vec![Reason::UsedInMemberAccount];
    }
    if !m.used_in_window.is_empty() {
        return vec![Reason::UsedInMemberAccountInWindow];
    }
    if so_far.iter().any(|r| matches!(r.kind(), Kind::InUse | Kind::Excluded)) {
        return vec![];
    }
    let mut reasons = Vec::new();
    if !m.missing.is_empty() {
        reasons.push(Reason::MemberProbeMissing);
    }
    if !m.lost_sight.is_empty() {
        reasons.push(Reason::MemberLostSight);
    }
    reasons
}

/// Rule 4: age, exclusion tag, newest of its group.
fn standing_reasons(i: &AmiInput, s: &VerdictSettings, age: Option<Duration>, kept: bool) -> Vec<Reason> {
    let mut reasons = Vec::new();
    match age {
        None => reasons.push(Reason::CreationDateUnknown),
        Some(a) if a < Duration::days(i64::from(s.min_age_days)) => reasons.push(Reason::TooYoung),
        Some(_) => {}
    }
    if s.exclude_tag.matches(&i.ami.tags) {
        reasons.push(Reason::ExcludedByTag);
    }
    if kept {
        reasons.push(Reason::KeptNewestInGroup);
    }
    reasons
}

fn evaluate_one(i: &AmiInput, s: &VerdictSettings, now: DateTime<Utc>, kept: Option<&String>) -> Verdict {
    let h = history_facts(&i.history, s, now);
    let age = i.ami.creation_date.map(|c| now - c);
    let mut reasons = h.reasons;
    reasons.extend(standing_reasons(i, s, age, kept.is_some()));
    let owner = owner_findings(i, s, now, reasons.is_empty());
    reasons.extend(owner.reasons);
    let member = member_reasons(&i.members, &reasons);
    reasons.extend(member);
    let kind = [Kind::InUse, Kind::Excluded, Kind::Unknown]
        .into_iter()
        .find(|k| reasons.iter().any(|r| r.kind() == *k))
        .unwrap_or(Kind::Candidate);
    if kind == Kind::Candidate {
        reasons = vec![Reason::UnusedForWindow, Reason::NoOwnerAccountUse, Reason::OlderThanMinAge];
    }
    let (checked, not_checked) = coverage_with_members(h.covered, &owner.kinds, &i.members);
    Verdict {
        image_id: i.ami.image_id.clone(),
        kind,
        reasons,
        age_days: age.map(|a| a.num_days()),
        unused_since: if kind == Kind::InUse { None } else { i.unused_since.or(h.first_zero) },
        reports_in_window: h.reports_in_window,
        zero_usage_reports: h.zero_usage_reports,
        owner_references: owner.references,
        member_references: i.members.references.clone(),
        member_references_in_window: i.members.used_in_window.iter().map(|u| u.arn().to_string()).collect(),
        member_last_used: i.members.used_in_window.iter().map(|u| u.last_seen()).max(),
        last_launched: owner.last_launched,
        group: s.group_tag.as_ref().and_then(|t| i.ami.tags.get(t).cloned()),
        newest_zero_report: h.newest_zero,
        owner_last_used: owner.last_used,
        checked,
        not_checked,
        deregistration_protected: i.ami.lifecycle.deregistration_protected(),
    }
}

/// Identity of a verdict set (AMI, verdict, reasons) and its day: a new verdicts object
/// is written when it changes, so every day has one and an unchanged hour adds none.
/// FNV-1a, written out, because the value is persisted in the state and compared
/// across releases: std's `DefaultHasher` does not promise the same output between
/// Rust versions, and a toolchain upgrade must not make every run rewrite its verdicts.
pub fn verdicts_digest(verdicts: &Verdicts, now: DateTime<Utc>) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut feed = |s: &str| {
        for b in s.bytes().chain([0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(PRIME);
        }
    };
    for v in &verdicts.verdicts {
        feed(&v.image_id);
        feed(&format!("{:?}", v.kind));
        v.reasons.iter().for_each(|r| feed(&r.code()));
    }
    format!("{}:{h:016x}", now.date_naive())
}

/// The verdict for every selected AMI, with the circuit breaker applied.
pub fn evaluate(inputs: &[AmiInput], s: &VerdictSettings, now: DateTime<Utc>) -> Verdicts {
    let kept = kept_newest(inputs, s);
    let mut verdicts: Vec<Verdict> =
        inputs.iter().map(|i| evaluate_one(i, s, now, kept.get(&i.ami.image_id))).collect();
    verdicts.sort_by(|a, b| a.image_id.cmp(&b.image_id));
    let candidates = verdicts.iter().filter(|v| v.kind == Kind::Candidate).count();
    let selected = verdicts.len();
    let breaker = (candidates > 0 && candidates * 100 > s.max_candidate_percent as usize * selected).then(|| {
        for v in verdicts.iter_mut().filter(|v| v.kind == Kind::Candidate) {
            v.kind = Kind::Unknown;
            v.reasons.push(Reason::WithheldByCircuitBreaker);
        }
        Breaker { withheld: candidates, selected, limit_percent: s.max_candidate_percent }
    });
    Verdicts { verdicts, breaker }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
