//! Heap allocations on the hot paths, counted exactly by a global allocator.
//!
//! What it proves (the figures are in `docs/benchmarks.md`, "Allocations and
//! memory"):
//!
//! * every uncontended path allocates nothing: `WaitGroup` `add`/`done`/
//!   `enter`, `wait()` on an open group, `Latch` `count_down` and `wait()` on
//!   an open latch, `CancellationToken::cancelled()` on a cancelled token,
//!   `Semaphore` `try_acquire` and `acquire()` with a permit free, and a
//!   pool's `forget` + `add_permits` round trip;
//! * a lone parked `WaitGroup`/`Latch` `wait()` allocates nothing either (it
//!   takes the counter's waker slot);
//! * the paths that must allocate allocate exactly what is documented: a
//!   second parked `wait()` beside it one event-listener listener (plus the
//!   `Event`'s shared state the first time on a group), a parked
//!   `cancelled()` one listener, `child_token()` one node, a queued
//!   `acquire()` three blocks and the release that grants it one;
//! * `ErrGroup::spawn` costs at most one allocation per task beyond the
//!   runtime's own (a raw spawn of the same future on the same runtime), on
//!   tokio current-thread and on a smol executor, with and without a limit;
//! * a `scope` child costs one allocation (its boxed future), plus one for
//!   its slot's waker only while more children are pending at once than
//!   ever before in that scope (slots are reused).
//!
//! Counts are kept per thread (`tests/support/counting_alloc.rs`: a `const`
//! thread-local `Cell`, which needs no allocation and no destructor), so the
//! other tests that the harness runs in parallel on other threads do not
//! disturb them. Futures are polled by hand with a no-op waker, and the
//! runtimes are single-threaded (tokio current-thread, a smol `Executor`
//! driven by `block_on` on the test's thread), so everything counted happens
//! on the test's thread. Each figure is taken after a warm-up run (lazily
//! allocated state, grown queues) and asserted for every measured run.
//!
//! Run: `cargo test --test alloc` (add `-- --nocapture` to see the figures).
// The `diagnostics` feature records every guard in a map (it allocates by
// design): these counts hold without it. CI runs this file without it too
// (`cargo test --lib --test alloc`).
#![cfg(not(feature = "diagnostics"))]
#![cfg(not(loom))]

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use event_listener::Event;
use taskgroup::runtime::{Runtime, SmolRuntime, TokioRuntime};
use taskgroup::{CancellationToken, ErrGroup, Latch, Semaphore, WaitGroup};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/yield_now.rs"]
mod yield_now;

use yield_now::YieldNow;

use counting_alloc::{allocated, live_bytes};

/// Allocations made on this thread: how many, and their bytes.
type Allocs = (usize, usize);

/// Runs `f` and returns what it allocated on this thread.
fn allocations_in<R>(f: impl FnOnce() -> R) -> (Allocs, R) {
    let before = allocated();
    let result = f();
    let after = allocated();
    ((after.0 - before.0, after.1 - before.1), result)
}

/// Runs `op` once unmeasured (warm-up), then `runs` times measured; asserts
/// that every measured run allocated the same and returns that.
fn allocations_per_run(what: &str, runs: usize, mut op: impl FnMut()) -> Allocs {
    op();
    let (first, ()) = allocations_in(&mut op);
    for run in 1..runs {
        let (this, ()) = allocations_in(&mut op);
        assert_eq!(
            this, first,
            "{what}: run {run} allocated {this:?}, the first measured run {first:?}"
        );
    }
    eprintln!("{what}: {} allocation(s), {} bytes", first.0, first.1);
    first
}

fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn the_counter_sees_this_threads_allocations() {
    let live_before = live_bytes();
    // `black_box`: an optimized build may elide an allocation it can see
    // through.
    let ((count, bytes), boxed) = allocations_in(|| black_box(Box::new([0u8; 24])));
    assert_eq!((count, bytes), (1, 24));
    assert_eq!(live_bytes() - live_before, 24, "the box is held");
    drop(black_box(boxed));
    assert_eq!(live_bytes(), live_before, "and freed");

    // A `realloc` counts as one allocation of the new size, and holds only
    // the new size.
    let mut grown = black_box(Vec::<u8>::with_capacity(8));
    let ((count, bytes), ()) = allocations_in(|| black_box(&mut grown).reserve_exact(64));
    assert_eq!((count, bytes), (1, grown.capacity()));
    assert_eq!(live_bytes() - live_before, grown.capacity() as isize);
    drop(black_box(grown));
    assert_eq!(live_bytes(), live_before);
}

// ---------------------------------------------------------------------------
// Uncontended paths: zero.

