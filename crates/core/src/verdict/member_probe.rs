//! The member probe's rules (issues 21 and 22): which AMIs it looks up by id, which
//! owner's AMIs in retirement it looks for in its own resources, what a by-id lookup's
//! refusal means, which kinds it checked for an AMI it cannot describe, and what the
//! account's Allowed AMIs settings mean for a deprecated AMI.
//!
//! The owner publishes its AMIs in retirement (stage `deprecated` or `disabled`, enforce
//! mode) in one small object under its own prefix, rewritten when the list changes:
//!
//! ```text
//! <prefix>/retiring/region=<region>/retiring.json
//! ```
//!
//! A disabled AMI has no launch permissions left (DisableImage removes them all) and a
//! deprecated one is hidden from other accounts' listings unless asked for: the list is
//! how a member keeps finding its references to them until they are deregistered.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::member_facts::PROBE_KINDS;
use super::model::{AllowedImages, OwnerReference};
use crate::timestamp;

/// The kinds a probe checks by scanning its own resources for the id itself (SSM
/// parameters of data type `aws:ec2:image`, launch templates to the configured depth,
/// Image Builder recipes, launch configurations, fleets): they need no DescribeImages.
/// Every probe kind but the first, `ec2:Instance` (a unit test holds the order).
pub const SCAN_KINDS: &[&str] = match PROBE_KINDS.split_first() {
    Some((_, rest)) => rest,
    None => &[],
};

/// One AMI of an owner's retirement list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiringImage {
    pub image_id: String,
    /// `deprecated` or `disabled`.
    pub stage: String,
    #[serde(with = "timestamp")]
    pub since: DateTime<Utc>,
}

/// The object an owner publishes for its members (see the module's doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiringList {
    pub schema_version: u32,
    pub owner_account_id: String,
    pub region: String,
    pub images: Vec<RetiringImage>,
}

/// Where an owner publishes its list (`prefix`: its archive prefix).
pub fn retiring_object(prefix: &str, region: &str) -> String {
    format!("{prefix}/retiring/region={region}/retiring.json")
}

/// Where a member finds one owner's list, next to its own prefix in organisation mode.
pub fn owner_retiring_object(org_prefix: &str, owner: &str, region: &str) -> String {
    retiring_object(&format!("{org_prefix}/account={owner}"), region)
}

/// A list larger than this is not one owner's retirement list (it names each AMI once).
pub const MAX_RETIRING_BYTES: usize = 4 * 1024 * 1024;

/// Reads an owner's list; one that names another owner is refused (a list under the
/// wrong prefix must not make a member look for, or miss, another account's AMIs).
pub fn decode_retiring(bytes: &[u8], owner: &str) -> anyhow::Result<RetiringList> {
    if bytes.len() > MAX_RETIRING_BYTES {
        anyhow::bail!("{} bytes, more than the {MAX_RETIRING_BYTES} a retirement list holds", bytes.len());
    }
    let list: RetiringList = serde_json::from_slice(bytes)?;
    if list.owner_account_id != owner {
        anyhow::bail!("the list names owner {}, not {owner}", list.owner_account_id);
    }
    Ok(list)
}

/// The AMIs to look up by id (DescribeImages `ImageIds`): those its previous facts listed
/// and those in its owners' retirement lists, that the owners' listing did not show. A
/// deprecated AMI is returned to a non-owner named by id (EC2 User Guide, "Deprecate an
/// AMI"); a disabled or unshared one is simply absent.
pub fn by_id_lookups(
    previous: &BTreeSet<String>,
    retiring: &BTreeMap<String, RetiringImage>,
    listed: &BTreeMap<String, String>,
) -> Vec<String> {
    previous
        .iter()
        .chain(retiring.keys())
        .filter(|id| !listed.contains_key(*id))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// What DescribeImages' refusal of a by-id lookup means: an id that does not exist (any
/// more) or cannot be described is absent, not a failed probe.
pub fn by_id_refusal_means_absent(code: Option<&str>) -> bool {
    matches!(code, Some("InvalidAMIID.NotFound" | "InvalidAMIID.Unavailable" | "InvalidAMIID.Malformed"))
}

/// The kinds a probe checked for one AMI: all of them when it could describe it; for an
/// AMI of a retirement list it cannot describe, its own scans, plus instances when
/// DescribeImageReferences answered for the id (AWS documents that it reports the
/// caller's resources "regardless of whether the AMIs are public or private, or who
/// owns them").
pub fn kinds_checked(described: bool, references_answered: bool) -> Vec<String> {
    PROBE_KINDS
        .iter()
        .filter(|k| described || references_answered || SCAN_KINDS.contains(k))
        .map(|k| k.to_string())
        .collect()
}

/// The references of the probe's own scans that name exactly the wanted ids (a value
/// found in an SSM parameter, a launch template version, a recipe's parent image).
pub fn references_to(
    wanted: &BTreeSet<String>,
    found: impl IntoIterator<Item = (String, OwnerReference)>,
) -> BTreeMap<String, Vec<OwnerReference>> {
    let mut by_id: BTreeMap<String, Vec<OwnerReference>> = BTreeMap::new();
    for (value, reference) in found {
        let id = value.trim();
        if wanted.contains(id) {
            by_id.entry(id.to_string()).or_default().push(reference);
        }
    }
    by_id
}

/// The launch template versions a scan reads: the newest `depth`, as
/// DescribeImageReferences' `version-depth` counts them ("starting from the most recent
/// version"), as DescribeLaunchTemplateVersions' `MinVersion`..`MaxVersion`.
pub fn version_range(latest: i64, depth: u32) -> (i64, i64) {
    (latest.saturating_sub(i64::from(depth.max(1)) - 1).max(1), latest)
}

/// The ARN of a launch template of the probe account (the scan's reference names it
/// like DescribeImageReferences does).
pub fn launch_template_arn(region: &str, account: &str, template_id: &str) -> String {
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:ec2:{region}:{account}:launch-template/{template_id}")
}

/// The member accounts where deprecating `owner`'s AMI blocks launches, with when:
/// those whose facts listed it (`seen`) and whose Allowed AMIs settings refuse it once
/// deprecated, as `<account>` (from `DeprecateAt` on) or `<account> (+N days)`.
pub fn deprecation_blocks_in(
    owner: &str,
    seen: &BTreeMap<String, i64>,
    allowed: &BTreeMap<String, AllowedImages>,
) -> Vec<String> {
    seen.keys()
        .filter_map(|m| Some((m, allowed.get(m)?.deprecation_blocks_after(owner)?)))
        .map(|(m, days)| if days == 0 { m.clone() } else { format!("{m} (+{days} days)") })
        .collect()
}

#[cfg(test)]
#[path = "member_probe_tests.rs"]
mod tests;
