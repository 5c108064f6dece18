//! The pieces of news collect announces (a **contract** of the state's outbox: earlier
//! versions' outboxes must load) and the key that makes each one announced once.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::model::LaunchPermissions;
use crate::retire::{Action, Decision, Outcome, RetireMode, SnapshotResult, Stage, undo_command};
use crate::timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum News {
    /// The AMI's verdict became `candidate` (see [`crate::verdict::rules`]).
    Candidate {
        image_id: String,
        name: String,
        #[serde(with = "timestamp::option")]
        image_created: Option<DateTime<Utc>>,
        #[serde(with = "timestamp")]
        unused_since: DateTime<Utc>,
        snapshot_size_gib: i64,
        has_billing_codes: bool,
        #[serde(default)]
        reasons: Vec<String>,
        /// Reference kinds the verdict could not check (see `evidence::coverage`).
        #[serde(default)]
        not_checked: Vec<String>,
        /// DeregisterImage would fail: the alert says so instead of implying it can go.
        #[serde(default)]
        deregistration_protected: bool,
    },
    /// A former candidate is used again: whoever planned to deregister it must stop.
    UsedAgain {
        image_id: String,
        name: String,
        total_usage: i64,
        #[serde(default)]
        reasons: Vec<String>,
    },
    /// The circuit breaker held back the candidate list (too many at once).
    CandidatesWithheld {
        withheld: usize,
        selected: usize,
        limit_percent: u32,
        /// The UTC day: while the condition lasts it is announced once a day.
        day: NaiveDate,
    },
    /// The first failed report of a streak (announced once per streak, and again when
    /// EC2's reason changes); `since` is absent in outboxes of earlier versions.
    ReportError {
        report_id: String,
        image_id: String,
        reason: Option<String>,
        #[serde(with = "timestamp::option", default)]
        since: Option<DateTime<Utc>>,
    },
    /// An announced candidate whose evidence went stale (no fresh zero-usage report,
    /// or a required member's probe facts missing or stale): it is `unknown` again
    /// until fresh evidence confirms it.
    EvidenceStale {
        image_id: String,
        name: String,
        #[serde(with = "timestamp")]
        candidate_since: DateTime<Utc>,
        #[serde(with = "timestamp::option")]
        newest_zero_report: Option<DateTime<Utc>>,
        /// Set when the missing evidence is member probe facts (`member_probe_missing`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        member_probe_missing: bool,
    },
    /// A report EC2 describes unusably: not archived, retried every run.
    MalformedReport { report_id: Option<String>, image_id: Option<String>, problem: String },
    /// A selected AMI has had no new report for longer than the evidence may age:
    /// creates refused or failing, or the create schedule stopped.
    NoRecentReport {
        image_id: String,
        name: String,
        #[serde(with = "timestamp::option")]
        newest_report: Option<DateTime<Utc>>,
    },
    /// A decision or action of the retirement pipeline (`core::retire`), with the CLI
    /// command that undoes it.
    Retirement {
        image_id: String,
        name: String,
        mode: RetireMode,
        action: Action,
        outcome: Outcome,
        reason: String,
        stage_before: Stage,
        stage_after: Stage,
        #[serde(with = "timestamp")]
        stage_since: DateTime<Utc>,
        #[serde(default)]
        detail: String,
        #[serde(with = "timestamp::option", default)]
        deprecate_at: Option<DateTime<Utc>>,
        #[serde(default)]
        undo_command: Option<String>,
        /// deprecate: the owners' deprecation found; cancel_deprecation: the one put back.
        #[serde(with = "timestamp::option", default, skip_serializing_if = "Option::is_none")]
        team_deprecation: Option<DateTime<Utc>>,
        /// disable: the launch permissions recorded; enable: those restored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        launch_permissions: Option<LaunchPermissions>,
        /// deregister: the last moment it can be restored from the Recycle Bin.
        #[serde(with = "timestamp::option", default, skip_serializing_if = "Option::is_none")]
        restorable_until: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        snapshot_results: Vec<SnapshotResult>,
        /// For a deprecation: the member accounts whose Allowed AMIs settings refuse the
        /// AMI once deprecated (`<account>`, or `<account> (+N days)`), where the step
        /// stops launches (`CollectState::name_blocked_launches`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        blocks_launches_in: Vec<String>,
    },
    /// Archived reports asked EC2 for fewer resource types than `REPORT_RESOURCE_TYPES`
    /// (EC2 refused the others, and create fell back to the documented ones): their
    /// verdicts say the missing types were not checked. Announced once, not daily.
    ReportTypesNarrowed {
        configured: Vec<String>,
        used: Vec<String>,
        #[serde(with = "timestamp")]
        since: DateTime<Utc>,
    },
    /// A required member has no fresh probe facts: the AMIs it can see stay `unknown`
    /// (`member_probe_missing`). Announced once per streak, not once per AMI.
    MemberProbeMissing {
        member: String,
        #[serde(with = "timestamp")]
        since: DateTime<Utc>,
        /// The AMIs its missing facts hold back when the streak was announced.
        held: Vec<String>,
    },
    PendingTooLong {
        report_id: String,
        image_id: String,
        #[serde(with = "timestamp")]
        created: DateTime<Utc>,
    },
    ExpiringUnarchived {
        report_id: String,
        image_id: String,
        state: String,
        #[serde(with = "timestamp")]
        expires: DateTime<Utc>,
    },
}

