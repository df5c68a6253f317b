//! Fan-out/fan-in: spawn `N` trivial tasks (each returns a small computed
//! `u64`) and wait for all of them, for `N` = 10, 1,000 and 100,000, with
//! taskgroup's `WaitGroup` and `ErrGroup` against each runtime's own ways
//! and the peer crates, on the same work in the same run. Results, plots and
//! how to read them: `docs/benchmarks.md` ("Fan-out").
//!
//! One iteration is one whole batch: creating the group (or the handle
//! vector), `N` spawns, and the wait. Contenders that can keep the values
//! collect them into a `Vec<u64>`; the wait-group contenders only wait (the
//! tasks' values are dropped through `black_box`).
//!
//! Runtimes (groups `fan_out/<runtime>`, ids `<contender>/<N>`):
//!
//! * `tokio_mt`: a multi-thread tokio runtime with 2 workers, the batch
//!   driven by `rt.block_on` from the bench thread (as in `#[tokio::main]`).
//! * `tokio_ct`: a current-thread tokio runtime (everything on one thread).
//! * `smol`: a dedicated `smol::Executor` run by two background threads
//!   (`ex.run(..)` each), the batch driven by `smol::block_on` from the
//!   bench thread: the same shape as `tokio_mt`. (Not smol's global
//!   executor, whose thread count depends on `SMOL_THREADS`.)
//! * `async_std`: async-std's global executor, the batch driven by
//!   `async_std::task::block_on` from the bench thread.
//!
//! (The runtimes and their drivers: `benches/support/runtimes.rs`; the
//! interleaved pass: `benches/support/harness.rs`.)
//!
//! Contenders on every runtime:
//!
//! * `errgroup_join`: `ErrGroup::spawn` ×N, `join()` (values in spawn order);
//! * `errgroup_join_next`: the same with a `join_next()` loop;
//! * `waitgroup_spawn`: `runtime.spawn(wg.track(..))` ×N, `wait()`;
//! * `waitgroup_enter`: `WaitGroup::enter()` guard moved into a task spawned
//!   with the runtime's own spawn (detached), `wait()`;
//! * `waitgroup_keep_handles` (a diagnostic): the same, but the handles are
//!   kept in a `Vec` and dropped after the wait, when every task has
//!   finished, instead of detached at spawn; the gap between the two is the
//!   runtime's cost of detaching an unfinished task;
//! * `vec_handles`: the runtime's handles (`JoinHandle`/`Task`) kept in a
//!   `Vec` and awaited in order;
//! * `vec_handles_48b` (a diagnostic): the same with 48 more bytes in each
//!   task, the size of the task an `ErrGroup` wraps around a future, so
//!   that the runtime allocates the same size for both;
//! * `counted_handles` (a diagnostic, the floor of a group): `vec_handles`
//!   plus an `Arc` clone and a count up and down per task, what any group
//!   that can cancel its tasks and count them must add;
//! * `join_all_handles`: `futures::future::join_all` of the handles;
//! * `futures_unordered_handles`: the handles in a `FuturesUnordered`,
//!   drained as they finish;
//! * `waitgroup_crate` (`waitgroup` 0.1: a `Worker` per task, `wait()`),
//!   `awaitgroup` (0.7: a `Worker` per task, `done()`, `wait()`), `asyncband`
//!   (0.7, its `waitgroup::WaitGroup`: a clone per task, dropped when done,
//!   the original awaited).
//!
//! On tokio also `joinset` (`JoinSet` + `join_next()` loop) and
//! `task_tracker` (tokio-util's `TaskTracker`: `spawn`, `close`, `wait`).
//!
//! After criterion (in `--bench` mode; skip it with `FAN_OUT_BENCH_EXTRAS=0`),
//! an interleaved pass times the contenders of each runtime round-robin at
//! `N` = 1,000 and prints each one's median and its ratio to `vec_handles`,
//! because this 2-vCPU guest's speed drifts for seconds at a time.
//! `scripts/plot_benches.py` turns criterion's results into the plots.
//!
//! Run: `cargo bench --bench fan_out` (about five minutes).

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use futures::stream::{FuturesUnordered, StreamExt};
use taskgroup::runtime::Runtime;
use taskgroup::{ErrGroup, WaitGroup};

#[path = "support/harness.rs"]
mod harness;
#[path = "support/runtimes.rs"]
mod runtimes;

