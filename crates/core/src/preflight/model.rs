//! The preflight's vocabulary (a **contract**: the `preflight` summary, its table and
//! the CLI's exit code carry it): what a check found, the configuration it checks
//! against, the permissions it asks EC2 about, and what AWS answered.

use serde::Serialize;

use crate::retire::RetireMode;

/// How a check came out. `Skip`: the configuration does not use what it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Skip,
    Ok,
    Warn,
    Fail,
}

impl Level {
    /// As the table shows it: what needs attention in capitals.
    pub fn label(self) -> &'static str {
        match self {
            Level::Skip => "skip",
            Level::Ok => "ok",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: an IAM action (`ec2:CreateImageUsageReport`) or a topic
    /// (`credentials`, `selection`, `bucket region`, …).
    pub check: String,
    pub result: Level,
    /// What AWS answered, in one line.
    pub detail: String,
    /// What to change; present on every `warn` and `fail`.
    pub fix: Option<String>,
}

impl Check {
    pub fn new(check: impl Into<String>, result: Level, detail: impl Into<String>) -> Self {
        Check { check: check.into(), result, detail: detail.into(), fix: None }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The whole preflight's verdict: its worst check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    /// The CLI's exit code: 0 all good, 3 warnings, 1 something will fail.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warn => 3,
            Status::Fail => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// What of the configuration decides which checks matter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PreflightSettings {
    pub retire_mode: RetireMode,
    pub require_recycle_bin: bool,
    pub delete_snapshots: bool,
    /// `RETIRE_MIN_RECYCLE_BIN_DAYS`.
    pub min_recycle_bin_days: u32,
    /// `DIGEST_RESERVATIONS=on`.
    pub digest_reservations: bool,
    /// `REQUIRE_MEMBER_PROBES`.
    pub require_member_probes: Vec<String>,
    pub bucket: Option<String>,
    pub topic: Option<String>,
}

/// An IAM permission the configured phases use, asked of AWS without effect: EC2 with
/// `DryRun=true`, Auto Scaling (which has no DryRun) with a one-item read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    /// With the configured resource types, accounts and period tag (tag on create).
    CreateImageUsageReport,
    DescribeImageUsageReports,
    DescribeImageUsageReportEntries,
    DescribeImageReferences,
    /// `lastLaunchedTime`, the owner check's attribute.
    DescribeImageAttribute,
    DescribeSpotFleetRequests,
    DescribeFleets,
    DescribeLaunchConfigurations,
    EnableImageDeprecation,
    DisableImageDeprecation,
    DisableImage,
    EnableImage,
    DeregisterImage,
    /// CreateTags of the stage tag on an AMI.
    TagStage,
    /// DeleteTags of the stage tag.
    UntagStage,
    /// `RETIRE_DELETE_SNAPSHOTS=true`: DeregisterImage deletes the AMI's snapshots.
    DeleteSnapshot,
    /// The undo of a disable: the recorded launch permissions added back.
    ModifyImageAttribute,
    /// The snapshots' tags, which Recycle Bin snapshot rules match (retirement on).
    DescribeSnapshots,
    /// When a deregistered AMI leaves the Recycle Bin (retirement on).
    ListImagesInRecycleBin,
}

impl Permission {
    /// The IAM action, as the table names the check.
    pub fn action(self) -> &'static str {
        match self {
            Permission::CreateImageUsageReport => "ec2:CreateImageUsageReport",
            Permission::DescribeImageUsageReports => "ec2:DescribeImageUsageReports",
            Permission::DescribeImageUsageReportEntries => "ec2:DescribeImageUsageReportEntries",
            Permission::DescribeImageReferences => "ec2:DescribeImageReferences",
            Permission::DescribeImageAttribute => "ec2:DescribeImageAttribute",
            Permission::DescribeSpotFleetRequests => "ec2:DescribeSpotFleetRequests",
            Permission::DescribeFleets => "ec2:DescribeFleets",
            Permission::DescribeLaunchConfigurations => "autoscaling:DescribeLaunchConfigurations",
            Permission::EnableImageDeprecation => "ec2:EnableImageDeprecation",
            Permission::DisableImageDeprecation => "ec2:DisableImageDeprecation",
            Permission::DisableImage => "ec2:DisableImage",
            Permission::EnableImage => "ec2:EnableImage",
            Permission::DeregisterImage => "ec2:DeregisterImage",
            Permission::TagStage => "ec2:CreateTags",
            Permission::UntagStage => "ec2:DeleteTags",
            Permission::DeleteSnapshot => "ec2:DeleteSnapshot",
            Permission::ModifyImageAttribute => "ec2:ModifyImageAttribute",
            Permission::DescribeSnapshots => "ec2:DescribeSnapshots",
            Permission::ListImagesInRecycleBin => "ec2:ListImagesInRecycleBin",
        }
    }

