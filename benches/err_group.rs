//! `ErrGroup` spawn-and-join against each runtime's own ways of spawning a
//! batch of tasks and collecting them, on the same work in the same run.
//! Results and how to read them: `docs/benchmarks.md`.
//!
//! The work: spawn `N` trivial tasks (each returns its index as a `u64`) and
//! wait for all of them, collecting the values where the contender can
//! (into a `Vec<u64>`, as `ErrGroup::join` does). One iteration is one whole
//! batch: group creation, `N` spawns, the join. `N` = 1,000 and `N` = 10.
//!
//! Groups (`spawn_join/<runtime>/<N>`):
//!
//! * `tokio_mt`: a multi-thread tokio runtime with 2 workers, driven by
//!   `rt.block_on` from the bench thread (so the spawning code runs outside
//!   the workers, as in `#[tokio::main]`). Contenders: `ErrGroup` + `join()`,
//!   `ErrGroup` + a `join_next()` loop, `WaitGroup::track` + `wait()` (no
//!   values), `JoinSet` + a `join_next()` loop, tokio-util's `TaskTracker`
//!   (`spawn`, `close`, `wait`; no values), a `Vec<JoinHandle>` awaited in
//!   order, and `futures::future::join_all` over the `JoinHandle`s.
//! * `tokio_ct`: a current-thread tokio runtime: `ErrGroup` join, `JoinSet`,
//!   `Vec<JoinHandle>`.
//! * `smol_global`: `smol::spawn` (smol's global executor, on its own
//!   thread(s): `SMOL_THREADS`, default 1), joined from `smol::block_on` on
//!   the bench thread: `ErrGroup` with `SmolRuntime::global()` against raw
//!   `smol::spawn` with the `Task`s awaited in order.
//! * `smol_executor`: a dedicated `smol::Executor` driven by
//!   `smol::block_on(ex.run(..))` on the bench thread (everything on one
//!   thread): `ErrGroup` with `SmolRuntime::with_executor` against raw
//!   `ex.spawn` with the `Task`s awaited in order.
//! * `async_std`: `ErrGroup` with `AsyncStdRuntime` against
//!   `async_std::task::spawn` with the handles awaited in order, joined from
//!   `async_std::task::block_on`.
//!
//! Every contender times `iters` batches inside one `block_on` (criterion's
//! `iter_custom`), so the runtime is built once and entering it is not
//! measured.
//!
//! Two extras, printed to stdout in `--bench` mode (skip them with
//! `ERR_GROUP_BENCH_EXTRAS=0`):
//!
//! * **Allocations**: a counting global allocator (per thread; it costs every
//!   contender the same ~1 ns per allocation) counts one batch of 1,000 and
//!   one of 2,000 on a current-thread tokio runtime and on a dedicated smol
//!   executor (everything on the bench thread), after a warm-up batch; the
//!   difference divided by 1,000 is the cost per task.
//! * **Interleaved ratios**: criterion measures one contender after another,
//!   and this 2-vCPU machine's speed drifts for seconds at a time. So for
//!   `N` = 1,000 the contenders of each group are also timed round-robin
//!   (a short batch each, order rotated every round), and the median per
//!   contender and its ratio to the best are printed.
//!
//! (The runtimes and their drivers: `benches/support/runtimes.rs`; the
//! interleaved pass: `benches/support/harness.rs`.)
//!
//! Run: `cargo bench --bench err_group --features tokio,smol,async-std`
//! (under two minutes).

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, Criterion};
use taskgroup::runtime::{AsyncStdRuntime, Runtime, SmolRuntime, TokioRuntime};
use taskgroup::{ErrGroup, WaitGroup};

// ---------------------------------------------------------------------------
// Counting allocator (shared with `tests/alloc.rs`).

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocated;

#[path = "support/harness.rs"]
mod harness;
#[path = "support/runtimes.rs"]
mod runtimes;

use runtimes::{AsyncStd, Rt, Runtimes, SmolGlobal, SmolThreads, Timed, Tokio};

/// The runtimes: the dedicated smol executor is run by the bench thread.
fn new_runtimes() -> Runtimes {
    Runtimes::new(SmolThreads::BenchThread)
}

// ---------------------------------------------------------------------------
// The contenders: one batch of `n` spawns and the join.

fn work(i: usize) -> u64 {
    black_box(i as u64)
}

/// `ErrGroup::spawn` ×n, then `join()` (values in spawn order).
async fn errgroup_join<R: Runtime>(runtime: R, n: usize) -> Vec<u64> {
    let group = ErrGroup::new(runtime);
    for i in 0..n {
        group
            .spawn(async move { Ok::<_, Infallible>(work(i)) })
            .unwrap();
    }
    group.join().await.expect("no task fails")
}

