//! Plain data the pure core works on. The AWS edges convert SDK types into these, so
//! nothing in `core` depends on the SDK and every rule is testable with literals.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub type Tags = BTreeMap<String, String>;

/// An AMI as DescribeImages tells it, reduced to what selection, archive and alerts need.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ami {
    pub image_id: String,
    /// `OwnerId`: the retirement pipeline acts only on AMIs the run's account owns.
    pub owner_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub creation_date: Option<DateTime<Utc>>,
    /// EC2 image state (`available`, `pending`, `failed`, `deregistered`, `disabled`, …).
    pub state: String,
    pub architecture: Option<String>,
    pub platform_details: Option<String>,
    pub usage_operation: Option<String>,
    pub tags: Tags,
    pub billing_products: Vec<String>,
    pub product_codes: Vec<ProductCode>,
    pub block_devices: Vec<BlockDevice>,
    /// What DescribeImages already knows about the AMI's life cycle: recorded in the
    /// verdict row and the alert, so an operator sees a protected or deprecated AMI as such.
    pub lifecycle: Lifecycle,
}

/// DescribeImages' life-cycle fields (owner's view).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lifecycle {
    /// `LastLaunchedTime` (published by AWS with up to 24 h delay); `None` when the
    /// answer lacks it (never launched, or not returned): then it is asked separately.
    pub last_launched: Option<DateTime<Utc>>,
    /// `DeregistrationProtection` as EC2 words it (`disabled`, `enabled`,
    /// `enabled-with-cooldown`, or a date for a cooldown).
    pub deregistration_protection: Option<String>,
    pub deprecation_time: Option<DateTime<Utc>>,
    pub image_allowed: Option<bool>,
    pub source_image_id: Option<String>,
}

impl Lifecycle {
    /// DeregisterImage fails while protection is on (and for 24 h after it is turned
    /// off with a cooldown): an AMI so protected is never announced without saying so.
    pub fn deregistration_protected(&self) -> bool {
        self.deregistration_protection.as_deref().is_some_and(|p| !p.is_empty() && p != "disabled")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProductCode {
    pub product_code_id: String,
    pub product_code_type: String,
}

/// Who may launch an AMI: DescribeImageAttribute `launchPermission` (owner only).
/// DisableImage removes all of them and EnableImage does not give them back, so the
/// retirement pipeline records them before disabling and restores them on undo; the
/// member rules read them to know which members can see an AMI.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LaunchPermissions {
    /// Account ids (`UserId`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Organization ARNs (`OrganizationArn`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<String>,
    /// Organizational unit ARNs (`OrganizationalUnitArn`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizational_units: Vec<String>,
    /// `Group=all`: public.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
}

impl LaunchPermissions {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.organizations.is_empty()
            && self.organizational_units.is_empty()
            && !self.public
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockDevice {
    pub device_name: String,
    pub snapshot_id: Option<String>,
    pub volume_size_gib: Option<i64>,
}

impl Ami {
    /// Sum of the EBS snapshot volume sizes: an upper bound of what the AMI's
    /// snapshots are billed for (snapshots are billed incrementally). The sizes are
    /// DescribeImages' answer: a sum past `i64` stops at its bound (it is an upper bound
    /// already) rather than panicking or wrapping.
    pub fn snapshot_size_gib_total(&self) -> i64 {
        self.block_devices
            .iter()
            .filter(|d| d.snapshot_id.is_some())
            .filter_map(|d| d.volume_size_gib)
            .fold(0, i64::saturating_add)
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

/// A report EC2 listed but described unusably (a member missing, a timestamp out of
/// range): quarantined, never archived as if understood, surfaced, and retried by the
/// next run, while every other report goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct MalformedReport {
    pub report_id: Option<String>,
    pub image_id: Option<String>,
    pub problem: String,
}

/// A multipart upload in progress under the archive prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<DateTime<Utc>>,
}

/// Our reports as DescribeImageUsageReports listed them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportListing {
    pub reports: Vec<UsageReport>,
    pub malformed: Vec<MalformedReport>,
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
pub const RESOURCE_TYPE_IMAGE_RECIPE: &str = "imagebuilder:ImageRecipe";
pub const RESOURCE_TYPE_CONTAINER_RECIPE: &str = "imagebuilder:ContainerRecipe";

/// The resource types CreateImageUsageReport accepts, in a fixed order (the state's
/// per-report coverage bit set depends on it: append, never reorder).
pub const REPORT_RESOURCE_TYPES: [&str; 4] =
    [RESOURCE_TYPE_INSTANCE, RESOURCE_TYPE_LAUNCH_TEMPLATE, RESOURCE_TYPE_IMAGE_RECIPE, RESOURCE_TYPE_CONTAINER_RECIPE];

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
