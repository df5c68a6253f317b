//! `WaitGroup` behaviour, on every runtime, on plain threads, and polled by hand.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use futures::FutureExt;
use taskgroup::runtime::Runtime;
use taskgroup::{CancellationToken, Latch, WaitGroup};

use crate::common::{panic_message, poll_once, runtime_tests, spawn_joinable, CountingWaker};

/// The message `done()` below zero panics with (documented on `done`).
const UNDERFLOW: &str = "WaitGroup::done called more times than WaitGroup::add";

runtime_tests! {
    async fn track_counts_a_future_until_it_completes_and_passes_its_output_through(rt) {
        let wg = WaitGroup::new();
        let gate = Latch::new(1);
        let opened = gate.clone();
        let (tx, rx) = futures::channel::oneshot::channel();
        let tracked = wg.track(async move {
            opened.wait().await;
            42
        });
        assert_eq!(wg.count(), 1, "counted when tracked, before it runs");
        rt.spawn(async move {
            let _ = tx.send(tracked.await);
        });
        assert_eq!(wg.count(), 1);
        gate.count_down();
        wg.wait().await;
        assert_eq!(rx.await, Ok(42));
    }

    async fn track_lowers_the_count_once_when_dropped_unpolled_or_halfway(rt) {
        let wg = WaitGroup::new();
        drop(wg.track(async { unreachable!("never polled") }));
        assert_eq!(wg.count(), 0);
        let mut halfway = Box::pin(wg.track(std::future::pending::<()>()));
        assert!(poll_once(&mut halfway, Waker::noop()).is_pending());
        assert_eq!(wg.count(), 1);
        drop(halfway);
        assert_eq!(wg.count(), 0);
        // A tracked task the runtime runs to its end, alongside.
        rt.spawn(wg.track(async {}));
        wg.wait().await;
    }

    async fn wait_on_open_group_returns_at_once(rt) {
        let wg = WaitGroup::new();
        wg.wait().await;
        // Also after a full add/done round.
        wg.add(2);
        wg.done();
        wg.done();
        wg.wait().await;
        assert_eq!(wg.count(), 0);
    }

    async fn wakes_one_waiter(rt) {
        let wg = WaitGroup::new();
        let guard = wg.enter();
        let sleeper = rt.clone();
        rt.spawn(async move {
            sleeper.sleep(Duration::from_millis(5)).await;
            drop(guard);
        });
        wg.wait().await;
        assert_eq!(wg.count(), 0);
    }

    async fn wakes_all_waiters(rt) {
        const WAITERS: usize = 16;
        let wg = WaitGroup::new();
        wg.add(1);
        let started = Latch::new(WAITERS);
        let woken = Arc::new(AtomicUsize::new(0));
        let mut joins = Vec::new();
        for _ in 0..WAITERS {
            let (wg, started, woken) = (wg.clone(), started.clone(), woken.clone());
            joins.push(spawn_joinable(&rt, async move {
                let wait = wg.wait();
                started.count_down();
                wait.await;
                woken.fetch_add(1, Ordering::SeqCst);
            }));
        }
        started.wait().await;
        assert_eq!(woken.load(Ordering::SeqCst), 0, "nobody wakes before zero");
        wg.done();
        for join in joins {
            join.await;
        }
        assert_eq!(woken.load(Ordering::SeqCst), WAITERS);
    }

    async fn waiters_on_tasks_and_threads_all_wake(rt) {
        let wg = WaitGroup::new();
        wg.add(3);
        let mut threads = Vec::new();
        for _ in 0..2 {
            let blocking = wg.clone();
            threads.push(std::thread::spawn(move || blocking.wait_blocking()));
            let awaiting = wg.clone();
            threads.push(std::thread::spawn(move || futures::executor::block_on(awaiting.wait())));
        }
        let task_waiter = spawn_joinable(&rt, {
            let wg = wg.clone();
            async move { wg.wait().await }
        });
        for _ in 0..3 {
            let wg = wg.clone();
            rt.spawn(async move { wg.done() });
        }
        task_waiter.await;
        wg.wait().await;
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(wg.count(), 0);
    }

    async fn reusable_after_reaching_zero(rt) {
        let wg = WaitGroup::new();
        for round in 1..=50 {
            wg.add(round % 4 + 1);
            for _ in 0..round % 4 + 1 {
                let wg = wg.clone();
                rt.spawn(async move { wg.done() });
            }
            wg.wait().await;
            assert_eq!(wg.count(), 0, "round {round}");
        }
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn guard_balances_when_task_panics(rt) {
        let wg = WaitGroup::new();
        let guard = wg.enter();
        // Catch inside the task so the test does not depend on what each
        // runtime does with a panicking task; the guard drops while unwinding.
        let outcome = spawn_joinable(&rt, AssertUnwindSafe(async move {
            let _guard = guard;
            panic!("task failed on purpose");
        }).catch_unwind());
        wg.wait().await;
        assert!(outcome.await.is_err(), "the task panicked");
        assert_eq!(wg.count(), 0);
    }

    async fn guard_balances_when_task_is_cancelled(rt) {
        let wg = WaitGroup::new();
        let token = CancellationToken::new();
        let entered = Latch::new(1);
        let guard = wg.enter();
        let task = spawn_joinable(&rt, {
            let (token, entered) = (token.clone(), entered.clone());
            async move {
                token
                    .run_until_cancelled(async move {
                        let _guard = guard;
                        entered.count_down();
                        std::future::pending::<()>().await
                    })
                    .await
            }
        });
        entered.wait().await;
        assert_eq!(wg.count(), 1);
        token.cancel();
        wg.wait().await;
        assert_eq!(task.await, None, "the work was cancelled, not finished");
    }

    async fn guard_done_is_explicit_and_once(rt) {
        let wg = WaitGroup::new();
        let first = wg.enter();
        let second = wg.enter();
        first.done();
        assert_eq!(wg.count(), 1);
        rt.spawn(async move { second.done() });
        wg.wait().await;
        assert_eq!(wg.count(), 0);
    }

    async fn dropped_wait_future_loses_no_wakeup(rt) {
        let wg = WaitGroup::new();
        wg.add(1);
        // A waiter that registers, then is dropped (as in a lost `select!`).
        let mut abandoned = wg.wait();
        assert!(poll_once(&mut abandoned, Waker::noop()).is_pending());
        let survivor = spawn_joinable(&rt, {
            let wg = wg.clone();
            async move { wg.wait().await }
        });
        rt.sleep(Duration::from_millis(2)).await;
        drop(abandoned);
        wg.done();
        survivor.await;
    }

    async fn waiters_dropped_mid_wait_in_select_lose_nothing(rt) {
        // Round after round, waiters race the group against a short sleep and
        // drop their wait future when the sleep wins; the group must still
        // wake the waiters that stayed.
        for _round in 0..20 {
            let wg = WaitGroup::new();
            wg.add(1);
            let mut joins = Vec::new();
            for i in 0..4 {
                let (wg, sleeper) = (wg.clone(), rt.clone());
                joins.push(spawn_joinable(&rt, async move {
                    if i % 2 == 0 {
                        let wait = wg.wait();
                        let nap = sleeper.sleep(Duration::from_micros(50));
                        futures::pin_mut!(nap);
                        let _ = futures::future::select(wait, nap).await;
                    }
                    wg.wait().await;
                }));
            }
            rt.sleep(Duration::from_micros(100)).await;
            wg.done();
            for join in joins {
                join.await;
            }
        }
    }

    async fn stress_add_done_wait_rounds(rt) {
        // Thousands of rounds: a lost wake-up in any of them hangs the round,
        // and the harness fails the test on the hang.
        const ROUNDS: usize = 4_000;
        const WORKERS: usize = 3;
        let wg = WaitGroup::new();
        let finished = Arc::new(AtomicUsize::new(0));
        for _ in 0..ROUNDS {
            wg.add(WORKERS);
            for _ in 0..WORKERS {
                let (wg, finished) = (wg.clone(), finished.clone());
                rt.spawn(async move {
                    finished.fetch_add(1, Ordering::Relaxed);
                    wg.done();
                });
            }
            wg.wait().await;
        }
        assert_eq!(finished.load(Ordering::Relaxed), ROUNDS * WORKERS);
        assert_eq!(wg.count(), 0);
    }

    async fn stress_many_waiters_many_rounds(rt) {
        // Several waiter tasks per round, each released by the same zero.
        const ROUNDS: usize = 1_000;
        for _ in 0..ROUNDS {
            let wg = WaitGroup::new();
            wg.add(2);
            let waiters: Vec<_> = (0..3)
                .map(|_| {
                    let wg = wg.clone();
                    spawn_joinable(&rt, async move { wg.wait().await })
                })
                .collect();
            for _ in 0..2 {
                let wg = wg.clone();
                rt.spawn(async move { wg.done() });
            }
            for waiter in waiters {
                waiter.await;
            }
        }
    }
}

/// Blocking API on plain threads.
mod threads {
    use super::*;

    #[test]
    fn wait_blocking_wakes_every_thread() {
        let wg = WaitGroup::new();
        wg.add(1);
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let wg = wg.clone();
                std::thread::spawn(move || wg.wait_blocking())
            })
            .collect();
        std::thread::sleep(Duration::from_millis(5));
        wg.done();
        for waiter in waiters {
            waiter.join().unwrap();
        }
    }

    #[test]
    fn wait_blocking_timeout_is_false_on_timeout_and_true_on_success() {
        let wg = WaitGroup::new();
        assert!(wg.wait_blocking_timeout(Duration::ZERO), "open group");
        wg.add(1);
        assert!(!wg.wait_blocking_timeout(Duration::from_millis(20)));
        assert_eq!(wg.count(), 1, "a time-out changes nothing");
        let guard_wg = wg.clone();
        let doer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            guard_wg.done();
        });
        assert!(wg.wait_blocking_timeout(Duration::from_secs(60)));
        doer.join().unwrap();
        // A time-out too large for an `Instant` means "no time-out".
        assert!(wg.wait_blocking_timeout(Duration::MAX));
    }

    #[test]
    fn stress_threads_add_done_wait_blocking() {
        let wg = WaitGroup::new();
        for _ in 0..2_000 {
            wg.add(2);
            for _ in 0..2 {
                let guard_wg = wg.clone();
                std::thread::spawn(move || guard_wg.done());
            }
            wg.wait_blocking();
        }
        assert_eq!(wg.count(), 0);
    }

    #[test]
    #[should_panic(expected = "WaitGroup::done called more times than WaitGroup::add")]
    fn done_below_zero_panics() {
        WaitGroup::new().done();
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    #[test]
    fn done_below_zero_panics_with_documented_message_and_keeps_zero() {
        let wg = WaitGroup::new();
        wg.add(1);
        wg.done();
        let panic = std::panic::catch_unwind(AssertUnwindSafe(|| wg.done())).unwrap_err();
        let message = panic_message(&*panic);
        assert!(message.starts_with(UNDERFLOW), "message: {message}");
        assert_eq!(wg.count(), 0);
        // Still usable afterwards.
        wg.add(1);
        wg.done();
        assert_eq!(wg.count(), 0);
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    #[test]
    fn guard_drop_after_extra_done_panics() {
        let wg = WaitGroup::new();
        let guard = wg.enter();
        wg.done(); // the misuse: balances someone else's add
        let panic = std::panic::catch_unwind(AssertUnwindSafe(|| drop(guard))).unwrap_err();
        let message = panic_message(&*panic);
        assert!(message.starts_with(UNDERFLOW), "message: {message}");
    }

    #[test]
    #[should_panic(expected = "WaitGroup::add overflowed the count")]
    fn add_overflow_panics() {
        let wg = WaitGroup::new();
        wg.add(usize::MAX);
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    #[test]
    fn add_overflow_leaves_the_count_unchanged() {
        let wg = WaitGroup::new();
        wg.add(5);
        assert!(std::panic::catch_unwind(AssertUnwindSafe(|| wg.add(usize::MAX / 2))).is_err());
        assert_eq!(wg.count(), 5);
        let max = (1usize << 30) - 1;
        assert!(std::panic::catch_unwind(AssertUnwindSafe(|| wg.add(max))).is_err());
        wg.add(max - 5);
        assert_eq!(wg.count(), max);
    }

    #[test]
    fn debug_shows_the_count() {
        let wg = WaitGroup::new();
        wg.add(3);
        // With `diagnostics`, `pending` follows the count.
        assert!(
            format!("{wg:?}").starts_with("WaitGroup { count: 3"),
            "{wg:?}"
        );
        let guard = wg.enter();
        assert!(
            format!("{guard:?}").starts_with("WaitGuard { count: 4"),
            "{guard:?}"
        );
    }
}

/// Every state transition, polled by hand with no runtime.
mod manual_poll {
    use super::*;

    #[test]
    fn pending_until_zero_and_not_woken_before() {
        let wg = WaitGroup::new();
        wg.add(2);
        let (wakes, waker) = CountingWaker::new();
        let mut wait = wg.wait();
        assert!(poll_once(&mut wait, &waker).is_pending());
        assert!(
            poll_once(&mut wait, &waker).is_pending(),
            "re-poll stays pending"
        );
        wg.add(1);
        wg.done();
        wg.done();
        assert_eq!(wakes.wakes(), 0, "no wake while the count is above zero");
        assert!(poll_once(&mut wait, &waker).is_pending());
        wg.done();
        assert_eq!(wakes.wakes(), 1, "one wake at zero");
        assert_eq!(poll_once(&mut wait, &waker), Poll::Ready(()));
        assert_eq!(poll_once(&mut wait, &waker), Poll::Ready(()), "fused");
    }

    #[test]
    fn zero_reached_and_raised_again_before_poll_still_completes() {
        let wg = WaitGroup::new();
        wg.add(1);
        let mut never_polled = wg.wait();
        let mut polled = wg.wait();
        assert!(poll_once(&mut polled, Waker::noop()).is_pending());
        wg.done();
        wg.add(1); // the next round starts before the waiters run
        assert_eq!(poll_once(&mut never_polled, Waker::noop()), Poll::Ready(()));
        assert_eq!(poll_once(&mut polled, Waker::noop()), Poll::Ready(()));
        // A waiter of the new round waits for the new round.
        let mut next_round = wg.wait();
        assert!(poll_once(&mut next_round, Waker::noop()).is_pending());
        wg.done();
        assert_eq!(poll_once(&mut next_round, Waker::noop()), Poll::Ready(()));
    }

    #[test]
    fn late_notification_from_an_earlier_round_does_not_finish_a_later_waiter() {
        // Many rounds of zero-then-reuse with a waiter per round: each waiter
        // completes exactly when its own round reaches zero.
        let wg = WaitGroup::new();
        for _ in 0..100 {
            wg.add(1);
            let mut wait = wg.wait();
            assert!(poll_once(&mut wait, Waker::noop()).is_pending());
            assert!(poll_once(&mut wait, Waker::noop()).is_pending());
            wg.done();
            assert_eq!(poll_once(&mut wait, Waker::noop()), Poll::Ready(()));
        }
    }

    #[test]
    fn dropping_a_registered_waiter_leaves_others_woken() {
        let wg = WaitGroup::new();
        wg.add(1);
        let (wakes, waker) = CountingWaker::new();
        let mut kept = wg.wait();
        let mut dropped = wg.wait();
        assert!(poll_once(&mut dropped, Waker::noop()).is_pending());
        assert!(poll_once(&mut kept, &waker).is_pending());
        drop(dropped);
        wg.done();
        assert_eq!(wakes.wakes(), 1);
        assert_eq!(poll_once(&mut kept, &waker), Poll::Ready(()));
    }

    #[test]
    fn wait_on_open_group_is_ready_at_first_poll() {
        let wg = WaitGroup::new();
        let mut wait = wg.wait();
        assert_eq!(poll_once(&mut wait, Waker::noop()), Poll::Ready(()));
    }

    /// The waker slot's rule (`src/counter.rs`): the slot belongs to the
    /// waiter that claimed it until that waiter finishes or is dropped; the
    /// decrement to zero only wakes it. Were the decrement to free the slot,
    /// the next round's first waiter would claim it, and the old owner's
    /// re-poll (it was woken, it runs late) would overwrite that waiter's
    /// waker with its own: the next zero would wake the old owner, not the
    /// new waiter. The steps are played one by one, in that order.
    ///
    /// (Latch has no such sequence: it opens once and never starts a second
    /// round, so only one round's waiters ever touch its slot.)
    #[test]
    fn a_woken_slot_owner_repolled_late_does_not_steal_the_next_rounds_wakeup() {
        let wg = WaitGroup::new();

        // 1. Round 1: A, its first async waiter, claims the slot and parks.
        wg.add(1);
        let (a_wakes, a_waker) = CountingWaker::new();
        let mut a = wg.wait();
        assert!(poll_once(&mut a, &a_waker).is_pending());

        // 2. Round 1 ends: A is woken, but does not run yet.
        wg.done();
        assert_eq!(a_wakes.wakes(), 1, "the end of round 1 wakes A");

        // 3. Round 2 begins: B, its first waiter, parks (in the slot, were
        //    it free; on the Event while A still holds it).
        wg.add(1);
        let (b_wakes, b_waker) = CountingWaker::new();
        let mut b = wg.wait();
        assert!(poll_once(&mut b, &b_waker).is_pending());

        // 4. A runs at last: it re-registers its waker, sees round 1 ended.
        assert_eq!(poll_once(&mut a, &a_waker), Poll::Ready(()));

        // 5. Round 2 ends: B's waker is the one woken.
        wg.done();
        assert_eq!(
            b_wakes.wakes(),
            1,
            "the end of round 2 wakes B (a lost wake-up otherwise)"
        );
        assert_eq!(
            a_wakes.wakes(),
            1,
            "A, finished in round 1, is not woken by the end of round 2"
        );
        assert_eq!(poll_once(&mut b, &b_waker), Poll::Ready(()));
        assert_eq!(wg.count(), 0);
    }
}