use runtimes::{AsyncStd, Rt, Runtimes, SmolThreads, Timed, Tokio};

/// The batch sizes.
const SIZES: [usize; 3] = [10, 1_000, 100_000];

/// Each task's work: a small computed value.
fn work(i: usize) -> u64 {
    let x = black_box(i as u64);
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ x
}

/// The runtimes: the smol executor is run by two background threads.
fn new_runtimes() -> Runtimes {
    Runtimes::new(SmolThreads::Background(2))
}

// ---------------------------------------------------------------------------
// The contenders: one batch of `n` spawns and the wait.

async fn errgroup_join<R: Rt>(rt: R, n: usize) -> Vec<u64> {
    let group = ErrGroup::new(rt.adapter());
    for i in 0..n {
        group
            .spawn(async move { Ok::<_, Infallible>(work(i)) })
            .unwrap();
    }
    group.join().await.expect("no task fails")
}

async fn errgroup_join_next<R: Rt>(rt: R, n: usize) -> Vec<u64> {
    let mut group = ErrGroup::new(rt.adapter());
    for i in 0..n {
        group
            .spawn(async move { Ok::<_, Infallible>(work(i)) })
            .unwrap();
    }
    let mut values = Vec::with_capacity(n);
    while let Some(result) = group.join_next().await {
        values.push(result.expect("no task fails"));
    }
    values
}

async fn waitgroup_spawn<R: Rt>(rt: R, n: usize) {
    let wg = WaitGroup::new();
    let runtime = rt.adapter();
    for i in 0..n {
        runtime.spawn(wg.track(async move {
            black_box(work(i));
        }));
    }
    wg.wait().await;
}

async fn waitgroup_enter<R: Rt>(rt: R, n: usize) {
    let wg = WaitGroup::new();
    for i in 0..n {
        let guard = wg.enter();
        rt.spawn_detached(async move {
            black_box(work(i));
            drop(guard);
        });
    }
    wg.wait().await;
}

/// Diagnostic: `waitgroup_enter` with the handles kept until after the
/// wait (dropped then, when every task has finished), instead of detached at
/// spawn. The difference between the two is the runtime's cost of
/// detaching a task that has not finished.
async fn waitgroup_keep_handles<R: Rt>(rt: R, n: usize) {
    let wg = WaitGroup::new();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let guard = wg.enter();
            rt.spawn(async move {
                black_box(work(i));
                drop(guard);
            })
        })
        .collect();
    wg.wait().await;
    drop(handles);
}

/// Awaits `handles` one after another: the values in spawn order.
async fn in_order<H: Future<Output = u64>>(handles: Vec<H>) -> Vec<u64> {
    let mut values = Vec::with_capacity(handles.len());
    for handle in handles {
        values.push(handle.await);
    }
    values
}

async fn vec_handles<R: Rt>(rt: R, n: usize) -> Vec<u64> {
    let handles: Vec<_> = (0..n).map(|i| rt.spawn(async move { work(i) })).collect();
    in_order(handles).await
}

/// Diagnostic: `vec_handles` with each task carrying 48 bytes more (the
/// size of the task an `ErrGroup` wraps around each future), so that the
/// runtime allocates the same size of task for both (tokio rounds its task
/// cells up to 128 bytes: a 16-byte future takes 128, the group's 64-byte
/// task 256). The gap between the two is what the bigger task costs.
async fn vec_handles_48b<R: Rt>(rt: R, n: usize) -> Vec<u64> {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let carried = [i as u8; 48];
            // The carried bytes are read (so they are kept), and add 0.
            rt.spawn(
                async move { work(i) + u64::from(black_box(carried)[47].wrapping_sub(i as u8)) },
            )
        })
        .collect();
    in_order(handles).await
}

/// Diagnostic, the floor of any group that can cancel its tasks and knows
/// how many are left: `vec_handles` plus what each task must carry for
/// that — a reference to shared state (an `Arc` clone) and a count raised
/// at spawn and lowered when it finishes. No group built on a runtime's
/// spawn can do less per task.
async fn counted_handles<R: Rt>(rt: R, n: usize) -> Vec<u64> {
    let unfinished = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            unfinished.fetch_add(1, Ordering::Relaxed);
            let unfinished = Arc::clone(&unfinished);
            rt.spawn(async move {
                let value = work(i);
                unfinished.fetch_sub(1, Ordering::AcqRel);
                value
            })
        })
        .collect();
    in_order(handles).await
}

