//! A scope of N children against the other ways to run N futures
//! concurrently on one task. Results and how to read them:
//! `docs/benchmarks.md` ("Scopes").
//!
//! Each contender runs N children, child `i` returning `i` (a `u64`), and
//! collects every value into a `Vec<u64>`, driven by
//! `futures::executor::block_on` on the bench thread (no runtime: all of
//! them are concurrency on one task). Two kinds of work:
//!
//! * `ready/<N>`: each child returns at its first poll (the cost of the
//!   machinery itself);
//! * `yield/<N>`: each child yields once first (woken at once), so every
//!   child is polled twice and goes through the wake-up path.
//!
//! N is 10, 1,000 and 100,000. Contenders:
//!
//! * `scope`, `scope_local`: this crate (`Result<u64, ()>` children, values
//!   in spawn order);
//! * `futures_unordered`: `futures`' `FuturesUnordered` of the children
//!   (one future type, not boxed; values in completion order);
//! * `futures_unordered_boxed`: the same with each child boxed as
//!   `Pin<Box<dyn Future + Send>>`, as children of different types must be;
//! * `future_group`: futures-concurrency's `FutureGroup` (one type);
//! * `try_join_all`: `futures::future::try_join_all` (values in order);
//! * `moro`: `moro::async_scope!`, each child's value taken through the
//!   handle `spawn` returns.
//!
//! After criterion, unless `SCOPE_EXTRAS=0`, it prints the interleaved
//! medians per child and each contender's allocations per child (counted on
//! this thread by `tests/support/counting_alloc.rs`).
//!
//! Run: `cargo bench --bench scope` (about a minute).

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::time::{Duration, Instant};

use criterion::Criterion;
use futures::executor::block_on;
use futures::stream::{FuturesUnordered, StreamExt};
use futures_concurrency::future::FutureGroup;

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/harness.rs"]
mod harness;
#[path = "../tests/support/yield_now.rs"]
mod yield_now;

use yield_now::YieldNow;

const SIZES: [u64; 3] = [10, 1_000, 100_000];

/// Child `i`: `i`, at once or after one yield.
async fn child(i: u64, yields: bool) -> u64 {
    if yields {
        YieldNow::default().await;
    }
    black_box(i)
}

fn scope(n: u64, yields: bool) -> Vec<u64> {
    block_on(taskgroup::scope(|s| async move {
        for i in 0..n {
            s.spawn(async move { Ok::<_, ()>(child(i, yields).await) })
                .unwrap();
        }
    }))
    .unwrap()
}

fn scope_local(n: u64, yields: bool) -> Vec<u64> {
    block_on(taskgroup::scope_local(|s| async move {
        for i in 0..n {
            s.spawn(async move { Ok::<_, ()>(child(i, yields).await) })
                .unwrap();
        }
    }))
    .unwrap()
}

fn futures_unordered(n: u64, yields: bool) -> Vec<u64> {
    block_on(async {
        let set: FuturesUnordered<_> = (0..n).map(|i| child(i, yields)).collect();
        set.collect().await
    })
}

fn futures_unordered_boxed(n: u64, yields: bool) -> Vec<u64> {
    block_on(async {
        let set: FuturesUnordered<Pin<Box<dyn Future<Output = u64> + Send>>> = (0..n)
            .map(|i| Box::pin(child(i, yields)) as Pin<Box<dyn Future<Output = u64> + Send>>)
            .collect();
        set.collect().await
    })
}

fn future_group(n: u64, yields: bool) -> Vec<u64> {
    block_on(async {
        let mut group = FutureGroup::with_capacity(n as usize);
        for i in 0..n {
            group.insert(child(i, yields));
        }
        group.collect().await
    })
}

fn try_join_all(n: u64, yields: bool) -> Vec<u64> {
    block_on(futures::future::try_join_all(
        (0..n).map(|i| async move { Ok::<_, ()>(child(i, yields).await) }),
    ))
    .unwrap()
}

fn moro(n: u64, yields: bool) -> Vec<u64> {
    block_on(moro::async_scope!(|s| -> Vec<u64> {
        let handles: Vec<_> = (0..n).map(|i| s.spawn(child(i, yields))).collect();
        let mut values = Vec::with_capacity(handles.len());
        for handle in handles {
            values.push(handle.await);
        }
        values
    }))
}

type Contender = (&'static str, fn(u64, bool) -> Vec<u64>);

const CONTENDERS: [Contender; 7] = [
    ("scope", scope),
    ("scope_local", scope_local),
    ("futures_unordered", futures_unordered),
    ("futures_unordered_boxed", futures_unordered_boxed),
    ("future_group", future_group),
    ("try_join_all", try_join_all),
    ("moro", moro),
];

fn bench(c: &mut Criterion) {
    for (work, yields) in [("ready", false), ("yield", true)] {
        for n in SIZES {
            let mut group = c.benchmark_group(format!("{work}/{n}"));
            for (name, run) in CONTENDERS {
                assert_eq!(run(n, yields).len() as u64, n, "{name} ran every child");
                group.bench_function(name, |b| b.iter(|| black_box(run(black_box(n), yields))));
            }
            group.finish();
        }
    }
}

/// Interleaved medians (ns per child) and allocations per child.
fn extras() {
    for (work, yields) in [("ready", false), ("yield", true)] {
        for n in SIZES {
            let per_sample = (200_000 / n).max(1);
            let list: Vec<(&'static str, _)> = CONTENDERS
                .iter()
                .map(|&(name, run)| {
                    (name, move |iterations: u64| {
                        let start = Instant::now();
                        for _ in 0..iterations {
                            black_box(run(black_box(n), yields));
                        }
                        start.elapsed()
                    })
                })
                .collect();
            let medians = harness::interleaved_medians(&list, per_sample, 15, per_sample, 1e9);
            let baseline = medians[2];
            println!("\n{work}/{n}: ns per child (interleaved medians), allocations per child");
            for ((name, run), median) in CONTENDERS.iter().zip(&medians) {
                run(n, yields); // warm
                let before = counting_alloc::allocated();
                black_box(run(n, yields));
                let after = counting_alloc::allocated();
                println!(
                    "  {name:<24} {:>9.1} ns  {:>5.2}x  {:>6.3} allocs",
                    median / n as f64,
                    median / baseline,
                    (after.0 - before.0) as f64 / n as f64,
                );
            }
        }
    }
}

fn main() {
    let mut criterion = harness::config(10, Duration::from_millis(500), Duration::from_secs(1))
        .configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
    if harness::extras_enabled("SCOPE_EXTRAS") {
        extras();
    }
}
