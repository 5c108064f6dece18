//! The records of evidence the state keeps per AMI: one per report (when, what state,
//! how much usage, which resource types it covered) and one per owner-account check.
//! Both serialise as short JSON arrays: the state holds one per report and per check
//! for every selected AMI, thousands of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::REPORT_RESOURCE_TYPES;

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
