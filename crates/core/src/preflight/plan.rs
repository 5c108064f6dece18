//! Which checks the configuration needs, what they ask about, and where the one test
//! object goes.

use chrono::{DateTime, Utc};

use super::model::{Check, Level, Permission, PreflightSettings};
use crate::create::is_selectable_state;
use crate::model::Ami;
use crate::retire::RetireMode;

/// The folder under the archive prefix where the preflight writes (and deletes) its one
/// test object; nothing else of the archive is ever touched by it.
pub const PREFLIGHT_DIR: &str = "_preflight";

/// Asked about when no AMI is selected (EC2 may look for it before the permission).
pub const PLACEHOLDER_IMAGE_ID: &str = "ami-00000000000000000";
/// Asked about when the AMI has no EBS snapshot.
pub const PLACEHOLDER_SNAPSHOT_ID: &str = "snap-00000000000000000";

/// The permissions the configured phases use, in the order the table lists them.
/// create and collect run in every deployment (organisation members too); the
/// retirement calls only in `enforce` (a dry run calls nothing that mutates).
pub fn permissions(s: &PreflightSettings) -> Vec<Permission> {
    let mut out = vec![
        Permission::CreateImageUsageReport,
        Permission::DescribeImageUsageReports,
        Permission::DescribeImageUsageReportEntries,
        Permission::DescribeImageReferences,
        Permission::DescribeImageAttribute,
        Permission::DescribeSpotFleetRequests,
        Permission::DescribeFleets,
        Permission::DescribeLaunchConfigurations,
    ];
    if s.retire_mode != RetireMode::Off {
        out.extend([Permission::DescribeSnapshots, Permission::ListImagesInRecycleBin]);
    }
    if s.retire_mode == RetireMode::Enforce {
        out.extend([
            Permission::EnableImageDeprecation,
            Permission::DisableImageDeprecation,
            Permission::DisableImage,
            Permission::EnableImage,
            Permission::DeregisterImage,
            Permission::ModifyImageAttribute,
            Permission::TagStage,
            Permission::UntagStage,
        ]);
        if s.delete_snapshots {
            out.push(Permission::DeleteSnapshot);
        }
    }
    out
}

/// The lines for what the configuration does not use, so the table says what was
/// left out and why.
pub fn not_needed(s: &PreflightSettings) -> Vec<Check> {
    let mut out = Vec::new();
    match s.retire_mode {
        RetireMode::Off => {
            out.push(Check::new("retirement calls", Level::Skip, "not used: RETIRE_MODE=off"));
            out.push(Check::new("recycle bin", Level::Skip, "not used: RETIRE_MODE=off"));
        }
        RetireMode::DryRun => out.push(Check::new(
            "retirement calls",
            Level::Skip,
            "not used: RETIRE_MODE=dry-run calls nothing that changes an AMI",
        )),
        RetireMode::Enforce => {}
    }
    if !s.digest_reservations {
        out.push(Check::new("cost explorer", Level::Skip, "not used: DIGEST_RESERVATIONS=off"));
    }
    if s.require_member_probes.is_empty() {
        out.push(Check::new("member probes", Level::Skip, "not used: REQUIRE_MEMBER_PROBES is not set"));
    }
    out
}

/// The AMI the permissions are asked about: the first selected one (by id) in a state
/// the pipeline acts on, so EC2 answers about a real resource of the account.
pub fn subject_image(selected: &[Ami]) -> Option<&Ami> {
    selected.iter().filter(|a| is_selectable_state(&a.state)).min_by(|a, b| a.image_id.cmp(&b.image_id))
}

/// The subject AMI's first EBS snapshot, for `ec2:DeleteSnapshot`.
pub fn subject_snapshot(image: Option<&Ami>) -> Option<&str> {
    image?.block_devices.iter().find_map(|d| d.snapshot_id.as_deref())
}

