//! `Semaphore` against tokio's and async-lock's, on the same work in the same
//! run. Results and how to read them: `docs/benchmarks.md` ("Semaphore").
//!
//! Groups:
//!
//! * `semaphore/uncontended`: take one permit from a 1-permit semaphore and
//!   release it (drop), nobody else around. Each contender's `try_acquire`,
//!   and its `acquire()` future created and polled **once** with
//!   `Waker::noop()` (no executor: every semaphore here is free, so the first
//!   poll is `Ready`), in two harnesses: the poll inlined into the loop
//!   (`*_poll`) and behind one call that is never inlined (`*_poll_call`). taskgroup's `Permit` is owned (it holds an `Arc` clone
//!   of the semaphore), so next to the borrowed guards of tokio
//!   (`SemaphorePermit<'_>`) and async-lock (`SemaphoreGuard<'_>`) the owned
//!   variants are measured too: tokio's `try_acquire_owned` /
//!   `acquire_owned` (on an `Arc::clone`, since they take `Arc<Self>` by
//!   value) and async-lock's `try_acquire_arc` / `acquire_arc`. Two floors:
//!   the two CAS loops the fast path needs on a bare atomic, and the
//!   `Arc::clone` + drop an owned permit adds.
//! * `semaphore/pool_round_trip`: a pool's checkout and return with nobody
//!   waiting — `try_acquire`, `Permit::forget`, `add_permits(1)` — against
//!   tokio's same three calls.
//! * `semaphore/contended`: two OS threads share a 1-permit semaphore; each
//!   loops acquire + release (drop at once) for half of criterion's iteration
//!   count; the time is from the start barrier until both are done, per
//!   acquire/release pair. Acquire is the blocking variant
//!   (`acquire_blocking`, event-listener's parking) or the `acquire()` future
//!   under `futures::executor::block_on` (`thread::park`).
//! * `semaphore/contended_tasks/<n>`: `n` tasks (2, 4, 16) on a tokio
//!   multi-thread runtime with 2 workers share a 1-permit semaphore; each
//!   loops `acquire().await`, `yield_now().await` with the permit held, drop,
//!   for its share of criterion's iteration count; the time is per
//!   acquire/release pair.
//! * Before criterion runs, a table of **waits**: the same two-thread and
//!   task workloads, a fixed number of pairs each, every `acquire` timed
//!   (from its call until it returns the permit): throughput, p99 and max
//!   wait per contender.
//!
//! Run: `cargo bench --bench semaphore` (about two and a half minutes).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use futures::executor::block_on;

/// Polls `future` once with a no-op waker; it must be ready. Always inlined,
/// so that each contender's `poll` is inlined into the loop as far as its
/// own crate lets it be (the harness adds no call of its own).
#[inline(always)]
fn poll_ready<F: Future>(future: F) -> F::Output {
    let future = pin!(future);
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("acquire on a free semaphore must be ready at once"),
    }
}

/// The same poll behind one call that is never inlined: every contender pays
/// the same call, and inside it the contender's `poll` is inlined or not as
/// its crate decides. (Which of the two harnesses favours whom depends on the
/// compiler's inlining choices; both are reported.)
#[inline(never)]
fn poll_ready_call<F: Future>(future: F) -> F::Output {
    poll_ready(future)
}

