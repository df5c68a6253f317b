//! The memory a long-lived group holds for its finished tasks, on every
//! runtime: a group built with `discard_values()` (a server's connection
//! group, never joined while it runs) holds at most 16 bytes per finished
//! task after 100,000 tasks; the figure for a default group (which keeps each
//! finished task's value and runtime handle until joined) is printed beside
//! it.
//!
//! Live bytes are read from the process-wide counter of the counting
//! allocator (`tests/support/counting_alloc.rs`), which sees the frees on the
//! runtimes' worker threads too. This file is a test binary of its own with
//! a single test, so nothing else allocates while it measures; the runtimes
//! run one after the other. Each measurement follows a warm-up round in the
//! same group (queues and tables already grown), and reads the live bytes
//! only once every task is done and they have stopped falling (the runtimes
//! free a finished task's memory shortly after it completes).
//!
//! Run: `cargo test --all-features --test memory -- --nocapture` (prints the
//! figures).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use taskgroup::runtime::{AsyncStdRuntime, Runtime, SmolRuntime, TokioRuntime};
use taskgroup::ErrGroup;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/hang.rs"]
mod hang;

use counting_alloc::settled_global_live_bytes;

/// Tasks per round.
const TASKS: usize = 100_000;
/// The most a discarding group may hold per finished task.
const MAX_BYTES_PER_TASK: f64 = 16.0;

/// Spawns [`TASKS`] trivial tasks into `group` and waits until every one has
/// run to its end, and, for a discarding group, until the group holds none
/// of them (a value-keeping group keeps them all).
async fn round<R: Runtime>(group: &ErrGroup<u64, (), R>, rt: &R, discarding: bool) {
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..TASKS {
        let done = Arc::clone(&done);
        group
            .spawn(async move {
                done.fetch_add(1, Ordering::Relaxed);
                Ok(i as u64)
            })
            .unwrap();
    }
    while done.load(Ordering::Relaxed) < TASKS || (discarding && !group.is_empty()) {
        rt.sleep(Duration::from_millis(1)).await;
    }
}

/// Live bytes per finished task held by `group` after a round of
/// [`TASKS`], measured after a warm-up round in the same group.
async fn bytes_per_finished_task<R: Runtime>(
    rt: &R,
    group: ErrGroup<u64, (), R>,
    discarding: bool,
) -> f64 {
    round(&group, rt, discarding).await;
    let before = settled_global_live_bytes(rt).await;
    round(&group, rt, discarding).await;
    let after = settled_global_live_bytes(rt).await;
    drop(group);
    (after - before) as f64 / TASKS as f64
}

/// (discarding group, value-keeping group never joined): bytes per finished
/// task on one runtime.
async fn figures<R: Runtime>(rt: R) -> (f64, f64) {
    let discarding = ErrGroup::builder(rt.clone()).discard_values().build();
    let discarding = bytes_per_finished_task(&rt, discarding, true).await;
    let keeping = ErrGroup::new(rt.clone());
    let keeping = bytes_per_finished_task(&rt, keeping, false).await;
    (discarding, keeping)
}

/// A runtime's name, and how to run [`figures`] on it.
type Contender = (&'static str, fn() -> (f64, f64));

#[test]
fn discarding_group_memory_is_flat_on_every_runtime() {
    let runtimes: [Contender; 4] = [
        ("tokio current-thread", || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(figures(TokioRuntime::from_handle(rt.handle().clone())))
        }),
        ("tokio multi-thread", || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(figures(TokioRuntime::from_handle(rt.handle().clone())))
        }),
        ("smol", || smol::block_on(figures(SmolRuntime::global()))),
        ("async-std", || {
            async_std::task::block_on(figures(AsyncStdRuntime))
        }),
    ];
    let mut over = Vec::new();
    for (name, run) in runtimes {
        let (discarding, keeping) = hang::finishes(name, run);
        eprintln!(
            "{name}: discard_values() group {discarding:.1} B per finished task; \
             default group, never joined: {keeping:.1} B per finished task"
        );
        if discarding > MAX_BYTES_PER_TASK {
            over.push(format!("{name}: {discarding:.1} B"));
        }
    }
    assert!(
        over.is_empty(),
        "a discarding group holds more than {MAX_BYTES_PER_TASK} B per finished task: {}",
        over.join(", ")
    );
}
