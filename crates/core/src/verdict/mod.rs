//! Verdicts (a **contract**: the `verdicts` archive and the alert carry their codes):
//! which selected AMIs are deregistration candidates and why each other one is not, from
//! the evidence the state keeps (reports, owner-account checks, member probes' facts).

mod evidence;
mod family_metrics;
pub mod member_facts;
pub mod member_probe;
mod model;
mod observation;
mod row;
mod rules;

pub use evidence::{MEMBER_KINDS, OWNER_KINDS, coverage, coverage_with_members, fleet_can_launch, live_observations};
pub use family_metrics::{FamilyCounts, MAX_FAMILIES, OTHER, family_counts};
pub use model::{
    AllowedImages, AmiInput, Breaker, ImageCriterion, KNOWN_REFERENCE_TYPES, Kind, MemberFindings, MemberMemory,
    MemberUse, OwnerCheck, OwnerFacts, OwnerReference, Reason, TagMatch, Verdict, VerdictSettings, Verdicts,
};
pub use observation::{Observation, ObservedState, OwnerObservation, ResourceTypes};
pub use row::{LatestReport, RowContext, VerdictRow, verdict_row, verdicts_object, verdicts_partition};
pub use rules::{OWNER_CHECK_EVERY, evaluate, owner_checks_due, verdicts_digest};
