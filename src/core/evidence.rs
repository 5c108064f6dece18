//! The evidence a verdict rests on, as the state keeps it: each report of an AMI
//! (when, what state, how much usage, which resource types it covered), each
//! owner-account check (when, whether it found use), and the coverage a verdict can
//! claim from them (`checked` / `not_checked` in the verdict row and the alert).
//!
//! Both record types serialise as short JSON arrays: the state holds one per report
//! and per check for every selected AMI, thousands of them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::member_facts::MemberFindings;
use super::model::{MalformedReport, REPORT_RESOURCE_TYPES, ReportListing, ReportState};

/// What the history says about one report of the AMI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObservedState {
    #[serde(rename = "a")]
    Available,
    #[serde(rename = "e")]
    Error,
    /// Only from the current EC2 listing, never persisted.
    #[serde(rename = "p")]
    Pending,
    /// Finished in EC2 but not archived yet (time budget, failure): usage not known.
    #[serde(rename = "u")]
    Unarchived,
}

/// The report resource types (of [`REPORT_RESOURCE_TYPES`]) a report asked EC2 for, as
/// a bit set. Reports written before the field existed asked for instances and launch
/// templates only, which is what [`ResourceTypes::LEGACY`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceTypes(u8);

impl ResourceTypes {
    pub const LEGACY: Self = Self(0b0011);
    pub const ALL: Self = Self((1 << REPORT_RESOURCE_TYPES.len()) - 1);

    /// Known types only: an unknown type still counts as use through the entries'
    /// total, but a coverage claim can only name what this version understands.
    pub fn of<'a>(types: impl IntoIterator<Item = &'a str>) -> Self {
        Self(
            types
                .into_iter()
                .filter_map(|t| REPORT_RESOURCE_TYPES.iter().position(|k| *k == t))
                .fold(0, |m, i| m | 1 << i),
        )
    }

    pub fn intersect(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        REPORT_RESOURCE_TYPES.iter().enumerate().filter(move |(i, _)| self.0 & (1 << i) != 0).map(|(_, t)| *t)
    }
}

/// One report in an AMI's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ObservationRepr", into = "ObservationRepr")]
pub struct Observation {
    /// Report creation time, Unix seconds.
    pub created: i64,
    pub state: ObservedState,
    pub total_usage: i64,
    pub resource_types: ResourceTypes,
}

/// `[seconds, state, usage, types]`; states of earlier versions hold three elements.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ObservationRepr {
    Typed(i64, ObservedState, i64, ResourceTypes),
    Legacy(i64, ObservedState, i64),
}

impl From<ObservationRepr> for Observation {
    fn from(r: ObservationRepr) -> Self {
        let (created, state, total_usage, resource_types) = match r {
            ObservationRepr::Typed(t, s, u, r) => (t, s, u, r),
            ObservationRepr::Legacy(t, s, u) => (t, s, u, ResourceTypes::LEGACY),
        };
        Self { created, state, total_usage, resource_types }
    }
}

impl From<Observation> for ObservationRepr {
    fn from(o: Observation) -> Self {
        Self::Typed(o.created, o.state, o.total_usage, o.resource_types)
    }
}

impl Observation {
    pub fn new(created: DateTime<Utc>, state: ObservedState, total_usage: i64, resource_types: ResourceTypes) -> Self {
        Self { created: created.timestamp(), state, total_usage, resource_types }
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.created, 0).unwrap_or_default()
    }

    pub fn is_zero_usage(&self) -> bool {
        self.state == ObservedState::Available && self.total_usage == 0
    }

    pub fn shows_use(&self) -> bool {
        self.state == ObservedState::Available && self.total_usage > 0
    }
}

/// One owner-account check as the state remembers it: `[seconds, used]`. The check
/// only sees what exists *now*; remembering its answers lets the verdict apply the
/// same window to the owner account as to the reports (an instance terminated a day
/// ago still counts as use inside the window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerObservation(pub i64, pub bool);

impl OwnerObservation {
    pub fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0, 0).unwrap_or_default()
    }

    pub fn used(&self) -> bool {
        self.1
    }
}

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
/// members' own probes (`member:<account id>`, `core::member_facts`) check them.
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
    use crate::core::model::UsageReport;

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
