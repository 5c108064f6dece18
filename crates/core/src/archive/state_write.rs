//! Writes of the state objects (collect state, compaction state, digest progress) that
//! never lose another run's update: each replaces exactly the version its run read
//! (`If-Match` on the ETag read, `If-None-Match: *` when there was none), and carries a
//! stamp naming its writer, so that a refusal can be told apart from our own write
//! whose answer was lost (a retry of a landed write is refused too).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::timestamp;

/// The version of a state object a run read: what its next write may replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// There was no object: the write must create it.
    Absent,
    /// The object's ETag when it was read (or last written by this run).
    ETag(String),
}

/// Who wrote a state object and when (the writer's wall clock, not the run's `--now`):
/// stored in the object as `writer`. Every write of a run has its own `write` number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteStamp {
    pub run: String,
    pub write: u64,
    #[serde(with = "timestamp")]
    pub at: DateTime<Utc>,
}

/// Another run wrote the state object after this run read it: this run stops before it
/// announces or acts on what it computed from the older version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{object} was written by another run{} after this run read it; this run stopped before announcing or acting on it, and the next run carries on",
    written_at.map(|t| format!(" at {}", timestamp::format(&t))).unwrap_or_default()
)]
pub struct LostRace {
    pub object: String,
    pub written_at: Option<DateTime<Utc>>,
}

/// What a refused conditional write means, from the object as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The object carries our stamp: our write landed and only its answer was lost.
    OwnWriteLanded,
    /// Someone else's write is there (or the object is gone).
    Lost(LostRace),
}

#[derive(Deserialize)]
struct Stamped {
    writer: Option<WriteStamp>,
}

/// The meaning of a refusal of our write `ours` of `object`, given the object's
/// current bytes (`None`: gone) and S3's `LastModified` of them.
pub fn refusal_of(
    object: &str,
    current: Option<&[u8]>,
    last_modified: Option<DateTime<Utc>>,
    ours: &WriteStamp,
) -> Refusal {
    let theirs = current.and_then(|bytes| serde_json::from_slice::<Stamped>(bytes).ok()).and_then(|s| s.writer);
    match theirs {
        Some(stamp) if stamp == *ours => Refusal::OwnWriteLanded,
        Some(stamp) => Refusal::Lost(LostRace { object: object.to_string(), written_at: Some(stamp.at) }),
        None => Refusal::Lost(LostRace { object: object.to_string(), written_at: last_modified }),
    }
}

#[derive(Serialize)]
struct WithStamp<'a, T> {
    #[serde(flatten)]
    state: &'a T,
    writer: &'a WriteStamp,
}

/// `state` (a struct) serialised as a JSON object, its fields in their order, with its
/// `writer` stamp added last.
pub fn stamped<T: Serialize>(state: &T, stamp: &WriteStamp) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&WithStamp { state, writer: stamp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::t;

    fn stamp(run: &str, write: u64) -> WriteStamp {
        WriteStamp { run: run.into(), write, at: t("2026-12-07T03:00:00Z") }
    }

    #[test]
    fn a_stamped_state_keeps_its_fields_and_names_its_writer() {
        let bytes = stamped(&serde_json::json!({"schema_version": 1}), &stamp("r1", 2)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["writer"]["run"], "r1");
        assert_eq!(v["writer"]["at"], "2026-12-07T03:00:00.000Z");
    }

    #[test]
    fn our_own_landed_write_is_not_a_lost_race() {
        let ours = stamp("r1", 2);
        let bytes = stamped(&serde_json::json!({}), &ours).unwrap();
        assert_eq!(refusal_of("s3://b/k", Some(&bytes), None, &ours), Refusal::OwnWriteLanded);
    }

    #[test]
    fn another_writer_is_named_with_its_time() {
        let theirs = stamped(&serde_json::json!({}), &stamp("r2", 1)).unwrap();
        let Refusal::Lost(lost) = refusal_of("s3://b/k", Some(&theirs), None, &stamp("r1", 2)) else { panic!() };
        assert_eq!(lost.written_at, Some(t("2026-12-07T03:00:00Z")));
        assert!(lost.to_string().starts_with("s3://b/k was written by another run at 2026-12-07T03:00:00.000Z"));
    }

    #[test]
    fn an_unstamped_or_vanished_object_falls_back_to_s3s_time() {
        let modified = Some(t("2026-12-07T02:59:00Z"));
        let Refusal::Lost(lost) = refusal_of("k", Some(b"{}"), modified, &stamp("r1", 1)) else { panic!() };
        assert_eq!(lost.written_at, modified);
        let Refusal::Lost(gone) = refusal_of("k", None, None, &stamp("r1", 1)) else { panic!() };
        assert_eq!(gone.written_at, None);
        assert!(!gone.to_string().contains(" at "));
    }
}