/// The fast path's floor: take one unit and give it back with a
/// load + `compare_exchange_weak` each, as a lock-free semaphore does.
fn cas_step(atomic: &AtomicUsize, down: bool) {
    let mut current = atomic.load(Ordering::Relaxed);
    loop {
        let new = if down { current - 1 } else { current + 1 };
        match atomic.compare_exchange_weak(current, new, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("semaphore/uncontended");

    let atomic = AtomicUsize::new(1);
    g.bench_function("floor_two_cas", |b| {
        b.iter(|| {
            let atomic = black_box(&atomic);
            cas_step(atomic, true);
            cas_step(atomic, false);
        })
    });
    let arc = Arc::new(0u64);
    g.bench_function("floor_arc_clone_drop", |b| {
        b.iter(|| drop(Arc::clone(black_box(&arc))))
    });

    // taskgroup: the permit is owned (an `Arc` clone of the semaphore).
    let sem = taskgroup::Semaphore::new(1);
    g.bench_function("taskgroup_try_acquire", |b| {
        b.iter(|| drop(black_box(&sem).try_acquire().expect("free")))
    });
    g.bench_function("taskgroup_acquire_poll", |b| {
        b.iter(|| drop(poll_ready(black_box(&sem).acquire()).expect("free")))
    });
    g.bench_function("taskgroup_acquire_poll_call", |b| {
        b.iter(|| drop(poll_ready_call(black_box(&sem).acquire()).expect("free")))
    });

    // tokio, borrowed permit (`SemaphorePermit<'_>`).
    let sem = Arc::new(tokio::sync::Semaphore::new(1));
    g.bench_function("tokio_try_acquire", |b| {
        b.iter(|| drop(black_box(&sem).try_acquire().expect("free")))
    });
    g.bench_function("tokio_acquire_poll", |b| {
        b.iter(|| drop(poll_ready(black_box(&sem).acquire()).expect("free")))
    });
    g.bench_function("tokio_acquire_poll_call", |b| {
        b.iter(|| drop(poll_ready_call(black_box(&sem).acquire()).expect("free")))
    });
    // tokio, owned permit: like taskgroup's, it holds an `Arc`.
    g.bench_function("tokio_try_acquire_owned", |b| {
        b.iter(|| {
            drop(
                Arc::clone(black_box(&sem))
                    .try_acquire_owned()
                    .expect("free"),
            )
        })
    });
    g.bench_function("tokio_acquire_owned_poll", |b| {
        b.iter(|| drop(poll_ready(Arc::clone(black_box(&sem)).acquire_owned()).expect("free")))
    });
    g.bench_function("tokio_acquire_owned_poll_call", |b| {
        b.iter(|| drop(poll_ready_call(Arc::clone(black_box(&sem)).acquire_owned()).expect("free")))
    });

    // async-lock, borrowed guard (`SemaphoreGuard<'_>`).
    let sem = Arc::new(async_lock::Semaphore::new(1));
    g.bench_function("async_lock_try_acquire", |b| {
        b.iter(|| drop(black_box(&sem).try_acquire().expect("free")))
    });
    g.bench_function("async_lock_acquire_poll", |b| {
        b.iter(|| drop(poll_ready(black_box(&sem).acquire())))
    });
    g.bench_function("async_lock_acquire_poll_call", |b| {
        b.iter(|| drop(poll_ready_call(black_box(&sem).acquire())))
    });
    // async-lock, owned guard (`SemaphoreGuardArc`, clones the `Arc`).
    g.bench_function("async_lock_try_acquire_arc", |b| {
        b.iter(|| drop(black_box(&sem).try_acquire_arc().expect("free")))
    });
    g.bench_function("async_lock_acquire_arc_poll", |b| {
        b.iter(|| drop(poll_ready(black_box(&sem).acquire_arc())))
    });
    g.bench_function("async_lock_acquire_arc_poll_call", |b| {
        b.iter(|| drop(poll_ready_call(black_box(&sem).acquire_arc())))
    });
    g.finish();
}

/// A pool's round trip with nobody waiting: take a permit, forget it (the
/// object is out), add it back (the object returned). tokio's docs teach
/// this pattern; async-lock has no `add_permits`.
fn pool_round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("semaphore/pool_round_trip");
    let sem = taskgroup::Semaphore::new(1);
    g.bench_function("taskgroup", |b| {
        b.iter(|| {
            let sem = black_box(&sem);
            sem.try_acquire().expect("free").forget();
            sem.add_permits(1);
        })
    });
    let sem = tokio::sync::Semaphore::new(1);
    g.bench_function("tokio", |b| {
        b.iter(|| {
            let sem = black_box(&sem);
            sem.try_acquire().expect("free").forget();
            sem.add_permits(1);
        })
    });
    g.finish();
}

/// `iters` acquire/release pairs on one shared 1-permit semaphore, split
/// between this thread and one helper thread; timed from the start barrier
/// until both are done.
fn two_threads<S: Send + Sync + 'static>(iters: u64, sem: S, pair: fn(&S)) -> Duration {
    let sem = Arc::new(sem);
    let start_line = Arc::new(Barrier::new(2));
    let helper_iters = iters / 2;
    let helper = std::thread::spawn({
        let sem = Arc::clone(&sem);
        let start_line = Arc::clone(&start_line);
        move || {
            start_line.wait();
            for _ in 0..helper_iters {
                pair(&sem);
            }
        }
    });
    start_line.wait();
    let start = Instant::now();
    for _ in 0..iters - helper_iters {
        pair(&sem);
    }
    helper.join().expect("helper thread panicked");
    start.elapsed()
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("semaphore/contended");
    fn bench<S: Send + Sync + 'static>(
        g: &mut BenchmarkGroup<'_, WallTime>,
        name: &str,
        make: fn() -> S,
        pair: fn(&S),
    ) {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| two_threads(iters, make(), pair))
        });
    }

    fn taskgroup_sem() -> taskgroup::Semaphore {
        taskgroup::Semaphore::new(1)
    }
    fn tokio_sem() -> tokio::sync::Semaphore {
        tokio::sync::Semaphore::new(1)
    }
    fn async_lock_sem() -> async_lock::Semaphore {
        async_lock::Semaphore::new(1)
    }

    bench(&mut g, "taskgroup_blocking", taskgroup_sem, |s| {
        drop(s.acquire_blocking().expect("open"))
    });
    bench(&mut g, "taskgroup_block_on", taskgroup_sem, |s| {
        drop(block_on(s.acquire()).expect("open"))
    });
    // tokio has no blocking acquire: its future under the same `block_on`.
    bench(&mut g, "tokio_block_on", tokio_sem, |s| {
        drop(block_on(s.acquire()).expect("open"))
    });
    bench(&mut g, "async_lock_blocking", async_lock_sem, |s| {
        drop(s.acquire_blocking())
    });
    bench(&mut g, "async_lock_block_on", async_lock_sem, |s| {
        drop(block_on(s.acquire()))
    });
    g.finish();
}

