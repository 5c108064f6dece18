//! Member-account facts (issue 11, item 3): what a member account's `probe` found in
//! its own account about the AMIs other accounts shared with it, and how the owner's
//! verdict reads them.
//!
//! The `references` dataset (a **contract**: the org-wide Glue table `references`
//! reads it) holds one immutable object per probe run, one row per AMI the probe saw:
//!
//! ```text
//! <prefix>/references/region=<region>/report_date=<YYYY-MM-DD>/run-<probed_at>.json.gz
//! ```
//!
//! A row with an empty `references` list means "probed, nothing found"; an AMI
//! without a row was not probed (not visible to that account: not shared with it).
//! In organisation mode `<prefix>` is `<org prefix>/account=<member id>`, so the owner
//! finds each member's objects next to its own archive (see [`member_prefix`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{AllowedImages, MemberFindings, MemberMemory, OwnerReference, Reason, Verdicts};
use crate::archive::SCHEMA_VERSION;
use crate::model::LaunchPermissions;
use crate::timestamp;

/// The reference kinds a probe checks in its account, in `checked` order.
pub const PROBE_KINDS: [&str; 8] = [
    "ec2:Instance",
    "ec2:LaunchTemplate",
    "ec2:SpotFleetRequest",
    "ec2:Fleet",
    "ssm:Parameter",
    "imagebuilder:ImageRecipe",
    "imagebuilder:ContainerRecipe",
    "autoscaling:LaunchConfiguration",
];

/// One row of the `references` dataset: one AMI as one probe run saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceRow {
    pub schema_version: u32,
    #[serde(with = "timestamp")]
    pub probed_at: DateTime<Utc>,
    /// The member account that ran the probe (whose resources these are).
    pub probe_account_id: String,
    /// The AMI's owner, as DescribeImages said.
    pub owner_account_id: String,
    pub region: String,
    pub image_id: String,
    /// Reference kinds checked for this AMI (of [`PROBE_KINDS`]).
    pub checked: Vec<String>,
    /// Every resource of the probe account found referencing the AMI.
    pub references: Vec<OwnerReference>,
    /// False for an AMI of the owner's retirement list the probe account cannot
    /// describe (disabled, or no longer shared): its own resources were scanned for the
    /// id (`checked` says which kinds). Absent in rows of earlier versions: described.
    #[serde(default = "described_by_default")]
    pub described: bool,
    /// The AMI's stage in its owner's retirement list, if it is on it.
    #[serde(default)]
    pub retirement_stage: Option<String>,
    /// The probe account's Allowed AMIs settings (the same on every row of a run).
    #[serde(default)]
    pub allowed_images: Option<AllowedImages>,
}

fn described_by_default() -> bool {
    true
}

/// What the probe knows of one AMI it reports on: its owner, whether it could describe
/// it, its stage in the owner's retirement list, and the kinds it checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedImage {
    pub owner: String,
    pub described: bool,
    pub retirement_stage: Option<String>,
    pub checked: Vec<String>,
}

impl ProbedImage {
    /// An AMI the account describes: every kind is checked.
    pub fn described(owner: &str) -> Self {
        Self {
            owner: owner.to_string(),
            described: true,
            retirement_stage: None,
            checked: PROBE_KINDS.iter().map(|k| k.to_string()).collect(),
        }
    }
}

/// Where and when a probe ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRun {
    pub account_id: String,
    pub region: String,
    pub probed_at: DateTime<Utc>,
}

/// The rows of one probe run: one per AMI probed, with the references found for it,
/// AMIs in id order, each carrying the account's Allowed AMIs settings.
pub fn probe_rows(
    run: &ProbeRun,
    images: &BTreeMap<String, ProbedImage>,
    found: &BTreeMap<String, Vec<OwnerReference>>,
    allowed: Option<&AllowedImages>,
) -> Vec<ReferenceRow> {
    images
        .iter()
        .map(|(image_id, image)| {
            let mut references = found.get(image_id).cloned().unwrap_or_default();
            references.sort_by(|a, b| (&a.resource_type, &a.arn).cmp(&(&b.resource_type, &b.arn)));
            references.dedup();
            ReferenceRow {
                schema_version: SCHEMA_VERSION,
                probed_at: run.probed_at,
                probe_account_id: run.account_id.clone(),
                owner_account_id: image.owner.clone(),
                region: run.region.clone(),
                image_id: image_id.clone(),
                checked: image.checked.clone(),
                references,
                described: image.described,
                retirement_stage: image.retirement_stage.clone(),
                allowed_images: allowed.cloned(),
            }
        })
        .collect()
}

const RUN_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";

/// The object a probe run writes under its own archive prefix.
pub fn references_object(prefix: &str, region: &str, at: DateTime<Utc>) -> String {
    format!(
        "{prefix}/references/region={region}/report_date={}/run-{}.json.gz",
        at.format("%Y-%m-%d"),
        at.format(RUN_FORMAT)
    )
}