#[test]
fn add_and_done_with_no_waiter_allocate_nothing() {
    let wg = WaitGroup::new();
    let per_pair = allocations_per_run("WaitGroup add(1) + done()", 1_000, || {
        wg.add(1);
        wg.done();
    });
    assert_eq!(per_pair, (0, 0));
    // Through counts above zero, and through a guard.
    let per_run = allocations_per_run("add(3) + 3 x done(), enter() + drop", 100, || {
        wg.add(3);
        wg.done();
        wg.done();
        wg.done();
        drop(wg.enter());
    });
    assert_eq!(per_run, (0, 0));
    assert_eq!(wg.count(), 0);
}

#[test]
fn waiting_on_an_open_group_allocates_nothing() {
    let wg = WaitGroup::new();
    let per_wait = allocations_per_run("wait() on a group at zero", 1_000, || {
        assert!(poll_once(pin!(wg.wait())).is_ready());
    });
    assert_eq!(per_wait, (0, 0));

    // A group that was used and is back at zero is open again, still free.
    let per_wait = allocations_per_run("wait() on a group back at zero", 1_000, || {
        wg.add(2);
        wg.done();
        wg.done();
        assert!(poll_once(pin!(wg.wait())).is_ready());
    });
    assert_eq!(per_wait, (0, 0));
}

#[test]
fn latch_count_down_and_open_wait_allocate_nothing() {
    let latch = Latch::new(1_001);
    let per_count_down = allocations_per_run("Latch::count_down, closed", 1_000, || {
        latch.count_down();
    });
    assert_eq!(per_count_down, (0, 0));
    assert!(latch.try_wait(), "1,001 count-downs open it");
    let per_count_down = allocations_per_run("Latch::count_down, open", 1_000, || {
        latch.count_down(); // already open: a no-op
    });
    assert_eq!(per_count_down, (0, 0));
    let per_wait = allocations_per_run("Latch::wait, open", 1_000, || {
        assert!(poll_once(pin!(latch.wait())).is_ready());
    });
    assert_eq!(per_wait, (0, 0));
}

#[test]
fn cancellation_checks_allocate_nothing() {
    let token = CancellationToken::new();
    let per_check = allocations_per_run("is_cancelled, not cancelled", 1_000, || {
        assert!(!token.is_cancelled());
    });
    assert_eq!(per_check, (0, 0));

    token.cancel();
    let per_wait = allocations_per_run("cancelled() on a cancelled token", 1_000, || {
        assert!(token.is_cancelled());
        assert!(poll_once(pin!(token.cancelled())).is_ready());
    });
    assert_eq!(per_wait, (0, 0));
    let per_run = allocations_per_run("run_until_cancelled, cancelled", 1_000, || {
        let run = pin!(token.run_until_cancelled(async { 1 }));
        assert_eq!(poll_once(run), Poll::Ready(None));
    });
    assert_eq!(per_run, (0, 0));

    // Work that finishes in its first poll registers no listener.
    let live = CancellationToken::new();
    let per_run = allocations_per_run("run_until_cancelled, ready at once", 1_000, || {
        let run = pin!(live.run_until_cancelled(async { 1 }));
        assert_eq!(poll_once(run), Poll::Ready(Some(1)));
    });
    assert_eq!(per_run, (0, 0));
}

/// The semaphore's uncontended path: `try_acquire` + drop, and `acquire()`
/// polled once on a free semaphore + drop, are one CAS each way on its state
/// word; the `Permit` holds an `Arc` clone of the semaphore (a count bump,
/// not an allocation).
#[test]
fn uncontended_semaphore_acquire_and_release_allocate_nothing() {
    let sem = Semaphore::new(1);
    let per_try = allocations_per_run("try_acquire + drop, free", 1_000, || {
        let permit = sem.try_acquire().expect("a free permit");
        assert_eq!(permit.num_permits(), 1);
    });
    assert_eq!(per_try, (0, 0));
    let per_acquire = allocations_per_run("acquire() + drop, free", 1_000, || {
        let Poll::Ready(permit) = poll_once(pin!(sem.acquire())) else {
            panic!("acquire on a free semaphore must be ready at once");
        };
        assert_eq!(permit.expect("open").num_permits(), 1);
    });
    assert_eq!(per_acquire, (0, 0));
    // A refused `try_acquire` (nobody queued, no permit) allocates nothing
    // either.
    let held = sem.try_acquire().expect("a free permit");
    let per_refusal = allocations_per_run("try_acquire, none free", 1_000, || {
        assert!(sem.try_acquire().is_err());
    });
    assert_eq!(per_refusal, (0, 0));
    drop(held);
    assert_eq!(sem.available_permits(), 1);
}

