//! Plain data the pure core works on. The AWS edges convert SDK types into these, so
//! nothing in `core` depends on the SDK and every rule is testable with literals.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub type Tags = BTreeMap<String, String>;

/// An AMI as DescribeImages tells it, reduced to what selection, archive and alerts need.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ami {
    pub image_id: String,
    pub name: String,
    pub description: Option<String>,
    pub creation_date: Option<DateTime<Utc>>,
    /// EC2 image state (`available`, `pending`, `failed`, `deregistered`, …).
    pub state: String,
    pub architecture: Option<String>,
    pub platform_details: Option<String>,
    pub usage_operation: Option<String>,
    pub tags: Tags,
    pub billing_products: Vec<String>,
    pub product_codes: Vec<ProductCode>,
    pub block_devices: Vec<BlockDevice>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProductCode {
    pub product_code_id: String,
    pub product_code_type: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockDevice {
    pub device_name: String,
    pub snapshot_id: Option<String>,
    pub volume_size_gib: Option<i64>,
}

impl Ami {
    /// Sum of the EBS snapshot volume sizes: an upper bound of what the AMI's
    /// snapshots are billed for (snapshots are billed incrementally).
    pub fn snapshot_size_gib_total(&self) -> i64 {
        self.block_devices.iter().filter(|d| d.snapshot_id.is_some()).filter_map(|d| d.volume_size_gib).sum()
    }

    /// Billing products as far as DescribeImages shows them: it never returns
    /// RegisterImage's `bp-` codes, so their visible trace is a usage operation other
    /// than plain `RunInstances`.
    pub fn billing_products_of(usage_operation: Option<&str>) -> Vec<String> {
        usage_operation.into_iter().filter(|u| *u != "RunInstances").map(str::to_string).collect()
    }

    /// A billing product or a product code: alerts and verdicts flag such an AMI, since
    /// one re-registered from its snapshots loses them.
    pub fn has_billing_codes(&self) -> bool {
        !self.billing_products.is_empty() || !self.product_codes.is_empty()
    }
}

/// The state of a usage report. The API returns a plain string; anything unknown is
/// kept verbatim so that a new state is surfaced instead of being mistaken for one we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportState {
    Pending,
    Available,
    Error,
    Other(String),
}

impl ReportState {
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => Self::Pending,
            "available" => Self::Available,
            "error" => Self::Error,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Available => "available",
            Self::Error => "error",
            Self::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceTypeSpec {
    pub resource_type: String,
    pub options: Vec<ResourceTypeOption>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceTypeOption {
    pub name: String,
    pub values: Vec<String>,
}

/// One image usage report as DescribeImageUsageReports returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageReport {
    pub report_id: String,
    pub image_id: String,
    pub state: ReportState,
    pub state_reason: Option<String>,
    pub resource_types: Vec<ResourceTypeSpec>,
    pub account_ids: Vec<String>,
    pub creation_time: DateTime<Utc>,
    pub expiration_time: DateTime<Utc>,
    pub tags: Tags,
}

/// One row of DescribeImageUsageReportEntries: one consumer account and resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEntry {
    pub report_id: String,
    pub image_id: String,
    pub account_id: String,
    pub resource_type: String,
    pub usage_count: i64,
    pub report_creation_time: DateTime<Utc>,
}

pub const RESOURCE_TYPE_INSTANCE: &str = "ec2:Instance";
pub const RESOURCE_TYPE_LAUNCH_TEMPLATE: &str = "ec2:LaunchTemplate";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_usage_operation_other_than_run_instances_is_a_billing_product() {
        assert_eq!(Ami::billing_products_of(Some("RunInstances:0002")), vec!["RunInstances:0002"]);
        assert!(Ami::billing_products_of(Some("RunInstances")).is_empty());
        assert!(Ami::billing_products_of(None).is_empty());
    }

    #[test]
    fn billing_products_or_product_codes_flag_an_ami() {
        let plain = Ami::default();
        assert!(!plain.has_billing_codes());
        assert!(Ami { billing_products: vec!["RunInstances:0010".into()], ..Ami::default() }.has_billing_codes());
        let marketplace = ProductCode { product_code_id: "pc".into(), product_code_type: "marketplace".into() };
        assert!(Ami { product_codes: vec![marketplace], ..Ami::default() }.has_billing_codes());
    }
}