/// `ErrGroup::spawn` ×n, then a `join_next()` loop (completion order).
async fn errgroup_join_next<R: Runtime>(runtime: R, n: usize) -> Vec<u64> {
    let mut group = ErrGroup::new(runtime);
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

/// `runtime.spawn(wg.track(..))` ×n, then `wait()`: counts tasks, keeps no
/// values.
async fn wait_group<R: Runtime>(runtime: R, n: usize) {
    let wg = WaitGroup::new();
    for i in 0..n {
        runtime.spawn(wg.track(async move {
            work(i);
        }));
    }
    wg.wait().await;
}

async fn tokio_join_set(n: usize) -> Vec<u64> {
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

async fn tokio_task_tracker(n: usize) {
    let tracker = tokio_util::task::TaskTracker::new();
    for i in 0..n {
        // Dropping the `JoinHandle` detaches the task; the tracker counts it.
        drop(tracker.spawn(async move { work(i) }));
    }
    tracker.close();
    tracker.wait().await;
}

async fn tokio_handles(n: usize) -> Vec<u64> {
    let handles: Vec<_> = (0..n)
        .map(|i| tokio::spawn(async move { work(i) }))
        .collect();
    let mut values = Vec::with_capacity(n);
    for handle in handles {
        values.push(handle.await.expect("no task panics"));
    }
    values
}

async fn tokio_join_all(n: usize) -> Vec<u64> {
    let handles: Vec<_> = (0..n)
        .map(|i| tokio::spawn(async move { work(i) }))
        .collect();
    futures::future::join_all(handles)
        .await
        .into_iter()
        .map(|result| result.expect("no task panics"))
        .collect()
}

async fn smol_global_tasks(n: usize) -> Vec<u64> {
    let tasks: Vec<smol::Task<u64>> = (0..n)
        .map(|i| smol::spawn(async move { work(i) }))
        .collect();
    let mut values = Vec::with_capacity(n);
    for task in tasks {
        values.push(task.await);
    }
    values
}

async fn smol_executor_tasks(executor: Arc<smol::Executor<'static>>, n: usize) -> Vec<u64> {
    let tasks: Vec<smol::Task<u64>> = (0..n)
        .map(|i| executor.spawn(async move { work(i) }))
        .collect();
    let mut values = Vec::with_capacity(n);
    for task in tasks {
        values.push(task.await);
    }
    values
}

async fn async_std_handles(n: usize) -> Vec<u64> {
    let handles: Vec<_> = (0..n)
        .map(|i| async_std::task::spawn(async move { work(i) }))
        .collect();
    let mut values = Vec::with_capacity(n);
    for handle in handles {
        values.push(handle.await);
    }
    values
}

// ---------------------------------------------------------------------------
// Timing: each runtime is entered by its driver's `block_on`
// (`benches/support/runtimes.rs`).

/// Times `iters` batches of `n` inside one `block_on`.
fn timed<'a, R, F, Fut>(driver: R, n: usize, batch: F) -> Timed<'a>
where
    R: Rt + 'a,
    F: Fn(usize) -> Fut + 'a,
    Fut: Future,
{
    runtimes::timed(driver, move || batch(n))
}

/// A group of contenders on one runtime, for one `n`.
struct Contenders<'a> {
    runtime: &'static str,
    n: usize,
    list: Vec<(&'static str, Timed<'a>)>,
}

fn groups(runtimes: &Runtimes, n: usize) -> Vec<Contenders<'_>> {
    let mt = Tokio(runtimes.tokio_mt());
    let ct = Tokio(runtimes.tokio_ct());
    let ex = runtimes.smol_executor();
    vec![
        Contenders {
            runtime: "tokio_mt",
            n,
            list: vec![
                (
                    "errgroup_join",
                    timed(mt, n, |n| errgroup_join(TokioRuntime::current(), n)),
                ),
                (
                    "errgroup_join_next",
                    timed(mt, n, |n| errgroup_join_next(TokioRuntime::current(), n)),
                ),
                (
                    "waitgroup_spawn",
                    timed(mt, n, |n| wait_group(TokioRuntime::current(), n)),
                ),
                ("joinset", timed(mt, n, tokio_join_set)),
                ("task_tracker", timed(mt, n, tokio_task_tracker)),
                ("vec_join_handle", timed(mt, n, tokio_handles)),
                ("join_all_handles", timed(mt, n, tokio_join_all)),
            ],
        },
        Contenders {
            runtime: "tokio_ct",
            n,
            list: vec![
                (
                    "errgroup_join",
                    timed(ct, n, |n| errgroup_join(TokioRuntime::current(), n)),
                ),
                ("joinset", timed(ct, n, tokio_join_set)),
                ("vec_join_handle", timed(ct, n, tokio_handles)),
            ],
        },
        Contenders {
            runtime: "smol_global",
            n,
            list: vec![
                (
                    "errgroup_join",
                    timed(SmolGlobal, n, |n| errgroup_join(SmolRuntime::global(), n)),
                ),
                ("smol_spawn_tasks", timed(SmolGlobal, n, smol_global_tasks)),
            ],
        },
        Contenders {
            runtime: "smol_executor",
            n,
            list: vec![
                (
                    "errgroup_join",
                    timed(runtimes.smol(), n, move |n| {
                        errgroup_join(SmolRuntime::with_executor(Arc::clone(ex)), n)
                    }),
                ),
                (
                    "executor_spawn_tasks",
                    timed(runtimes.smol(), n, move |n| {
                        smol_executor_tasks(Arc::clone(ex), n)
                    }),
                ),
            ],
        },
        Contenders {
            runtime: "async_std",
            n,
            list: vec![
                (
                    "errgroup_join",
                    timed(AsyncStd, n, |n| errgroup_join(AsyncStdRuntime, n)),
                ),
                ("task_spawn_handles", timed(AsyncStd, n, async_std_handles)),
            ],
        },
    ]
}

