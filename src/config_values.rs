//! The shapes of configuration values (bucket, Region, prefix, topic, tag filters,
//! account ids): each check names its variable and the fix, as `super::err` does.

use std::collections::BTreeSet;

use super::{ConfigError, MAX_REPORT_ACCOUNTS, err};
use crate::core::model::REPORT_RESOURCE_TYPES;
use crate::core::selection::{TagFilter, TagFilters};

pub(super) fn validate_bucket(b: &str) -> Result<(), ConfigError> {
    let ok = (3..=63).contains(&b.len())
        && b.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(err(
            "ARCHIVE_BUCKET",
            format!("{b:?} is not a valid S3 bucket name"),
            "Use the bucket's name only (3–63 lowercase letters, digits, '-' or '.'), not an ARN or s3:// URL.",
        ))
    }
}

/// The shape of a Region code (`eu-west-1`, `us-gov-west-1`, `cn-north-1`,
/// `ap-southeast-7`): a mistyped Region would otherwise surface only at the first S3
/// call, as a DNS failure or a redirect, long after the configuration was checked.
pub(super) fn validate_region(r: &str) -> Result<String, ConfigError> {
    let parts: Vec<&str> = r.split('-').collect();
    let (words, number) = parts.split_at(parts.len() - 1);
    let ok = words.len() >= 2
        && words[0].len() == 2
        && words.iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number[0].len())
        && number[0].bytes().all(|b| b.is_ascii_digit())
        && !number[0].starts_with('0');
    if ok {
        Ok(r.to_string())
    } else {
        Err(err(
            "ARCHIVE_BUCKET_REGION",
            format!("{r:?} is not an AWS Region code"),
            "Set it to the Region of the archive bucket, e.g. eu-west-1 \
             (aws s3api get-bucket-location --bucket <bucket>), or unset it when the bucket is in the function's Region.",
        ))
    }
}

pub(super) fn validate_prefix(p: &str) -> Result<String, ConfigError> {
    let trimmed = p.trim_matches('/');
    if trimmed.is_empty() || trimmed.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(err(
            "ARCHIVE_PREFIX",
            format!("{p:?} is not a usable key prefix"),
            "Use path segments without empty, '.' or '..' parts, e.g. ami-usage or archive/ami-usage.",
        ));
    }
    Ok(trimmed.to_string())
}

pub(super) fn validate_topic_arn(arn: &str) -> Result<(), ConfigError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "sns" && !parts[5].is_empty() {
        Ok(())
    } else {
        Err(err(
            "ALERT_TOPIC_ARN",
            format!("{arn:?} is not an SNS topic ARN"),
            "Use arn:aws:sns:<region>:<account>:<topic>, or unset it to only print alerts.",
        ))
    }
}

/// Parses `Key=Value[,Key=Value…]` where a value may be `v1|v2`.
pub fn parse_tag_filters(s: &str) -> Result<TagFilters, ConfigError> {
    let fix = "Write Key=Value pairs separated by commas, e.g. Team=platform,Golden=true|yes.";
    let mut filters = Vec::new();
    let mut seen = BTreeSet::new();
    for pair in s.split(',') {
        let pair = pair.trim();
        let Some((key, values)) = pair.split_once('=') else {
            return Err(err("AMI_TAG_FILTERS", format!("{pair:?} has no '='"), fix));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(err("AMI_TAG_FILTERS", format!("{pair:?} has an empty tag key"), fix));
        }
        if key.chars().count() > 128 {
            return Err(err("AMI_TAG_FILTERS", format!("tag key {key:?} is longer than 128 characters"), fix));
        }
        if !seen.insert(key.to_string()) {
            return Err(err(
                "AMI_TAG_FILTERS",
                format!("tag key {key:?} appears twice"),
                "Name each key once; list alternative values as Key=v1|v2.",
            ));
        }
        let values: Vec<String> = values.split('|').map(|v| v.trim().to_string()).collect();
        if values.iter().any(|v| v.is_empty()) {
            return Err(err("AMI_TAG_FILTERS", format!("{pair:?} has an empty value"), fix));
        }
        filters.push(TagFilter { key: key.to_string(), values });
    }
    Ok(TagFilters(filters))
}

