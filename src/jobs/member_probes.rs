//! The owner's side of the member probes: for each member of `REQUIRE_MEMBER_PROBES`,
//! its newest fresh facts object of this Region, read from next to the owner's own
//! archive (`<org prefix>/account=<member>/references/…`). An object that is
//! malformed, or whose rows name another probe account, is ignored with one logged
//! line and counted; the next newest fresh one is tried. A member left without facts
//! makes would-be candidates `unknown` (`member_probe_missing`), never candidates.

use std::collections::BTreeMap;

use serde::Serialize;

use super::archive::Archive;
use crate::aws::s3;
use crate::core::verdict::AllowedImages;
use crate::core::verdict::member_facts::{
    Ignored, ListedObject, MemberFacts, accept_object, check_size, decode_rows, fresh_objects, fresh_start_after,
    member_prefix, org_prefix_of,
};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MemberProbeCounts {
    pub required: usize,
    /// Required members whose fresh facts this run read.
    pub fresh: usize,
    /// Required members without fresh facts (their AMIs' verdicts cannot be candidates).
    pub missing: Vec<String>,
    /// Facts objects ignored: unreadable as reference rows, or contradicting their key.
    pub ignored_malformed: usize,
    /// Facts objects ignored: rows from an account other than the member whose prefix holds them.
    pub ignored_foreign: usize,
    /// Members whose prefix could not be listed or read (S3 refused): counted as missing.
    pub unreadable: usize,
    /// Each fresh member's Allowed AMIs settings, as its probe recorded them (a
    /// deprecation announcement names the members where they stop launches).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub allowed_images: BTreeMap<String, AllowedImages>,
}

/// Every required member's fresh facts, by member id, and what happened reading them.
pub async fn read(archive: &Archive<'_>) -> (BTreeMap<String, MemberFacts>, MemberProbeCounts) {
    let r = archive.run;
    let required = &r.config.require_member_probes;
    let mut counts = MemberProbeCounts { required: required.len(), ..Default::default() };
    let mut facts = BTreeMap::new();
    // The configuration checked the shape: REQUIRE_MEMBER_PROBES needs organisation mode.
    let Some(org) = org_prefix_of(&archive.keys.prefix) else {
        counts.missing = required.clone();
        return (facts, counts);
    };
    for member in required {
        match newest_fresh(archive, org, member, &mut counts).await {
            Ok(Some(f)) => {
                counts.fresh += 1;
                if let Some(allowed) = &f.allowed_images {
                    counts.allowed_images.insert(member.clone(), allowed.clone());
                }
                facts.insert(member.clone(), f);
            }
            Ok(None) => counts.missing.push(member.clone()),
            Err(e) => {
                tracing::warn!(member = %member, error = %format!("{e:#}"), "member probe facts unreadable; counted as missing");
                counts.unreadable += 1;
                counts.missing.push(member.clone());
            }
        }
    }
    (facts, counts)
}

/// The member's newest fresh object that is its own well-formed facts, if any.
async fn newest_fresh(
    archive: &Archive<'_>,
    org: &str,
    member: &str,
    counts: &mut MemberProbeCounts,
) -> anyhow::Result<Option<MemberFacts>> {
    let r = archive.run;
    let (s3c, bucket, max_age) = (&r.clients.s3, archive.bucket, r.config.verdict.max_evidence_age());
    let prefix = member_prefix(org, member, &archive.provenance.region);
    let keys = s3::keys_after(s3c, bucket, &prefix, &fresh_start_after(&prefix, r.now, max_age)).await?;
    for object in fresh_objects(&keys, r.now, max_age) {
        if let Err(why) = check_size(&object) {
            ignore(&object, member, why, counts);
            continue;
        }
        let Some(bytes) = s3::get_optional(s3c, bucket, &object.key).await? else { continue };
        match accept_object(member, object.probed_at, decode_rows(&bytes)) {
            Ok(f) => return Ok(Some(f)),
            Err(why) => ignore(&object, member, why, counts),
        }
    }
    Ok(None)
}

fn ignore(object: &ListedObject, member: &str, why: Ignored, counts: &mut MemberProbeCounts) {
    let key = object.key.as_str();
    match why {
        Ignored::Malformed(e) => {
            counts.ignored_malformed += 1;
            tracing::warn!(key, member, probed_at = %object.probed_at, error = %e, "member probe object ignored: malformed");
        }
        Ignored::ForeignAccount(account) => {
            counts.ignored_foreign += 1;
            tracing::warn!(key, member, account = %account, "member probe object ignored: written by an account not in REQUIRE_MEMBER_PROBES for this prefix");
        }
    }
}
