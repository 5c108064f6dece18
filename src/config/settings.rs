//! The validated configuration: every variable checked and typed before any AWS call.

use super::digest::DigestSettings;
use super::error::{ConfigError, err, integer, present, rate, shown};
use super::lists::{
    exclude_tag, group_tag, parse_account_ids, parse_member_probes, parse_probe_owners, parse_resource_types,
    parse_tag_filters, route_tag,
};
use super::raw::RawConfig;
use super::values::{
    athena_name, boolean, check_topic_region, is_region, partition_of, price, validate_bucket, validate_prefix,
    validate_region, validate_topic_arn,
};
use crate::core::create::TagFilters;
use crate::core::model::REPORT_RESOURCE_TYPES;
use crate::core::retire::RetireSettings;
use crate::core::verdict::VerdictSettings;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub archive_bucket: Option<String>,
    /// `None` = the function's own Region (the S3 client then shares EC2's Region).
    pub archive_bucket_region: Option<String>,
    pub archive_prefix: String,
    pub alert_topic_arn: Option<String>,
    pub tag_filters: TagFilters,
    pub launch_template_version_depth: u32,
    pub report_account_ids: Vec<String>,
    /// The resource types CreateImageUsageReport is asked for (see `REPORT_RESOURCE_TYPES`).
    pub report_resource_types: Vec<String>,
    pub pending_alert_hours: u32,
    pub expiry_warning_days: u32,
    pub snapshot_gb_month_usd: f64,
    pub verdict: VerdictSettings,
    pub create_concurrency: usize,
    pub collect_concurrency: usize,
    pub s3_force_path_style: bool,
    pub athena_database: String,
    pub athena_workgroup: String,
    pub ec2_rates: Ec2Rates,
    /// `PROBE_OWNER_ACCOUNT_IDS`: whose shared AMIs the `probe` phase asks about.
    pub probe_owner_account_ids: Vec<String>,
    /// `REQUIRE_MEMBER_PROBES`: members whose fresh probe facts the verdicts need.
    pub require_member_probes: Vec<String>,
    /// `RETIRE_*`: the retirement pipeline (`core::retire`).
    pub retire: RetireSettings,
    /// The weekly digest (`DIGEST_RESERVATIONS`, `RI_UTILIZATION_ALERT_PERCENT`,
    /// `DIGEST_LIST_LIMIT`).
    pub digest: DigestSettings,
    /// `ROUTE_TAG`: the AMI tag naming its team; set, each team gets its own message.
    pub route_tag: Option<String>,
}

/// One EC2 token bucket: refill rate and capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

/// The account's two EC2 request buckets, which the client paces itself to (see
/// `aws::rate`). Defaults are AWS's documented values; accounts with raised limits set
/// their own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ec2Rates {
    pub mutating: Rate,
    pub non_mutating: Rate,
}

impl Default for Ec2Rates {
    fn default() -> Self {
        Self { mutating: Rate { per_second: 5.0, burst: 50 }, non_mutating: Rate { per_second: 20.0, burst: 100 } }
    }
}

pub const DEFAULT_PREFIX: &str = "ami-usage";

impl RawConfig {
    pub fn validate(&self) -> Result<Config, ConfigError> {
        let archive_bucket = present(&self.archive_bucket).map(str::to_string);
        if let Some(b) = &archive_bucket {
            validate_bucket(b)?;
        }
        let archive_bucket_region = present(&self.archive_bucket_region).map(validate_region).transpose()?;
        let archive_prefix = match present(&self.archive_prefix) {
            None => DEFAULT_PREFIX.to_string(),
            Some(p) => validate_prefix(p)?,
        };
        let alert_topic_arn = present(&self.alert_topic_arn).map(str::to_string);
        if let Some(arn) = &alert_topic_arn {
            validate_topic_arn(arn)?;
        }
        let tag_filters = match present(&self.ami_tag_filters) {
            None => TagFilters::default(),
            Some(s) => parse_tag_filters(s)?,
        };
        Ok(Config {
            archive_bucket,
            archive_bucket_region,
            archive_prefix,
            alert_topic_arn,
            tag_filters,
            launch_template_version_depth: integer(
                "LAUNCH_TEMPLATE_VERSION_DEPTH",
                &self.launch_template_version_depth,
                20,
                1,
                10_000,
            )?,
            report_account_ids: match present(&self.report_account_ids) {
                None => Vec::new(),
                Some(s) => parse_account_ids(s)?,
            },
            report_resource_types: match present(&self.report_resource_types) {
                None => REPORT_RESOURCE_TYPES.iter().map(|t| t.to_string()).collect(),
                Some(s) => parse_resource_types(s)?,
            },
            pending_alert_hours: integer("PENDING_ALERT_HOURS", &self.pending_alert_hours, 24, 1, 24 * 30)?,
            expiry_warning_days: integer("EXPIRY_WARNING_DAYS", &self.expiry_warning_days, 7, 1, 29)?,
            snapshot_gb_month_usd: price("SNAPSHOT_GB_MONTH_USD", &self.snapshot_gb_month_usd, 0.05)?,
            verdict: self.verdict_settings()?,
            create_concurrency: integer("CREATE_CONCURRENCY", &self.create_concurrency, 8, 1, 64)?,
            collect_concurrency: integer("COLLECT_CONCURRENCY", &self.collect_concurrency, 4, 1, 64)?,
            s3_force_path_style: boolean("S3_FORCE_PATH_STYLE", &self.s3_force_path_style, false)?,
            athena_database: athena_name("ATHENA_DATABASE", &self.athena_database, "ami_usage", 255)?,
            athena_workgroup: athena_name("ATHENA_WORKGROUP", &self.athena_workgroup, "primary", 128)?,
            ec2_rates: self.ec2_rates()?,
            probe_owner_account_ids: present(&self.probe_owner_account_ids)
                .map(parse_probe_owners)
                .transpose()?
                .unwrap_or_default(),
            require_member_probes: present(&self.require_member_probes)
                .map(|s| parse_member_probes(s, present(&self.archive_prefix).unwrap_or(DEFAULT_PREFIX)))
                .transpose()?
                .unwrap_or_default(),
            retire: self.retire.validate()?,
            digest: self.digest_settings()?,
            route_tag: present(&self.notify.route_tag).map(route_tag).transpose()?,
        })
    }