pub fn parse_account_ids(s: &str) -> Result<Vec<String>, ConfigError> {
    let mut ids = Vec::new();
    let mut seen = BTreeSet::new();
    for id in s.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(
                "REPORT_ACCOUNT_IDS",
                format!("{id:?} is not a 12-digit AWS account id"),
                "List 12-digit account ids separated by commas, or unset it to report on all accounts.",
            ));
        }
        if seen.insert(id.to_string()) {
            ids.push(id.to_string());
        }
    }
    if ids.len() > MAX_REPORT_ACCOUNTS {
        return Err(err(
            "REPORT_ACCOUNT_IDS",
            format!("lists {} accounts, EC2 accepts at most {MAX_REPORT_ACCOUNTS} per report", ids.len()),
            "Unset it to report on all accounts, or list at most 200.",
        ));
    }
    Ok(ids)
}

/// `REPORT_RESOURCE_TYPES`: a comma-separated subset of the types CreateImageUsageReport
/// accepts, in any order, duplicates ignored.
pub fn parse_resource_types(s: &str) -> Result<Vec<String>, ConfigError> {
    let mut types: Vec<String> = Vec::new();
    for t in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if !REPORT_RESOURCE_TYPES.contains(&t) {
            return Err(err(
                "REPORT_RESOURCE_TYPES",
                format!("{t:?} is not a resource type of EC2's usage reports"),
                format!("List some of {}, or unset it for all four.", REPORT_RESOURCE_TYPES.join(", ")),
            ));
        }
        if !types.iter().any(|have| have == t) {
            types.push(t.to_string());
        }
    }
    if types.is_empty() {
        return Err(err(
            "REPORT_RESOURCE_TYPES",
            format!("{s:?} names no resource type"),
            "List at least one, or unset it for all four.",
        ));
    }
    Ok(types)
}

/// Bound of `PROBE_OWNER_ACCOUNT_IDS` and `REQUIRE_MEMBER_PROBES`: each required member
/// costs collect a listing and a read per run, each owner is one DescribeImages value.
pub const MAX_PROBE_ACCOUNTS: usize = 100;

/// A comma-separated list of distinct 12-digit account ids, 1 to [`MAX_PROBE_ACCOUNTS`].
fn probe_account_list(var: &'static str, s: &str, fix: &str) -> Result<Vec<String>, ConfigError> {
    let mut ids: Vec<String> = Vec::new();
    for id in s.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(
                var,
                format!("{:?} is not a 12-digit AWS account id", id.chars().take(40).collect::<String>()),
                fix,
            ));
        }
        if !ids.iter().any(|have| have == id) {
            ids.push(id.to_string());
        }
    }
    if ids.is_empty() || ids.len() > MAX_PROBE_ACCOUNTS {
        return Err(err(var, format!("lists {} accounts, not 1 to {MAX_PROBE_ACCOUNTS}", ids.len()), fix));
    }
    Ok(ids)
}

/// `PROBE_OWNER_ACCOUNT_IDS`: the accounts whose shared AMIs the member's probe asks about.
pub fn parse_probe_owners(s: &str) -> Result<Vec<String>, ConfigError> {
    probe_account_list(
        "PROBE_OWNER_ACCOUNT_IDS",
        s,
        "List the AMI owner account ids (12 digits each, at most 100) separated by commas, e.g. 123456789012.",
    )
}

/// `REQUIRE_MEMBER_PROBES`: members whose probe facts the owner's verdicts need. They
/// are read next to the owner's own archive, so `archive_prefix` must be organisation
/// mode's `<org prefix>/account=<id>` (see `core::member_facts::org_prefix_of`).
pub fn parse_member_probes(s: &str, archive_prefix: &str) -> Result<Vec<String>, ConfigError> {
    let fix = "List the member account ids (12 digits each, at most 100) separated by commas, or unset it.";
    let ids = probe_account_list("REQUIRE_MEMBER_PROBES", s, fix)?;
    if crate::core::member_facts::org_prefix_of(archive_prefix.trim_matches('/')).is_none() {
        return Err(err(
            "REQUIRE_MEMBER_PROBES",
            format!(
                "needs organisation mode, but ARCHIVE_PREFIX {archive_prefix:?} does not end in /account=<account id>"
            ),
            "Set ARCHIVE_PREFIX to <org prefix>/account=<this account id> (template.yaml does with CentralArchiveBucket), or unset REQUIRE_MEMBER_PROBES.",
        ));
    }
    Ok(ids)
}
