//! Verdicts: which selected AMIs are deregistration candidates, and why each other one
//! is not (a **contract**: the `verdicts` archive and the alert carry these codes).
//!
//! A false "unused" breaks someone's scaling, so every rule errs towards `unknown`:
//! missing, failed, pending or too sparse evidence never yields a candidate. An AMI is
//! a `candidate` only when all of these hold:
//! 1. every report of it in the last `unused_min_days` shows zero usage, and at least
//!    `min_reports` of them span the window (no gap longer than window / min_reports,
//!    counting the window's start and end as edges);
//! 2. the owner account does not reference it (DescribeImageReferences) and its
//!    `lastLaunchedTime` is older than the window;
//! 3. it is older than `min_age_days`, lacks the exclusion tag and is not among the
//!    `keep_newest` newest AMIs of its group;
//! 4. no report in the window is in `error`, `pending` or left unarchived.
//!
//! Finally a circuit breaker turns every candidate into `unknown` when candidates are
//! more than `max_candidate_percent` of the selected AMIs: that smells of a broken
//! report or a wrong tag filter, not of a real clean-up opportunity.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::model::Ami;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagMatch {
    pub key: String,
    /// `None`: any value of `key` matches.
    pub value: Option<String>,
}

impl TagMatch {
    pub fn matches(&self, tags: &super::model::Tags) -> bool {
        tags.get(&self.key).is_some_and(|v| self.value.as_ref().is_none_or(|want| want == v))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictSettings {
    pub unused_min_days: u32,
    pub min_reports: u32,
    pub min_age_days: u32,
    pub exclude_tag: TagMatch,
    pub group_tag: Option<String>,
    pub keep_newest: u32,
    pub max_candidate_percent: u32,
}

impl Default for VerdictSettings {
    fn default() -> Self {
        Self {
            unused_min_days: 30,
            min_reports: 3,
            min_age_days: 30,
            exclude_tag: TagMatch { key: "ami-usage-reporter:keep".into(), value: None },
            group_tag: None,
            keep_newest: 1,
            max_candidate_percent: 50,
        }
    }
}

impl VerdictSettings {
    pub fn window(&self) -> Duration {
        Duration::days(i64::from(self.unused_min_days))
    }

    /// The longest allowed stretch without a zero-usage report: `min_reports` evenly
    /// spaced reports cover the window with gaps of exactly this.
    pub fn max_gap(&self) -> Duration {
        self.window() / self.min_reports.max(1) as i32
    }
}

/// What the history says about one report of the AMI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObservedState {
    #[serde(rename = "a")]
    Available,
    #[serde(rename = "e")]
    Error,
    /// Only from the current EC2 listing, never persisted.
    #[serde(rename = "p")]
    Pending,
    /// Finished in EC2 but not archived yet (time budget, failure): usage not known.
    #[serde(rename = "u")]
    Unarchived,
}

/// One report in an AMI's history; serialised as a compact `[seconds, state, usage]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation(pub i64, pub ObservedState, pub i64);

impl Observation {
    pub fn new(created: DateTime<Utc>, state: ObservedState, total_usage: i64) -> Self {
        Self(created.timestamp(), state, total_usage)
    }