/// `<prefix>/_preflight/<time>-<nonce>.txt`: unique to the run (the nonce tells two
/// preflights of the same second apart), so the conditional write never meets an
/// object and the delete can only ever remove this run's own.
pub fn test_object_key(prefix: &str, now: DateTime<Utc>, nonce: &str) -> String {
    let nonce: String = nonce.chars().filter(char::is_ascii_alphanumeric).take(32).collect();
    format!("{prefix}/{PREFLIGHT_DIR}/{}-{nonce}.txt", now.format("%Y%m%dT%H%M%SZ"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::model::BlockDevice;

    #[test]
    fn retirement_calls_are_checked_only_in_enforce_its_reads_in_a_dry_run_too_and_snapshots_only_when_deleted() {
        let base = PreflightSettings::default();
        assert_eq!(permissions(&base).len(), 8);
        assert!(!permissions(&base).iter().any(|p| p.mutates() && *p != Permission::CreateImageUsageReport));
        let dry = PreflightSettings { retire_mode: RetireMode::DryRun, ..base.clone() };
        let reads = [Permission::DescribeSnapshots, Permission::ListImagesInRecycleBin];
        assert_eq!(permissions(&dry), [permissions(&base), reads.to_vec()].concat());
        assert!(!permissions(&dry).iter().any(|p| p.mutates() && *p != Permission::CreateImageUsageReport));
        let enforce = PreflightSettings { retire_mode: RetireMode::Enforce, ..base.clone() };
        assert!(permissions(&enforce).contains(&Permission::DeregisterImage));
        assert!(permissions(&enforce).contains(&Permission::ModifyImageAttribute));
        assert!(!permissions(&enforce).contains(&Permission::DeleteSnapshot));
        let deleting = PreflightSettings { delete_snapshots: true, ..enforce };
        assert_eq!(permissions(&deleting).last(), Some(&Permission::DeleteSnapshot));
    }

    #[test]
    fn what_is_not_configured_is_listed_as_skipped() {
        let names = |s: &PreflightSettings| not_needed(s).into_iter().map(|c| c.check).collect::<Vec<_>>();
        assert_eq!(
            names(&PreflightSettings::default()),
            ["retirement calls", "recycle bin", "cost explorer", "member probes"]
        );
        let all = PreflightSettings {
            retire_mode: RetireMode::Enforce,
            digest_reservations: true,
            require_member_probes: vec!["111111111111".into()],
            ..Default::default()
        };
        assert!(not_needed(&all).is_empty());
        let dry = PreflightSettings { retire_mode: RetireMode::DryRun, ..all };
        assert_eq!(names(&dry), ["retirement calls"]);
        assert!(not_needed(&dry).iter().all(|c| c.result == Level::Skip));
    }

    #[test]
    fn the_subject_is_the_first_selectable_ami_and_its_first_snapshot() {
        let mut pending = fixtures::ami("ami-0001");
        pending.state = "pending".into();
        let mut b = fixtures::ami("ami-0003");
        b.block_devices = vec![
            BlockDevice { device_name: "/dev/sdb".into(), snapshot_id: None, volume_size_gib: None },
            BlockDevice { device_name: "/dev/xvda".into(), snapshot_id: Some("snap-1".into()), volume_size_gib: None },
        ];
        let a = fixtures::ami("ami-0002");
        let amis = [pending, b.clone(), a];
        assert_eq!(subject_image(&amis).map(|a| a.image_id.as_str()), Some("ami-0002"));
        assert_eq!(subject_snapshot(Some(&b)), Some("snap-1"));
        assert_eq!(subject_snapshot(subject_image(&amis)), None);
        assert!(subject_image(&[]).is_none());
    }

    #[test]
    fn the_test_object_lies_under_the_preflight_folder_of_the_prefix_only() {
        let key = test_object_key("ami-usage/account=123456789012", fixtures::t("2026-11-22T06:05:04Z"), "a1/../b2");
        assert_eq!(key, "ami-usage/account=123456789012/_preflight/20261122T060504Z-a1b2.txt");
    }
}
