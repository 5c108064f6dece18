//! The evidence a verdict rests on, as the state keeps it: each report of an AMI
//! (when, what state, how much usage, which resource types it covered), each
//! owner-account check (when, whether it found use), and the coverage a verdict can
//! claim from them (`checked` / `not_checked` in the verdict row and the alert).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::model::MemberFindings;
use super::observation::{Observation, ObservedState, ResourceTypes};
use crate::model::{MalformedReport, REPORT_RESOURCE_TYPES, ReportListing, ReportState};

/// Reports of this run's listing that the archive does not hold (yet). Their usage is
/// not known, and the rules must see that: a finished but unarchived report makes the
/// verdict `unknown`, never a silent gap the rest of the window papers over. A
/// quarantined (malformed) report of an AMI counts as unarchived now.
pub fn live_observations<'a>(
    listing: &'a ReportListing,
    archived: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> BTreeMap<&'a str, Vec<Observation>> {
    let mut live: BTreeMap<&str, Vec<Observation>> = BTreeMap::new();
    for m in &listing.malformed {
        if let MalformedReport { image_id: Some(image_id), .. } = m {
            let unknown = Observation::new(now, ObservedState::Unarchived, 0, ResourceTypes::default());
            live.entry(image_id.as_str()).or_default().push(unknown);
        }
    }
    for r in listing.reports.iter().filter(|r| !archived.contains(&r.report_id)) {
        let state = match r.state {
            ReportState::Pending => ObservedState::Pending,
            ReportState::Error => ObservedState::Error,
            _ => ObservedState::Unarchived,
        };
        let types = ResourceTypes::of(r.resource_types.iter().map(|t| t.resource_type.as_str()));
        live.entry(r.image_id.as_str()).or_default().push(Observation::new(r.creation_time, state, 0, types));
    }
    live
}

/// Every kind of reference a verdict can have checked. `report:*` come from EC2's usage
/// reports (other accounts), `owner:*` from the owner-account check, `member:*` are
/// references inside consumer accounts that no owner-side API reveals: only the
/// members' own probes (`member:<account id>`, `core::verdict::member_facts`) check them.
pub const OWNER_KINDS: [&str; 9] = [
    "owner:ec2:Instance",
    "owner:ec2:LaunchTemplate",
    "owner:ec2:SpotFleetRequest",
    "owner:ec2:Fleet",
    "owner:ssm:Parameter",
    "owner:imagebuilder:ImageRecipe",
    "owner:imagebuilder:ContainerRecipe",
    "owner:autoscaling:LaunchConfiguration",
    "owner:lastLaunchedTime",
];
pub const MEMBER_KINDS: [&str; 2] = ["member:ssm:Parameter", "member:autoscaling:LaunchConfiguration"];

/// Whether a Spot Fleet request or EC2 Fleet in this state can still launch instances
/// (`submitted`, `active`, `modifying`); a cancelled or deleted one cannot, whatever
/// its remaining instances (those are instances, checked as such).
pub fn fleet_can_launch(state: &str) -> bool {
    matches!(state, "submitted" | "active" | "modifying")
}

/// What a verdict checked and what it did not, from the report types every report in
/// the window covered and the owner-account kinds this run's check covered (no member
/// probes required: every `member:*` kind is `not_checked`).
pub fn coverage(report_types: Option<ResourceTypes>, owner_kinds: &[String]) -> (Vec<String>, Vec<String>) {
    coverage_with_members(report_types, owner_kinds, &MemberFindings::default())
}