    /// The statement (`Sid`) of the function role (template.yaml, deploy/iam-policy*.json)
    /// that grants it.
    pub fn statement(self) -> &'static str {
        match self {
            Permission::CreateImageUsageReport => "CreateImageUsageReport and TagUsageReportOnCreateOnly",
            Permission::DescribeImageUsageReports
            | Permission::DescribeImageUsageReportEntries
            | Permission::DescribeImageReferences
            | Permission::DescribeSpotFleetRequests
            | Permission::DescribeFleets => "DescribeImagesAndUsageReports",
            Permission::DescribeImageAttribute => "DescribeImageAttribute",
            Permission::DescribeLaunchConfigurations => "DescribeLaunchConfigurations",
            Permission::EnableImageDeprecation
            | Permission::DisableImageDeprecation
            | Permission::DisableImage
            | Permission::EnableImage
            | Permission::DeregisterImage
            | Permission::ModifyImageAttribute => "RetireOwnImages",
            Permission::DescribeSnapshots | Permission::ListImagesInRecycleBin => "ReadRetirementFacts",
            Permission::TagStage | Permission::UntagStage => "TagRetireStageOnly",
            Permission::DeleteSnapshot => "DeleteRetiredImageSnapshots",
        }
    }

    /// The phase (or step) that makes the call.
    pub fn needed_by(self) -> &'static str {
        match self {
            Permission::CreateImageUsageReport => "create",
            Permission::DescribeImageUsageReports => "create and collect",
            Permission::DescribeImageUsageReportEntries => "collect",
            Permission::DescribeImageReferences
            | Permission::DescribeImageAttribute
            | Permission::DescribeSpotFleetRequests
            | Permission::DescribeFleets
            | Permission::DescribeLaunchConfigurations => "collect's owner checks and the probe",
            Permission::DeleteSnapshot => "retirement (RETIRE_DELETE_SNAPSHOTS=true)",
            Permission::DescribeSnapshots | Permission::ListImagesInRecycleBin => "retirement (RETIRE_MODE not off)",
            _ => "retirement (RETIRE_MODE=enforce)",
        }
    }

    /// Whether the call, made for real, would change anything: such a call is only
    /// ever made with `DryRun=true`.
    pub fn mutates(self) -> bool {
        !matches!(
            self,
            Permission::DescribeImageUsageReports
                | Permission::DescribeImageUsageReportEntries
                | Permission::DescribeImageReferences
                | Permission::DescribeImageAttribute
                | Permission::DescribeSpotFleetRequests
                | Permission::DescribeFleets
                | Permission::DescribeLaunchConfigurations
                | Permission::DescribeSnapshots
                | Permission::ListImagesInRecycleBin
        )
    }

    /// Whether the request names an AMI (a snapshot for `DeleteSnapshot`).
    pub fn names_a_resource(self) -> bool {
        !matches!(
            self,
            Permission::DescribeImageUsageReports
                | Permission::DescribeImageUsageReportEntries
                | Permission::DescribeSpotFleetRequests
                | Permission::DescribeFleets
                | Permission::DescribeLaunchConfigurations
                | Permission::DescribeSnapshots
                | Permission::ListImagesInRecycleBin
        )
    }
}

/// A service's refusal: its error code (none for a transport failure) and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Option<String>,
    pub message: String,
}

impl Refusal {
    pub fn new(code: Option<&str>, message: impl Into<String>) -> Self {
        Refusal { code: code.map(str::to_string), message: message.into() }
    }

    pub fn code(&self) -> &str {
        self.code.as_deref().unwrap_or("")
    }
}

/// AWS's answer to a permission asked without effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `DryRunOperation`: allowed, nothing done.
    Allowed,
    /// The call succeeded: a read (Auto Scaling's, or a service that ignored DryRun).
    Succeeded,
    Refused(Refusal),
}

/// The AMI or snapshot a permission was asked about: a selected one, or a placeholder
/// when nothing is selected (EC2 may then answer "not found" instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Selected,
    Placeholder,
}

/// The account behind the credentials (`sts:GetCallerIdentity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}