/// A pool's round trip on a growable semaphore — take a permit, forget it
/// while the object is out, `add_permits(1)` when it returns — allocates
/// nothing when nobody waits.
#[test]
fn pool_forget_and_add_permits_allocate_nothing() {
    let sem = Semaphore::new(2);
    let per_round = allocations_per_run("try_acquire + forget + add_permits", 1_000, || {
        sem.try_acquire().expect("a free permit").forget();
        sem.add_permits(1);
    });
    assert_eq!(per_round, (0, 0));
    assert_eq!((sem.available_permits(), sem.capacity()), (2, 2));
}

// ---------------------------------------------------------------------------
// Paths that must allocate: exactly what is documented.

/// What one `Event::listen()` allocates on an `Event` that has had a listener
/// before (its shared state exists): the listener, one block.
fn one_listener() -> Allocs {
    let event = Event::new();
    drop(event.listen()); // creates the shared state
    let (listener, ()) = allocations_in(|| drop(event.listen()));
    listener
}

/// What the first `Event::listen()` on a fresh `Event` allocates: the
/// `Event`'s shared state (event-listener creates it lazily) and the
/// listener.
fn first_listener() -> Allocs {
    let event = Event::new();
    let (first, ()) = allocations_in(|| drop(event.listen()));
    first
}

/// A `wait()` that parks alone takes the group's waker slot: it allocates
/// nothing. A second waiter parked beside it registers one event-listener
/// listener: one allocation, its bytes exactly those of a bare
/// `Event::listen()` (the first such park on a group also creates the
/// `Event`'s shared state, one more allocation kept for the group's life).
/// Re-polling while pending, the `done()` that wakes them and the `Ready`
/// polls allocate nothing.
#[test]
fn a_lone_parked_wait_allocates_nothing_and_a_second_one_listener() {
    let one = one_listener();
    let first = first_listener();
    assert_eq!(one.0, 1, "event-listener allocates a listener as one block");
    assert_eq!(first.0, 2, "and its shared state as one more, on first use");

    let wg = WaitGroup::new();
    let park_two_and_wake = || {
        wg.add(1);
        let mut lone = pin!(wg.wait());
        let (parked, poll) = allocations_in(|| poll_once(lone.as_mut()));
        assert!(poll.is_pending());
        assert_eq!(parked, (0, 0), "a lone parked wait takes the slot");

        let (again, poll) = allocations_in(|| poll_once(lone.as_mut()));
        assert!(poll.is_pending());
        assert_eq!(again, (0, 0), "a pending re-poll must not allocate");

        let mut second = pin!(wg.wait());
        let (second_parked, poll) = allocations_in(|| poll_once(second.as_mut()));
        assert!(poll.is_pending());
        let (again, poll) = allocations_in(|| poll_once(second.as_mut()));
        assert!(poll.is_pending());
        assert_eq!(again, (0, 0), "a pending re-poll must not allocate");

        let (woken, polls) = allocations_in(|| {
            wg.done();
            (poll_once(lone.as_mut()), poll_once(second.as_mut()))
        });
        assert!(polls.0.is_ready() && polls.1.is_ready());
        assert_eq!(woken, (0, 0), "the wake-up must not allocate");
        second_parked
    };

    let first_park = park_two_and_wake();
    eprintln!(
        "second parked wait, first time on a group: {} allocation(s), {} bytes",
        first_park.0, first_park.1
    );
    assert_eq!(
        first_park, first,
        "the first listener: shared state + listener"
    );
    for _ in 0..100 {
        assert_eq!(park_two_and_wake(), one, "every later one: one listener");
    }
    eprintln!(
        "later second parked wait: {} allocation(s), {} bytes",
        one.0, one.1
    );

    // A latch shares the counter: a lone parked wait takes the slot (and
    // dropping it frees the slot). A cancellation token has no slot: one
    // listener per parked wait (dropping the pending future frees it).
    let latch = Latch::new(1);
    let per_park = allocations_per_run("a lone parked Latch::wait", 100, || {
        assert!(poll_once(pin!(latch.wait())).is_pending());
    });
    assert_eq!(per_park, (0, 0), "a lone parked Latch::wait takes the slot");

    let token = CancellationToken::new();
    let per_park = allocations_per_run("a parked cancelled()", 100, || {
        assert!(poll_once(pin!(token.cancelled())).is_pending());
    });
    assert_eq!(per_park, one, "a parked cancelled(): one listener");
}

