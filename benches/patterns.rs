//! Two patterns against what users write instead: a bounded concurrent map,
//! and first-error cancellation. Results and how to read them:
//! `docs/benchmarks.md` ("Patterns").
//!
//! Groups:
//!
//! * `map/<runtime>`: 1,000 items, at most 16 in flight, results collected
//!   into a `Vec<u64>`. Each item's work yields once to the executor (so that
//!   the limit matters) and returns a small computed `u64`. Contenders:
//!   taskgroup's `map_concurrent` (input order) and `map_concurrent_unordered`
//!   (each item a spawned task in an `ErrGroup`), `try_map_concurrent` (the
//!   same items through the fallible map, each one `Ok`), against `futures`'
//!   `StreamExt::buffered` and `buffer_unordered` over the items' futures
//!   (all on the polling task: concurrency, not parallelism), and
//!   `buffered` over spawned tasks' handles (each item a task, as in
//!   `map_concurrent`). Runtimes: `tokio_ct` (a current-thread tokio runtime)
//!   and `smol` (a dedicated `smol::Executor` driven by
//!   `smol::block_on(ex.run(..))` on the bench thread: one thread).
//! * `first_error/<runtime>`: 1,000 siblings parked forever (each counts a
//!   `Latch` down and then awaits a future that never completes) and one task
//!   that waits for the latch (so all siblings are parked), takes
//!   `Instant::now()` and fails. The time is from that instant until the
//!   joiner has the error and every sibling is gone (`iter_custom` sums it;
//!   building and parking the 1,001 tasks is not timed). Contenders:
//!   `errgroup_join` (`ErrGroup::join` returns the error after cancelling and
//!   dropping the rest), `joinset_abort_all` (tokio `JoinSet`: a
//!   `join_next()` loop that calls `abort_all()` at the first error and
//!   drains the aborted tasks), `tracker_token` (tokio-util's `TaskTracker`
//!   with a `CancellationToken`: each sibling runs under
//!   `token.run_until_cancelled`, the failing task stores its error and
//!   cancels the token, the joiner `close()`s and `wait()`s the tracker).
//!   Runtimes: `tokio_ct`, and `tokio_mt` (a multi-thread tokio runtime with
//!   2 workers, joined from `block_on` on the bench thread).
//!
//! (The runtimes and their drivers: `benches/support/runtimes.rs`.)
//!
//! Run: `cargo bench --bench patterns` (about half a minute).

use std::convert::Infallible;
use std::future::{pending, Future};
use std::hint::black_box;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion};
use futures::stream::{self, StreamExt, TryStreamExt};
use taskgroup::patterns::{map_concurrent, map_concurrent_unordered, try_map_concurrent};
use taskgroup::runtime::TokioRuntime;
use taskgroup::{ErrGroup, GroupError, Latch};

#[path = "support/harness.rs"]
mod harness;
#[path = "support/runtimes.rs"]
mod runtimes;

use runtimes::{Rt, Runtimes, SmolThreads, Timed, TokioByHandle};

/// Items in the map.
const ITEMS: u64 = 1_000;
/// Items in flight at most.
const LIMIT: usize = 16;
/// Parked siblings of the failing task.
const SIBLINGS: usize = 1_000;

// ---------------------------------------------------------------------------
// The map.

/// Returns `Pending` once (waking itself first), then `Ready`.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// One item's work: yield once, then compute a small value.
async fn item(i: u64) -> u64 {
    YieldOnce(false).await;
    let x = black_box(i);
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ x
}

async fn taskgroup_map<X: Rt>(exec: &X, ordered: bool) -> Vec<u64> {
    let runtime = exec.adapter();
    if ordered {
        map_concurrent(&runtime, 0..ITEMS, LIMIT, item)
            .collect()
            .await
    } else {
        map_concurrent_unordered(&runtime, 0..ITEMS, LIMIT, item)
            .collect()
            .await
    }
}

