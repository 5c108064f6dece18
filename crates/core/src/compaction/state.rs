//! The record of what is compacted (`<prefix>/state/region=<region>/compaction-state.json`):
//! per `(dataset, day)` its parts' numbers and counts, whether the day is sealed, and
//! what a run needs to know of a day from the record alone.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::plan::{Closing, DatasetSpec, SEAL_AFTER_DAYS};

/// One part: its number in the day, how many raw objects it holds (its footer names
/// them: `parquet_part::SOURCES_KEY`) and its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub number: u32,
    /// A count; the first format of the state held the ids themselves (read as their count).
    #[serde(default, deserialize_with = "source_count")]
    pub sources: u64,
    pub rows: u64,
}

/// `sources` as a count, or as the list of ids the first state format kept.
fn source_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Sources {
        Count(u64),
        Ids(Vec<serde::de::IgnoredAny>),
    }
    Ok(match Sources::deserialize(d)? {
        Sources::Count(n) => n,
        Sources::Ids(ids) => ids.len() as u64,
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRecord {
    pub parts: Vec<PartRecord>,
    /// No raw object can arrive any more: never planned again.
    #[serde(default)]
    pub sealed: bool,
    /// The day's last listing found every raw object of it in a part: what lets the
    /// next runs leave it unlisted while nothing can have changed it
    /// (`CompactionState::needs_listing`). Absent in the earlier formats: the day is
    /// listed once more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<Complete>,
}

/// A day found complete, and what could still add to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complete {
    /// The archived report objects of the day's report date before that listing, as
    /// collect counted them (`ReportDates::archived`); `None`: EC2 listed no report of
    /// that date. Raw objects of a `Reports` dataset arrive only with a report object
    /// of their date (the entries object is written first), so while this count is
    /// the same the day has gained nothing.
    pub reports: Option<u64>,
}

/// What is compacted, per `(dataset, day)` of one Region (the Region is in the key):
/// counts only, so its size does not grow with the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionState {
    pub days: BTreeMap<String, BTreeMap<NaiveDate, DayRecord>>,
}

/// What a day needs, from its raw listing's size and the state alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayStatus {
    /// Sealed, or as many raw objects as its parts hold: nothing to read.
    Done,
    /// Some raw object is in no recorded part: the sources of these recorded parts
    /// (their footers) are what is compacted already.
    Compact { recorded: Vec<u32> },
}

impl CompactionState {
    pub fn day(&self, dataset: &str, day: NaiveDate) -> Option<&DayRecord> {
        self.days.get(dataset)?.get(&day)
    }

    pub fn is_sealed(&self, dataset: &str, day: NaiveDate) -> bool {
        self.day(dataset, day).is_some_and(|d| d.sealed)
    }

    /// Raw objects are only added to a day, each into exactly one part: when the
    /// listing counts as many as the parts hold, every one of them is compacted.
    pub fn status(&self, dataset: &str, day: NaiveDate, raw_objects: usize) -> DayStatus {
        let Some(record) = self.day(dataset, day) else {
            return if raw_objects == 0 { DayStatus::Done } else { DayStatus::Compact { recorded: vec![] } };
        };
        let compacted: u64 = record.parts.iter().map(|p| p.sources).sum();
        if record.sealed || compacted == raw_objects as u64 {
            return DayStatus::Done;
        }
        DayStatus::Compact { recorded: record.parts.iter().map(|p| p.number).collect() }
    }

    /// Whether a closed day must be listed this run, `reports` being the archived
    /// report objects of its date if EC2 still lists that date (`ReportDates`). A day
    /// is left unlisted when it is sealed, or was found complete and cannot have gained
    /// a raw object since: a run-keyed day (verdicts) is written only by runs whose
    /// clock is on it, so once closed and complete it stays so; a report-keyed day
    /// gains raw objects only with a report object of its date, so it is unchanged
    /// while the count it was found complete with is the count now. A date EC2 stopped
    /// listing since (`Some` then, `None` now) is listed once more, to catch what the
    /// last runs that saw the date archived and did not compact (a deadline, a crash):
    /// after that it can gain nothing.
    pub fn needs_listing(&self, spec: &DatasetSpec, day: NaiveDate, reports: Option<u64>) -> bool {
        let Some(record) = self.day(spec.name, day) else { return true };
        match (record.sealed, record.complete, spec.closing) {
            (true, _, _) => false,
            (false, None, _) => true,
            (false, Some(_), Closing::DayEnded) => false,
            (false, Some(complete), Closing::Reports) => complete.reports != reports,
        }
    }

    /// Records that a listing of the day found every raw object of it in a part,
    /// `reports` being the report count the run knew before that listing (what
    /// `needs_listing` compares with later), and seals the day when it is old enough.
    pub fn found_complete(&mut self, dataset: &str, day: NaiveDate, reports: Option<u64>, now: DateTime<Utc>) {
        let record = self.days.entry(dataset.to_string()).or_default().entry(day).or_default();
        record.complete = Some(Complete { reports });
        self.seal_complete(dataset, day, now);
    }

    /// Records that a listing of the day found a raw object in no part: the day is
    /// listed again by every run until it is found complete.
    pub fn found_incomplete(&mut self, dataset: &str, day: NaiveDate) {
        if let Some(record) = self.days.get_mut(dataset).and_then(|d| d.get_mut(&day)) {
            record.complete = None;
        }
    }

    /// The number of the day's next part (parts are numbered from 0, never reused).
    pub fn next_number(&self, dataset: &str, day: NaiveDate) -> u32 {
        self.day(dataset, day).and_then(|r| r.parts.iter().map(|p| p.number + 1).max()).unwrap_or(0)
    }

    /// Records a written part (or one an earlier run wrote: its own sources, read from
    /// its footer). A number recorded already is an error: parts are never rewritten.
    pub fn record(&mut self, dataset: &str, day: NaiveDate, part: PartRecord) -> Result<(), String> {
        let record = self.days.entry(dataset.to_string()).or_default().entry(day).or_default();
        if record.parts.iter().any(|p| p.number == part.number) {
            return Err(format!("{dataset} {day}: part {} is recorded already", part.number));
        }
        record.parts.push(part);
        record.parts.sort_by_key(|p| p.number);
        Ok(())
    }

    /// Seals a recorded day found complete (every raw object of it in a part) when it
    /// is older than `SEAL_AFTER_DAYS` before `now`'s date: it can gain no raw object
    /// any more. Never a day a deadline left half done (a backlog's old day of several
    /// parts): its other objects would never be compacted.
    fn seal_complete(&mut self, dataset: &str, day: NaiveDate, now: DateTime<Utc>) {
        let old = day < now.date_naive() - Duration::days(SEAL_AFTER_DAYS);
        if let Some(record) = self.days.get_mut(dataset).and_then(|d| d.get_mut(&day)).filter(|_| old) {
            record.sealed = true;
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
