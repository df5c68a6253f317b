//! Faults inside a group's tasks, on every runtime: a task's future that
//! panics while it is dropped by a cancellation (explicit, by the group's
//! drop, or while it still waits in a limited group's queue), and a task that
//! does not yield when cancelled (blocked in its poll, or waking itself over
//! and over). In each, `join` must finish, every outcome is recorded exactly
//! once, and every future is dropped exactly once.
//!
//! The faults that need no runtime or one runtime in particular (runtime
//! shutdown, wakers that panic or re-enter) are in `tests/faults.rs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::FutureExt;
use taskgroup::{CancelCause, ErrGroup, GroupError, Latch, PanicPolicy, WaitGroup, WaitGuard};

use crate::common::{panic_message, runtime_tests, spawn_joinable};
use crate::ledger::{Ledger, Ticket};
use crate::yield_now::YieldNow;

/// A value whose drop panics.
struct ExplodesOnDrop;

impl Drop for ExplodesOnDrop {
    fn drop(&mut self) {
        panic!("drop exploded");
    }
}

/// Returns `Pending` and wakes itself, `remaining` times (forever with
/// `None`), then `Ok(polls)`: busy, but yielding at every poll.
struct Spins {
    remaining: Option<usize>,
    polls: Arc<AtomicUsize>,
    first_poll: Latch,
    ticket: Option<Ticket>,
}

impl Future for Spins {
    type Output = Result<usize, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let polls = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
        self.first_poll.count_down();
        match &mut self.remaining {
            Some(0) => {
                if let Some(ticket) = self.ticket.take() {
                    ticket.complete();
                }
                Poll::Ready(Ok(polls))
            }
            remaining => {
                if let Some(left) = remaining {
                    *left -= 1;
                }
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

/// A task body that, once started, runs synchronously until `release`
/// opens (a long computation with no `.await`, so no cancellation point),
/// then yields once and finishes. `resumed` records whether it ever ran past
/// that yield.
async fn blocks_until(
    started: Latch,
    release: Latch,
    resumed: Arc<AtomicBool>,
    ticket: Ticket,
) -> Result<(), ()> {
    started.count_down();
    release.wait_blocking();
    YieldNow::default().await;
    resumed.store(true, Ordering::SeqCst);
    ticket.complete();
    Ok(())
}

/// On a plain thread: once `started` opens, cancels `token` and then opens
/// `release`, so the cancellation lands while the task is blocked in its poll.
fn cancel_then_release(
    started: Latch,
    token: taskgroup::CancellationToken,
    release: Latch,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        started.wait_blocking();
        token.cancel();
        release.count_down();
    })
}

/// A future that waits forever, with a ticket and a `WaitGroup` guard. When
/// it is dropped, the ticket goes first (a tuple drops its fields in
/// order), so whoever waits for the group sees the ticket counted.
async fn pending_with(guard: WaitGuard, ticket: Ticket) -> Result<(), ()> {
    let held = (ticket, guard);
    std::future::pending::<()>().await;
    let (ticket, _guard) = held;
    ticket.complete();
    Ok(())
}

runtime_tests! {
    // Panics on purpose: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn a_panic_in_drop_on_an_explicit_cancel_is_reported_and_the_rest_still_cancelled(rt) {
        for policy in [PanicPolicy::Capture, PanicPolicy::Resume] {
            let ledger = Ledger::new();
            let group = ErrGroup::<(), (), _>::builder(rt.clone()).panic_policy(policy).build();
            let started = Latch::new(3);
            let signal = started.clone();
            group.spawn(async move {
                let _bomb = ExplodesOnDrop;
                signal.count_down();
                std::future::pending().await
            }).unwrap();
            for _ in 0..2 {
                let (ticket, signal) = (ledger.ticket(), started.clone());
                group.spawn(async move {
                    signal.count_down();
                    std::future::pending::<()>().await;
                    ticket.complete();
                    Ok(())
                }).unwrap();
            }
            started.wait().await;
            group.cancel();
            match policy {
                PanicPolicy::Capture => {
                    let outcomes = group.join_all().await;
                    assert_eq!(outcomes.len(), 3, "one outcome per task");
                    assert_eq!(outcomes[0].as_ref().unwrap_err().panic_message(), Some("drop exploded"));
                    assert!(outcomes[1..]
                        .iter()
                        .all(|o| matches!(o, Err(GroupError::Cancelled(CancelCause::Explicit)))));
                }
                _ => {
                    let payload = std::panic::AssertUnwindSafe(group.join())
                        .catch_unwind()
                        .await
                        .expect_err("the drop's panic is resumed in the joiner");
                    assert_eq!(panic_message(&*payload), "drop exploded");
                }
            }
            assert_eq!(ledger.settled(), (0, 2), "{policy:?}: the others were dropped first");
        }
    }

