//! The list- and tag-shaped configuration values (tag filters, tags, account lists,
//! resource types): each check names its variable and the fix.

use std::collections::BTreeSet;

use super::error::{ConfigError, err, shown};
use super::values::{MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, is_account_id};
use crate::core::create::{TagFilter, TagFilters};
use crate::core::model::REPORT_RESOURCE_TYPES;
use crate::core::verdict::TagMatch;

/// EC2 takes at most this many account ids in one usage report.
pub const MAX_REPORT_ACCOUNTS: usize = 200;

/// One tag key: 1–128 characters, no control characters.
pub(in crate::config) fn tag_key_problem(key: &str) -> Option<String> {
    if key.is_empty() {
        Some("the tag key is empty".into())
    } else if key.chars().count() > MAX_TAG_KEY_CHARS {
        Some(format!("tag key {} is longer than {MAX_TAG_KEY_CHARS} characters", shown(key)))
    } else if key.chars().any(char::is_control) {
        Some(format!("tag key {} contains a control character", shown(key)))
    } else {
        None
    }
}

/// One tag value: at most 256 characters, no control characters.
pub(in crate::config) fn tag_value_problem(value: &str) -> Option<String> {
    if value.chars().count() > MAX_TAG_VALUE_CHARS {
        Some(format!("tag value {} is longer than {MAX_TAG_VALUE_CHARS} characters", shown(value)))
    } else if value.chars().any(char::is_control) {
        Some(format!("tag value {} contains a control character", shown(value)))
    } else {
        None
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
            return Err(err("AMI_TAG_FILTERS", format!("{} has no '='", shown(pair)), fix));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(err("AMI_TAG_FILTERS", format!("{} has an empty tag key", shown(pair)), fix));
        }
        if let Some(problem) = tag_key_problem(key) {
            return Err(err("AMI_TAG_FILTERS", problem, fix));
        }
        if !seen.insert(key.to_string()) {
            return Err(err(
                "AMI_TAG_FILTERS",
                format!("tag key {} appears twice", shown(key)),
                "Name each key once; list alternative values as Key=v1|v2.",
            ));
        }
        let values: Vec<String> = values.split('|').map(|v| v.trim().to_string()).collect();
        if values.iter().any(|v| v.is_empty()) {
            return Err(err("AMI_TAG_FILTERS", format!("{} has an empty value", shown(pair)), fix));
        }
        if let Some(problem) = values.iter().find_map(|v| tag_value_problem(v)) {
            return Err(err("AMI_TAG_FILTERS", problem, fix));
        }
        filters.push(TagFilter { key: key.to_string(), values });
    }
    Ok(TagFilters(filters))
}

pub fn parse_account_ids(s: &str) -> Result<Vec<String>, ConfigError> {
    let mut ids = Vec::new();
    let mut seen = BTreeSet::new();
    for id in s.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        if !is_account_id(id) {
            return Err(err(
                "REPORT_ACCOUNT_IDS",
                format!("{} is not a 12-digit AWS account id", shown(id)),
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
                format!("{} is not a resource type of EC2's usage reports", shown(t)),
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
            format!("{} names no resource type", shown(s)),
            "List at least one, or unset it for all four.",
        ));
    }
    Ok(types)
}

/// `Key` or `Key=Value`: a tag key (1–128 characters) and optionally its value (up to 256).
pub(in crate::config) fn exclude_tag(s: &str) -> Result<TagMatch, ConfigError> {
    let (key, value) = match s.split_once('=') {
        Some((k, v)) => (k.trim(), Some(v.trim())),
        None => (s, None),
    };
    let problem = tag_key_problem(key).or_else(|| value.and_then(tag_value_problem));
    match problem {
        None => Ok(TagMatch { key: key.to_string(), value: value.map(str::to_string) }),
        Some(problem) => Err(err(
            "EXCLUDE_TAG",
            format!("{} is not a usable tag: {problem}", shown(s)),
            "Write Key or Key=Value, e.g. DoNotDeregister or Retain=true.",
        )),
    }
}

/// A tag key (1–128 characters).
pub(in crate::config) fn group_tag(s: &str) -> Result<String, ConfigError> {
    match tag_key_problem(s) {
        None => Ok(s.to_string()),
        Some(problem) => Err(err(
            "GROUP_TAG",
            format!("{} is not a usable tag key: {problem}", shown(s)),
            "Name one tag key of up to 128 characters, e.g. Family, or unset it for no groups.",
        )),
    }
}

/// The tag key naming an AMI's team (`ROUTE_TAG`, 1–128 characters).
pub(in crate::config) fn route_tag(s: &str) -> Result<String, ConfigError> {
    match tag_key_problem(s) {
        None => Ok(s.to_string()),
        Some(problem) => Err(err(
            "ROUTE_TAG",
            format!("{} is not a usable tag key: {problem}", shown(s)),
            "Name one tag key of up to 128 characters, e.g. Team, or unset it to publish one message per run.",
        )),
    }
}

/// Bound of `PROBE_OWNER_ACCOUNT_IDS` and `REQUIRE_MEMBER_PROBES`: each required member
/// costs collect a listing and a read per run, each owner is one DescribeImages value.
pub const MAX_PROBE_ACCOUNTS: usize = 100;

/// A comma-separated list of distinct 12-digit account ids, 1 to [`MAX_PROBE_ACCOUNTS`].
fn probe_account_list(var: &'static str, s: &str, fix: &str) -> Result<Vec<String>, ConfigError> {
    let mut ids: Vec<String> = Vec::new();
    for id in s.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(var, format!("{} is not a 12-digit AWS account id", shown(id)), fix));
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
/// mode's `<org prefix>/account=<id>` (see `core::verdict::member_facts::org_prefix_of`).
pub fn parse_member_probes(s: &str, archive_prefix: &str) -> Result<Vec<String>, ConfigError> {
    let fix = "List the member account ids (12 digits each, at most 100) separated by commas, or unset it.";
    let ids = probe_account_list("REQUIRE_MEMBER_PROBES", s, fix)?;
    if crate::core::verdict::member_facts::org_prefix_of(archive_prefix.trim_matches('/')).is_none() {
        return Err(err(
            "REQUIRE_MEMBER_PROBES",
            format!(
                "needs organisation mode, but ARCHIVE_PREFIX {} does not end in /account=<account id>",
                shown(archive_prefix)
            ),
            "Set ARCHIVE_PREFIX to <org prefix>/account=<this account id> (template.yaml does with CentralArchiveBucket), or unset REQUIRE_MEMBER_PROBES.",
        ));
    }
    Ok(ids)
}
