//! Verdict counts per `GROUP_TAG` family, for the run's CloudWatch metrics. Every
//! dimension value is a metric series of its own (billed and charted one by one), so
//! the number of series must not grow with the fleet: the [`MAX_FAMILIES`] families
//! with the most AMIs selected (ties by name) get their own; every other tagged AMI
//! counts under [`OTHER`]. AMIs without the tag are in the phase's totals only.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{Kind, Verdict};

/// The families that get their own series per function (deploy/README.md, "Metrics").
pub const MAX_FAMILIES: usize = 20;
/// The family value shared by the families past [`MAX_FAMILIES`].
pub const OTHER: &str = "(other)";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FamilyCounts {
    pub family: String,
    pub selected: usize,
    pub candidate: usize,
    pub in_use: usize,
    pub unknown: usize,
}

impl FamilyCounts {
    fn add(&mut self, other: &FamilyCounts) {
        self.selected += other.selected;
        self.candidate += other.candidate;
        self.in_use += other.in_use;
        self.unknown += other.unknown;
    }
}

/// The counts of the families of `verdicts`, at most `cap` of them plus [`OTHER`],
/// largest first.
pub fn family_counts(verdicts: &[Verdict], cap: usize) -> Vec<FamilyCounts> {
    counts_of(verdicts.iter().map(|v| (v.group.as_deref(), v.kind)), cap)
}

fn counts_of<'a>(verdicts: impl Iterator<Item = (Option<&'a str>, Kind)>, cap: usize) -> Vec<FamilyCounts> {
    let mut by_family: BTreeMap<&str, FamilyCounts> = BTreeMap::new();
    for (group, kind) in verdicts {
        let Some(family) = group.filter(|g| !g.is_empty()) else { continue };
        let c = by_family.entry(family).or_insert_with(|| FamilyCounts { family: family.into(), ..Default::default() });
        c.selected += 1;
        match kind {
            Kind::Candidate => c.candidate += 1,
            Kind::InUse => c.in_use += 1,
            Kind::Unknown => c.unknown += 1,
            Kind::Excluded => {}
        }
    }
    let mut families: Vec<FamilyCounts> = by_family.into_values().collect();
    families.sort_by(|a, b| b.selected.cmp(&a.selected).then_with(|| a.family.cmp(&b.family)));
    if families.len() > cap {
        let mut other = FamilyCounts { family: OTHER.into(), ..Default::default() };
        families.drain(cap..).for_each(|f| other.add(&f));
        families.push(other);
    }
    families
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_family_and_leaves_untagged_amis_out() {
        let verdicts = [
            (Some("web"), Kind::Candidate),
            (Some("web"), Kind::InUse),
            (Some("db"), Kind::Unknown),
            (Some("db"), Kind::Excluded),
            (Some("web"), Kind::InUse),
            (None, Kind::Candidate),
            (Some(""), Kind::Candidate),
        ];
        let got = counts_of(verdicts.into_iter(), MAX_FAMILIES);
        let web = FamilyCounts { family: "web".into(), selected: 3, candidate: 1, in_use: 2, unknown: 0 };
        let db = FamilyCounts { family: "db".into(), selected: 2, candidate: 0, in_use: 0, unknown: 1 };
        assert_eq!(got, vec![web, db]);
    }

    #[test]
    fn families_past_the_cap_share_one_series_so_the_count_of_series_stays_bounded() {
        let names: Vec<String> = (0..50).map(|f| format!("fam{f:02}")).collect();
        let verdicts: Vec<(Option<&str>, Kind)> = names
            .iter()
            .enumerate()
            .flat_map(|(f, n)| (0..=f % 3).map(move |_| (Some(n.as_str()), Kind::Candidate)))
            .collect();
        let got = counts_of(verdicts.iter().copied(), 5);
        assert_eq!(got.len(), 6);
        assert_eq!(got.last().unwrap().family, OTHER);
        assert!(got[..5].iter().all(|f| f.selected == 3), "the largest first: {got:?}");
        assert_eq!(got.iter().map(|f| f.selected).sum::<usize>(), verdicts.len(), "no AMI lost in the fold");
        assert_eq!(got[0].family, "fam02", "ties by name");
    }
}