/// [`coverage`] with the required members' probes. `member:<id>` is checked for each
/// required member whose fresh facts probed the AMI, not checked for the others; a
/// `member:<kind>` of [`MEMBER_KINDS`] is checked only when members are required and
/// every one of them checked that kind for this AMI (one member left out means that
/// kind was not looked at everywhere it could hide).
pub fn coverage_with_members(
    report_types: Option<ResourceTypes>,
    owner_kinds: &[String],
    members: &MemberFindings,
) -> (Vec<String>, Vec<String>) {
    let mut checked: Vec<String> =
        report_types.into_iter().flat_map(|t| t.names()).map(|t| format!("report:{t}")).collect();
    checked.extend(owner_kinds.iter().filter(|k| OWNER_KINDS.contains(&k.as_str())).cloned());
    if !members.required.is_empty() {
        checked.extend(
            MEMBER_KINDS
                .iter()
                .filter(|k| members.kinds_all_covered.iter().any(|c| k.strip_prefix("member:") == Some(c.as_str())))
                .map(|k| k.to_string()),
        );
    }
    checked.extend(members.covered_by.iter().map(|m| format!("member:{m}")));
    let all = REPORT_RESOURCE_TYPES
        .iter()
        .map(|t| format!("report:{t}"))
        .chain(OWNER_KINDS.iter().chain(MEMBER_KINDS.iter()).map(|k| k.to_string()))
        .chain(members.required.iter().map(|m| format!("member:{m}")));
    let not_checked = all.filter(|k| !checked.contains(k)).collect();
    (checked, not_checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UsageReport;

    #[test]
    fn unarchived_pending_and_malformed_reports_are_live_observations_of_unknown_usage() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let report = |id: &str, state: ReportState| UsageReport {
            report_id: id.into(),
            image_id: "ami-1".into(),
            state,
            state_reason: None,
            resource_types: vec![],
            account_ids: vec![],
            creation_time: t("2026-12-01T00:00:00Z"),
            expiration_time: t("2026-12-31T00:00:00Z"),
            tags: Default::default(),
        };
        let listing = ReportListing {
            reports: vec![
                report("r1", ReportState::Available),
                report("r2", ReportState::Pending),
                report("r3", ReportState::Available),
            ],
            malformed: vec![
                MalformedReport { report_id: Some("r4".into()), image_id: Some("ami-2".into()), problem: "x".into() },
                MalformedReport { report_id: None, image_id: None, problem: "y".into() },
            ],
        };
        let archived = BTreeSet::from(["r1".to_string()]);
        let live = live_observations(&listing, &archived, t("2026-12-02T00:00:00Z"));
        let states = |id: &str| live[id].iter().map(|o| o.state).collect::<Vec<_>>();
        assert_eq!(states("ami-1"), [ObservedState::Pending, ObservedState::Unarchived]);
        assert_eq!(states("ami-2"), [ObservedState::Unarchived]);
        assert_eq!(live["ami-2"][0].created_at(), t("2026-12-02T00:00:00Z"));
    }

    #[test]
    fn observations_of_earlier_versions_load_as_instance_and_launch_template_reports() {
        let old: Observation = serde_json::from_str(r#"[1700000000,"a",0]"#).unwrap();
        assert_eq!(old.resource_types.names().collect::<Vec<_>>(), ["ec2:Instance", "ec2:LaunchTemplate"]);
        let new = Observation { resource_types: ResourceTypes::ALL, ..old };
        let text = serde_json::to_string(&new).unwrap();
        assert_eq!(text, r#"[1700000000,"a",0,15]"#);
        assert_eq!(serde_json::from_str::<Observation>(&text).unwrap(), new);
    }

    #[test]
    fn only_fleets_that_can_still_launch_reference_their_images() {
        for state in ["submitted", "active", "modifying"] {
            assert!(fleet_can_launch(state), "{state}");
        }
        for state in
            ["cancelled", "cancelled_running", "cancelled_terminating", "deleted", "deleted_running", "failed", ""]
        {
            assert!(!fleet_can_launch(state), "{state}");
        }
    }

    #[test]
    fn unknown_resource_types_claim_no_coverage() {
        let t = ResourceTypes::of(["ec2:Instance", "ec2:SomethingNew", "imagebuilder:ContainerRecipe"]);
        assert_eq!(t.names().collect::<Vec<_>>(), ["ec2:Instance", "imagebuilder:ContainerRecipe"]);
    }

    #[test]
    fn coverage_names_every_kind_not_checked() {
        let (checked, not) = coverage(Some(ResourceTypes::LEGACY), &["owner:ec2:Instance".to_string()]);
        assert_eq!(checked, ["report:ec2:Instance", "report:ec2:LaunchTemplate", "owner:ec2:Instance"]);
        assert!(not.contains(&"report:imagebuilder:ImageRecipe".to_string()));
        assert!(not.contains(&"owner:autoscaling:LaunchConfiguration".to_string()));
        assert!(not.contains(&"member:ssm:Parameter".to_string()));
        assert_eq!(checked.len() + not.len(), REPORT_RESOURCE_TYPES.len() + OWNER_KINDS.len() + MEMBER_KINDS.len());
    }

    #[test]
    fn member_kinds_are_checked_only_when_every_required_member_probed_them() {
        let kinds = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = MemberFindings {
            required: kinds(&["111111111111", "222222222222"]),
            covered_by: kinds(&["111111111111", "222222222222"]),
            kinds_all_covered: kinds(&["ec2:Instance", "ssm:Parameter", "autoscaling:LaunchConfiguration"]),
            ..Default::default()
        };
        let (checked, not) = coverage_with_members(None, &[], &all);
        assert_eq!(
            checked,
            [
                "member:ssm:Parameter",
                "member:autoscaling:LaunchConfiguration",
                "member:111111111111",
                "member:222222222222"
            ]
        );
        assert!(!not.iter().any(|k| k.starts_with("member:")));

        let one_left_out = MemberFindings { covered_by: kinds(&["111111111111"]), kinds_all_covered: vec![], ..all };
        let (checked, not) = coverage_with_members(None, &[], &one_left_out);
        assert_eq!(checked, ["member:111111111111"]);
        assert!(not.contains(&"member:222222222222".to_string()) && not.contains(&"member:ssm:Parameter".to_string()));
        assert_eq!(checked.len() + not.len(), REPORT_RESOURCE_TYPES.len() + OWNER_KINDS.len() + MEMBER_KINDS.len() + 2);
    }
}
