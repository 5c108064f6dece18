//! The shapes of configuration values (bucket, Region, prefix, topic, tag filters,
//! account ids): each check names its variable and the fix, as `super::err` does.
//! Each grammar is AWS's published one, so that a value accepted here is not refused
//! later by an AWS call, after a run has already written part of its work.

use super::error::{ConfigError, err, present, shown};

/// True for an AWS account id: exactly twelve ASCII digits.
pub(in crate::config) fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// The longest prefix accepted, in bytes. S3 keys stop at 1,024 bytes; the longest key
/// the archive writes today is the prefix plus about 100 bytes
/// (`/entries/region=<Region>/report_date=YYYY-MM-DD/amiur-<17 hex>.json.gz`, or the
/// verdicts' `run-<timestamp>.json.gz`), so half the limit leaves room for new datasets
/// and longer ids without a key ever being refused mid-archive.
pub(super) const MAX_PREFIX_BYTES: usize = 512;
/// AWS's tag limits: keys 1–128 characters, values 0–256 (EC2 counts Unicode characters).
pub const MAX_TAG_KEY_CHARS: usize = 128;
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// S3's bucket naming rules for general purpose buckets, the first broken one.
fn bucket_problem(b: &str) -> Option<&'static str> {
    let reserved_prefixes = ["xn--", "sthree-", "amzn-s3-demo-"];
    let reserved_suffixes = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    if !(3..=63).contains(&b.len()) {
        Some("it must be 3 to 63 characters long")
    } else if !b.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.') {
        Some("only lowercase letters, digits, '-' and '.' are allowed")
    } else if !b.starts_with(|c: char| c.is_ascii_alphanumeric()) || !b.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        Some("it must start and end with a letter or digit")
    } else if b.contains("..") {
        Some("it must not contain two adjacent dots")
    } else if b.split('.').count() == 4 && b.split('.').all(|p| p.parse::<u8>().is_ok()) {
        Some("it must not be an IP address")
    } else if reserved_prefixes.iter().any(|p| b.starts_with(p)) {
        Some("the prefixes xn--, sthree- and amzn-s3-demo- are reserved by S3")
    } else if reserved_suffixes.iter().any(|s| b.ends_with(s)) {
        Some("the suffixes -s3alias, --ol-s3, .mrap, --x-s3 and --table-s3 are reserved by S3")
    } else {
        None
    }
}

pub(super) fn validate_bucket(b: &str) -> Result<(), ConfigError> {
    match bucket_problem(b) {
        None => Ok(()),
        Some(problem) => Err(err(
            "ARCHIVE_BUCKET",
            format!("{} is not a valid S3 bucket name: {problem}", shown(b)),
            "Use the bucket's name only (3–63 lowercase letters, digits, '-' or '.'), not an ARN or s3:// URL.",
        )),
    }
}

/// True for a Region code (`eu-west-1`, `us-gov-west-1`, `cn-north-1`,
/// `eu-isoe-west-1`, `eusc-de-east-1`): two letters (or `eusc`, the European Sovereign
/// Cloud), one or more lowercase words, a number 1–99, at most 32 characters in all.
pub(super) fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let (words, number) = parts.split_at(parts.len() - 1);
    r.len() <= 32
        && words.len() >= 2
        && (words[0].len() == 2 || words[0] == "eusc")
        && words.iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number[0].len())
        && number[0].bytes().all(|b| b.is_ascii_digit())
        && !number[0].starts_with('0')
}

/// The partition a Region belongs to: what an ARN for it must say.
pub(super) fn partition_of(region: &str) -> &'static str {
    const PARTITIONS: [(&str, &str); 7] = [
        ("cn-", "aws-cn"),
        ("eusc-", "aws-eusc"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
    ];
    PARTITIONS.iter().find(|(prefix, _)| region.starts_with(prefix)).map_or("aws", |(_, p)| p)
}

/// The shape of a Region code: a mistyped Region would otherwise surface only at the
/// first S3 call, as a DNS failure or a redirect, long after the configuration was checked.
pub(super) fn validate_region(r: &str) -> Result<String, ConfigError> {
    if is_region(r) {
        Ok(r.to_string())
    } else {
        Err(err(
            "ARCHIVE_BUCKET_REGION",
            format!("{} is not an AWS Region code", shown(r)),
            "Set it to the Region of the archive bucket, e.g. eu-west-1 \
             (aws s3api get-bucket-location --bucket <bucket>), or unset it when the bucket is in the function's Region.",
        ))
    }
}

/// S3's "safe" key characters (letters, digits, `! - _ . * ' ( )`) plus `/` and `=`
/// (organisation mode's `account=<id>` segment). Everything else is one S3 or a
/// consumer of the keys (URLs, Athena's partition paths) escapes or mangles.
fn is_prefix_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!-_.*'()/=".contains(c)
}