    pub fn created(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0, 0).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerReference {
    pub resource_type: String,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnerFacts {
    pub references: Vec<OwnerReference>,
    pub last_launched: Option<DateTime<Utc>>,
}

/// The owner-account check of one AMI, which is only run for AMIs that would
/// otherwise be candidates (it costs API calls).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OwnerCheck {
    #[default]
    NotChecked,
    Checked(OwnerFacts),
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Candidate,
    InUse,
    Unknown,
    Excluded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    // in use
    UsedInOtherAccounts,
    UsedInOwnerAccount,
    LaunchedRecently,
    // excluded
    ExcludedByTag,
    KeptNewestInGroup,
    TooYoung,
    // unknown
    ReportError,
    ReportPending,
    ReportUnarchived,
    ReportMissing,
    HistoryTooShort,
    TooFewReports,
    CreationDateUnknown,
    OwnerCheckFailed,
    OwnerCheckPending,
    WithheldByCircuitBreaker,
    // candidate
    UnusedForWindow,
    NoOwnerAccountUse,
    OlderThanMinAge,
}

impl Reason {
    pub fn code(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    fn kind(self) -> Kind {
        use Reason::*;
        match self {
            UsedInOtherAccounts | UsedInOwnerAccount | LaunchedRecently => Kind::InUse,
            ExcludedByTag | KeptNewestInGroup | TooYoung => Kind::Excluded,
            UnusedForWindow | NoOwnerAccountUse | OlderThanMinAge => Kind::Candidate,
            _ => Kind::Unknown,
        }
    }
}

/// Everything known about one selected AMI when its verdict is made.
#[derive(Debug, Clone)]
pub struct AmiInput<'a> {
    pub ami: &'a Ami,
    /// Reports of this AMI, any order (archived history plus this run's listing).
    pub history: Vec<Observation>,
    /// Start of the current zero-usage streak, as the state remembers it.
    pub unused_since: Option<DateTime<Utc>>,
    pub owner: OwnerCheck,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub image_id: String,
    pub kind: Kind,
    pub reasons: Vec<Reason>,
    pub age_days: Option<i64>,
    pub unused_since: Option<DateTime<Utc>>,
    pub reports_in_window: usize,
    pub zero_usage_reports: usize,
    pub owner_references: Vec<String>,
    pub last_launched: Option<DateTime<Utc>>,
    pub group: Option<String>,
}

impl Verdict {
    pub fn needs_owner_check(&self) -> bool {
        self.reasons.contains(&Reason::OwnerCheckPending)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    pub withheld: usize,
    pub selected: usize,
    pub limit_percent: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdicts {
    /// One per selected AMI, by image id.
    pub verdicts: Vec<Verdict>,
    pub breaker: Option<Breaker>,
}

impl Verdicts {
    pub fn count(&self, kind: Kind) -> usize {
        self.verdicts.iter().filter(|v| v.kind == kind).count()
    }
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

/// Rule 1 and 4: the reports in the window.
struct HistoryFacts {
    reasons: Vec<Reason>,
    reports_in_window: usize,
    zero_usage_reports: usize,
    first_zero: Option<DateTime<Utc>>,
}

fn history_facts(history: &[Observation], s: &VerdictSettings, now: DateTime<Utc>) -> HistoryFacts {
    let start = now - s.window();
    let mut in_window: Vec<&Observation> =
        history.iter().filter(|o| o.created() >= start && o.created() <= now).collect();
    in_window.sort_by_key(|o| o.0);
    let mut reasons = Vec::new();
    let mut push = |r: Reason| {
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    };
    for o in &in_window {
        match o.1 {
            ObservedState::Available if o.2 > 0 => push(Reason::UsedInOtherAccounts),
            ObservedState::Available => {}
            ObservedState::Error => push(Reason::ReportError),
            ObservedState::Pending => push(Reason::ReportPending),
            ObservedState::Unarchived => push(Reason::ReportUnarchived),
        }
    }
    let zero: Vec<DateTime<Utc>> =
        in_window.iter().filter(|o| o.1 == ObservedState::Available && o.2 == 0).map(|o| o.created()).collect();
    let used = in_window.iter().any(|o| o.1 == ObservedState::Available && o.2 > 0);
    if !used {
        // Coverage only matters for a claim of non-use.
        if zero.len() < s.min_reports as usize {
            push(Reason::TooFewReports);
        }
        let gap = s.max_gap();
        match (zero.first(), zero.last()) {
            (Some(first), Some(last)) => {
                if *first - start > gap {
                    push(Reason::HistoryTooShort);
                }
                if zero.windows(2).any(|w| w[1] - w[0] > gap) || now - *last > gap {
                    push(Reason::ReportMissing);
                }
            }
            _ => push(Reason::ReportMissing),
        }
    }
    HistoryFacts {
        reasons,
        reports_in_window: in_window.len(),
        zero_usage_reports: zero.len(),
        first_zero: zero.first().copied(),
    }
}

fn evaluate_one(i: &AmiInput, s: &VerdictSettings, now: DateTime<Utc>, kept: Option<&String>) -> Verdict {
    let h = history_facts(&i.history, s, now);
    let mut reasons = h.reasons;
    let age = i.ami.creation_date.map(|c| now - c);
    match age {
        None => reasons.push(Reason::CreationDateUnknown),
        Some(a) if a < Duration::days(i64::from(s.min_age_days)) => reasons.push(Reason::TooYoung),
        Some(_) => {}
    }
    if s.exclude_tag.matches(&i.ami.tags) {
        reasons.push(Reason::ExcludedByTag);
    }
    if kept.is_some() {
        reasons.push(Reason::KeptNewestInGroup);
    }
    let mut owner_references = Vec::new();
    let mut last_launched = None;
    match &i.owner {
        OwnerCheck::Checked(f) => {
            owner_references = f.references.iter().map(|r| r.arn.clone()).collect();
            last_launched = f.last_launched;
            if !f.references.is_empty() {
                reasons.push(Reason::UsedInOwnerAccount);
            }
            if f.last_launched.is_some_and(|t| t >= now - s.window()) {
                reasons.push(Reason::LaunchedRecently);
            }
        }
        OwnerCheck::Failed(_) => reasons.push(Reason::OwnerCheckFailed),
        OwnerCheck::NotChecked if reasons.is_empty() => reasons.push(Reason::OwnerCheckPending),
        OwnerCheck::NotChecked => {}
    }
    let kind = [Kind::InUse, Kind::Excluded, Kind::Unknown]
        .into_iter()
        .find(|k| reasons.iter().any(|r| r.kind() == *k))
        .unwrap_or(Kind::Candidate);
    if kind == Kind::Candidate {
        reasons = vec![Reason::UnusedForWindow, Reason::NoOwnerAccountUse, Reason::OlderThanMinAge];
    }
    Verdict {
        image_id: i.ami.image_id.clone(),
        kind,
        reasons,
        age_days: age.map(|a| a.num_days()),
        unused_since: if kind == Kind::InUse { None } else { i.unused_since.or(h.first_zero) },
        reports_in_window: h.reports_in_window,
        zero_usage_reports: h.zero_usage_reports,
        owner_references,
        last_launched,
        group: s.group_tag.as_ref().and_then(|t| i.ami.tags.get(t).cloned()),
    }
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
#[path = "verdict_tests.rs"]
mod tests;