/// The fallible map over the same items, every one `Ok`.
async fn taskgroup_try_map<X: Rt>(exec: &X) -> Vec<u64> {
    let runtime = exec.adapter();
    try_map_concurrent(&runtime, 0..ITEMS, LIMIT, |i| async move {
        Ok::<_, Infallible>(item(i).await)
    })
    .try_collect()
    .await
    .unwrap_or_else(|never| match never {})
}

async fn futures_map(ordered: bool) -> Vec<u64> {
    let items = stream::iter(0..ITEMS).map(item);
    if ordered {
        items.buffered(LIMIT).collect().await
    } else {
        items.buffer_unordered(LIMIT).collect().await
    }
}

async fn buffered_spawned<X: Rt>(exec: &X) -> Vec<u64> {
    stream::iter(0..ITEMS)
        .map(|i| exec.spawn(item(i)))
        .buffered(LIMIT)
        .collect()
        .await
}

/// Times `iters` maps inside one `block_on`.
fn timed<'a, X: Rt, Fut: Future<Output = Vec<u64>>>(
    exec: &'a X,
    map: impl Fn(&'a X) -> Fut + 'a,
) -> Timed<'a> {
    runtimes::timed(exec.clone(), move || map(exec))
}

fn map_list<X: Rt>(exec: &X) -> Vec<(&'static str, Timed<'_>)> {
    vec![
        ("map_concurrent", timed(exec, |x| taskgroup_map(x, true))),
        (
            "map_concurrent_unordered",
            timed(exec, |x| taskgroup_map(x, false)),
        ),
        ("try_map_concurrent", timed(exec, taskgroup_try_map)),
        ("buffered", timed(exec, |_| futures_map(true))),
        ("buffer_unordered", timed(exec, |_| futures_map(false))),
        ("buffered_spawned", timed(exec, buffered_spawned)),
    ]
}

/// Every contender returns every value (in input order where it promises it).
fn check_map<X: Rt>(exec: &X) {
    let expected: Vec<u64> = exec.block_on(async {
        let mut values = Vec::new();
        for i in 0..ITEMS {
            values.push(item(i).await);
        }
        values
    });
    let mut sorted = expected.clone();
    sorted.sort_unstable();
    exec.block_on(async {
        assert_eq!(taskgroup_map(exec, true).await, expected);
        assert_eq!(taskgroup_try_map(exec).await, expected);
        assert_eq!(futures_map(true).await, expected);
        assert_eq!(buffered_spawned(exec).await, expected);
        for mut values in [taskgroup_map(exec, false).await, futures_map(false).await] {
            values.sort_unstable();
            assert_eq!(values, sorted);
        }
    });
}

// ---------------------------------------------------------------------------
// First-error cancellation.

/// The failing task's error.
#[derive(Debug, PartialEq)]
struct Failure;

/// What every contender shares with its tasks: the latch the siblings count
/// down once parked, and the instant the failing task failed.
#[derive(Clone)]
struct Setup {
    parked: Latch,
    failed_at: Arc<OnceLock<Instant>>,
}

impl Setup {
    fn new() -> Self {
        Self {
            parked: Latch::new(SIBLINGS),
            failed_at: Arc::new(OnceLock::new()),
        }
    }

    /// A sibling: counts down, then never completes.
    fn sibling<T>(&self) -> impl Future<Output = T> + Send + 'static {
        let parked = self.parked.clone();
        async move {
            parked.count_down();
            pending::<T>().await
        }
    }

    /// The failing task: waits until every sibling is parked, then fails.
    fn failing(&self) -> impl Future<Output = Result<(), Failure>> + Send + 'static {
        let setup = self.clone();
        async move {
            setup.parked.wait().await;
            setup
                .failed_at
                .set(Instant::now())
                .expect("only one task fails");
            Err(Failure)
        }
    }

    /// From the failure until now.
    fn latency(&self) -> Duration {
        let now = Instant::now();
        now - *self.failed_at.get().expect("the failing task ran")
    }
}

