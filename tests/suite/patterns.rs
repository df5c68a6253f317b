//! The patterns (scatter-gather, bounded map, redundant and hedged requests),
//! on every runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt, TryStreamExt};
use taskgroup::patterns::{
    first_ok, hedged, map_concurrent, map_concurrent_unordered, scatter_gather, try_map_concurrent,
    try_map_concurrent_unordered,
};
use taskgroup::runtime::Runtime;

use crate::common::{panic_message, runtime_tests};
use crate::ledger::Ledger;

type BoxedLookup = Pin<Box<dyn Future<Output = Result<u32, String>> + Send>>;

/// A lookup that answers `answer` after `ms`, counting starts and drops.
/// A lookup this slow never answers within a test (an hour): only
/// cancellation ends it, whatever the machine's load.
const NEVER_MS: u64 = 3_600_000;

struct Replicas<R> {
    rt: R,
    started: Arc<AtomicUsize>,
    dropped_unfinished: Arc<AtomicUsize>,
}

struct DropCheck(Arc<AtomicUsize>, bool);

impl Drop for DropCheck {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl<R: Runtime> Replicas<R> {
    fn new(rt: &R) -> Self {
        Self {
            rt: rt.clone(),
            started: Arc::default(),
            dropped_unfinished: Arc::default(),
        }
    }