// ---------------------------------------------------------------------------
// Criterion.

fn spawn_join(c: &mut Criterion) {
    let runtimes = new_runtimes();
    for n in [1_000, 10] {
        for group in groups(&runtimes, n) {
            let mut g = c.benchmark_group(format!("spawn_join/{}/{}", group.runtime, group.n));
            for (name, run) in &group.list {
                g.bench_function(*name, |b| b.iter_custom(run));
            }
            g.finish();
        }
    }
}

// ---------------------------------------------------------------------------
// Extras, printed once.

fn extras_enabled() -> bool {
    harness::extras_enabled("ERR_GROUP_BENCH_EXTRAS")
}

/// Allocations (count, bytes) of one batch of `n` on this thread, after one
/// warm-up batch of the same size.
fn count_batch<D: Rt, Fut: Future>(
    driver: &D,
    n: usize,
    batch: impl Fn(usize) -> Fut,
) -> (usize, usize) {
    driver.block_on(async {
        black_box(batch(n).await);
        let before = allocated();
        black_box(batch(n).await);
        let after = allocated();
        (after.0 - before.0, after.1 - before.1)
    })
}

fn print_allocations_row<D: Rt, Fut: Future>(driver: &D, name: &str, batch: impl Fn(usize) -> Fut) {
    let (c1, b1) = count_batch(driver, 1_000, &batch);
    let (c2, b2) = count_batch(driver, 2_000, &batch);
    println!(
        "| {name} | {c1} | {b1} | {:.2} | {:.0} |",
        (c2 as f64 - c1 as f64) / 1_000.0,
        (b2 as f64 - b1 as f64) / 1_000.0,
    );
}

fn allocations() {
    if !extras_enabled() {
        return;
    }
    let runtimes = new_runtimes();
    let ct = Tokio(runtimes.tokio_ct());
    println!("\nAllocations on the bench thread, tokio current-thread (warm):");
    println!("| contender | allocs, N=1000 | bytes, N=1000 | allocs/task | bytes/task |");
    println!("|---|---:|---:|---:|---:|");
    print_allocations_row(&ct, "vec_join_handle", tokio_handles);
    print_allocations_row(&ct, "joinset", tokio_join_set);
    print_allocations_row(&ct, "task_tracker", tokio_task_tracker);
    print_allocations_row(&ct, "join_all_handles", tokio_join_all);
    print_allocations_row(&ct, "waitgroup_spawn", |n| {
        wait_group(TokioRuntime::current(), n)
    });
    print_allocations_row(&ct, "errgroup_join", |n| {
        errgroup_join(TokioRuntime::current(), n)
    });
    print_allocations_row(&ct, "errgroup_join_next", |n| {
        errgroup_join_next(TokioRuntime::current(), n)
    });

    let ex = runtimes.smol_executor();
    let driver = runtimes.smol();
    println!("\nAllocations on the bench thread, dedicated smol executor (warm):");
    println!("| contender | allocs, N=1000 | bytes, N=1000 | allocs/task | bytes/task |");
    println!("|---|---:|---:|---:|---:|");
    print_allocations_row(&driver, "executor_spawn_tasks", |n| {
        smol_executor_tasks(Arc::clone(ex), n)
    });
    print_allocations_row(&driver, "errgroup_join", |n| {
        errgroup_join(SmolRuntime::with_executor(Arc::clone(ex)), n)
    });
    println!();
}

/// Rounds of the interleaved pass; each contender times one sample of
/// `batches(n)` batches per round.
const ROUNDS: usize = 30;

/// About 20,000 tasks per sample, at most 1,000 batches.
fn batches(n: usize) -> u64 {
    (20_000 / n).clamp(1, 1_000) as u64
}

fn interleaved() {
    if !extras_enabled() {
        return;
    }
    let runtimes = new_runtimes();
    for n in [1_000, 10] {
        for group in groups(&runtimes, n) {
            let list = &group.list;
            let batches = batches(n);
            let medians = harness::interleaved_medians(list, batches, ROUNDS, batches, 1e6);
            let best = medians.iter().copied().fold(f64::INFINITY, f64::min);
            println!(
                "\nInterleaved, spawn_join/{}/{n} ({ROUNDS} rounds x {batches} batches, medians):",
                group.runtime
            );
            println!("| contender | median per batch | vs best |");
            println!("|---|---:|---:|");
            for ((name, _), median) in list.iter().zip(&medians) {
                println!("| {name} | {median:.2} µs | {:.2}x |", median / best);
            }
        }
    }
    println!();
}

fn config() -> Criterion {
    harness::config(25, Duration::from_millis(500), Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = spawn_join
}

fn main() {
    allocations();
    interleaved();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
