//! Every configuration variable and its flag, as clap defines them: the one definition
//! the environment, the command line and every error message read (an error names the
//! flag of its variable from here, never from a second, hand-kept copy).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use clap::Args;

/// Raw, unvalidated settings. Field names mirror the environment variables.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RawConfig {
    /// S3 bucket of the archive (required by collect).
    #[arg(long, global = true, env = "ARCHIVE_BUCKET")]
    pub archive_bucket: Option<String>,
    /// Region of the archive bucket; unset = the function's own Region.
    #[arg(long, global = true, env = "ARCHIVE_BUCKET_REGION")]
    pub archive_bucket_region: Option<String>,
    /// Key prefix of the archive inside the bucket.
    #[arg(long, global = true, env = "ARCHIVE_PREFIX")]
    pub archive_prefix: Option<String>,
    /// SNS topic that receives alerts; unset = alerts are only printed and logged.
    #[arg(long, global = true, env = "ALERT_TOPIC_ARN")]
    pub alert_topic_arn: Option<String>,
    /// `Key=Value[,Key=Value…]`, all must match; `Key=v1|v2` matches either value.
    #[arg(long, global = true, env = "AMI_TAG_FILTERS")]
    pub ami_tag_filters: Option<String>,
    /// Launch template versions checked per template (1–10000).
    #[arg(long, global = true, env = "LAUNCH_TEMPLATE_VERSION_DEPTH")]
    pub launch_template_version_depth: Option<String>,
    /// Up to 200 comma-separated 12-digit account ids; unset = all accounts.
    #[arg(long, global = true, env = "REPORT_ACCOUNT_IDS")]
    pub report_account_ids: Option<String>,
    /// A report still pending after this many hours is surfaced in the alert.
    #[arg(long, global = true, env = "PENDING_ALERT_HOURS")]
    pub pending_alert_hours: Option<String>,
    /// A report not archived this many days before EC2 deletes it is surfaced.
    #[arg(long, global = true, env = "EXPIRY_WARNING_DAYS")]
    pub expiry_warning_days: Option<String>,
    /// Snapshot storage price used for the (upper-bound) cost estimate.
    #[arg(long, global = true, env = "SNAPSHOT_GB_MONTH_USD")]
    pub snapshot_gb_month_usd: Option<String>,
    /// Days of zero-usage reports needed before an AMI is a candidate (1–365).
    #[arg(long, global = true, env = "UNUSED_MIN_DAYS")]
    pub unused_min_days: Option<String>,
    /// Zero-usage reports that must span that window (1–365).
    #[arg(long, global = true, env = "MIN_REPORTS")]
    pub min_reports: Option<String>,
    /// AMIs younger than this many days are never candidates (0–3650).
    #[arg(long, global = true, env = "MIN_AGE_DAYS")]
    pub min_age_days: Option<String>,
    /// `Key` or `Key=Value`: AMIs carrying it are never candidates.
    #[arg(long, global = true, env = "EXCLUDE_TAG")]
    pub exclude_tag: Option<String>,
    /// Tag key grouping AMIs into families for KEEP_NEWEST; unset = no groups.
    #[arg(long, global = true, env = "GROUP_TAG")]
    pub group_tag: Option<String>,
    /// The newest AMIs of each group that are never candidates (0–100).
    #[arg(long, global = true, env = "KEEP_NEWEST")]
    pub keep_newest: Option<String>,
    /// Above this share of the selected AMIs, candidates are withheld (1–100).
    #[arg(long, global = true, env = "MAX_CANDIDATE_PERCENT")]
    pub max_candidate_percent: Option<String>,
    /// How many EC2 create calls run at once.
    #[arg(long, global = true, env = "CREATE_CONCURRENCY")]
    pub create_concurrency: Option<String>,
    /// How many reports are archived at once.
    #[arg(long, global = true, env = "COLLECT_CONCURRENCY")]
    pub collect_concurrency: Option<String>,
    /// Use path-style S3 URLs (needed by local emulators).
    #[arg(long, global = true, env = "S3_FORCE_PATH_STYLE")]
    pub s3_force_path_style: Option<String>,
    /// Glue database named in the alert's Athena hint.
    #[arg(long, global = true, env = "ATHENA_DATABASE")]
    pub athena_database: Option<String>,
    /// Athena workgroup named in the alert's Athena hint.
    #[arg(long, global = true, env = "ATHENA_WORKGROUP")]
    pub athena_workgroup: Option<String>,
    /// Refill rate (tokens/s) of the account's EC2 bucket for mutating calls (Create*).
    #[arg(long, global = true, env = "EC2_MUTATING_RATE")]
    pub ec2_mutating_rate: Option<String>,
    /// Capacity of the account's EC2 bucket for mutating calls.
    #[arg(long, global = true, env = "EC2_MUTATING_BURST")]
    pub ec2_mutating_burst: Option<String>,
    /// Refill rate (tokens/s) of the account's EC2 bucket for Describe* calls.
    #[arg(long, global = true, env = "EC2_DESCRIBE_RATE")]
    pub ec2_describe_rate: Option<String>,
    /// Capacity of the account's EC2 bucket for Describe* calls.
    #[arg(long, global = true, env = "EC2_DESCRIBE_BURST")]
    pub ec2_describe_burst: Option<String>,
    /// A candidate needs a zero-usage report created within this many hours (24–720).
    #[arg(long, global = true, env = "MAX_EVIDENCE_AGE_HOURS")]
    pub max_evidence_age_hours: Option<String>,
    /// Resource types each usage report covers (comma-separated); unset = all four.
    #[arg(long, global = true, env = "REPORT_RESOURCE_TYPES")]
    pub report_resource_types: Option<String>,
    /// probe: the accounts whose AMIs shared with this account are probed (comma-separated).
    #[arg(long, global = true, env = "PROBE_OWNER_ACCOUNT_IDS")]
    pub probe_owner_account_ids: Option<String>,
    /// collect: member accounts whose daily probe facts every verdict needs (comma-separated).
    #[arg(long, global = true, env = "REQUIRE_MEMBER_PROBES")]
    pub require_member_probes: Option<String>,
    #[command(flatten)]
    pub retire: RawRetire,
    /// The digest's and the routing's variables.
    #[command(flatten)]
    pub notify: RawNotifyConfig,
}