/// `n` tasks on a 2-worker tokio runtime, `iters` acquire/release pairs in
/// all on one shared 1-permit semaphore; returns the elapsed time and, when
/// `record` is set, every acquire's wait.
macro_rules! tasks_run {
    ($make:expr, $acquire:ident, $n:expr, $iters:expr, $record:expr) => {{
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("runtime");
        let sem = Arc::new($make);
        let n: u64 = $n;
        let iters: u64 = $iters;
        let record: bool = $record;
        runtime.block_on(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    let sem = Arc::clone(&sem);
                    let share = iters / n + u64::from(i < iters % n);
                    tokio::spawn(async move {
                        let mut waits = Vec::new();
                        if record {
                            waits.reserve(share as usize);
                        }
                        for _ in 0..share {
                            let asked = record.then(Instant::now);
                            let permit = $acquire(&sem).await;
                            if let Some(asked) = asked {
                                waits.push(asked.elapsed());
                            }
                            // The permit is held across an await, as real
                            // work holds it: the other tasks queue.
                            tokio::task::yield_now().await;
                            drop(permit);
                        }
                        waits
                    })
                })
                .collect();
            let mut waits = Vec::new();
            for handle in handles {
                waits.extend(handle.await.expect("task panicked"));
            }
            (start.elapsed(), waits)
        })
    }};
}

async fn taskgroup_acquire(sem: &taskgroup::Semaphore) -> taskgroup::Permit {
    sem.acquire().await.expect("open")
}
async fn tokio_acquire(sem: &tokio::sync::Semaphore) -> tokio::sync::SemaphorePermit<'_> {
    sem.acquire().await.expect("open")
}
async fn async_lock_acquire(sem: &async_lock::Semaphore) -> async_lock::SemaphoreGuard<'_> {
    sem.acquire().await
}

