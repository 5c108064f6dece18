//! The `verdicts` archive dataset (a **contract**: the Glue table `verdicts` and users'
//! queries read it). One immutable object per collect run that has verdicts to record:
//!
//! ```text
//! <prefix>/verdicts/region=<region>/report_date=<YYYY-MM-DD>/run-<evaluated_at>.json.gz
//! ```
//!
//! `report_date` is the run's UTC date. Collect runs hourly and objects are written
//! once (`If-None-Match: *`), so each run gets its own object named by its clock; the
//! latest verdict of an AMI is the row with the greatest `evaluated_at`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{Verdict, VerdictSettings};
use crate::archive::{ArchiveKeys, Provenance, SCHEMA_VERSION};
use crate::model::Ami;
use crate::timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRow {
    pub schema_version: u32,
    #[serde(with = "timestamp")]
    pub evaluated_at: DateTime<Utc>,
    pub owner_account_id: String,
    pub region: String,
    pub image_id: String,
    pub name: String,
    /// `candidate` | `in_use` | `unknown` | `excluded`.
    pub verdict: String,
    pub reasons: Vec<String>,
    #[serde(with = "timestamp::option")]
    pub image_creation_date: Option<DateTime<Utc>>,
    pub age_days: Option<i64>,
    #[serde(with = "timestamp::option")]
    pub unused_since: Option<DateTime<Utc>>,
    pub days_unused: Option<i64>,
    pub reports_in_window: i64,
    pub zero_usage_reports: i64,
    pub latest_report_id: Option<String>,
    pub latest_total_usage: Option<i64>,
    pub owner_references: Vec<String>,
    #[serde(with = "timestamp::option")]
    pub last_launched_time: Option<DateTime<Utc>>,
    pub group_value: Option<String>,
    pub snapshot_size_gib_total: i64,
    /// Sizes × the configured price: an upper bound (snapshots are billed incrementally).
    pub estimated_snapshot_usd_month: f64,
    pub has_billing_codes: bool,
    pub unused_min_days: i64,
    pub min_reports: i64,
    /// Reference kinds this verdict checked (`report:<type>`, `owner:<kind>`) and those
    /// it could not (`evidence::coverage`): what an operator reads before acting.
    #[serde(default)]
    pub checked: Vec<String>,
    #[serde(default)]
    pub not_checked: Vec<String>,
    #[serde(with = "timestamp::option", default)]
    pub newest_zero_usage_report: Option<DateTime<Utc>>,
    pub max_evidence_age_hours: Option<i64>,
    /// The latest recorded owner-account check in the window that found a reference.
    #[serde(with = "timestamp::option", default)]
    pub owner_last_used: Option<DateTime<Utc>>,
    #[serde(default)]
    pub deregistration_protection: Option<String>,
    #[serde(with = "timestamp::option", default)]
    pub deprecation_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub image_allowed: Option<bool>,
    #[serde(default)]
    pub source_image_id: Option<String>,
    /// ARNs of member-account resources referencing the AMI, from the required
    /// members' probes (`REQUIRE_MEMBER_PROBES`).
    #[serde(default)]
    pub member_references: Vec<String>,
    /// ARNs of member resources a required member's probe found earlier in the window,
    /// no longer in its fresh facts (`used_in_member_account_in_window`).
    #[serde(default)]
    pub member_references_in_window: Vec<String>,
    /// When such a member resource was last seen referencing the AMI.
    #[serde(with = "timestamp::option", default)]
    pub member_last_used: Option<DateTime<Utc>>,
}

/// The newest `available` report collect recorded for the AMI (its state's memory).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatestReport {
    pub report_id: Option<String>,
    pub total_usage: Option<i64>,
}

pub struct RowContext<'a> {
    pub provenance: &'a Provenance,
    pub settings: &'a VerdictSettings,
    pub snapshot_gb_month_usd: f64,
}

pub fn verdict_row(v: &Verdict, ami: &Ami, latest: &LatestReport, ctx: &RowContext) -> VerdictRow {
    let now = ctx.provenance.collected_at;
    let gib = ami.snapshot_size_gib_total();
    VerdictRow {
        schema_version: SCHEMA_VERSION,
        evaluated_at: now,
        owner_account_id: ctx.provenance.owner_account_id.clone(),
        region: ctx.provenance.region.clone(),
        image_id: v.image_id.clone(),
        name: ami.name.clone(),
        verdict: serde_json::to_value(v.kind).ok().and_then(|k| k.as_str().map(str::to_string)).unwrap_or_default(),
        reasons: v.reasons.iter().map(|r| r.code()).collect(),
        image_creation_date: ami.creation_date,
        age_days: v.age_days,
        unused_since: v.unused_since,
        days_unused: v.unused_since.map(|s| (now - s).num_days().max(0)),
        reports_in_window: v.reports_in_window as i64,
        zero_usage_reports: v.zero_usage_reports as i64,
        latest_report_id: latest.report_id.clone(),
        latest_total_usage: latest.total_usage,
        owner_references: v.owner_references.clone(),
        last_launched_time: v.last_launched,
        group_value: v.group.clone(),
        snapshot_size_gib_total: gib,
        estimated_snapshot_usd_month: (gib as f64 * ctx.snapshot_gb_month_usd * 100.0).round() / 100.0,
        has_billing_codes: ami.has_billing_codes(),
        unused_min_days: i64::from(ctx.settings.unused_min_days),
        min_reports: i64::from(ctx.settings.min_reports),
        checked: v.checked.clone(),
        not_checked: v.not_checked.clone(),
        newest_zero_usage_report: v.newest_zero_report,
        max_evidence_age_hours: Some(i64::from(ctx.settings.max_evidence_age_hours)),
        owner_last_used: v.owner_last_used,
        deregistration_protection: ami.lifecycle.deregistration_protection.clone(),
        deprecation_time: ami.lifecycle.deprecation_time,
        image_allowed: ami.lifecycle.image_allowed,
        source_image_id: ami.lifecycle.source_image_id.clone(),
        member_references: v.member_references.clone(),
        member_references_in_window: v.member_references_in_window.clone(),
        member_last_used: v.member_last_used,
    }
}