/// `child_token()` allocates the child's node (one `Arc`); the parent's list
/// of children is pruned of dropped children when it would grow, so creating
/// and dropping children costs exactly that one allocation, forever.
#[test]
fn child_token_allocates_one_node() {
    let parent = CancellationToken::new();
    let per_child = allocations_per_run("child_token() + drop", 1_000, || {
        drop(parent.child_token());
    });
    assert_eq!(per_child.0, 1);

    // A child of a cancelled token: a node born cancelled, not linked.
    parent.cancel();
    let per_child = allocations_per_run("child_token() of a cancelled token", 1_000, || {
        let child = parent.child_token();
        assert!(child.is_cancelled());
    });
    assert_eq!(per_child.0, 1);
}

/// An `acquire()` that has to queue allocates three blocks: its waiter node
/// (an `Arc`, shared with the semaphore's queue), the node's `Event` shared
/// state, and the listener on it. The release that grants it allocates one:
/// the list of granted waiters, handed out to be notified outside the lock.
/// Re-polling while queued, and the poll that takes the permit, allocate
/// nothing.
#[test]
fn queued_acquire_allocates_its_waiter() {
    let sem = Semaphore::new(1);
    let first = first_listener();
    let mut per_round = Vec::new();
    for _ in 0..101 {
        let held = sem.try_acquire().expect("a free permit");
        let mut acquire = pin!(sem.acquire());
        let (queued, poll) = allocations_in(|| poll_once(acquire.as_mut()));
        assert!(poll.is_pending());
        let (again, poll) = allocations_in(|| poll_once(acquire.as_mut()));
        assert!(poll.is_pending());
        assert_eq!(again, (0, 0), "a queued re-poll must not allocate");

        let (release, ()) = allocations_in(|| drop(held));
        let (taken, poll) = allocations_in(|| poll_once(acquire.as_mut()));
        let Poll::Ready(Ok(permit)) = poll else {
            panic!("the released permit goes to the queued acquire");
        };
        assert_eq!(taken, (0, 0), "taking the granted permit must not allocate");
        drop(permit);
        per_round.push((queued, release));
    }
    // Round 0 is the warm-up (the queue's own buffer is allocated then, and
    // kept).
    let (queued, release) = per_round[1];
    eprintln!(
        "queued acquire: {} allocation(s), {} bytes; granting release: {} allocation(s), {} bytes",
        queued.0, queued.1, release.0, release.1
    );
    assert!(per_round[1..]
        .iter()
        .all(|&round| round == (queued, release)));
    assert_eq!(
        queued.0,
        1 + first.0,
        "waiter node + Event state + listener"
    );
    assert_eq!(release.0, 1, "the granted list");
    assert_eq!(sem.available_permits(), 1);
}

// ---------------------------------------------------------------------------
// ErrGroup: per task, at most the runtime's own allocation plus one.

/// The future every contender spawns.
async fn job(i: usize) -> Result<u64, Infallible> {
    Ok(i as u64)
}

/// Tasks per measured batch; the per-task figure is the difference between a
/// batch of `2 * BATCH` and one of `BATCH`, divided by `BATCH`, so what a
/// batch costs once (the group, the handles' `Vec`, `block_on`) cancels out.
const BATCH: usize = 1_000;

/// What `BATCH` more tasks cost: the allocations of a batch of `2 * BATCH`
/// minus those of a batch of `BATCH`, after a warm-up batch of `2 * BATCH`
/// (which grows the runtime's queues to their size for the measured ones).
fn marginal(what: &str, mut batch: impl FnMut(usize) -> usize) -> Allocs {
    assert_eq!(batch(2 * BATCH), 2 * BATCH, "{what}: warm-up");
    let (small, done) = allocations_in(|| batch(BATCH));
    assert_eq!(done, BATCH);
    let (large, done) = allocations_in(|| batch(2 * BATCH));
    assert_eq!(done, 2 * BATCH);
    let marginal = (large.0 - small.0, large.1 - small.1);
    eprintln!(
        "{what}: {} allocations, {} bytes for {BATCH} more tasks ({:.3} allocations, {:.1} bytes per task)",
        marginal.0,
        marginal.1,
        marginal.0 as f64 / BATCH as f64,
        marginal.1 as f64 / BATCH as f64
    );
    marginal
}

/// Asserts the target: `BATCH` tasks of the group cost at most one
/// allocation each beyond what `BATCH` raw spawns cost.
fn assert_at_most_one_more(what: &str, group: Allocs, raw: Allocs) {
    assert!(raw.0 >= BATCH, "a raw spawn allocates its task");
    assert!(
        group.0 <= raw.0 + BATCH,
        "{what}: {} allocations for {BATCH} tasks, raw spawns {}: more than one extra per task",
        group.0,
        raw.0
    );
}