fn contended_tasks(c: &mut Criterion) {
    for n in [2u64, 4, 16] {
        let mut g = c.benchmark_group(format!("semaphore/contended_tasks/{n}"));
        g.bench_function("taskgroup", |b| {
            b.iter_custom(|iters| {
                tasks_run!(
                    taskgroup::Semaphore::new(1),
                    taskgroup_acquire,
                    n,
                    iters,
                    false
                )
                .0
            })
        });
        g.bench_function("tokio", |b| {
            b.iter_custom(|iters| {
                tasks_run!(
                    tokio::sync::Semaphore::new(1),
                    tokio_acquire,
                    n,
                    iters,
                    false
                )
                .0
            })
        });
        g.bench_function("async_lock", |b| {
            b.iter_custom(|iters| {
                tasks_run!(
                    async_lock::Semaphore::new(1),
                    async_lock_acquire,
                    n,
                    iters,
                    false
                )
                .0
            })
        });
        g.finish();
    }
}

/// The two-thread workload with every acquire timed.
fn two_threads_waits<S: Send + Sync + 'static>(
    pairs: u64,
    sem: S,
    pair: fn(&S),
) -> (Duration, Vec<Duration>) {
    let sem = Arc::new(sem);
    let start_line = Arc::new(Barrier::new(2));
    let run = move |sem: &S, count: u64| {
        let mut waits = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let asked = Instant::now();
            pair(sem);
            waits.push(asked.elapsed());
        }
        waits
    };
    let helper = std::thread::spawn({
        let sem = Arc::clone(&sem);
        let start_line = Arc::clone(&start_line);
        move || {
            start_line.wait();
            run(&sem, pairs / 2)
        }
    });
    start_line.wait();
    let start = Instant::now();
    let mut waits = run(&sem, pairs - pairs / 2);
    waits.extend(helper.join().expect("helper thread panicked"));
    (start.elapsed(), waits)
}

/// Prints throughput and the p99 and max wait of an acquire, per contender,
/// for each contended workload (a fixed number of pairs, each acquire timed;
/// in the two-thread rows the timed span includes the release, a few ns).
fn wait_table() {
    const PAIRS: u64 = 200_000;
    fn row(name: &str, (elapsed, mut waits): (Duration, Vec<Duration>)) {
        waits.sort_unstable();
        let p99 = waits[waits.len() * 99 / 100];
        let max = waits[waits.len() - 1];
        println!(
            "  {name:<28} {:>9.0} ns/pair  p99 {:>10.1?}  max {:>10.1?}",
            elapsed.as_nanos() as f64 / waits.len() as f64,
            p99,
            max
        );
    }
    println!("semaphore waits ({PAIRS} acquire/release pairs, 1 permit):");
    println!(" 2 threads:");
    row(
        "taskgroup_blocking",
        two_threads_waits(PAIRS, taskgroup::Semaphore::new(1), |s| {
            drop(s.acquire_blocking().expect("open"))
        }),
    );
    row(
        "tokio_block_on",
        two_threads_waits(PAIRS, tokio::sync::Semaphore::new(1), |s| {
            drop(block_on(s.acquire()).expect("open"))
        }),
    );
    row(
        "async_lock_blocking",
        two_threads_waits(PAIRS, async_lock::Semaphore::new(1), |s| {
            drop(s.acquire_blocking())
        }),
    );
    for n in [2u64, 4, 16] {
        println!(" {n} tasks, tokio 2 workers:");
        row(
            "taskgroup",
            tasks_run!(
                taskgroup::Semaphore::new(1),
                taskgroup_acquire,
                n,
                PAIRS,
                true
            ),
        );
        row(
            "tokio",
            tasks_run!(
                tokio::sync::Semaphore::new(1),
                tokio_acquire,
                n,
                PAIRS,
                true
            ),
        );
        row(
            "async_lock",
            tasks_run!(
                async_lock::Semaphore::new(1),
                async_lock_acquire,
                n,
                PAIRS,
                true
            ),
        );
    }
}

fn waits(_: &mut Criterion) {
    wait_table();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(25)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = waits, uncontended, pool_round_trip, contended, contended_tasks
}
criterion_main!(benches);