impl News {
    /// Identity of a piece of news: the same key is never announced twice.
    pub fn key(&self) -> String {
        match self {
            News::Candidate { image_id, unused_since, .. } => {
                format!("candidate:{image_id}:{}", timestamp::format(unused_since))
            }
            News::UsedAgain { image_id, .. } => format!("used-again:{image_id}"),
            News::CandidatesWithheld { day, .. } => format!("withheld:{day}"),
            News::ReportError { image_id, since: Some(since), .. } => {
                format!("error:{image_id}:{}", timestamp::format(since))
            }
            News::ReportError { report_id, since: None, .. } => format!("error:{report_id}"),
            News::EvidenceStale { image_id, candidate_since, .. } => {
                format!("stale:{image_id}:{}", timestamp::format(candidate_since))
            }
            News::MalformedReport { report_id: Some(id), .. } => format!("malformed:{id}"),
            News::MalformedReport { report_id: None, problem, .. } => format!("malformed:{problem}"),
            News::NoRecentReport { image_id, newest_report, .. } => format!(
                "no-report:{image_id}:{}",
                newest_report.as_ref().map_or_else(|| "none".to_string(), timestamp::format)
            ),
            News::Retirement { image_id, mode, action, outcome, reason, stage_before, stage_since, .. } => format!(
                "retire:{image_id}:{}:{}:{}:{}:{}:{reason}",
                mode.as_str(),
                stage_before.as_str(),
                timestamp::format(stage_since),
                action.as_str(),
                outcome.as_str()
            ),
            News::ReportTypesNarrowed { configured, used, .. } => {
                format!("report-types:{}:{}", configured.join(","), used.join(","))
            }
            News::MemberProbeMissing { member, since, .. } => {
                format!("member-missing:{member}:{}", timestamp::format(since))
            }
            News::PendingTooLong { report_id, .. } => format!("pending-too-long:{report_id}"),
            News::ExpiringUnarchived { report_id, .. } => format!("expiring:{report_id}"),
        }
    }
}

/// The alert's news of a decision (announced once: see `News::key`).
pub fn retirement_news(d: &Decision, mode: RetireMode, region: &str) -> News {
    News::Retirement {
        image_id: d.image_id.clone(),
        name: d.image_name.clone(),
        mode,
        action: d.action,
        outcome: d.outcome,
        reason: d.reason.clone(),
        stage_before: d.stage_before,
        stage_after: d.stage_after,
        stage_since: d.stage_since,
        detail: d.detail.clone(),
        deprecate_at: d.deprecate_at,
        undo_command: undo_command(d, region),
        blocks_launches_in: Vec::new(),
        team_deprecation: d.team_deprecation,
        launch_permissions: d.launch_permissions.clone(),
        restorable_until: d.restorable_until,
        snapshot_results: d.snapshot_results.clone(),
    }
}
