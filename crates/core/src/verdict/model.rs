//! The vocabulary of verdicts (a **contract**: the `verdicts` archive and the alert carry
//! these codes): the settings the rules read, what is known of one AMI, and what a
//! verdict says. The rules themselves are in [`crate::verdict::rules`].

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::observation::{Observation, OwnerObservation};
use crate::model::Ami;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagMatch {
    pub key: String,
    /// `None`: any value of `key` matches.
    pub value: Option<String>,
}

impl TagMatch {
    pub fn matches(&self, tags: &crate::model::Tags) -> bool {
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
    pub max_evidence_age_hours: u32,
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
            max_evidence_age_hours: 48,
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

    pub fn max_evidence_age(&self) -> Duration {
        Duration::hours(i64::from(self.max_evidence_age_hours))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerReference {
    pub resource_type: String,
    pub arn: String,
}

/// The reference types DescribeImageReferences documents (`ImageReferenceResourceType`).
pub const KNOWN_REFERENCE_TYPES: [&str; 5] =
    ["ec2:Instance", "ec2:LaunchTemplate", "ssm:Parameter", "imagebuilder:ImageRecipe", "imagebuilder:ContainerRecipe"];

impl OwnerReference {
    /// A reference as DescribeImageReferences answered it (asked with
    /// `IncludeAllResourceTypes`). Every reference is use, whatever its type: a kind AWS
    /// adds next year is kept under its own name (or `unknown` when the answer names
    /// none), never dropped, so it can never make an AMI look unused.
    pub fn of_answer(resource_type: Option<&str>, arn: &str) -> Self {
        let resource_type = resource_type.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("unknown");
        Self { resource_type: resource_type.to_string(), arn: arn.to_string() }
    }

    /// Whether this version of the product knows the type (coverage names only those).
    pub fn is_known_type(&self) -> bool {
        KNOWN_REFERENCE_TYPES.contains(&self.resource_type.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnerFacts {
    pub references: Vec<OwnerReference>,
    pub last_launched: Option<DateTime<Utc>>,
    /// The reference kinds this check covered (of `evidence::OWNER_KINDS`).
    pub kinds: Vec<String>,
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

impl OwnerCheck {
    /// What a completed check found: use when any resource of the owner account
    /// references the AMI; `None` when there was no answer (not checked, or failed).
    pub fn found_use(&self) -> Option<bool> {
        match self {
            OwnerCheck::Checked(facts) => Some(!facts.references.is_empty()),
            _ => None,
        }
    }
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
    /// An owner-account check earlier in the window found a reference.
    UsedInOwnerAccountInWindow,
    LaunchedRecently,
    /// A required member's fresh probe found a resource referencing the AMI.
    UsedInMemberAccount,
    /// A required member's probe earlier in the window found a resource referencing it
    /// (the state's member history: the resource may be gone since, the window still holds).
    UsedInMemberAccountInWindow,
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
    EvidenceStale,
    TooFewReports,
    CreationDateUnknown,
    OwnerCheckFailed,
    OwnerCheckPending,
    WithheldByCircuitBreaker,
    /// A required member (`REQUIRE_MEMBER_PROBES`) has no facts newer than
    /// `MAX_EVIDENCE_AGE_HOURS`: its SSM parameters and launch configurations are unknown.
    MemberProbeMissing,
    /// A required member's fresh facts no longer list an AMI its facts listed earlier in
    /// the window: its resources were not checked for it (it may have lost sight of a
    /// deprecated or disabled AMI), which is never the same as "not shared".
    MemberLostSight,
    // candidate
    UnusedForWindow,
    NoOwnerAccountUse,
    OlderThanMinAge,
}

impl Reason {
    pub fn code(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    pub(super) fn kind(self) -> Kind {
        use Reason::*;
        match self {
            UsedInOtherAccounts
            | UsedInOwnerAccount
            | UsedInOwnerAccountInWindow
            | LaunchedRecently
            | UsedInMemberAccount
            | UsedInMemberAccountInWindow => Kind::InUse,
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
    /// Owner-account checks of earlier runs, as the state remembers them.
    pub owner_history: Vec<OwnerObservation>,
    /// What the required members' probes say of it (`core::verdict::member_facts`).
    pub members: MemberFindings,
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
    /// ARNs of member-account resources referencing it (required members' probes).
    pub member_references: Vec<String>,
    /// Member resources seen referencing it earlier in the window, not in the fresh facts.
    pub member_references_in_window: Vec<String>,
    /// When a member resource was last seen referencing it (within the window).
    pub member_last_used: Option<DateTime<Utc>>,
    pub last_launched: Option<DateTime<Utc>>,
    pub group: Option<String>,
    /// Creation time of the newest zero-usage report: how fresh the evidence is.
    pub newest_zero_report: Option<DateTime<Utc>>,
    /// The latest owner-account check in the window that found a reference.
    pub owner_last_used: Option<DateTime<Utc>>,
    /// Reference kinds checked for this verdict and those not checked (see
    /// `evidence::coverage`): said in the verdict row and, for candidates, the alert.
    pub checked: Vec<String>,
    pub not_checked: Vec<String>,
    pub deregistration_protected: bool,
}

impl Verdict {
    pub fn needs_owner_check(&self) -> bool {
        self.reasons.contains(&Reason::OwnerCheckPending)
    }

    /// A verdict of a 300-day-old AMI with three zero-usage reports and no other facts:
    /// the tests of the verdict's consumers set only the fields they are about.
    #[cfg(any(test, feature = "fixtures"))]
    pub fn for_test(image_id: &str, kind: Kind, reasons: &[Reason]) -> Verdict {
        Verdict {
            image_id: image_id.into(),
            kind,
            reasons: reasons.to_vec(),
            age_days: Some(300),
            unused_since: None,
            reports_in_window: 3,
            zero_usage_reports: 3,
            owner_references: vec![],
            member_references: vec![],
            member_references_in_window: vec![],
            member_last_used: None,
            last_launched: None,
            group: None,
            newest_zero_report: None,
            owner_last_used: None,
            checked: vec![],
            not_checked: vec![],
            deregistration_protected: false,
        }
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

/// What the required members' facts say of one AMI (the verdict's member rule).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberFindings {
    /// `REQUIRE_MEMBER_PROBES`, in order.
    pub required: Vec<String>,
    /// Required members without fresh facts: the verdict cannot rule them out.
    pub missing: Vec<String>,
    /// Members whose fresh facts probed this AMI.
    pub covered_by: Vec<String>,
    /// ARNs of member resources referencing the AMI.
    pub references: Vec<String>,
    /// Probe kinds (of `member_facts::PROBE_KINDS`) every required member's facts checked for it.
    pub kinds_all_covered: Vec<String>,
    /// Required members with fresh facts that no longer list the AMI although their
    /// facts listed it earlier in the window (`member_lost_sight`).
    pub lost_sight: Vec<String>,
    /// Member resources seen referencing the AMI earlier in the window and not in the
    /// fresh facts (`used_in_member_account_in_window`).
    pub used_in_window: Vec<MemberUse>,
}

/// A member resource seen referencing an AMI, as the state remembers it:
/// `[member, arn, last seen (Unix milliseconds: the probe's clock, as its facts say)]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberUse(pub String, pub String, pub i64);

impl MemberUse {
    pub fn member(&self) -> &str {
        &self.0
    }

    pub fn arn(&self) -> &str {
        &self.1
    }

    pub fn last_seen(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.2).unwrap_or_default()
    }
}

/// What the state remembers of one AMI in the required members' facts, so member
/// evidence keeps the verdict window like the owner checks do: the resources seen
/// referencing it, and when each member's facts last listed it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemberMemory {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uses: Vec<MemberUse>,
    /// Member → when its facts last listed the AMI (Unix milliseconds).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub seen: std::collections::BTreeMap<String, i64>,
}

impl MemberMemory {
    pub fn is_empty(&self) -> bool {
        self.uses.is_empty() && self.seen.is_empty()
    }

    /// Remembers one member's facts of this AMI probed at `at`: it listed the AMI, with
    /// these resources referencing it. Reading the same facts twice changes nothing.
    pub fn record(&mut self, member: &str, at: DateTime<Utc>, arns: &[String]) {
        let t = at.timestamp_millis();
        let seen = self.seen.entry(member.to_string()).or_insert(t);
        *seen = (*seen).max(t);
        for arn in arns {
            match self.uses.iter_mut().find(|u| u.0 == member && u.1 == *arn) {
                Some(u) => u.2 = u.2.max(t),
                None => self.uses.push(MemberUse(member.to_string(), arn.clone(), t)),
            }
        }
    }

    /// Forgets what is older than `horizon`.
    pub fn prune(&mut self, horizon: DateTime<Utc>) {
        let horizon = horizon.timestamp_millis();
        self.uses.retain(|u| u.2 >= horizon);
        self.seen.retain(|_, t| *t >= horizon);
    }

    /// When `member`'s facts last listed the AMI.
    pub fn last_listed_by(&self, member: &str) -> Option<DateTime<Utc>> {
        self.seen.get(member).and_then(|t| DateTime::from_timestamp_millis(*t))
    }
}

/// One image criterion of the account's Allowed AMIs settings, as far as deprecation
/// goes: an AMI is allowed when it meets every condition of at least one criterion.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImageCriterion {
    /// `ImageProviders` (account ids, `amazon`, …); empty: any provider.
    #[serde(default)]
    pub image_providers: Vec<String>,
    /// `DeprecationTimeCondition.MaximumDaysSinceDeprecated`; none: no deprecation condition.
    #[serde(default)]
    pub max_days_since_deprecated: Option<i64>,
}

/// The member account's Allowed AMIs settings (GetAllowedImagesSettings).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AllowedImages {
    /// `disabled` | `audit-mode` | `enabled`.
    pub state: String,
    #[serde(default)]
    pub managed_by: Option<String>,
    #[serde(default)]
    pub criteria: Vec<ImageCriterion>,
}

impl AllowedImages {
    /// How many days after its deprecation an AMI of `owner` can no longer be launched
    /// in this account (`Some(0)`: from `DeprecateAt` on), or `None` when deprecation does
    /// not block it: Allowed AMIs not `enabled`, or a criterion that could allow it has
    /// no deprecation condition. Criteria naming other providers cannot allow it; the
    /// other conditions (names, creation date) are taken as met, so deprecation is the
    /// deciding condition (the warning errs towards being given).
    pub fn deprecation_blocks_after(&self, owner: &str) -> Option<i64> {
        if self.state != "enabled" {
            return None;
        }
        let could_allow = self
            .criteria
            .iter()
            .filter(|c| c.image_providers.is_empty() || c.image_providers.iter().any(|p| p == owner));
        let mut longest = None;
        for c in could_allow {
            let days = c.max_days_since_deprecated?;
            longest = Some(longest.map_or(days, |l: i64| l.max(days)));
        }
        longest
    }
}
