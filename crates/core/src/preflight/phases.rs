//! What the phases will find: the selection, Recycle Bin coverage for the retirement
//! pipeline, Cost Explorer for the digest, the members' probe facts.

use super::access::{CREDENTIALS_FIX, is_bad_credentials, is_denied, is_transient, one_line};
use super::model::{Check, Level, PreflightSettings, Refusal};
use crate::alert::plural;
use crate::create::TagFilters;
use std::collections::BTreeMap;

use crate::model::{Ami, Tags};
use crate::retire::{RecycleBinRule, RetireMode, restorable};

/// At most this many AMI ids are named in one line.
const IDS_SHOWN: usize = 5;

fn filters_text(filters: &TagFilters) -> String {
    if filters.0.is_empty() {
        return "every AMI the account owns (AMI_TAG_FILTERS is not set)".into();
    }
    let each: Vec<String> = filters.0.iter().map(|f| format!("{}={}", f.key, f.values.join("|"))).collect();
    format!("AMI_TAG_FILTERS {}", each.join(", "))
}

fn ids(amis: &[&Ami]) -> String {
    let shown: Vec<&str> = amis.iter().take(IDS_SHOWN).map(|a| a.image_id.as_str()).collect();
    let more = amis.len().saturating_sub(IDS_SHOWN);
    if more == 0 { shown.join(", ") } else { format!("{} and {more} more", shown.join(", ")) }
}

/// `selection`: how many AMIs create reports on and collect judges (`selected`: the
/// AMIs of the owner's listing that the create phase's selection keeps).
pub fn selection(listing: &Result<Vec<Ami>, Refusal>, filters: &TagFilters) -> Check {
    let selected = match listing {
        Ok(selected) => selected,
        Err(r) if is_denied(r.code()) => {
            return Check::new(
                "selection",
                Level::Fail,
                format!("ec2:DescribeImages refused: {}", one_line(&r.message)),
            )
            .with_fix(
                "Grant ec2:DescribeImages to the function's role (statement DescribeImagesAndUsageReports of \
                     template.yaml and deploy/iam-policy.json).",
            );
        }
        Err(r) if is_bad_credentials(r.code()) => {
            return Check::new("selection", Level::Fail, format!("credentials refused: {}", one_line(&r.message)))
                .with_fix(CREDENTIALS_FIX);
        }
        Err(r) => {
            let level = if is_transient(r) { Level::Warn } else { Level::Fail };
            return Check::new("selection", level, format!("ec2:DescribeImages failed: {}", one_line(&r.message)))
                .with_fix("Run preflight again; if it keeps failing, create and collect will too.");
        }
    };
    let what = filters_text(filters);
    if selected.is_empty() {
        return Check::new("selection", Level::Warn, format!("no AMI matches {what}: create will make no report"))
            .with_fix("Tag the AMIs to watch to match AMI_TAG_FILTERS, or correct it (e.g. Golden=true).");
    }
    let disabled = selected.iter().filter(|a| a.state == "disabled").count();
    let disabled = if disabled > 0 { format!(" ({disabled} disabled)") } else { String::new() };
    Check::new("selection", Level::Ok, format!("{} match {what}{disabled}", plural(selected.len(), "AMI", "AMIs")))
}

const RULE_FIX: &str = "Create a Recycle Bin retention rule for EC2_IMAGE covering these AMIs (Region-level, or \
    tag-level with a tag they carry), e.g. aws rbin create-rule --resource-type EC2_IMAGE --retention-period \
    RetentionPeriodValue=30,RetentionPeriodUnit=DAYS; or set RETIRE_REQUIRE_RECYCLE_BIN=false to deregister \
    without one (such AMIs cannot be restored).";

/// `recycle bin`: whether a deregistration would be allowed: the retirement step's own
/// rule (`retire::restorable`: rules that keep the AMI, and with snapshot deletion its
/// snapshots, `RETIRE_MIN_RECYCLE_BIN_DAYS` at least, none being unlocked), applied to
/// every selected AMI; `snapshot_tags` are its snapshots' tags (snapshot deletion only).
/// In `enforce` an AMI that is not restorable is held at deregister for ever, so none
/// restorable fails; in a dry run it only warns.
pub fn recycle_bin(
    s: &PreflightSettings,
    rules: &Result<Vec<RecycleBinRule>, Refusal>,
    selected: &[Ami],
    snapshot_tags: &BTreeMap<String, Tags>,
) -> Check {
    const NAME: &str = "recycle bin";
    let rules = match rules {
        Ok(rules) => rules,
        Err(r) => {
            let level = if is_transient(r) { Level::Warn } else { Level::Fail };
            return Check::new(NAME, level, format!("the rules could not be read: {}", one_line(&r.message))).with_fix(
                "Grant rbin:ListRules and rbin:GetRule (statements ReadRecycleBinRules and \
                 ReadRecycleBinRuleDetails of deploy/iam-policy-retire.json; the template grants them when \
                 RetireMode is not off).",
            );
        }
    };
    let held = |a: &Ami| restorable(rules, a, snapshot_tags, s.min_recycle_bin_days, s.delete_snapshots).err();
    let (covered, uncovered): (Vec<&Ami>, Vec<&Ami>) = selected.iter().partition(|a| held(a).is_none());
    let first_reason = uncovered
        .first()
        .and_then(|a| held(a))
        .map(|(code, detail)| format!("{a}: {code}, {detail}", a = uncovered[0].image_id));
    let usable = rules.iter().filter(|r| r.resource_type == "EC2_IMAGE" && r.status == "available").count();
    if !s.require_recycle_bin {
        return Check::new(
            NAME,
            Level::Ok,
            format!(
                "not required (RETIRE_REQUIRE_RECYCLE_BIN=false): {} of {} selected AMIs covered, the others are \
                 deleted for good when deregistered",
                covered.len(),
                selected.len()
            ),
        );
    }
    let missing = if s.retire_mode == RetireMode::Enforce { Level::Fail } else { Level::Warn };
    if selected.is_empty() {
        return match usable {
            0 => Check::new(NAME, missing, "no available Recycle Bin rule for EC2_IMAGE: deregistration is held")
                .with_fix(RULE_FIX),
            n => Check::new(NAME, Level::Ok, format!("{n} available EC2_IMAGE rules; no AMI selected yet")),
        };
    }
    match (covered.len(), uncovered.len()) {
        (n, 0) => Check::new(
            NAME,
            Level::Ok,
            format!(
                "all {n} selected AMIs would stay restorable (available rules keep them {} days at least)",
                s.min_recycle_bin_days
            ),
        ),
        (0, n) => Check::new(
            NAME,
            missing,
            format!(
                "none of the {n} selected AMIs would stay restorable: deregistration is held for each ({})",
                first_reason.unwrap_or_default()
            ),
        )
        .with_fix(RULE_FIX),
        (c, u) => Check::new(
            NAME,
            Level::Warn,
            format!(
                "{u} of {} selected AMIs would not stay restorable ({}): their deregistration is held ({})",
                c + u,
                ids(&uncovered),
                first_reason.unwrap_or_default()
            ),
        )
        .with_fix(RULE_FIX),
    }
}