/// The organisation prefix of an owner's `ARCHIVE_PREFIX` in organisation mode
/// (`<org prefix>/account=<12 digits>`), or `None` when the prefix is not of that shape.
pub fn org_prefix_of(archive_prefix: &str) -> Option<&str> {
    let (org, last) = archive_prefix.rsplit_once('/')?;
    let id = last.strip_prefix("account=")?;
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())).then_some(org)
}

/// Where a member's probe objects of one Region are: `<org prefix>/account=<member>/references/region=<r>/`.
pub fn member_prefix(org_prefix: &str, member: &str, region: &str) -> String {
    format!("{org_prefix}/account={member}/references/region={region}/")
}

/// The listing's `StartAfter`: every partition from the oldest date that can hold a
/// fresh object sorts after it, so one listing returns exactly the candidate objects.
pub fn fresh_start_after(member_prefix: &str, now: DateTime<Utc>, max_age: Duration) -> String {
    format!("{member_prefix}report_date={}", (now - max_age).format("%Y-%m-%d"))
}

/// When the run that wrote `key` probed (its `run-<time>` name), if the key is a probe object.
pub fn probed_at_of(key: &str) -> Option<DateTime<Utc>> {
    let name = key.rsplit('/').next()?.strip_prefix("run-")?.strip_suffix(".json.gz")?;
    NaiveDateTime::parse_from_str(name, RUN_FORMAT).ok().map(|t| t.and_utc())
}

/// A listed probe object: its key, when it was probed (from its name) and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub probed_at: DateTime<Utc>,
    pub size: i64,
}

/// The probe objects of one member worth reading (`listed`: key and size), newest
/// first: named like a probe object, not from the future, not older than `max_age`.
pub fn fresh_objects(listed: &[(String, i64)], now: DateTime<Utc>, max_age: Duration) -> Vec<ListedObject> {
    let mut fresh: Vec<ListedObject> = listed
        .iter()
        .filter_map(|(k, size)| Some(ListedObject { key: k.clone(), probed_at: probed_at_of(k)?, size: *size }))
        .filter(|o| o.probed_at <= now && now - o.probed_at <= max_age)
        .collect();
    fresh.sort_by_key(|o| std::cmp::Reverse(o.probed_at));
    fresh
}

/// An object too large to be one probe's facts is not read at all.
pub fn check_size(o: &ListedObject) -> Result<(), Ignored> {
    if o.size > MAX_OBJECT_BYTES {
        return Err(Ignored::Malformed(format!("{} bytes, more than the {MAX_OBJECT_BYTES} a probe writes", o.size)));
    }
    Ok(())
}

/// Bounds of one facts object, compressed as listed and decompressed: a probe row is a
/// few hundred bytes, so 100,000 shared AMIs stay far below them, while an object some
/// account wrote by mistake (or a gzip bomb) cannot exhaust the owner's memory.
pub const MAX_OBJECT_BYTES: i64 = 16 * 1024 * 1024;
pub const MAX_DECOMPRESSED_BYTES: u64 = 256 * 1024 * 1024;

/// The rows of one facts object, refused whole beyond [`MAX_DECOMPRESSED_BYTES`].
pub fn decode_rows(gz: &[u8]) -> anyhow::Result<Vec<ReferenceRow>> {
    decode_rows_within(gz, MAX_DECOMPRESSED_BYTES)
}

fn decode_rows_within(gz: &[u8], limit: u64) -> anyhow::Result<Vec<ReferenceRow>> {
    use std::io::Read;
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(gz).take(limit + 1).read_to_end(&mut text)?;
    if text.len() as u64 > limit {
        anyhow::bail!("more than {limit} bytes decompressed");
    }
    let mut rows = Vec::new();
    for (i, line) in text.split(|b| *b == b'\n').enumerate().filter(|(_, l)| !l.is_empty()) {
        rows.push(serde_json::from_slice(line).map_err(|e| anyhow::anyhow!("line {}: {e}", i + 1))?);
    }
    Ok(rows)
}

/// Why a probe object does not count as its member's facts (logged once, counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// Not gzip JSON Lines of reference rows, or rows that contradict the key.
    Malformed(String),
    /// A row names a probe account that is not the member whose prefix holds it.
    ForeignAccount(String),
}

/// One required member's fresh facts: per AMI, the kinds checked and the references.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberFacts {
    pub probed_at: Option<DateTime<Utc>>,
    pub images: BTreeMap<String, (Vec<String>, Vec<OwnerReference>)>,
    /// The member account's Allowed AMIs settings, when its probe recorded them.
    pub allowed_images: Option<AllowedImages>,
}