    // Panics on purpose: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn a_panic_in_drop_when_the_group_is_dropped_stays_inside_the_group(rt) {
        let ledger = Ledger::new();
        let alive = WaitGroup::new();
        let group = ErrGroup::<(), (), _>::new(rt.clone());
        let started = Latch::new(3);
        let (guard, signal) = (alive.enter(), started.clone());
        group.spawn(async move {
            let _guard = guard;
            let _bomb = ExplodesOnDrop;
            signal.count_down();
            std::future::pending().await
        }).unwrap();
        for _ in 0..2 {
            let (guard, ticket, signal) = (alive.enter(), ledger.ticket(), started.clone());
            group.spawn(async move {
                signal.count_down();
                pending_with(guard, ticket).await
            }).unwrap();
        }
        started.wait().await;
        drop(group);
        // Every future is dropped, the exploding one too (its guard drops
        // while it unwinds), and the runtime goes on running tasks.
        alive.wait().await;
        assert_eq!(ledger.settled(), (0, 2));
        assert_eq!(spawn_joinable(&rt, async { 5 }).await, 5);
    }

    // Panics on purpose: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn a_queued_task_whose_drop_panics_is_reported_when_the_limited_group_is_cancelled(rt) {
        let ledger = Ledger::new();
        let group = ErrGroup::<(), (), _>::builder(rt.clone()).limit(1).panic_policy(PanicPolicy::Capture).build();
        let started = Latch::new(1);
        let (ticket, signal) = (ledger.ticket(), started.clone());
        group.spawn(async move {
            signal.count_down();
            std::future::pending::<()>().await;
            ticket.complete();
            Ok(())
        }).unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let (bomb, queued_ran) = (ExplodesOnDrop, ran.clone());
        group.spawn(async move {
            let _bomb = bomb;
            queued_ran.store(true, Ordering::SeqCst);
            Ok(())
        }).unwrap();
        let (ticket, queued_ran) = (ledger.ticket(), ran.clone());
        group.spawn(async move {
            queued_ran.store(true, Ordering::SeqCst);
            ticket.complete();
            Ok(())
        }).unwrap();
        started.wait().await;
        group.cancel();
        let outcomes = group.join_all().await;
        assert!(matches!(outcomes[0], Err(GroupError::Cancelled(CancelCause::Explicit))));
        assert_eq!(outcomes[1].as_ref().unwrap_err().panic_message(), Some("drop exploded"));
        assert!(matches!(outcomes[2], Err(GroupError::Cancelled(CancelCause::Explicit))));
        assert!(!ran.load(Ordering::SeqCst), "the queued tasks never ran");
        assert_eq!(ledger.settled(), (0, 2));
    }

    async fn a_task_blocked_in_its_poll_when_cancelled_is_dropped_once_it_yields(rt) {
        let ledger = Ledger::new();
        let group = ErrGroup::<(), (), _>::new(rt.clone());
        let (started, release) = (Latch::new(1), Latch::new(1));
        let resumed = Arc::new(AtomicBool::new(false));
        group.spawn(blocks_until(started.clone(), release.clone(), resumed.clone(), ledger.ticket())).unwrap();
        let canceller = cancel_then_release(started, group.cancellation_token(), release);
        // The join waits for the blocked poll to end: the task yields, and is
        // dropped there.
        let joined = group.join().await;
        canceller.join().unwrap();
        assert!(matches!(joined, Err(GroupError::Cancelled(CancelCause::Explicit))), "{joined:?}");
        assert!(!resumed.load(Ordering::SeqCst), "never polled past its first yield");
        assert_eq!(ledger.settled(), (0, 1), "dropped exactly once");
    }

    async fn a_blocked_task_holding_the_only_slot_leaves_the_queue_cancelled_unrun(rt) {
        let ledger = Ledger::new();
        let group = ErrGroup::<(), (), _>::builder(rt.clone()).limit(1).build();
        let (started, release) = (Latch::new(1), Latch::new(1));
        let resumed = Arc::new(AtomicBool::new(false));
        group.spawn(blocks_until(started.clone(), release.clone(), resumed.clone(), ledger.ticket())).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let (ticket, ran) = (ledger.ticket(), ran.clone());
            group.spawn(async move {
                ran.fetch_add(1, Ordering::SeqCst);
                ticket.complete();
                Ok(())
            }).unwrap();
        }
        let canceller = cancel_then_release(started, group.cancellation_token(), release);
        let outcomes = group.join_all().await;
        canceller.join().unwrap();
        assert_eq!(outcomes.len(), 4, "one outcome per task, each recorded once");
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, Err(GroupError::Cancelled(CancelCause::Explicit)))));
        assert!(!resumed.load(Ordering::SeqCst));
        assert_eq!(ran.load(Ordering::SeqCst), 0, "the queued tasks never ran");
        assert_eq!(ledger.settled(), (0, 4));
    }

    async fn a_task_that_keeps_waking_itself_is_dropped_at_its_next_poll_after_cancel(rt) {
        // Busy but yielding, and bounded: polled to its end like any task.
        const POLLS: usize = 100;
        let ledger = Ledger::new();
        let group = ErrGroup::new(rt.clone());
        let polls = Arc::new(AtomicUsize::new(0));
        group.spawn(Spins {
            remaining: Some(POLLS - 1),
            polls: polls.clone(),
            first_poll: Latch::new(1),
            ticket: Some(ledger.ticket()),
        }).unwrap();
        assert_eq!(group.join().await.unwrap(), vec![POLLS]);
        assert_eq!(polls.load(Ordering::SeqCst), POLLS);

        // Never done on its own: only the cancellation ends it.
        let group = ErrGroup::new(rt.clone());
        let first_poll = Latch::new(1);
        group.spawn(Spins {
            remaining: None,
            polls: Arc::new(AtomicUsize::new(0)),
            first_poll: first_poll.clone(),
            ticket: Some(ledger.ticket()),
        }).unwrap();
        first_poll.wait().await;
        group.cancel();
        let outcomes = group.join_all().await;
        assert!(matches!(outcomes[..], [Err(GroupError::Cancelled(CancelCause::Explicit))]));
        assert_eq!(ledger.settled(), (1, 1), "the first completed, the second was dropped, once each");
    }
}