const CE_COST: &str = "one GetReservationUtilization call, which Cost Explorer charges USD 0.01";

/// `cost explorer`: one GetReservationUtilization call (`DIGEST_RESERVATIONS=on`).
pub fn cost_explorer(answer: &Result<(), Refusal>) -> Check {
    const NAME: &str = "cost explorer";
    let Err(r) = answer else {
        return Check::new(NAME, Level::Ok, format!("reservations readable ({CE_COST})"));
    };
    let said = one_line(&r.message);
    let not_enabled = said.to_ascii_lowercase().contains("not enabled")
        || matches!(r.code(), "OptInRequired" | "SubscriptionRequiredException");
    match r.code() {
        _ if not_enabled => Check::new(NAME, Level::Fail, format!("Cost Explorer is not enabled: {said} ({CE_COST})"))
            .with_fix(
                "Enable Cost Explorer in the Billing and Cost Management console (in an organisation the \
                 management account enables it for members), or set DIGEST_RESERVATIONS=off.",
            ),
        code if is_denied(code) => Check::new(NAME, Level::Fail, format!("refused: {said} ({CE_COST})")).with_fix(
            "Grant ce:GetReservationUtilization on * (statement ReadReservationUtilization; the template grants it \
             with DigestReservations=on), or set DIGEST_RESERVATIONS=off.",
        ),
        "DataUnavailableException" => Check::new(NAME, Level::Warn, format!("no data yet: {said} ({CE_COST})"))
            .with_fix("Cost Explorer fills its data within about 24 hours of being enabled: run preflight again then."),
        code if is_bad_credentials(code) => {
            Check::new(NAME, Level::Fail, format!("credentials refused: {said}")).with_fix(CREDENTIALS_FIX)
        }
        _ if is_transient(r) => {
            Check::new(NAME, Level::Warn, format!("not checked: {said} ({CE_COST})")).with_fix("Run preflight again.")
        }
        _ => Check::new(NAME, Level::Fail, format!("failed: {said} ({CE_COST})"))
            .with_fix("Read Cost Explorer's answer; the digest's reservations part will fail the same way."),
    }
}

/// What collect would read of the members' probe facts (`REQUIRE_MEMBER_PROBES`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberFreshness {
    pub required: Vec<String>,
    /// Members without facts newer than `MAX_EVIDENCE_AGE_HOURS`.
    pub missing: Vec<String>,
    /// Members whose facts S3 refused to list or read.
    pub unreadable: usize,
}

/// `member probes`: a member without fresh facts keeps the AMIs' verdicts `unknown`.
pub fn member_probes(f: &MemberFreshness, max_age_hours: u32) -> Check {
    const NAME: &str = "member probes";
    let n = f.required.len();
    if f.unreadable > 0 {
        return Check::new(
            NAME,
            Level::Fail,
            format!("the facts of {} of {n} members could not be read", f.unreadable),
        )
        .with_fix(
            "Grant s3:GetObject and s3:ListBucket on the central prefix's account=*/references/* (statements \
                 ReadMemberProbeFacts and ListMemberProbeFacts: template RequireMemberProbes, central stack \
                 AmiOwnerAccountIds).",
        );
    }
    if f.missing.is_empty() {
        return Check::new(NAME, Level::Ok, format!("all {n} members probed within {max_age_hours} hours"));
    }
    Check::new(
        NAME,
        Level::Warn,
        format!(
            "{} of {n} members have no facts newer than {max_age_hours} hours ({}): the verdicts of AMIs they may \
             use stay unknown",
            f.missing.len(),
            f.missing.join(", ")
        ),
    )
    .with_fix(
        "Run the probe in each of them (their stacks' ProbeOwnerAccountIds naming this account), or remove them \
         from REQUIRE_MEMBER_PROBES.",
    )
}

#[cfg(test)]
#[path = "phases_tests.rs"]
mod tests;
