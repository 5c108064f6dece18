//! Durable writes: the few writes whose loss would announce or act twice (the collect
//! state, the compaction state, the digest's progress and object). The SDK rightly does
//! not retry a refusal such as 403, but one refused save there costs a repeated alert or
//! step, so these are tried [`SAVE_ATTEMPTS`] times with a growing pause. A state
//! object ([`StateFile`]) is also never written over another run's update: each write
//! replaces exactly the version this run read, and a lost race stops the run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_s3::Client;
use chrono::Utc;
use serde::Serialize;

use crate::aws::state_object::{self, Versioned};
use crate::core::archive::{LostRace, Version, WriteStamp, stamped};

/// How often a durable write is tried before the run gives up on it. The state write
/// after SNS accepted an alert alone keeps the next run from sending the same news
/// again; only a crash or this many refusals in a row between publish and write can
/// repeat an alert.
pub const SAVE_ATTEMPTS: u32 = 8;
/// The pause after the first failed try (doubling, at most 2 s); tests wait less.
pub const SAVE_FIRST_DELAY: Duration = Duration::from_millis(if cfg!(test) { 1 } else { 100 });

/// Runs `op` as a durable write: [`retrying`] with [`SAVE_ATTEMPTS`] and
/// [`SAVE_FIRST_DELAY`]. A [`LostRace`] is final: another run's version is there, and
/// trying again cannot change that.
pub async fn durably<T, F, Fut>(op: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    retrying(SAVE_ATTEMPTS, SAVE_FIRST_DELAY, op).await
}

/// The stamp of this process's next state write: its writer (process id and start, the
/// same for every write of a run) and the writer's wall clock (when another run reads
/// it in a lost race, it names a real time, whatever `--now` the writer ran with).
pub fn next_stamp() -> WriteStamp {
    static RUN: OnceLock<String> = OnceLock::new();
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let now = Utc::now();
    let run = RUN.get_or_init(|| format!("{}-{}", std::process::id(), now.timestamp_nanos_opt().unwrap_or_default()));
    WriteStamp { run: run.clone(), write: WRITES.fetch_add(1, Ordering::Relaxed), at: now }
}

/// One state object of the run: read once with its version, then every save replaces
/// exactly the version this run last saw (conditional `PutObject`), durably.
pub struct StateFile<'a> {
    s3: &'a Client,
    bucket: &'a str,
    pub key: String,
    version: Mutex<Version>,
}

impl<'a> StateFile<'a> {
    /// Reads the object (`None`: there is none yet) and remembers its version.
    pub async fn read(s3: &'a Client, bucket: &'a str, key: String) -> anyhow::Result<(Self, Option<Vec<u8>>)> {
        let Versioned { bytes, version, .. } = state_object::get_versioned(s3, bucket, &key).await?;
        Ok((Self { s3, bucket, key, version: Mutex::new(version) }, bytes))
    }

    /// A state object this run has not read: its first write creates it
    /// (`If-None-Match: *`), so it never replaces one it did not read.
    pub fn unread(s3: &'a Client, bucket: &'a str, key: String) -> Self {
        Self { s3, bucket, key, version: Mutex::new(Version::Absent) }
    }

    /// Writes `state` over the version this run last saw; another run's write in
    /// between is a [`LostRace`] error (the run must stop before announcing or acting).
    pub async fn save<T: Serialize>(&self, state: &T) -> anyhow::Result<()> {
        let stamp = next_stamp();
        let body = stamped(state, &stamp)?;
        let expected = self.version.lock().expect("not poisoned").clone();
        let written =
            durably(|| state_object::put_state(self.s3, self.bucket, &self.key, body.clone(), &expected, &stamp))
                .await?;
        *self.version.lock().expect("not poisoned") = written;
        Ok(())
    }
}

/// Runs `op` until it succeeds, at most `attempts` times, waiting `first_delay` after the
/// first failure and twice as long after each next one (at most two seconds); the last
/// error is returned (at once for a [`LostRace`]). For the rare write worth more tries
/// than the SDK's retry policy gives it (which rightly does not retry refusals such as
/// 403).
pub async fn retrying<T, F, Fut>(attempts: u32, first_delay: Duration, mut op: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut delay = first_delay;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(e) if attempt >= attempts || e.downcast_ref::<LostRace>().is_some() => return Err(e),
            Err(e) => {
                tracing::warn!(attempt, error = %format!("{e:#}"), "failed; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn retrying_stops_at_the_first_success() {
        let calls = Cell::new(0);
        let result = retrying(5, Duration::from_millis(1), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n < 3 { Err(anyhow::anyhow!("refused {n}")) } else { Ok(n) } }
        })
        .await;
        assert_eq!(result.unwrap(), 3);
        assert_eq!(calls.get(), 3);
    }

    #[tokio::test]
    async fn retrying_gives_up_after_its_attempts_with_the_last_error() {
        let calls = Cell::new(0);
        let result: anyhow::Result<()> = retrying(4, Duration::from_millis(1), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { Err(anyhow::anyhow!("refused {n}")) }
        })
        .await;
        assert_eq!(result.unwrap_err().to_string(), "refused 4");
        assert_eq!(calls.get(), 4);
    }
}