    fn lookup(&self, ms: u64, answer: Result<u32, &str>) -> BoxedLookup {
        let (rt, started, dropped) = (
            self.rt.clone(),
            self.started.clone(),
            self.dropped_unfinished.clone(),
        );
        let answer = answer.map_err(str::to_owned);
        Box::pin(async move {
            started.fetch_add(1, Ordering::SeqCst);
            let mut check = DropCheck(dropped, false);
            rt.sleep(Duration::from_millis(ms)).await;
            check.1 = true;
            answer
        })
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    fn dropped(&self) -> usize {
        self.dropped_unfinished.load(Ordering::SeqCst)
    }
}

/// A runtime that drops the first `n` futures it is given instead of running
/// them (as a runtime that shuts down drops its tasks), and hands the rest
/// to `inner`.
#[derive(Clone)]
struct Loses<R> {
    inner: R,
    left: Arc<AtomicUsize>,
}

impl<R: Runtime> Loses<R> {
    fn first(n: usize, inner: &R) -> Self {
        Self {
            inner: inner.clone(),
            left: Arc::new(AtomicUsize::new(n)),
        }
    }
}

impl<R: Runtime> Runtime for Loses<R> {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        let lose = self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if lose {
            drop(future);
        } else {
            self.inner.spawn(future);
        }
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        self.inner.sleep(duration)
    }
}

/// How many calls run at once, and the most that ever did.
#[derive(Clone, Default)]
struct Gauge {
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Gauge {
    /// Runs `work` counted as one call in flight.
    async fn count<T>(self, work: impl Future<Output = T>) -> T {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let value = work.await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        value
    }

    fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }
}

runtime_tests! {
    async fn scatter_gather_returns_results_in_input_order(rt) {
        let replicas = Replicas::new(&rt);
        let results = scatter_gather(&rt, [30u64, 1, 15], |ms| replicas.lookup(ms, Ok(ms as u32))).await;
        assert_eq!(results.unwrap(), vec![30, 1, 15]);
    }

    async fn scatter_gather_returns_the_first_error_and_cancels_the_rest(rt) {
        let replicas = Replicas::new(&rt);
        let inputs = [(2_000u64, Ok(1)), (1, Err("down")), (2_000, Ok(3))];
        let result = scatter_gather(&rt, inputs, |(ms, answer)| replicas.lookup(ms, answer)).await;
        assert_eq!(result.unwrap_err().into_task_error().as_deref(), Some("down"));
        assert_eq!(replicas.dropped(), 2, "the slow lookups were cancelled before it returned");
    }

    async fn map_concurrent_yields_plain_values_in_input_order_with_at_most_limit_in_flight(rt) {
        const LIMIT: usize = 4;
        let gauge = Gauge::default();
        let values: Vec<u64> = map_concurrent(&rt, 0..40u64, LIMIT, |i| {
            let rt = rt.clone();
            // Later inputs finish sooner within each window.
            gauge.clone().count(async move {
                rt.sleep(Duration::from_micros(100 * (40 - i))).await;
                i
            })
        })
        .collect()
        .await;
        assert_eq!(values, (0..40).collect::<Vec<_>>());
        assert_eq!(gauge.most(), LIMIT, "the limit was reached and never passed");
    }

    async fn map_concurrent_unordered_yields_every_plain_value_with_at_most_limit_in_flight(rt) {
        const LIMIT: usize = 3;
        let gauge = Gauge::default();
        let mut values: Vec<u64> = map_concurrent_unordered(&rt, 0..30u64, LIMIT, |i| {
            let rt = rt.clone();
            gauge.clone().count(async move {
                rt.sleep(Duration::from_micros(100 * (i % 7))).await;
                i
            })
        })
        .collect()
        .await;
        values.sort_unstable();
        assert_eq!(values, (0..30).collect::<Vec<_>>());
        assert!(gauge.most() <= LIMIT, "{} calls ran at once", gauge.most());
    }

    async fn map_concurrent_takes_inputs_lazily(rt) {
        // A huge input is pulled only as slots free up.
        let pulled = Arc::new(AtomicUsize::new(0));
        let inputs = {
            let pulled = pulled.clone();
            (0..u64::MAX).inspect(move |_| {
                pulled.fetch_add(1, Ordering::SeqCst);
            })
        };
        let mut stream = map_concurrent(&rt, inputs, 3, |i| async move { i });
        let first: Vec<u64> = (&mut stream).take(10).collect().await;
        assert_eq!(first, (0..10).collect::<Vec<_>>());
        assert!(pulled.load(Ordering::SeqCst) <= 13, "pulled {}", pulled.load(Ordering::SeqCst));
    }

    async fn map_concurrent_takes_usize_max_as_no_limit(rt) {
        let values: Vec<u64> = map_concurrent(&rt, 0..100u64, usize::MAX, |i| async move { i }).collect().await;
        assert_eq!(values, (0..100).collect::<Vec<_>>());
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn map_concurrent_refuses_a_limit_of_zero(rt) {
        let payload = std::panic::catch_unwind(|| map_concurrent(&rt, 0..1u64, 0, |i| async move { i })).unwrap_err();
        assert_eq!(panic_message(&*payload), "map_concurrent with a limit of zero would never run anything");
        let payload = std::panic::catch_unwind(|| {
            try_map_concurrent(&rt, 0..1u64, 0, |i| async move { Ok::<_, ()>(i) })
        })
        .unwrap_err();
        assert_eq!(panic_message(&*payload), "try_map_concurrent with a limit of zero would never run anything");
    }

    async fn dropping_a_map_stream_cancels_its_calls(rt) {
        let replicas = Replicas::new(&rt);
        let mut stream = map_concurrent(&rt, [1u64, NEVER_MS, NEVER_MS], 3, |ms| replicas.lookup(ms, Ok(1)));
        assert_eq!(stream.next().await.unwrap(), Ok(1));
        drop(stream);
        while replicas.dropped() < 2 {
            rt.sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(replicas.dropped(), 2);
    }

    async fn try_map_concurrent_keeps_input_order_with_at_most_limit_in_flight(rt) {
        const LIMIT: usize = 4;
        let gauge = Gauge::default();
        let values: Vec<u64> = try_map_concurrent(&rt, 0..40u64, LIMIT, |i| {
            let rt = rt.clone();
            gauge.clone().count(async move {
                rt.sleep(Duration::from_micros(100 * (40 - i))).await;
                Ok::<_, String>(i)
            })
        })
        .try_collect()
        .await
        .unwrap();
        assert_eq!(values, (0..40).collect::<Vec<_>>());
        assert_eq!(gauge.most(), LIMIT, "the limit was reached and never passed");
    }

    async fn try_map_concurrent_stops_at_the_first_error(rt) {
        // The first call fails; the others never finish by themselves, so
        // the stream can only end if they were cancelled.
        let ledger = Ledger::new();
        let mut stream = try_map_concurrent(&rt, 0..1_000u64, 3, |i| {
            let ticket = ledger.ticket();
            async move {
                if i > 0 {
                    std::future::pending::<()>().await;
                }
                ticket.complete();
                Err::<u64, _>(format!("call {i} failed"))
            }
        });
        assert_eq!(stream.next().await, Some(Err("call 0 failed".to_owned())));
        assert_eq!(stream.next().await, None, "the first error ends the stream");
        assert!(futures::stream::FusedStream::is_terminated(&stream));
        assert_eq!(ledger.issued(), 3, "no input was taken after the error");
        assert_eq!(ledger.settled(), (1, 2), "the rest were cancelled before the stream ended");
    }

    async fn try_map_concurrent_yields_values_in_order_before_the_error(rt) {
        // Call 5 fails; the values before it come in input order (those
        // still running when it failed are cancelled).
        let results: Vec<Result<u64, u64>> = try_map_concurrent(&rt, 0..10u64, 2, |i| async move {
            if i == 5 { Err(i) } else { Ok(i) }
        })
        .collect()
        .await;
        let (last, values) = results.split_last().unwrap();
        assert_eq!(last, &Err(5));
        let values: Vec<u64> = values.iter().map(|v| *v.as_ref().unwrap()).collect();
        assert_eq!(values, (0..values.len() as u64).collect::<Vec<_>>());
        assert!(values.len() >= 4, "with a limit of 2, call 5 started after 0..=3 were yielded");
    }

    async fn try_map_concurrent_unordered_stops_at_the_first_error(rt) {
        let ledger = Ledger::new();
        let results: Vec<Result<u64, String>> = try_map_concurrent_unordered(&rt, 0..1_000u64, 4, |i| {
            let ticket = ledger.ticket();
            async move {
                if i != 2 {
                    std::future::pending::<()>().await;
                }
                ticket.complete();
                Err(format!("call {i} failed"))
            }
        })
        .collect()
        .await;
        assert_eq!(results, vec![Err("call 2 failed".to_owned())]);
        assert_eq!(ledger.issued(), 4, "no input was taken after the error");
        assert_eq!(ledger.settled(), (1, 3), "the rest were cancelled before the stream ended");
    }

    async fn try_map_concurrent_unordered_yields_every_value(rt) {
        let mut values: Vec<u64> = try_map_concurrent_unordered(&rt, 0..100u64, 8, |i| async move {
            Ok::<_, ()>(i)
        })
        .try_collect()
        .await
        .unwrap();
        values.sort_unstable();
        assert_eq!(values, (0..100).collect::<Vec<_>>());
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn map_concurrent_panics_when_the_runtime_loses_a_call(rt) {
        let losing = Loses::first(1, &rt);
        let mut stream = map_concurrent(&losing, 0..3u64, 3, |i| async move { i });
        let payload = std::panic::AssertUnwindSafe(stream.next()).catch_unwind().await.unwrap_err();
        assert_eq!(
            panic_message(&*payload),
            "map_concurrent: the runtime dropped a call before it finished (was it shut down?)"
        );
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn map_concurrent_resumes_a_calls_panic_and_cancels_the_rest(rt) {
        let ledger = Ledger::new();
        let mut stream = map_concurrent(&rt, 0..3u64, 3, |i| {
            let ticket = ledger.ticket();
            async move {
                if i == 1 {
                    panic!("call 1 exploded");
                }
                std::future::pending::<()>().await;
                ticket.complete();
                i
            }
        });
        let payload = std::panic::AssertUnwindSafe(stream.next()).catch_unwind().await.unwrap_err();
        assert_eq!(panic_message(&*payload), "call 1 exploded");
        drop(stream);
        while ledger.dropped() < 3 {
            rt.sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(ledger.settled(), (0, 3));
    }

    async fn first_ok_takes_the_first_success_and_cancels_the_rest(rt) {
        // Separate counters: whether the failing replica's answer comes
        // before or after the winner's is up to the scheduler (a loaded run
        // saw it cancelled), but the two that never answer are always
        // cancelled.
        let (fast, slow) = (Replicas::new(&rt), Replicas::new(&rt));
        let lookups = vec![
            fast.lookup(1, Err("replica 0 down")),
            slow.lookup(NEVER_MS, Ok(1)),
            fast.lookup(5, Ok(2)),
            slow.lookup(NEVER_MS, Ok(3)),
        ];
        assert_eq!(first_ok(&rt, lookups).await, Ok(2));
        assert_eq!(fast.started() + slow.started(), 4, "redundant requests start everything");
        assert_eq!(slow.dropped(), 2, "the slow ones were cancelled before it returned");
    }

    async fn first_ok_returns_the_task_errors_in_attempt_order(rt) {
        let replicas = Replicas::new(&rt);
        let lookups = vec![
            replicas.lookup(5, Err("a")),
            replicas.lookup(1, Err("b")),
            replicas.lookup(3, Err("c")),
        ];
        let failed = first_ok(&rt, lookups).await.unwrap_err();
        assert_eq!(failed.to_string(), "all 3 attempts failed; the first error: a");
        assert_eq!(failed.len(), 3);
        assert_eq!(failed.lost(), 0);
        assert_eq!(failed.errors(), ["a", "b", "c"]);
        let errors: Vec<String> = failed.into_errors();
        assert_eq!(errors, ["a", "b", "c"]);
    }

    async fn first_ok_counts_attempts_the_runtime_lost(rt) {
        let losing = Loses::first(2, &rt);
        let attempts = ["a", "b", "c"].map(|name| async move { Err::<(), _>(name) });
        let failed = first_ok(&losing, attempts).await.unwrap_err();
        assert_eq!(failed.errors(), ["c"], "the two lost attempts have no error to give");
        assert_eq!(failed.lost(), 2);
        assert_eq!(
            failed.to_string(),
            "all 3 attempts failed (2 lost: the runtime dropped them before they finished); the first error: c"
        );

        let losing = Loses::first(1, &rt);
        let attempts = [Ok(1), Ok(2)].map(|answer| async move { answer.map_err(|()| "no") });
        assert_eq!(first_ok(&losing, attempts).await, Ok(2), "a lost attempt does not stop the others");
    }

    async fn first_ok_with_no_attempt_fails_empty(rt) {
        let none: Vec<BoxedLookup> = Vec::new();
        let failed = first_ok(&rt, none).await.unwrap_err();
        assert!(failed.is_empty());
        assert_eq!(failed.lost(), 0);
        assert_eq!(failed.to_string(), "no attempt was made");
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn first_ok_resumes_an_attempts_panic_and_cancels_the_rest(rt) {
        let ledger = Ledger::new();
        let never = {
            let ticket = ledger.ticket();
            let lookup: BoxedLookup = Box::pin(async move {
                std::future::pending::<()>().await;
                ticket.complete();
                Ok(1)
            });
            lookup
        };
        let panics: BoxedLookup =
            Box::pin(futures::future::ready(()).map(|()| -> Result<u32, String> { panic!("attempt exploded") }));
        let payload = std::panic::AssertUnwindSafe(first_ok(&rt, vec![never, panics]))
            .catch_unwind()
            .await
            .unwrap_err();
        assert_eq!(panic_message(&*payload), "attempt exploded");
        while ledger.dropped() < 1 {
            rt.sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(ledger.settled(), (0, 1));
    }

    async fn hedged_starts_the_next_attempt_only_when_the_first_is_slow(rt) {
        let replicas = Replicas::new(&rt);
        let plan = [(NEVER_MS, Ok(0)), (1, Ok(1)), (1, Ok(2)), (1, Ok(3))];
        let attempts = plan.iter().map(|&(ms, answer)| replicas.lookup(ms, answer));
        // The hedge waits 500 ms: long enough that attempt 2 (1 ms) answers
        // before a third would start, even on a loaded machine.
        let value = hedged(&rt, attempts, Duration::from_millis(500)).await;
        assert_eq!(value, Ok(1));
        assert_eq!(replicas.started(), 2, "only the hedge was sent, not every replica");
        assert_eq!(replicas.dropped(), 1, "the slow first attempt was cancelled");
    }

    async fn hedged_moves_on_at_once_after_a_failure(rt) {
        let replicas = Replicas::new(&rt);
        let plan = [(1u64, Err("first failed")), (1, Ok(7))];
        let attempts = plan.iter().map(|&(ms, answer)| replicas.lookup(ms, answer));
        // A delay far longer than the test: only a failure can start attempt 2.
        let value = hedged(&rt, attempts, Duration::from_secs(3_600)).await;
        assert_eq!(value, Ok(7));
    }

    async fn hedged_moves_on_at_once_after_a_lost_attempt(rt) {
        let losing = Loses::first(1, &rt);
        let attempts = [1, 2].map(|n| async move { Ok::<_, String>(n) });
        // A delay far longer than the test: only the loss can start attempt 2.
        let value = hedged(&losing, attempts, Duration::from_secs(3_600)).await;
        assert_eq!(value, Ok(2));

        let losing = Loses::first(1, &rt);
        let attempts = ["a", "b"].map(|name| async move { Err::<(), _>(name) });
        let failed = hedged(&losing, attempts, Duration::from_secs(3_600)).await.unwrap_err();
        assert_eq!((failed.errors(), failed.lost()), (&["b"][..], 1));
    }

    async fn hedged_returns_the_task_errors_in_attempt_order(rt) {
        let replicas = Replicas::new(&rt);
        let plan = [(2u64, Err("x")), (1, Err("y"))];
        let attempts = plan.iter().map(|&(ms, answer)| replicas.lookup(ms, answer));
        let failed = hedged(&rt, attempts, Duration::from_millis(1)).await.unwrap_err();
        assert_eq!(failed.into_errors(), ["x", "y"]);
        let none: Vec<BoxedLookup> = Vec::new();
        let failed = hedged(&rt, none, Duration::from_millis(1)).await.unwrap_err();
        assert!(failed.is_empty());
        assert_eq!(failed.to_string(), "no attempt was made");
    }
}