async fn join_all_handles<R: Rt>(rt: R, n: usize) -> Vec<u64> {
    let handles: Vec<_> = (0..n).map(|i| rt.spawn(async move { work(i) })).collect();
    futures::future::join_all(handles).await
}

async fn futures_unordered_handles<R: Rt>(rt: R, n: usize) -> Vec<u64> {
    let mut handles: FuturesUnordered<_> =
        (0..n).map(|i| rt.spawn(async move { work(i) })).collect();
    let mut values = Vec::with_capacity(n);
    while let Some(value) = handles.next().await {
        values.push(value);
    }
    values
}

async fn waitgroup_crate<R: Rt>(rt: R, n: usize) {
    let wg = waitgroup::WaitGroup::new();
    for i in 0..n {
        let worker = wg.worker();
        rt.spawn_detached(async move {
            black_box(work(i));
            drop(worker);
        });
    }
    wg.wait().await;
}

async fn awaitgroup<R: Rt>(rt: R, n: usize) {
    let mut wg = awaitgroup::WaitGroup::new();
    for i in 0..n {
        let worker = wg.worker();
        rt.spawn_detached(async move {
            black_box(work(i));
            worker.done();
        });
    }
    wg.wait().await;
}

async fn asyncband<R: Rt>(rt: R, n: usize) {
    let wg = asyncband::waitgroup::WaitGroup::new();
    for i in 0..n {
        let participant = wg.clone();
        rt.spawn_detached(async move {
            black_box(work(i));
            drop(participant);
        });
    }
    wg.await;
}

async fn joinset(n: usize) -> Vec<u64> {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        set.spawn(async move { work(i) });
    }
    let mut values = Vec::with_capacity(n);
    while let Some(result) = set.join_next().await {
        values.push(result.expect("no task panics"));
    }
    values
}

async fn task_tracker(n: usize) {
    let tracker = tokio_util::task::TaskTracker::new();
    for i in 0..n {
        // Dropping the `JoinHandle` detaches the task; the tracker counts it.
        drop(tracker.spawn(async move {
            black_box(work(i));
        }));
    }
    tracker.close();
    tracker.wait().await;
}

// ---------------------------------------------------------------------------
// Timing.

/// `iters` batches of `n` inside one `block_on`, so entering the runtime is
/// not measured.
fn timed<'a, R, F, Fut>(rt: &R, n: usize, batch: F) -> Timed<'a>
where
    R: Rt + 'a,
    F: Fn(R, usize) -> Fut + 'a,
    Fut: Future,
{
    let on = rt.clone();
    runtimes::timed(rt.clone(), move || batch(on.clone(), n))
}

/// The contenders every runtime has.
fn common<'a, R: Rt + 'a>(rt: &R, n: usize) -> Vec<(&'static str, Timed<'a>)> {
    vec![
        ("errgroup_join", timed(rt, n, errgroup_join::<R>)),
        ("errgroup_join_next", timed(rt, n, errgroup_join_next::<R>)),
        ("waitgroup_spawn", timed(rt, n, waitgroup_spawn::<R>)),
        ("waitgroup_enter", timed(rt, n, waitgroup_enter::<R>)),
        (
            "waitgroup_keep_handles",
            timed(rt, n, waitgroup_keep_handles::<R>),
        ),
        ("vec_handles", timed(rt, n, vec_handles::<R>)),
        ("vec_handles_48b", timed(rt, n, vec_handles_48b::<R>)),
        ("counted_handles", timed(rt, n, counted_handles::<R>)),
        ("join_all_handles", timed(rt, n, join_all_handles::<R>)),
        (
            "futures_unordered_handles",
            timed(rt, n, futures_unordered_handles::<R>),
        ),
        ("waitgroup_crate", timed(rt, n, waitgroup_crate::<R>)),
        ("awaitgroup", timed(rt, n, awaitgroup::<R>)),
        ("asyncband", timed(rt, n, asyncband::<R>)),
    ]
}

fn tokio_list(rt: Tokio<'_>, n: usize) -> Vec<(&'static str, Timed<'_>)> {
    let mut list = common(&rt, n);
    list.push(("joinset", timed(&rt, n, |_, n| joinset(n))));
    list.push(("task_tracker", timed(&rt, n, |_, n| task_tracker(n))));
    list
}

