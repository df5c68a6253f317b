//! The patterns (scatter-gather, bounded map, redundant and hedged requests),
//! on every runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use taskgroup::patterns::{
    first_ok, hedged, map_concurrent, map_concurrent_unordered, scatter_gather,
};
use taskgroup::runtime::Runtime;

use crate::common::runtime_tests;

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

fn task_errors(failed: taskgroup::patterns::AllFailed<String>) -> Vec<String> {
    failed
        .errors
        .into_iter()
        .map(|e| e.into_task_error().expect("a task error"))
        .collect()
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

    async fn map_concurrent_keeps_input_order_and_bounds_concurrency(rt) {
        const LIMIT: usize = 4;
        let (in_flight, high_water) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let stream = map_concurrent(&rt, 0..40u64, LIMIT, |i| {
            let (in_flight, high_water, rt) = (in_flight.clone(), high_water.clone(), rt.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                high_water.fetch_max(now, Ordering::SeqCst);
                // Later inputs finish sooner within each window.
                rt.sleep(Duration::from_micros(100 * (40 - i))).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, ()>(i)
            }
        });
        let values: Vec<u64> = stream.map(Result::unwrap).collect().await;
        assert_eq!(values, (0..40).collect::<Vec<_>>());
        assert_eq!(high_water.load(Ordering::SeqCst), LIMIT);
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
        let mut stream = map_concurrent(&rt, inputs, 3, |i| async move { Ok::<_, ()>(i) });
        let first: Vec<u64> = (&mut stream).take(10).map(Result::unwrap).collect().await;
        assert_eq!(first, (0..10).collect::<Vec<_>>());
        assert!(pulled.load(Ordering::SeqCst) <= 13, "pulled {}", pulled.load(Ordering::SeqCst));
    }

    async fn map_concurrent_unordered_yields_every_result(rt) {
        let mut values: Vec<u64> = map_concurrent_unordered(&rt, 0..100u64, 8, |i| async move {
            if i == 50 { Err(i) } else { Ok(i) }
        })
        .filter_map(|result| async move { result.ok() })
        .collect()
        .await;
        values.sort_unstable();
        assert_eq!(values.len(), 99, "an error does not stop the stream");
    }

    async fn dropping_a_map_stream_cancels_its_calls(rt) {
        let replicas = Replicas::new(&rt);
        let mut stream = map_concurrent(&rt, [1u64, NEVER_MS, NEVER_MS], 3, |ms| replicas.lookup(ms, Ok(1)));
        assert_eq!(stream.next().await.unwrap().unwrap(), 1);
        drop(stream);
        while replicas.dropped() < 2 {
            rt.sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(replicas.dropped(), 2);
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
        assert_eq!(first_ok(&rt, lookups).await.unwrap(), 2);
        assert_eq!(fast.started() + slow.started(), 4, "redundant requests start everything");
        assert_eq!(slow.dropped(), 2, "the slow ones were cancelled before it returned");
    }

    async fn first_ok_returns_every_error_in_order(rt) {
        let replicas = Replicas::new(&rt);
        let lookups = vec![
            replicas.lookup(5, Err("a")),
            replicas.lookup(1, Err("b")),
            replicas.lookup(3, Err("c")),
        ];
        let failed = first_ok(&rt, lookups).await.unwrap_err();
        assert_eq!(failed.to_string(), "all 3 attempts failed; the first: task failed: a");
        assert_eq!(task_errors(failed), vec!["a", "b", "c"]);
    }

    async fn hedged_starts_the_next_attempt_only_when_the_first_is_slow(rt) {
        let replicas = Replicas::new(&rt);
        let plan = [(NEVER_MS, Ok(0)), (1, Ok(1)), (1, Ok(2)), (1, Ok(3))];
        let attempts = plan.iter().map(|&(ms, answer)| replicas.lookup(ms, answer));
        // The hedge waits 500 ms: long enough that attempt 2 (1 ms) answers
        // before a third would start, even on a loaded machine.
        let value = hedged(&rt, Duration::from_millis(500), attempts).await.unwrap();
        assert_eq!(value, 1);
        assert_eq!(replicas.started(), 2, "only the hedge was sent, not every replica");
        assert_eq!(replicas.dropped(), 1, "the slow first attempt was cancelled");
    }

    async fn hedged_moves_on_at_once_after_a_failure(rt) {
        let replicas = Replicas::new(&rt);
        let plan = [(1u64, Err("first failed")), (1, Ok(7))];
        let attempts = plan.iter().map(|&(ms, answer)| replicas.lookup(ms, answer));
        // A delay far longer than the test: only a failure can start attempt 2.
        let value = hedged(&rt, Duration::from_secs(3_600), attempts).await.unwrap();
        assert_eq!(value, 7);
    }

    async fn hedged_returns_every_error_when_all_fail(rt) {
        let replicas = Replicas::new(&rt);
        let plan = [(2u64, Err("x")), (1, Err("y"))];
        let attempts = plan.iter().map(|&(ms, answer)| replicas.lookup(ms, answer));
        let errors = hedged(&rt, Duration::from_millis(1), attempts).await.unwrap_err();
        assert_eq!(task_errors(errors), vec!["x", "y"]);
        let none: Vec<BoxedLookup> = Vec::new();
        assert!(hedged(&rt, Duration::from_millis(1), none).await.unwrap_err().errors.is_empty());
    }
}