async fn errgroup_join(runtime: TokioRuntime) -> Duration {
    let setup = Setup::new();
    let group = ErrGroup::new(runtime);
    for _ in 0..SIBLINGS {
        group.spawn(setup.sibling::<Result<(), Failure>>()).unwrap();
    }
    group.spawn(setup.failing()).unwrap();
    let result = group.join().await;
    let latency = setup.latency();
    assert!(matches!(result, Err(GroupError::Task(Failure))));
    latency
}

async fn joinset_abort_all() -> Duration {
    let setup = Setup::new();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..SIBLINGS {
        set.spawn(setup.sibling::<Result<(), Failure>>());
    }
    set.spawn(setup.failing());
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                if first_error.is_none() {
                    first_error = Some(error);
                    set.abort_all();
                }
            }
            Err(error) => assert!(error.is_cancelled(), "no task panics"),
        }
    }
    let latency = setup.latency();
    assert_eq!(first_error, Some(Failure));
    latency
}

async fn tracker_token() -> Duration {
    let setup = Setup::new();
    let tracker = tokio_util::task::TaskTracker::new();
    let token = tokio_util::sync::CancellationToken::new();
    let first_error = Arc::new(Mutex::new(None));
    for _ in 0..SIBLINGS {
        let token = token.clone();
        let sibling = setup.sibling::<()>();
        drop(tracker.spawn(async move { token.run_until_cancelled(sibling).await }));
    }
    let failing = setup.failing();
    drop(tracker.spawn({
        let token = token.clone();
        let first_error = Arc::clone(&first_error);
        async move {
            if let Err(error) = failing.await {
                first_error
                    .lock()
                    .expect("not poisoned")
                    .get_or_insert(error);
                token.cancel();
            }
        }
    }));
    tracker.close();
    tracker.wait().await;
    let latency = setup.latency();
    assert_eq!(
        first_error.lock().expect("not poisoned").take(),
        Some(Failure)
    );
    latency
}

/// Sums the latencies of `iters` runs inside one `block_on`.
fn latency_sum<Fut: Future<Output = Duration>>(
    rt: &tokio::runtime::Runtime,
    iters: u64,
    run: impl Fn() -> Fut,
) -> Duration {
    rt.block_on(async {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            total += run().await;
        }
        total
    })
}

fn first_error_group(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
) {
    let runtime = TokioRuntime::from_handle(rt.handle().clone());
    g.bench_function("errgroup_join", |b| {
        b.iter_custom(|iters| latency_sum(rt, iters, || errgroup_join(runtime.clone())))
    });
    g.bench_function("joinset_abort_all", |b| {
        b.iter_custom(|iters| latency_sum(rt, iters, joinset_abort_all))
    });
    g.bench_function("tracker_token", |b| {
        b.iter_custom(|iters| latency_sum(rt, iters, tracker_token))
    });
}

// ---------------------------------------------------------------------------
// Criterion.

fn patterns(c: &mut Criterion) {
    // The smol executor is run by the bench thread.
    let runtimes = Runtimes::new(SmolThreads::BenchThread);
    let tokio_ct = TokioByHandle(runtimes.tokio_ct());
    let smol = runtimes.smol();
    check_map(&tokio_ct);
    check_map(&smol);
    for (name, list) in [
        ("map/tokio_ct", map_list(&tokio_ct)),
        ("map/smol", map_list(&smol)),
    ] {
        let mut g = c.benchmark_group(name);
        for (contender, run) in &list {
            g.bench_function(*contender, |b| b.iter_custom(run));
        }
        g.finish();
    }

    for (name, rt) in [
        ("first_error/tokio_ct", runtimes.tokio_ct()),
        ("first_error/tokio_mt", runtimes.tokio_mt()),
    ] {
        let mut g = c.benchmark_group(name);
        // Building and parking 1,001 tasks is not timed but takes longer
        // than the latency that is: keep the timed part short.
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(500));
        first_error_group(&mut g, rt);
        g.finish();
    }
}

fn main() {
    let mut c = harness::config(20, Duration::from_millis(500), Duration::from_millis(1500))
        .configure_from_args();
    patterns(&mut c);
    c.final_summary();
}
