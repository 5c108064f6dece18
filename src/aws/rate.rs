//! Client-side pacing of EC2 calls at the account's token-bucket rates.
//!
//! EC2 throttles per account and Region with two token buckets: mutating actions
//! (Create*/Delete*…, AWS default: bucket 50, refill 5/s) and non-mutating ones
//! (Describe*/Get*/List*, bucket 100, refill 20/s). A client that sends faster than the
//! refill rate only earns `RequestLimitExceeded` answers and retry back-off ("throttling
//! storms"). So the EC2 client's transport waits for a token of the matching bucket
//! before every attempt (retries included, since AWS counts those too), with a small
//! headroom below the configured refill so that latency jitter between client and
//! server clocks does not turn into throttled calls. The SDK's standard retry (see
//! `aws::mod`) handles what pacing cannot see (other callers sharing the buckets).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Mutex;

use crate::config::{Ec2Rates, Rate};

/// Fraction of the configured refill rate the client actually uses: 5 % below the
/// bucket absorbs up to a second of accumulated jitter per 20 s of sustained sending.
pub const HEADROOM: f64 = 0.95;

/// Which of EC2's two buckets a call draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Mutating,
    NonMutating,
}

/// AWS's rule: `Describe*`, `Get*` and `List*` actions are non-mutating, all others
/// mutating. The action is read from the EC2 Query protocol's form body; a request
/// whose action cannot be read is treated as mutating (the stricter bucket).
pub fn call_kind(body: Option<&[u8]>) -> CallKind {
    let action = body.and_then(|b| b.split(|&c| c == b'&').find_map(|pair| pair.strip_prefix(b"Action=".as_slice())));
    match action {
        Some(a) if [b"Describe".as_slice(), b"Get", b"List"].iter().any(|p| a.starts_with(p)) => CallKind::NonMutating,
        _ => CallKind::Mutating,
    }
}

/// Tokens per second this client takes from a bucket refilled at `rate`.
fn paced_per_second(rate: Rate) -> f64 {
    rate.per_second * HEADROOM
}

/// The governor quota pacing one bucket: one token every `1 / (rate × HEADROOM)`
/// seconds, at most `burst` at once (the bucket's capacity).
pub fn quota(rate: Rate) -> Quota {
    let per_token = Duration::from_secs_f64(1.0 / paced_per_second(rate));
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(per_token.max(Duration::from_nanos(1))).expect("period is non-zero").allow_burst(burst)
}

/// The two buckets of one account and Region, shared by every request of the process.
#[derive(Debug)]
pub struct Pacer {
    mutating: Bucket,
    non_mutating: Bucket,
}

impl Pacer {
    pub fn new(rates: Ec2Rates) -> Self {
        Self { mutating: Bucket::new(rates.mutating), non_mutating: Bucket::new(rates.non_mutating) }
    }

    /// Waits until the bucket of `kind` has a token, and takes it.
    pub async fn wait(&self, kind: CallKind) {
        match kind {
            CallKind::Mutating => self.mutating.take().await,
            CallKind::NonMutating => self.non_mutating.take().await,
        }
    }
}

/// At most how many tokens an empty bucket gathers before the head of the queue wakes:
/// about a second's refill, capped by the bucket's capacity. Same sustained rate (tokens
/// accrue continuously and EC2's bucket is never behind ours), but queued requests leave
/// in small groups: one wake-up for a group of calls instead of one per token.
fn wake_group(rate: Rate) -> u32 {
    (paced_per_second(rate).floor() as u32).clamp(1, rate.burst.max(1))
}

/// One token bucket with a queue in front of it. Only the task at the head of the
/// queue sleeps; the others wait their turn on a fair (FIFO) lock, so a refill wakes
/// one task, not every waiting request.
#[derive(Debug)]
struct Bucket {
    limiter: DefaultDirectRateLimiter,
    queue: Mutex<()>,
    /// Requests waiting for a token, the head included: the head gathers a token for
    /// each of them (up to `group`), never for requests that are not there.
    waiting: AtomicU32,
    group: u32,
    interval: Duration,
}

impl Bucket {
    fn new(rate: Rate) -> Self {
        let quota = quota(rate);
        Self {
            interval: quota.replenish_interval(),
            limiter: RateLimiter::direct(quota),
            queue: Mutex::new(()),
            waiting: AtomicU32::new(0),
            group: wake_group(rate),
        }
    }