/// Spawns `n` tasks into a group (with `limit`, if any) and joins it.
async fn group_batch<R: Runtime>(runtime: R, limit: Option<usize>, n: usize) -> usize {
    let group = match limit {
        Some(limit) => ErrGroup::builder(runtime).limit(limit).build(),
        None => ErrGroup::new(runtime),
    };
    for i in 0..n {
        group.spawn(job(i)).unwrap();
    }
    group.join().await.expect("no task fails").len()
}

fn tokio_current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("build a tokio current-thread runtime")
}

#[test]
fn err_group_spawn_costs_at_most_one_allocation_beyond_tokios() {
    let rt = tokio_current_thread();
    let raw = marginal("tokio current-thread, raw spawn", |n| {
        rt.block_on(async {
            let handles: Vec<_> = (0..n).map(|i| tokio::spawn(job(i))).collect();
            let mut done = 0;
            for handle in handles {
                handle
                    .await
                    .expect("no task panics")
                    .expect("no task fails");
                done += 1;
            }
            done
        })
    });
    let runtime = TokioRuntime::from_handle(rt.handle().clone());
    let group = marginal("tokio current-thread, ErrGroup", |n| {
        rt.block_on(group_batch(runtime.clone(), None, n))
    });
    let limited = marginal("tokio current-thread, ErrGroup with a limit of 8", |n| {
        rt.block_on(group_batch(runtime.clone(), Some(8), n))
    });
    assert_at_most_one_more("ErrGroup on tokio", group, raw);
    assert_at_most_one_more("ErrGroup with a limit on tokio", limited, raw);
}

#[test]
fn err_group_spawn_costs_at_most_one_allocation_beyond_smols() {
    let executor = Arc::new(smol::Executor::new());
    let raw = marginal("smol executor, raw spawn", |n| {
        smol::block_on(executor.run(async {
            let tasks: Vec<_> = (0..n).map(|i| executor.spawn(job(i))).collect();
            let mut done = 0;
            for task in tasks {
                task.await.expect("no task fails");
                done += 1;
            }
            done
        }))
    });
    let runtime = SmolRuntime::with_executor(Arc::clone(&executor));
    let group = marginal("smol executor, ErrGroup", |n| {
        smol::block_on(executor.run(group_batch(runtime.clone(), None, n)))
    });
    let limited = marginal("smol executor, ErrGroup with a limit of 8", |n| {
        smol::block_on(executor.run(group_batch(runtime.clone(), Some(8), n)))
    });
    assert_at_most_one_more("ErrGroup on smol", group, raw);
    assert_at_most_one_more("ErrGroup with a limit on smol", limited, raw);
}

// ---------------------------------------------------------------------------
// scope: one allocation per child (its boxed future); a child still pending
// after its first poll holds a slot whose waker is one more, reused by later
// children.

/// A scope of `n` children (with `limit`, if any), each yielding first if
/// `yields`; returns how many values came back.
fn scope_batch(limit: Option<usize>, yields: bool, n: usize) -> usize {
    let mut builder = taskgroup::ScopeBuilder::new();
    if let Some(limit) = limit {
        builder = builder.limit(limit);
    }
    futures::executor::block_on(builder.run(|s| async move {
        for i in 0..n {
            s.spawn(async move {
                if yields {
                    YieldNow::default().await;
                }
                job(i).await
            })
            .unwrap();
        }
    }))
    .expect("no child fails")
    .len()
}

/// Growing the scope's lists (amortized doubling) for twice the children:
/// a few allocations per list, not per child.
const GROWTH: usize = 16;

#[test]
fn scope_costs_one_allocation_per_child() {
    let ready = marginal("scope, children ready at once", |n| {
        scope_batch(None, false, n)
    });
    assert!(
        ready.0 <= BATCH + GROWTH,
        "{} allocations for {BATCH} more children: more than one each",
        ready.0
    );
    // Every child pending at once: its box, and a slot (with its waker).
    let pending = marginal("scope, all children pending at once", |n| {
        scope_batch(None, true, n)
    });
    assert!(
        pending.0 <= 2 * BATCH + GROWTH,
        "{} allocations for {BATCH} more pending children: more than two each",
        pending.0
    );
    // At most 8 pending at once: the slots are reused, one allocation a child.
    let limited = marginal("scope limit(8), children pending", |n| {
        scope_batch(Some(8), true, n)
    });
    assert!(
        limited.0 <= BATCH + GROWTH,
        "{} allocations for {BATCH} more children behind a limit of 8: more than one each",
        limited.0
    );
}