/// `(runtime name, contenders)` for batches of `n`.
fn runtime_groups(
    runtimes: &Runtimes,
    n: usize,
) -> Vec<(&'static str, Vec<(&'static str, Timed<'_>)>)> {
    vec![
        ("tokio_mt", tokio_list(Tokio(runtimes.tokio_mt()), n)),
        ("tokio_ct", tokio_list(Tokio(runtimes.tokio_ct()), n)),
        ("smol", common(&runtimes.smol(), n)),
        ("async_std", common(&AsyncStd, n)),
    ]
}

// ---------------------------------------------------------------------------
// A check that the value-returning contenders return every value.

fn check() {
    let runtimes = new_runtimes();
    let n = 100;
    let mut expected: Vec<u64> = (0..n).map(work).collect();
    expected.sort_unstable();
    fn on<R: Rt>(rt: R, n: usize, expected: &[u64]) {
        let all = rt.block_on(async {
            [
                errgroup_join(rt.clone(), n).await,
                errgroup_join_next(rt.clone(), n).await,
                vec_handles(rt.clone(), n).await,
                vec_handles_48b(rt.clone(), n).await,
                counted_handles(rt.clone(), n).await,
                join_all_handles(rt.clone(), n).await,
                futures_unordered_handles(rt.clone(), n).await,
            ]
        });
        for mut values in all {
            values.sort_unstable();
            assert_eq!(values, expected);
        }
    }
    on(Tokio(runtimes.tokio_mt()), n, &expected);
    on(Tokio(runtimes.tokio_ct()), n, &expected);
    on(runtimes.smol(), n, &expected);
    on(AsyncStd, n, &expected);
    let mut values = runtimes.tokio_ct().block_on(joinset(n));
    values.sort_unstable();
    assert_eq!(values, expected);
}

// ---------------------------------------------------------------------------
// Criterion.

fn fan_out(c: &mut Criterion) {
    let runtimes = new_runtimes();
    let groups: Vec<_> = SIZES
        .iter()
        .map(|&n| runtime_groups(&runtimes, n))
        .collect();
    for (at, (runtime, _)) in groups[0].iter().enumerate() {
        let mut g = c.benchmark_group(format!("fan_out/{runtime}"));
        for (&n, by_size) in SIZES.iter().zip(&groups) {
            g.throughput(Throughput::Elements(n as u64));
            if n >= 100_000 {
                // One batch takes tens of milliseconds: a few flat samples.
                g.sampling_mode(SamplingMode::Flat)
                    .sample_size(10)
                    .warm_up_time(Duration::from_millis(200))
                    .measurement_time(Duration::from_millis(1500));
            } else {
                g.sampling_mode(SamplingMode::Auto)
                    .sample_size(15)
                    .warm_up_time(Duration::from_millis(300))
                    .measurement_time(Duration::from_millis(1000));
            }
            for (name, run) in &by_size[at].1 {
                g.bench_function(BenchmarkId::new(*name, n), |b| b.iter_custom(run));
            }
        }
        g.finish();
    }
}

// ---------------------------------------------------------------------------
// Interleaved ratios at N = 1,000, printed once.

const ROUNDS: usize = 20;
const INTERLEAVED_N: usize = 1_000;
/// Batches per sample: 20,000 tasks.
const BATCHES: u64 = 20;

fn interleaved() {
    if !harness::extras_enabled("FAN_OUT_BENCH_EXTRAS") {
        return;
    }
    let runtimes = new_runtimes();
    for (runtime, list) in runtime_groups(&runtimes, INTERLEAVED_N) {
        let medians = harness::interleaved_medians(&list, 2, ROUNDS, BATCHES, 1e6);
        let reference = list
            .iter()
            .position(|(name, _)| *name == "vec_handles")
            .expect("every runtime has vec_handles");
        println!(
            "\nInterleaved, fan_out/{runtime}/{INTERLEAVED_N} ({ROUNDS} rounds x {BATCHES} batches, medians):"
        );
        println!("| contender | median per batch | per task | vs vec_handles |");
        println!("|---|---:|---:|---:|");
        for ((name, _), median) in list.iter().zip(&medians) {
            println!(
                "| {name} | {median:.1} µs | {:.0} ns | {:.2}x |",
                median * 1e3 / INTERLEAVED_N as f64,
                median / medians[reference]
            );
        }
    }
    println!();
}

fn main() {
    check();
    let mut c = Criterion::default().configure_from_args();
    fan_out(&mut c);
    interleaved();
    c.final_summary();
}