    fn ec2_rates(&self) -> Result<Ec2Rates, ConfigError> {
        let d = Ec2Rates::default();
        Ok(Ec2Rates {
            mutating: Rate {
                per_second: rate("EC2_MUTATING_RATE", &self.ec2_mutating_rate, d.mutating.per_second)?,
                burst: integer("EC2_MUTATING_BURST", &self.ec2_mutating_burst, d.mutating.burst, 1, 100_000)?,
            },
            non_mutating: Rate {
                per_second: rate("EC2_DESCRIBE_RATE", &self.ec2_describe_rate, d.non_mutating.per_second)?,
                burst: integer("EC2_DESCRIBE_BURST", &self.ec2_describe_burst, d.non_mutating.burst, 1, 100_000)?,
            },
        })
    }
}

impl RawConfig {
    /// The verdict rules (see `core::verdict`); defaults are `VerdictSettings::default()`.
    fn verdict_settings(&self) -> Result<VerdictSettings, ConfigError> {
        let d = VerdictSettings::default();
        let unused_min_days = integer("UNUSED_MIN_DAYS", &self.unused_min_days, d.unused_min_days, 1, 365)?;
        let min_reports = integer("MIN_REPORTS", &self.min_reports, d.min_reports, 1, 365)?;
        if min_reports > unused_min_days {
            return Err(err(
                "MIN_REPORTS",
                format!("{min_reports} reports cannot fit in UNUSED_MIN_DAYS={unused_min_days} days of daily reports"),
                "Set it to at most UNUSED_MIN_DAYS (create makes one report per AMI per day).",
            ));
        }
        let exclude_tag = match present(&self.exclude_tag) {
            None => d.exclude_tag,
            Some(s) => exclude_tag(s)?,
        };
        Ok(VerdictSettings {
            unused_min_days,
            min_reports,
            min_age_days: integer("MIN_AGE_DAYS", &self.min_age_days, d.min_age_days, 0, 3650)?,
            exclude_tag,
            group_tag: present(&self.group_tag).map(group_tag).transpose()?,
            keep_newest: integer("KEEP_NEWEST", &self.keep_newest, d.keep_newest, 0, 100)?,
            max_candidate_percent: integer(
                "MAX_CANDIDATE_PERCENT",
                &self.max_candidate_percent,
                d.max_candidate_percent,
                1,
                100,
            )?,
            max_evidence_age_hours: integer(
                "MAX_EVIDENCE_AGE_HOURS",
                &self.max_evidence_age_hours,
                d.max_evidence_age_hours,
                24,
                720,
            )?,
        })
    }
}

impl Config {
    /// Checks what must agree with the function's Region (from the AWS configuration,
    /// known before any AWS call): it is a Region code, the alert topic is in that
    /// Region, and the archive bucket's Region is in the same partition. The topic's
    /// account is checked for its shape only; comparing it with the caller's account
    /// would take an STS call.
    pub fn check_function_region(&self, region: &str) -> Result<(), ConfigError> {
        if !is_region(region) {
            // The SDK's variable, not ours: it has no flag.
            return Err(ConfigError {
                var: "AWS_REGION",
                flag: None,
                problem: format!("{} is not an AWS Region code", shown(region)),
                fix: "Set AWS_REGION (or the profile's region) to the function's Region, e.g. eu-west-1.".into(),
            });
        }
        if let Some(arn) = &self.alert_topic_arn {
            check_topic_region(arn, region)?;
        }
        match &self.archive_bucket_region {
            Some(bucket_region) if partition_of(bucket_region) != partition_of(region) => Err(err(
                "ARCHIVE_BUCKET_REGION",
                format!(
                    "{bucket_region} is in partition {}, but the function runs in {region} ({})",
                    partition_of(bucket_region),
                    partition_of(region)
                ),
                "Use a bucket in the function's partition, or unset it when the bucket is in the function's Region.",
            )),
            _ => Ok(()),
        }
    }

    /// The owners whose shared AMIs the probe asks about: the probe has nothing to do
    /// without them, so it refuses to start (exit 2) rather than write empty facts.
    pub fn require_probe_owners(&self) -> Result<&[String], ConfigError> {
        if self.probe_owner_account_ids.is_empty() {
            return Err(err(
                "PROBE_OWNER_ACCOUNT_IDS",
                "is not set, and probe needs it to know whose shared AMIs to look for",
                "Set it to the AMI owner account ids, comma-separated, e.g. 123456789012,210987654321.",
            ));
        }
        Ok(&self.probe_owner_account_ids)
    }

    /// The bucket, for phases that write the archive.
    pub fn require_bucket(&self) -> Result<&str, ConfigError> {
        self.archive_bucket.as_deref().ok_or_else(|| {
            err(
                "ARCHIVE_BUCKET",
                "is not set, and collect, probe and digest need it (they read and write the archive)",
                "Set it to the name of the archive bucket (the stack output ArchiveBucketName).",
            )
        })
    }
}