pub fn verdicts_partition(keys: &ArchiveKeys, region: &str, at: DateTime<Utc>) -> String {
    format!("{}/verdicts/region={region}/report_date={}/", keys.prefix, at.format("%Y-%m-%d"))
}

pub fn verdicts_object(keys: &ArchiveKeys, region: &str, at: DateTime<Utc>) -> String {
    format!("{}run-{}.json.gz", verdicts_partition(keys, region, at), at.format("%Y%m%dT%H%M%S%.3fZ"))
}

#[cfg(test)]
mod tests {
    use super::super::model::{Kind, Reason};
    use super::*;
    use crate::fixtures::t;
    use crate::model::BlockDevice;

    #[test]
    fn row_has_contract_keys_codes_and_cost() {
        let prov = Provenance {
            owner_account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            collected_at: t("2026-12-01T10:20:30.456Z"),
        };
        let ami = Ami {
            image_id: "ami-1".into(),
            name: "golden".into(),
            creation_date: Some(t("2026-06-01T00:00:00Z")),
            product_codes: vec![],
            block_devices: vec![BlockDevice {
                device_name: "/dev/xvda".into(),
                snapshot_id: Some("snap-1".into()),
                volume_size_gib: Some(30),
            }],
            ..Default::default()
        };
        let v = Verdict {
            image_id: "ami-1".into(),
            kind: Kind::InUse,
            reasons: vec![Reason::UsedInOwnerAccount, Reason::LaunchedRecently],
            age_days: Some(183),
            unused_since: Some(t("2026-11-01T00:00:00Z")),
            reports_in_window: 30,
            zero_usage_reports: 30,
            owner_references: vec!["arn:aws:ec2:eu-west-1:123456789012:instance/i-1".into()],
            member_references: vec!["arn:aws:ssm:eu-west-1:111111111111:parameter/golden".into()],
            member_references_in_window: vec!["arn:aws:ssm:eu-west-1:111111111111:parameter/old".into()],
            member_last_used: Some(t("2026-11-25T06:00:00Z")),
            last_launched: Some(t("2026-11-30T00:00:00Z")),
            group: Some("al2023".into()),
            newest_zero_report: Some(t("2026-11-30T00:00:00Z")),
            owner_last_used: None,
            checked: vec!["report:ec2:Instance".into()],
            not_checked: vec!["member:ssm:Parameter".into()],
            deregistration_protected: false,
        };
        let settings = VerdictSettings::default();
        let ctx = RowContext { provenance: &prov, settings: &settings, snapshot_gb_month_usd: 0.05 };
        let latest = LatestReport { report_id: Some("amiur-1".into()), total_usage: Some(0) };
        let row = verdict_row(&v, &ami, &latest, &ctx);
        let j = serde_json::to_value(&row).unwrap();
        assert_eq!(j["verdict"], "in_use");
        assert_eq!(j["reasons"], serde_json::json!(["used_in_owner_account", "launched_recently"]));
        assert_eq!(j["evaluated_at"], "2026-12-01T10:20:30.456Z");
        assert_eq!(j["days_unused"], 30);
        assert_eq!(j["estimated_snapshot_usd_month"], 1.5);
        assert_eq!(j["latest_report_id"], "amiur-1");
        assert_eq!(j["has_billing_codes"], false);
        assert_eq!(j["checked"], serde_json::json!(["report:ec2:Instance"]));
        assert_eq!(j["not_checked"], serde_json::json!(["member:ssm:Parameter"]));
        assert_eq!(j["max_evidence_age_hours"], 48);
        assert_eq!(j["member_references"], serde_json::json!(["arn:aws:ssm:eu-west-1:111111111111:parameter/golden"]));
        assert_eq!(
            j["member_references_in_window"],
            serde_json::json!(["arn:aws:ssm:eu-west-1:111111111111:parameter/old"])
        );
        assert_eq!(j["member_last_used"], "2026-11-25T06:00:00.000Z");
        assert_eq!(serde_json::from_value::<VerdictRow>(j).unwrap(), row);
        let keys = ArchiveKeys { prefix: "ami-usage".into() };
        assert_eq!(
            verdicts_object(&keys, "eu-west-1", prov.collected_at),
            "ami-usage/verdicts/region=eu-west-1/report_date=2026-12-01/run-20261201T102030.456Z.json.gz"
        );
    }
}
