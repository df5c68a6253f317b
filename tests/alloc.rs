//! Heap allocations on the hot paths, counted by a global allocator.
//!
//! Counts are kept per thread (a `const` thread-local `Cell`, which needs no
//! allocation and no destructor), so other tests that the harness runs in
//! parallel on other threads do not disturb them. Futures are polled by hand
//! with a no-op waker: no runtime, nothing else allocating on this thread.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use taskgroup::{CancellationToken, Latch, WaitGroup};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocated;

/// Runs `f` and returns what it allocated on this thread: (count, bytes).
fn allocations_in<R>(f: impl FnOnce() -> R) -> ((usize, usize), R) {
    let before = allocated();
    let result = f();
    let after = allocated();
    ((after.0 - before.0, after.1 - before.1), result)
}

fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn the_counter_sees_this_threads_allocations() {
    let ((count, bytes), boxed) = allocations_in(|| Box::new([0u8; 24]));
    drop(boxed);
    assert_eq!((count, bytes), (1, 24));
}

#[test]
fn add_and_done_with_no_waiter_allocate_nothing() {
    let wg = WaitGroup::new();
    let (allocs, ()) = allocations_in(|| {
        for _ in 0..1_000 {
            wg.add(1);
            wg.done();
        }
        // Also through the counts above zero, and through a guard.
        wg.add(3);
        wg.done();
        wg.done();
        wg.done();
        drop(wg.enter());
    });
    assert_eq!(allocs, (0, 0));
    assert_eq!(wg.count(), 0);
}

#[test]
fn waiting_on_an_open_group_allocates_nothing() {
    let wg = WaitGroup::new();
    let (allocs, polls) = allocations_in(|| {
        (0..1_000)
            .map(|_| poll_once(pin!(wg.wait())))
            .filter(Poll::is_ready)
            .count()
    });
    assert_eq!(allocs, (0, 0));
    assert_eq!(polls, 1_000, "wait() on a zero group must be ready at once");

    // A group that was used and is back at zero is open again, still free.
    wg.add(2);
    wg.done();
    wg.done();
    let (allocs, poll) = allocations_in(|| poll_once(pin!(wg.wait())));
    assert_eq!(allocs, (0, 0));
    assert!(poll.is_ready());
}

#[test]
fn latch_count_down_and_open_wait_allocate_nothing() {
    let latch = Latch::new(1_000);
    let (allocs, ()) = allocations_in(|| {
        for _ in 0..1_000 {
            latch.count_down();
        }
        latch.count_down(); // already open: a no-op
    });
    assert_eq!(allocs, (0, 0));
    assert!(latch.try_wait());

    let (allocs, poll) = allocations_in(|| poll_once(pin!(latch.wait())));
    assert_eq!(allocs, (0, 0));
    assert!(poll.is_ready());
}

#[test]
fn cancellation_checks_allocate_nothing() {
    let token = CancellationToken::new();
    let (allocs, cancelled) = allocations_in(|| token.is_cancelled());
    assert_eq!(allocs, (0, 0));
    assert!(!cancelled);

    token.cancel();
    let (allocs, (cancelled, poll)) =
        allocations_in(|| (token.is_cancelled(), poll_once(pin!(token.cancelled()))));
    assert_eq!(allocs, (0, 0));
    assert!(cancelled);
    assert!(poll.is_ready());
}

/// The allocations of one wait that has to park, measured on this machine
/// (event-listener 5.4): the first listener on a group also allocates the
/// `Event`'s shared state (one `Arc`, once per group, kept for its life);
/// every parked wait allocates its listener (one `Box`). The wake-up itself
/// (`done` to zero, then the `Ready` poll) allocates nothing.
#[test]
fn one_parked_wait_allocates_one_listener() {
    /// Upper bounds: exactly what this test measured when it was written
    /// (x86_64, event-listener 5.4.2): 2 allocations / 128 bytes for the
    /// first parked wait on a group (72-byte `Event` state + 56-byte
    /// listener), 1 allocation / 56 bytes for every later one.
    const FIRST_WAIT_MAX: (usize, usize) = (2, 128);
    const LATER_WAIT_MAX: (usize, usize) = (1, 56);

    let wg = WaitGroup::new();
    for round in 0..3 {
        wg.add(1);
        let mut wait = pin!(wg.wait());
        let ((parked, bytes), poll) = allocations_in(|| poll_once(wait.as_mut()));
        assert!(poll.is_pending());
        eprintln!("parked wait, round {round}: {parked} allocation(s), {bytes} bytes");

        // A second poll while still pending re-uses the registered listener.
        let (again, poll) = allocations_in(|| poll_once(wait.as_mut()));
        assert!(poll.is_pending());
        assert_eq!(again, (0, 0), "a pending re-poll must not allocate");

        let (woken, poll) = allocations_in(|| {
            wg.done();
            poll_once(wait.as_mut())
        });
        assert!(poll.is_ready());
        assert_eq!(woken, (0, 0), "the wake-up must not allocate");

        let (max, max_bytes) = if round == 0 {
            FIRST_WAIT_MAX
        } else {
            LATER_WAIT_MAX
        };
        assert!(
            (1..=max).contains(&parked) && bytes <= max_bytes,
            "round {round}: one parked wait took {parked} allocation(s), {bytes} bytes; \
             expected 1..={max} and at most {max_bytes} bytes"
        );
    }
}

/// The semaphore's uncontended path: `try_acquire` + drop, and `acquire()`
/// polled once on a free semaphore + drop, are one CAS each way on its state
/// word; the `Permit` holds an `Arc` clone of the semaphore (a count bump,
/// not an allocation).
#[test]
fn uncontended_semaphore_acquire_and_release_allocate_nothing() {
    let sem = taskgroup::Semaphore::new(1);
    let (allocs, acquired) = allocations_in(|| {
        let mut acquired = 0;
        for _ in 0..1_000 {
            let permit = sem.try_acquire().expect("a free permit");
            acquired += permit.permits();
            drop(permit);
            let Poll::Ready(permit) = poll_once(pin!(sem.acquire())) else {
                panic!("acquire on a free semaphore must be ready at once");
            };
            acquired += permit.expect("open").permits();
        }
        acquired
    });
    assert_eq!(allocs, (0, 0));
    assert_eq!(acquired, 2_000);
    assert_eq!(sem.available(), 1);
}