/// Accepts the rows of one object found under `member`'s prefix as that member's facts.
pub fn accept_object(
    member: &str,
    key_time: DateTime<Utc>,
    rows: anyhow::Result<Vec<ReferenceRow>>,
) -> Result<MemberFacts, Ignored> {
    let rows = rows.map_err(|e| Ignored::Malformed(format!("{e:#}")))?;
    if let Some(r) = rows.iter().find(|r| r.probe_account_id != member) {
        return Err(Ignored::ForeignAccount(r.probe_account_id.clone()));
    }
    if let Some(r) = rows.iter().find(|r| r.probed_at != key_time) {
        return Err(Ignored::Malformed(format!(
            "row of {} probed at {}, not at the object's time",
            r.image_id,
            timestamp::format(&r.probed_at)
        )));
    }
    let allowed_images = rows.iter().find_map(|r| r.allowed_images.clone());
    let images = rows.into_iter().map(|r| (r.image_id, (r.checked, r.references))).collect();
    Ok(MemberFacts { probed_at: Some(key_time), images, allowed_images })
}

/// The findings of one AMI from every required member's fresh facts (`facts`; a member
/// without any is `missing`) and the state's memory of earlier facts (`memory`, this
/// run's facts recorded already): a member whose fresh facts no longer list an AMI they
/// listed since `window_start` lost sight of it, and a resource seen referencing it
/// since then still counts as use.
pub fn findings_for(
    image_id: &str,
    required: &[String],
    facts: &BTreeMap<String, MemberFacts>,
    memory: &MemberMemory,
    window_start: DateTime<Utc>,
) -> MemberFindings {
    let mut f = MemberFindings { required: required.to_vec(), ..Default::default() };
    let mut all: Option<BTreeSet<&str>> = None;
    for member in required {
        let Some(probe) = facts.get(member) else {
            f.missing.push(member.clone());
            all = Some(BTreeSet::new());
            continue;
        };
        let Some((checked, refs)) = probe.images.get(image_id) else {
            let seen = memory.last_listed_by(member);
            if seen.is_some_and(|t| t >= window_start && probe.probed_at.is_none_or(|p| t < p)) {
                f.lost_sight.push(member.clone());
            }
            all = Some(BTreeSet::new());
            continue;
        };
        f.covered_by.push(member.clone());
        f.references.extend(refs.iter().map(|r| r.arn.clone()));
        let kinds: BTreeSet<&str> = checked.iter().map(String::as_str).collect();
        all = Some(all.map_or(kinds.clone(), |a| a.intersection(&kinds).copied().collect()));
    }
    let all = all.unwrap_or_default();
    f.kinds_all_covered = PROBE_KINDS.iter().filter(|k| all.contains(*k)).map(|k| k.to_string()).collect();
    f.used_in_window = memory
        .uses
        .iter()
        .filter(|u| required.iter().any(|m| m == u.member()))
        .filter(|u| u.last_seen() >= window_start && !f.references.iter().any(|a| a == u.arn()))
        .cloned()
        .collect();
    f
}

/// Whether a member can see (and launch) an AMI with these launch permissions: shared
/// with its account, public, or shared with an organisation or OU. Without an
/// Organizations lookup the product cannot tell which members an organisation or OU
/// holds, so such sharing counts as visible to every required member (the safe side).
pub fn member_can_see(permissions: &LaunchPermissions, member: &str) -> bool {
    permissions.public
        || !permissions.organizations.is_empty()
        || !permissions.organizational_units.is_empty()
        || permissions.accounts.iter().any(|a| a == member)
}

/// Keeps in `missing` only the members that can see the AMI: a member's missing facts
/// hold back only the AMIs shared with it. A disabled AMI has no launch permissions
/// (DisableImage removed them all) yet members may still reference it, so it counts as
/// visible to every required member.
pub fn scope_missing(findings: &mut MemberFindings, permissions: &LaunchPermissions, disabled: bool) {
    if !disabled {
        findings.missing.retain(|m| member_can_see(permissions, m));
    }
}

/// At most this many launch-permission lookups per run (one DescribeImageAttribute call
/// each, paced like the owner checks); AMIs beyond it keep every missing member, the
/// safe side, and are looked up by a later run.
pub const MAX_VISIBILITY_LOOKUPS: usize = 200;

/// The AMIs whose launch permissions are worth a call: would-be candidates that only a
/// missing member's facts hold back, first [`MAX_VISIBILITY_LOOKUPS`] in id order.
pub fn visibility_lookups_due(verdicts: &Verdicts) -> Vec<String> {
    verdicts
        .verdicts
        .iter()
        .filter(|v| v.reasons.contains(&Reason::MemberProbeMissing))
        .map(|v| v.image_id.clone())
        .take(MAX_VISIBILITY_LOOKUPS)
        .collect()
}

#[cfg(test)]
#[path = "member_facts_tests.rs"]
mod tests;