/// Raw `RETIRE_*` values, flattened into [`RawConfig`].
#[derive(Debug, Clone, Default, Args)]
pub struct RawRetire {
    /// off (default) | dry-run (decide, archive and announce "would …", change nothing) | enforce.
    #[arg(long, global = true, env = "RETIRE_MODE")]
    pub retire_mode: Option<String>,
    /// Days an AMI is a candidate before it is deprecated (0–365; 0 = at once).
    #[arg(long, global = true, env = "RETIRE_DEPRECATE_AFTER_DAYS")]
    pub retire_deprecate_after_days: Option<String>,
    /// Days between deprecating an AMI and its deprecation time (0–365).
    #[arg(long, global = true, env = "RETIRE_DEPRECATION_NOTICE_DAYS")]
    pub retire_deprecation_notice_days: Option<String>,
    /// Days an AMI stays deprecated (still a candidate) before it is disabled (1–365).
    #[arg(long, global = true, env = "RETIRE_DISABLE_AFTER_DAYS")]
    pub retire_disable_after_days: Option<String>,
    /// Days an AMI stays disabled (still a candidate) before it is deregistered (1–365).
    #[arg(long, global = true, env = "RETIRE_DEREGISTER_AFTER_DAYS")]
    pub retire_deregister_after_days: Option<String>,
    /// Deregister only AMIs a Recycle Bin rule covers (true, default) or any (false).
    #[arg(long, global = true, env = "RETIRE_REQUIRE_RECYCLE_BIN")]
    pub retire_require_recycle_bin: Option<String>,
    /// Delete the AMI's snapshots with it (DeleteAssociatedSnapshots; default false).
    #[arg(long, global = true, env = "RETIRE_DELETE_SNAPSHOTS")]
    pub retire_delete_snapshots: Option<String>,
    /// The shortest Recycle Bin retention a deregistration may rely on, in days (1–365; default 30).
    #[arg(long, global = true, env = "RETIRE_MIN_RECYCLE_BIN_DAYS")]
    pub retire_min_recycle_bin_days: Option<String>,
    /// Forward steps (deprecate, disable, deregister) per run at most (1–1000); undos are never held back.
    #[arg(long, global = true, env = "RETIRE_MAX_ACTIONS_PER_RUN")]
    pub retire_max_actions_per_run: Option<String>,
}

/// Raw values, part of [`RawConfig`] (flattened: the same flags and variables).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RawNotifyConfig {
    /// digest: `on` adds the Reserved Instance part (Cost Explorer); default `off`.
    #[arg(long, global = true, env = "DIGEST_RESERVATIONS")]
    pub digest_reservations: Option<String>,
    /// digest: reservations used less than this percentage are listed first (1–100).
    #[arg(long, global = true, env = "RI_UTILIZATION_ALERT_PERCENT")]
    pub ri_utilization_alert_percent: Option<String>,
    /// digest: items per list before "… and N more" (1–1000).
    #[arg(long, global = true, env = "DIGEST_LIST_LIMIT")]
    pub digest_list_limit: Option<String>,
    /// Tag key whose value names an AMI's team: one message per team (routing).
    #[arg(long, global = true, env = "ROUTE_TAG")]
    pub route_tag: Option<String>,
}

/// Environment variable → long flag, as clap defines them on [`RawConfig`] (never a
/// second, hand-kept copy that could drift).
pub(super) fn flags() -> &'static BTreeMap<String, String> {
    static FLAGS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    FLAGS.get_or_init(|| {
        use clap::Args;
        RawConfig::augment_args(clap::Command::new("config"))
            .get_arguments()
            .filter_map(|a| Some((a.get_env()?.to_str()?.to_string(), a.get_long()?.to_string())))
            .collect()
    })
}

pub(super) fn flag_of(var: &str) -> Option<&'static str> {
    flags().get(var).map(String::as_str)
}