/// A key prefix: leading and trailing '/' are dropped; what is left is 1–512 bytes of
/// `/`-separated segments, none empty, `.` or `..`, of S3's safe characters.
pub(super) fn validate_prefix(p: &str) -> Result<String, ConfigError> {
    let trimmed = p.trim_matches('/');
    let problem = if trimmed.len() > MAX_PREFIX_BYTES {
        Some(format!(
            "is {} bytes long; at most {MAX_PREFIX_BYTES} keep every archive key within S3's 1,024-byte limit",
            p.len()
        ))
    } else if let Some(c) = trimmed.chars().find(|c| !is_prefix_char(*c)) {
        Some(format!("contains {c:?}, which S3 keys would need escaped"))
    } else if trimmed.is_empty() || trimmed.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        Some("has an empty, '.' or '..' path segment".to_string())
    } else {
        None
    };
    match problem {
        None => Ok(trimmed.to_string()),
        Some(problem) => Err(err(
            "ARCHIVE_PREFIX",
            format!("{} is not a usable key prefix: it {problem}", shown(p)),
            "Use '/'-separated segments of letters, digits and ! - _ . * ' ( ) =, e.g. ami-usage or archive/ami-usage.",
        )),
    }
}

/// The parts of an SNS topic ARN.
struct TopicArn<'a> {
    partition: &'a str,
    region: &'a str,
}

/// The first way `arn` is not `arn:<partition>:sns:<Region>:<12-digit account>:<name>`
/// for a standard topic (name: 1–256 letters, digits, '-' or '_').
fn topic_arn_problem(arn: &str) -> Result<TopicArn<'_>, String> {
    const PARTITIONS: [&str; 8] =
        ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"];
    let parts: Vec<&str> = arn.split(':').collect();
    let [head, partition, service, region, account, name] = parts[..] else {
        return Err("is not an SNS topic ARN (six ':'-separated parts)".into());
    };
    if head != "arn" || service != "sns" {
        return Err("is not an SNS topic ARN".into());
    }
    if !PARTITIONS.contains(&partition) {
        return Err(format!("is not an SNS topic ARN: {} is not an AWS partition", shown(partition)));
    }
    if !is_region(region) {
        return Err(format!("is not an SNS topic ARN: {} is not a Region code", shown(region)));
    }
    if partition_of(region) != partition {
        return Err(format!("names partition {partition}, but Region {region} is in {}", partition_of(region)));
    }
    if !is_account_id(account) {
        return Err(format!("is not an SNS topic ARN: account {} is not 12 digits", shown(account)));
    }
    if name.ends_with(".fifo") {
        return Err("is a FIFO topic, which needs a message group id that alerts do not carry".into());
    }
    let name_ok =
        (1..=256).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !name_ok {
        return Err("is not an SNS topic ARN: a topic name is 1–256 letters, digits, '-' or '_'".into());
    }
    Ok(TopicArn { partition, region })
}

pub(super) fn validate_topic_arn(arn: &str) -> Result<(), ConfigError> {
    topic_arn_problem(arn).map(|_| ()).map_err(|problem| {
        err(
            "ALERT_TOPIC_ARN",
            format!("{} {problem}", shown(arn)),
            "Use arn:aws:sns:<region>:<account>:<topic> of a standard topic, or unset it to only print alerts.",
        )
    })
}

/// SNS is called in the function's Region, and publishes only to that Region's topics:
/// a topic elsewhere would fail the publish after collect had archived and saved.
pub(super) fn check_topic_region(arn: &str, function_region: &str) -> Result<(), ConfigError> {
    let Ok(topic) = topic_arn_problem(arn) else {
        return validate_topic_arn(arn);
    };
    if topic.region == function_region && topic.partition == partition_of(function_region) {
        return Ok(());
    }
    Err(err(
        "ALERT_TOPIC_ARN",
        format!("{} is in Region {}, but the function runs in {function_region}", shown(arn), topic.region),
        format!("Use a topic in {function_region}, or unset it to only print alerts."),
    ))
}

/// A price in USD per GB-month: finite, from 0 to 1000 (a cost estimate must stay a
/// finite number however many snapshots it sums).
pub(super) fn price(var: &'static str, raw: &Option<String>, default: f64) -> Result<f64, ConfigError> {
    let Some(s) = present(raw) else {
        return Ok(default);
    };
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=1000.0).contains(&v) => Ok(v),
        _ => Err(err(
            var,
            format!("{} is not a non-negative price up to 1000", shown(s)),
            format!("Set it to the snapshot price per GB-month in USD, e.g. {default}."),
        )),
    }
}

/// `true`/`1`/`yes` or `false`/`0`/`no`, any case.
pub(super) fn boolean(var: &'static str, raw: &Option<String>, default: bool) -> Result<bool, ConfigError> {
    let Some(s) = present(raw) else {
        return Ok(default);
    };
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(err(var, format!("{} is not a boolean", shown(s)), "Set it to true or false.")),
    }
}

/// A Glue database or Athena workgroup name: letters, digits, '_', '-' and '.', up to
/// `max` characters. The alert quotes it in a query hint, so it must not carry a
/// newline or markup into the message.
pub(super) fn athena_name(
    var: &'static str,
    raw: &Option<String>,
    default: &str,
    max: usize,
) -> Result<String, ConfigError> {
    let Some(s) = present(raw) else {
        return Ok(default.to_string());
    };
    if s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) {
        Ok(s.to_string())
    } else {
        Err(err(
            var,
            format!("{} is not a name of up to {max} letters, digits, '_', '-' or '.'", shown(s)),
            format!("Set it to the name as Athena shows it, or unset it for {default}."),
        ))
    }
}