    async fn take(&self) {
        let waiting = Waiting::enter(&self.waiting);
        let _turn = self.queue.lock().await;
        while let Err(not_until) = self.limiter.check() {
            let gather = self.waiting.load(Ordering::Relaxed).clamp(1, self.group) - 1;
            tokio::time::sleep(not_until.wait_time_from(DefaultClock::default().now()) + self.interval * gather).await;
        }
        drop(waiting); // before the next in line takes its turn and counts the waiters
    }
}

/// Counts a request as waiting until it has its token or is dropped (cancelled).
struct Waiting<'a>(&'a AtomicU32);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicU32) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An HTTP client that paces every request through a [`Pacer`] before handing it to
/// the wrapped client (which keeps its connection pool and timeouts).
#[derive(Debug, Clone)]
pub struct PacedHttpClient {
    inner: SharedHttpClient,
    pacer: Arc<Pacer>,
}

impl PacedHttpClient {
    pub fn new(inner: SharedHttpClient, pacer: Arc<Pacer>) -> Self {
        Self { inner, pacer }
    }
}

impl HttpClient for PacedHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            pacer: self.pacer.clone(),
        })
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pacer: Arc<Pacer>,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let kind = call_kind(request.body().bytes());
        let (inner, pacer) = (self.inner.clone(), self.pacer.clone());
        HttpConnectorFuture::new(async move {
            pacer.wait(kind).await;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    #[test]
    fn describe_get_and_list_are_non_mutating() {
        for body in
            ["Action=DescribeImageUsageReports&Version=2016-11-15", "Version=2016-11-15&Action=GetConsoleOutput"]
        {
            assert_eq!(call_kind(Some(body.as_bytes())), CallKind::NonMutating, "{body}");
        }
        assert_eq!(call_kind(Some(b"Action=ListImagesInRecycleBin")), CallKind::NonMutating);
    }

    #[test]
    fn everything_else_is_mutating() {
        for body in ["Action=CreateImageUsageReport&ImageId=ami-1", "Action=DeleteImageUsageReport", "Version=1", ""] {
            assert_eq!(call_kind(Some(body.as_bytes())), CallKind::Mutating, "{body}");
        }
        assert_eq!(call_kind(None), CallKind::Mutating);
        // A parameter value that merely contains "Describe" does not make a call read-only.
        assert_eq!(call_kind(Some(b"Action=CreateTags&Tag.1.Value=Action%3DDescribe")), CallKind::Mutating);
    }

    #[test]
    fn quota_paces_below_the_refill_rate_with_the_bucket_as_burst() {
        let q = quota(Rate { per_second: 5.0, burst: 50 });
        assert_eq!(q.burst_size().get(), 50);
        let expected = Duration::from_secs_f64(1.0 / 4.75);
        assert!(q.replenish_interval().abs_diff(expected) < Duration::from_micros(1), "{q:?}");
    }

    #[test]
    fn an_empty_bucket_gathers_about_a_seconds_refill_within_its_capacity() {
        assert_eq!(wake_group(Rate { per_second: 5.0, burst: 50 }), 4);
        assert_eq!(wake_group(Rate { per_second: 20.0, burst: 100 }), 19);
        assert_eq!(wake_group(Rate { per_second: 100.0, burst: 5 }), 5);
        assert_eq!(wake_group(Rate { per_second: 0.5, burst: 10 }), 1);
        assert_eq!(wake_group(Rate { per_second: 5.0, burst: 0 }), 1);
    }

    /// A pacer whose mutating bucket is under test; the other bucket is all but unlimited.
    fn mutating_only(per_second: f64, burst: u32) -> Pacer {
        Pacer::new(Ec2Rates {
            mutating: Rate { per_second, burst },
            non_mutating: Rate { per_second: 10_000.0, burst: 1000 },
        })
    }

    #[tokio::test]
    async fn a_lone_request_on_an_empty_bucket_waits_for_one_token_not_a_group() {
        let pacer = mutating_only(10.0, 10); // groups of up to 9
        for _ in 0..10 {
            pacer.wait(CallKind::Mutating).await;
        }
        let start = Instant::now();
        pacer.wait(CallKind::Mutating).await;
        // One token at 9.5/s is ~105 ms; a group of nine would be ~950 ms.
        assert!(start.elapsed() < Duration::from_millis(500), "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn a_cancelled_wait_is_no_longer_counted_as_waiting() {
        let pacer = mutating_only(1.0, 1);
        pacer.wait(CallKind::Mutating).await;
        let gave_up = tokio::time::timeout(Duration::from_millis(10), pacer.wait(CallKind::Mutating)).await;
        assert!(gave_up.is_err(), "an empty bucket at 1 token/s answered within 10 ms");
        assert_eq!(pacer.mutating.waiting.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn queued_requests_on_an_empty_bucket_leave_together() {
        let pacer = Arc::new(mutating_only(40.0, 4)); // groups of up to 4
        for _ in 0..4 {
            pacer.wait(CallKind::Mutating).await;
        }
        // All four queue behind a request that holds the head, as in a steady stream.
        let head = pacer.mutating.queue.lock().await;
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    pacer.wait(CallKind::Mutating).await;
                    Instant::now()
                })
            })
            .collect();
        while pacer.mutating.waiting.load(Ordering::Relaxed) < 4 {
            tokio::task::yield_now().await;
        }
        let start = Instant::now();
        drop(head);
        let mut left = Vec::new();
        for t in tasks {
            left.push(t.await.unwrap());
        }
        let (first, last) = (*left.iter().min().unwrap(), *left.iter().max().unwrap());
        // The head slept until four tokens (4 / 38 per s ≈ 105 ms) had gathered, then all
        // four went at once instead of one every ~26 ms.
        assert!(first - start >= Duration::from_millis(90), "{:?}", first - start);
        assert!(last - first < Duration::from_millis(20), "{:?}", last - first);
        assert_eq!(pacer.mutating.waiting.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn pacer_lets_a_burst_through_then_holds_the_rate() {
        let pacer = mutating_only(100.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            pacer.wait(CallKind::Mutating).await;
        }
        assert!(start.elapsed() < Duration::from_millis(20), "the burst waits: {:?}", start.elapsed());
        for _ in 0..20 {
            pacer.wait(CallKind::Mutating).await;
        }
        // 20 tokens past the burst at 95 tokens/s take at least 0.21 s.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_millis(600), "{took:?}");
        // The other bucket is independent and still full.
        let other = Instant::now();
        for _ in 0..100 {
            pacer.wait(CallKind::NonMutating).await;
        }
        assert!(other.elapsed() < Duration::from_millis(20));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_waiters_queue_for_tokens_in_arrival_order() {
        let pacer = Arc::new(mutating_only(200.0, 1));
        pacer.wait(CallKind::Mutating).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (pacer, order) = (pacer.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                pacer.wait(CallKind::Mutating).await;
                order.lock().await.push(i);
            }));
            // Each task reaches the queue before the next one starts.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        // Eight tokens past an empty bucket at 190 tokens/s: one token each, none shared.
        assert!(start.elapsed() >= Duration::from_millis(40), "{:?}", start.elapsed());
        assert_eq!(*order.lock().await, (0..8).collect::<Vec<_>>());
    }

    #[derive(Debug, Default, Clone)]
    struct Recorder(Arc<std::sync::Mutex<Vec<Instant>>>);

    impl HttpConnector for Recorder {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            self.0.lock().unwrap().push(Instant::now());
            HttpConnectorFuture::ready(Ok(HttpResponse::new(200.try_into().unwrap(), SdkBody::empty())))
        }
    }

    #[tokio::test]
    async fn the_connector_waits_for_a_token_before_each_request() {
        let recorder = Recorder::default();
        let pacer = Arc::new(mutating_only(50.0, 2));
        let connector = PacedConnector { inner: SharedHttpConnector::new(recorder.clone()), pacer };
        let request = || {
            let mut r = HttpRequest::new(SdkBody::from("Action=CreateImageUsageReport&Version=2016-11-15"));
            r.set_uri("https://ec2.us-east-1.amazonaws.com/").unwrap();
            r
        };
        for _ in 0..7 {
            connector.call(request()).await.unwrap();
        }
        let sent = recorder.0.lock().unwrap().clone();
        assert_eq!(sent.len(), 7);
        // Two pass at once (the burst); the five after them are spaced ≥ 1/47.5 s apart.
        let spread = sent[6] - sent[1];
        assert!(spread >= Duration::from_millis(100), "{spread:?}");
    }
}
