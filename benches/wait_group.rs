//! `WaitGroup` against its floor and its peers, on the same work in the same
//! run. Results and how to read them: `docs/benchmarks.md`.
//!
//! Groups:
//!
//! * `add_done/no_waiter`: one `add(1)` + `done()` pair with nobody waiting,
//!   against two bare atomics (the floor), the same with the decrement as a
//!   load + compare-and-swap (the floor of a decrement that must write more
//!   than the count at zero), crossbeam's `WaitGroup`
//!   (`clone()` + `drop()`), and hand-rolled `AtomicUsize` groups on tokio's
//!   `Notify` and on event-listener's `Event` that notify at zero
//!   (`benches/support/groups.rs`).
//! * `wait_open`: create `wait()` on a group at zero and poll it once with a
//!   no-op waker, against an atomic load and a branch.
//!
//! The wake-up latency (ping-pong) groups are in `benches/wake.rs`.
//!
//! Run: `cargo bench --bench wait_group` (about 30 seconds).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use taskgroup::{Latch, WaitGroup};

#[path = "support/groups.rs"]
mod groups;

use groups::{EventGroup, Group, TokioGroup};

fn add_done_one<G: Group>(c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let group = G::with_count(0);
    c.bench_function(G::NAME, |b| {
        b.iter(|| {
            let group = black_box(&group);
            group.add1();
            group.done();
        })
    });
}

fn add_done(c: &mut Criterion) {
    let mut g = c.benchmark_group("add_done/no_waiter");

    // The floor: the two read-modify-writes any counting group needs.
    let atomic = AtomicUsize::new(0);
    g.bench_function("atomic_floor", |b| {
        b.iter(|| {
            let atomic = black_box(&atomic);
            atomic.fetch_add(1, Ordering::Relaxed);
            atomic.fetch_sub(1, Ordering::AcqRel);
        })
    });

    // The floor of a group whose zero transition must also write other bits
    // in the same step (here a generation in the high half, bumped at
    // zero): the decrement is a load and a compare-and-swap instead of a
    // `fetch_sub` (see `docs/benchmarks.md`).
    const LOW: usize = u32::MAX as usize;
    let word = AtomicUsize::new(0);
    g.bench_function("atomic_floor_cas", |b| {
        b.iter(|| {
            let word = black_box(&word);
            word.fetch_add(1, Ordering::Relaxed);
            let mut state = word.load(Ordering::Relaxed);
            loop {
                let new = if state & LOW == 1 {
                    (state & !LOW).wrapping_add(LOW + 1)
                } else {
                    state - 1
                };
                match word.compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Relaxed) {
                    Ok(_) => break,
                    Err(actual) => state = actual,
                }
            }
        })
    });

    // 0 -> 1 -> 0: every `done` ends a generation (what a group in use does).
    add_done_one::<WaitGroup>(&mut g);

    // 1 -> 2 -> 1: the same pair when the count never reaches zero.
    let wg = WaitGroup::new();
    wg.add(1);
    g.bench_function("taskgroup_nonzero", |b| {
        b.iter(|| {
            let wg = black_box(&wg);
            wg.add(1);
            wg.done();
        })
    });

    // crossbeam counts handles: the original keeps the count at 1 or more,
    // so its clone + drop never reaches zero (never takes its lock).
    let cb = crossbeam_utils::sync::WaitGroup::new();
    g.bench_function("crossbeam_clone_drop", |b| {
        b.iter(|| drop(black_box(&cb).clone()));
    });

    add_done_one::<TokioGroup>(&mut g);
    add_done_one::<EventGroup>(&mut g);
    g.finish();
}

fn wait_open(c: &mut Criterion) {
    let mut g = c.benchmark_group("wait_open");
    let mut cx = Context::from_waker(Waker::noop());

    let atomic = AtomicUsize::new(0);
    g.bench_function("atomic_load_branch", |b| {
        b.iter(|| {
            let ready = if black_box(&atomic).load(Ordering::Acquire) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
            black_box(ready)
        })
    });

    // A group handle is a pointer to shared state, so the load that any group
    // does goes through one more (dependent) load: the same floor behind an `Arc`.
    let shared = Arc::new(AtomicUsize::new(0));
    g.bench_function("arc_atomic_load_branch", |b| {
        b.iter(|| {
            let ready = if black_box(&shared).load(Ordering::Acquire) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
            black_box(ready)
        })
    });

    let wg = WaitGroup::new();
    g.bench_function("taskgroup_wait_group", |b| {
        b.iter(|| {
            let wait = pin!(black_box(&wg).wait());
            black_box(wait.poll(&mut cx))
        })
    });

    let latch = Latch::new(0);
    g.bench_function("taskgroup_latch", |b| {
        b.iter(|| {
            let wait = pin!(black_box(&latch).wait());
            black_box(wait.poll(&mut cx))
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = add_done, wait_open
}
criterion_main!(benches);
