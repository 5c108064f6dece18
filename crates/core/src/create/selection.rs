//! Which AMIs get a usage report in a period, and how a report is recognised as ours.
//!
//! A period is a UTC day. The report's tag [`PERIOD_TAG`] and its ClientToken both
//! carry the period, so a re-run, a retry after a timeout or a resumed run in the same
//! day never creates a second report for the same AMI.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use crate::model::{Ami, Tags};

/// Tag key on every report this tool creates; its value is the period (`YYYY-MM-DD`).
pub const PERIOD_TAG: &str = "ami-usage-reporter:period";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    pub key: String,
    /// Any of these values matches.
    pub values: Vec<String>,
}

/// All filters must match. Empty = every AMI the account owns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagFilters(pub Vec<TagFilter>);

impl TagFilters {
    pub fn matches(&self, tags: &Tags) -> bool {
        self.0.iter().all(|f| tags.get(&f.key).is_some_and(|v| f.values.contains(v)))
    }
}

pub fn period_of(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive()
}

pub fn period_label(period: NaiveDate) -> String {
    period.format("%Y-%m-%d").to_string()
}

/// Deterministic ClientToken (≤ 64 ASCII characters as EC2 requires): the same AMI in
/// the same period always maps to the same token, so EC2 itself deduplicates retries.
pub fn client_token(image_id: &str, period: NaiveDate) -> String {
    let token = format!("aur-{}-{}", image_id, period.format("%Y%m%d"));
    debug_assert!(token.len() <= 64);
    token
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The AMI is not `available` (pending, failed, disabled…); EC2 cannot report on it.
    NotAvailable(String),
    /// A report of ours for this AMI already exists in this period.
    AlreadyReported,
    /// DescribeImages returned it but its tags do not match (server-side filters are
    /// re-checked here so a surprising API answer can never widen the selection).
    TagMismatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreatePlan {
    /// AMIs that need a report now, in a stable order (by image id).
    pub to_create: Vec<String>,
    pub skipped: Vec<(String, Skip)>,
}

/// `available`, or `disabled` (by the retirement pipeline or by hand): a disabled AMI
/// keeps its reports and verdicts, else it could be neither advanced nor restored.
pub fn is_selectable_state(state: &str) -> bool {
    matches!(state, "available" | "disabled")
}

/// Why an AMI of the owner's listing is neither reported on nor judged.
fn unselected(ami: &Ami, filters: &TagFilters) -> Option<Skip> {
    if !filters.matches(&ami.tags) {
        Some(Skip::TagMismatch)
    } else if !is_selectable_state(&ami.state) {
        Some(Skip::NotAvailable(ami.state.clone()))
    } else {
        None
    }
}

/// The AMIs that get a verdict: the same selection as [`plan_create`]'s, once each.
pub fn selected_for_verdict(mut amis: Vec<Ami>, filters: &TagFilters) -> Vec<Ami> {
    amis.sort_by(|a, b| a.image_id.cmp(&b.image_id));
    amis.dedup_by(|a, b| a.image_id == b.image_id);
    amis.retain(|a| unselected(a, filters).is_none());
    amis
}

/// Decides, from the owner's AMIs and the images that already have a report of ours in
/// this period, which AMIs need a report.
pub fn plan_create(amis: &[Ami], filters: &TagFilters, already_reported: &BTreeSet<String>) -> CreatePlan {
    let mut plan = CreatePlan::default();
    let mut seen = BTreeSet::new();
    let mut sorted: Vec<&Ami> = amis.iter().collect();
    sorted.sort_by(|a, b| a.image_id.cmp(&b.image_id));
    for ami in sorted {
        if !seen.insert(ami.image_id.as_str()) {
            continue;
        }
        let skip = unselected(ami, filters)
            .or_else(|| already_reported.contains(&ami.image_id).then_some(Skip::AlreadyReported));
        match skip {
            Some(s) => plan.skipped.push((ami.image_id.clone(), s)),
            None => plan.to_create.push(ami.image_id.clone()),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn ami(id: &str, state: &str, tags: &[(&str, &str)]) -> Ami {
        Ami { state: state.into(), tags: fixtures::tags(tags), ..fixtures::ami(id) }
    }

    fn filters(spec: &[(&str, &[&str])]) -> TagFilters {
        TagFilters(
            spec.iter()
                .map(|(k, vs)| TagFilter { key: k.to_string(), values: vs.iter().map(|v| v.to_string()).collect() })
                .collect(),
        )
    }

    #[test]
    fn all_filters_must_match_and_any_value_matches() {
        let f = filters(&[("Team", &["platform"]), ("Golden", &["true", "yes"])]);
        assert!(f.matches(&ami("a", "available", &[("Team", "platform"), ("Golden", "yes")]).tags));
        assert!(!f.matches(&ami("a", "available", &[("Team", "platform")]).tags));
        assert!(!f.matches(&ami("a", "available", &[("Team", "other"), ("Golden", "true")]).tags));
        assert!(TagFilters::default().matches(&Tags::new()));
    }

    #[test]
    fn plan_skips_unavailable_reported_and_mismatched_amis() {
        let f = filters(&[("Golden", &["true"])]);
        let amis = vec![
            ami("ami-3", "available", &[("Golden", "true")]),
            ami("ami-1", "available", &[("Golden", "true")]),
            ami("ami-2", "pending", &[("Golden", "true")]),
            ami("ami-4", "available", &[("Golden", "false")]),
            ami("ami-5", "available", &[("Golden", "true")]),
            ami("ami-1", "available", &[("Golden", "true")]),
        ];
        let reported: BTreeSet<String> = ["ami-5".to_string()].into();
        let plan = plan_create(&amis, &f, &reported);
        assert_eq!(plan.to_create, vec!["ami-1", "ami-3"]);
        assert_eq!(
            plan.skipped,
            vec![
                ("ami-2".into(), Skip::NotAvailable("pending".into())),
                ("ami-4".into(), Skip::TagMismatch),
                ("ami-5".into(), Skip::AlreadyReported),
            ]
        );
    }

    #[test]
    fn client_token_is_stable_per_ami_and_day_and_fits_ec2_limit() {
        let t1: DateTime<Utc> = "2026-11-22T00:00:01Z".parse().unwrap();
        let t2: DateTime<Utc> = "2026-11-22T23:59:59Z".parse().unwrap();
        let t3: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
        let id = "ami-0123456789abcdef0";
        assert_eq!(client_token(id, period_of(t1)), client_token(id, period_of(t2)));
        assert_ne!(client_token(id, period_of(t1)), client_token(id, period_of(t3)));
        assert_eq!(client_token(id, period_of(t1)), "aur-ami-0123456789abcdef0-20261122");
        assert!(client_token(id, period_of(t1)).len() <= 64);
        assert_eq!(period_label(period_of(t2)), "2026-11-22");
    }
}
