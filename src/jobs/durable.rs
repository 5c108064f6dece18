//! Durable writes: the few writes whose loss would announce or act twice (the collect
//! state, the digest's progress and object). The SDK rightly does not retry a refusal
//! such as 403, but one refused save there costs a repeated alert or step, so these are
//! tried [`SAVE_ATTEMPTS`] times with a growing pause.

use std::time::Duration;

/// How often a durable write is tried before the run gives up on it. The state write
/// after SNS accepted an alert alone keeps the next run from sending the same news
/// again; only a crash or this many refusals in a row between publish and write can
/// repeat an alert.
pub const SAVE_ATTEMPTS: u32 = 8;
/// The pause after the first failed try (doubling, at most 2 s); tests wait less.
pub const SAVE_FIRST_DELAY: Duration = Duration::from_millis(if cfg!(test) { 1 } else { 100 });

/// Runs `op` as a durable write: [`retrying`] with [`SAVE_ATTEMPTS`] and
/// [`SAVE_FIRST_DELAY`].
pub async fn durably<T, F, Fut>(op: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    retrying(SAVE_ATTEMPTS, SAVE_FIRST_DELAY, op).await
}

/// Runs `op` until it succeeds, at most `attempts` times, waiting `first_delay` after the
/// first failure and twice as long after each next one (at most two seconds); the last
/// error is returned. For the rare write worth more tries than the SDK's retry policy
/// gives it (which rightly does not retry refusals such as 403).
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
            Err(e) if attempt >= attempts => return Err(e),
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
