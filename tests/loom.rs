//! Loom models: every interleaving (up to the preemption bound) of the
//! primitives' wake-up protocols, so a lost wake-up is found, not hoped away.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release --features loom --test loom
//! ```
//!
//! A model that loses a wake-up deadlocks, and loom reports the deadlock
//! (it aborts the process, so these are plain `#[test]`s, never
//! `#[should_panic]`).
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

use loom::future::block_on;
use loom::thread;
use taskgroup::{CancellationToken, Latch, Semaphore, WaitGroup};

/// Polls `future` once with a no-op waker: a waiter that registers and is
/// then abandoned, as in a lost `select!` branch.
fn poll_once_then_drop<F: Future + Unpin>(mut future: F) {
    let _ = Pin::new(&mut future).poll(&mut Context::from_waker(Waker::noop()));
}

mod wait_group {
    use super::*;

    #[test]
    fn done_against_wait() {
        loom::model(|| {
            let wg = WaitGroup::new();
            wg.add(1);
            let doer = wg.clone();
            let worker = thread::spawn(move || doer.done());
            block_on(wg.wait());
            assert_eq!(wg.count(), 0);
            worker.join().unwrap();
        });
    }

    #[test]
    fn two_dones_against_two_waiters() {
        // Four threads' worth of event-listener internals: bound 2 keeps the
        // model to seconds (3 takes minutes) and still interleaves both dones
        // with both registrations.
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.check(|| {
            let wg = WaitGroup::new();
            wg.add(2);
            let doer = wg.clone();
            let worker = thread::spawn(move || doer.done());
            let other = wg.clone();
            let waiter = thread::spawn(move || block_on(other.wait()));
            wg.done();
            block_on(wg.wait());
            waiter.join().unwrap();
            worker.join().unwrap();
        });
    }

    #[test]
    fn overflowing_add_is_taken_back_against_done() {
        // An `add` past the maximum is undone while a `done` races it: the
        // count ends where it would have without that `add`.
        loom::model(|| {
            let wg = WaitGroup::new();
            wg.add(2);
            let doer = wg.clone();
            let worker = thread::spawn(move || doer.done());
            let adder = wg.clone();
            let overflow = thread::spawn(move || {
                // The count is 1 or 2 here: either way this overflows.
                std::panic::catch_unwind(move || adder.add((1 << 30) - 1)).is_err()
            });
            assert!(overflow.join().unwrap(), "the add panicked");
            worker.join().unwrap();
            assert_eq!(wg.count(), 1);
            wg.done();
            block_on(wg.wait());
        });
    }

    #[test]
    fn waiter_dropped_mid_wait_takes_no_wakeup() {
        loom::model(|| {
            let wg = WaitGroup::new();
            wg.add(1);
            let abandoning = wg.clone();
            let abandoner = thread::spawn(move || poll_once_then_drop(abandoning.wait()));
            let doer = wg.clone();
            let worker = thread::spawn(move || doer.done());
            block_on(wg.wait());
            abandoner.join().unwrap();
            worker.join().unwrap();
        });
    }

    #[test]
    fn reuse_while_a_waiter_is_parked() {
        // The count reaches zero and is raised again; the waiter of the first
        // round must still finish (generation), not wait for the second.
        loom::model(|| {
            let wg = WaitGroup::new();
            wg.add(1);
            let doer = wg.clone();
            let worker = thread::spawn(move || {
                doer.done();
                doer.add(1);
            });
            block_on(wg.wait());
            worker.join().unwrap();
            assert_eq!(wg.count(), 1);
        });
    }

    #[test]
    fn slot_owner_of_one_round_and_a_waiter_of_the_next() {
        // The first round's waiter holds the waker slot; the count reaches
        // zero, is raised, and a second round's waiter parks (on the Event
        // while the slot is still held, or in the slot once it is freed) —
        // while the first may still be re-registering. Both must finish: a
        // late re-registration never overwrites the next round's waker.
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.check(|| {
            let wg = WaitGroup::new();
            wg.add(1);
            let first = wg.clone();
            let first_round = thread::spawn(move || block_on(first.wait()));
            wg.done();
            wg.add(1);
            let second = wg.clone();
            let second_round = thread::spawn(move || block_on(second.wait()));
            wg.done();
            first_round.join().unwrap();
            second_round.join().unwrap();
        });
    }

    /// A waker for a future polled by hand on a loom thread: it records that
    /// it was woken and unparks the thread waiting for it.
    struct Unpark {
        woken: loom::sync::atomic::AtomicBool,
        notify: loom::sync::Notify,
    }

    impl Unpark {
        fn new() -> (std::sync::Arc<Self>, Waker) {
            let unpark = std::sync::Arc::new(Self {
                woken: loom::sync::atomic::AtomicBool::new(false),
                notify: loom::sync::Notify::new(),
            });
            let waker = Waker::from(std::sync::Arc::clone(&unpark));
            (unpark, waker)
        }

        fn was_woken(&self) -> bool {
            self.woken.load(std::sync::atomic::Ordering::SeqCst)
        }

        /// Parks until `future`, polled (and found pending) already, is
        /// ready: waits for a wake-up, then polls again (an executor's loop;
        /// loom's `Notify` may also return once spuriously, explored too).
        fn repoll_until_ready<F: Future + Unpin>(&self, waker: &Waker, mut future: F) {
            loop {
                self.notify.wait();
                if Pin::new(&mut future)
                    .poll(&mut Context::from_waker(waker))
                    .is_ready()
                {
                    return;
                }
            }
        }
    }

    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.woken.store(true, std::sync::atomic::Ordering::SeqCst);
            self.notify.notify();
        }
    }

    #[test]
    fn a_woken_slot_owner_repolled_late_does_not_steal_the_next_rounds_wakeup() {
        // The sequence `slot_owner_of_one_round_and_a_waiter_of_the_next`
        // leaves to chance (it needs three preemptions there, one more than
        // that model's bound), pinned down by polling by hand: A claims the
        // slot (its first poll, here) before round 1 ends; B, round 2's
        // first waiter, is polled before round 2 ends. Only A's re-poll runs
        // on a thread of its own, woken by round 1's end, so loom places it
        // before, between and after B's claim and the second `done`. Were
        // the decrement to free the slot, B would claim it, A's late
        // re-registration would overwrite B's waker, and the second `done`
        // would wake A instead of B (this model fails that mutant from
        // preemption bound 1). Two threads and a few steps: small enough to
        // explore every interleaving, with no bound (about 2,000 executions,
        // a fraction of a second in release).
        let mut model = loom::model::Builder::new();
        model.preemption_bound = None;
        model.check(|| {
            let wg = WaitGroup::new();
            wg.add(1);
            let (a_unpark, a_waker) = Unpark::new();
            let mut a = Box::pin({
                let wg = wg.clone();
                async move { wg.wait().await }
            });
            assert!(a
                .as_mut()
                .poll(&mut Context::from_waker(&a_waker))
                .is_pending());
            let first_round = thread::spawn(move || a_unpark.repoll_until_ready(&a_waker, a));
            wg.done();
            wg.add(1);
            let (b_unpark, b_waker) = Unpark::new();
            let mut b = wg.wait();
            assert!(Pin::new(&mut b)
                .poll(&mut Context::from_waker(&b_waker))
                .is_pending());
            wg.done();
            assert!(
                b_unpark.was_woken(),
                "the end of round 2 woke B (a lost wake-up otherwise)"
            );
            b_unpark.repoll_until_ready(&b_waker, b);
            // A finished: round 1's end reached it (by its wake-up, or by a
            // re-poll of its own that saw the round over).
            first_round.join().unwrap();
        });
    }

    #[test]
    fn wait_blocking_against_done() {
        loom::model(|| {
            let wg = WaitGroup::new();
            wg.add(1);
            let doer = wg.clone();
            let worker = thread::spawn(move || doer.done());
            wg.wait_blocking();
            worker.join().unwrap();
        });
    }

    #[test]
    fn guard_dropped_on_another_thread() {
        loom::model(|| {
            let wg = WaitGroup::new();
            let guard = wg.enter();
            let worker = thread::spawn(move || drop(guard));
            block_on(wg.wait());
            worker.join().unwrap();
        });
    }
}

mod latch {
    use super::*;

    #[test]
    fn count_down_against_wait() {
        loom::model(|| {
            let latch = Latch::new(2);
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let latch = latch.clone();
                    thread::spawn(move || latch.count_down())
                })
                .collect();
            block_on(latch.wait());
            assert!(latch.try_wait());
            for worker in workers {
                worker.join().unwrap();
            }
        });
    }

    #[test]
    fn waiter_dropped_mid_wait_takes_no_wakeup() {
        loom::model(|| {
            let latch = Latch::new(1);
            let abandoning = latch.clone();
            let abandoner = thread::spawn(move || poll_once_then_drop(abandoning.wait()));
            let opener = latch.clone();
            let worker = thread::spawn(move || opener.count_down());
            block_on(latch.wait());
            abandoner.join().unwrap();
            worker.join().unwrap();
        });
    }

    #[test]
    fn arrive_and_wait_two_parties() {
        loom::model(|| {
            let latch = Latch::new(2);
            let other = latch.clone();
            let party = thread::spawn(move || block_on(other.arrive_and_wait()));
            block_on(latch.arrive_and_wait());
            party.join().unwrap();
        });
    }
}

mod cancel {
    use super::*;

    #[test]
    fn cancel_against_cancelled() {
        loom::model(|| {
            let token = CancellationToken::new();
            let canceller = token.clone();
            let worker = thread::spawn(move || canceller.cancel());
            block_on(token.cancelled());
            worker.join().unwrap();
        });
    }

    #[test]
    fn parent_cancel_against_child_creation_and_wait() {
        // A child created while its parent is being cancelled is cancelled
        // either way: born cancelled, or reached by the parent's `cancel`.
        loom::model(|| {
            let parent = CancellationToken::new();
            let canceller = parent.clone();
            let worker = thread::spawn(move || canceller.cancel());
            let child = parent.child_token();
            block_on(child.cancelled());
            worker.join().unwrap();
        });
    }

    #[test]
    fn waiter_dropped_mid_wait_takes_no_wakeup() {
        loom::model(|| {
            let token = CancellationToken::new();
            let abandoning = token.clone();
            let abandoner = thread::spawn(move || poll_once_then_drop(abandoning.cancelled()));
            let canceller = token.clone();
            let worker = thread::spawn(move || canceller.cancel());
            block_on(token.cancelled());
            abandoner.join().unwrap();
            worker.join().unwrap();
        });
    }
}

mod semaphore {
    use super::*;
    use std::time::Duration;

    /// Newcomers always barge (the bound is never reached): the woken
    /// waiter's retry, its return to the front and the releases' wake-ups.
    fn barging(permits: usize) -> Semaphore {
        Semaphore::with_handoff_after(permits, false, Duration::MAX)
    }

    /// A bound of 1 ns, which every lost race has passed (the real clock
    /// moves on between a waiter's queueing and its retry): the switch to
    /// hand-off from a retry, and back when the queue drains.
    fn switching(permits: usize) -> Semaphore {
        Semaphore::with_handoff_after(permits, false, Duration::from_nanos(1))
    }

    /// A zero bound: strict FIFO, hand-off whenever anyone is queued.
    fn strict_fifo(permits: usize) -> Semaphore {
        Semaphore::with_handoff_after(permits, false, Duration::ZERO)
    }

    #[test]
    fn release_against_acquire() {
        for make in [barging, switching, strict_fifo] {
            loom::model(move || {
                let sem = make(1);
                let held = sem.try_acquire().unwrap();
                let releaser = thread::spawn(move || drop(held));
                let permit = block_on(sem.acquire()).unwrap();
                drop(permit);
                releaser.join().unwrap();
                assert_eq!(sem.available_permits(), 1);
            });
        }
    }

    #[test]
    fn a_barger_against_a_woken_waiter() {
        // The release wakes the queued waiter while a newcomer takes the
        // permit (or not): the waiter goes back to the front and the
        // barger's release wakes it again, in either mode.
        for make in [barging, switching, strict_fifo] {
            loom::model(move || {
                let sem = make(1);
                let held = sem.try_acquire().unwrap();
                let other = sem.clone();
                let barger = thread::spawn(move || {
                    drop(held);
                    if let Ok(permit) = other.try_acquire() {
                        drop(permit);
                    }
                });
                drop(block_on(sem.acquire()).unwrap());
                barger.join().unwrap();
                assert_eq!(sem.available_permits(), 1);
            });
        }
    }

    #[test]
    fn two_waiters_and_a_barging_release() {
        // Two acquires queue behind a held permit; its release and the
        // woken waiter's retry race the other waiter's first attempt.
        for make in [barging, switching, strict_fifo] {
            let mut model = loom::model::Builder::new();
            model.preemption_bound = Some(2);
            model.check(move || {
                let sem = make(1);
                let held = sem.try_acquire().unwrap();
                let other = sem.clone();
                let waiter = thread::spawn(move || drop(block_on(other.acquire()).unwrap()));
                drop(held);
                drop(block_on(sem.acquire()).unwrap());
                waiter.join().unwrap();
                assert_eq!(sem.available_permits(), 1);
            });
        }
    }

    #[test]
    fn a_dropped_waiter_passes_the_permit_on() {
        // A waiter that is woken (barging) or granted the permit (hand-off)
        // and dropped before it sees it must pass it on, or the other
        // waiter waits forever.
        for make in [barging, switching, strict_fifo] {
            loom::model(move || {
                let sem = make(1);
                let held = sem.try_acquire().unwrap();
                let abandoning = sem.clone();
                let abandoner = thread::spawn(move || poll_once_then_drop(abandoning.acquire()));
                let releaser = thread::spawn(move || drop(held));
                drop(block_on(sem.acquire()).unwrap());
                abandoner.join().unwrap();
                releaser.join().unwrap();
                assert_eq!(sem.available_permits(), 1);
            });
        }
    }

    #[test]
    fn a_waiter_on_an_empty_semaphore_is_woken_by_add_permits() {
        // `new(0)` filled later: the request waits (it could still be
        // granted) and the permit added from another thread reaches it.
        loom::model(|| {
            let sem = barging(0);
            let filler = sem.clone();
            let adder = thread::spawn(move || filler.add_permits(1));
            drop(block_on(sem.acquire()).unwrap());
            adder.join().unwrap();
            assert_eq!(sem.available_permits(), 1);
        });
    }

    #[test]
    fn forget_then_add_permits_serves_a_queued_waiter() {
        // A pool: the holder forgets its permit (capacity 0) while a waiter
        // may be queued, then adds it back; the waiter is served, never
        // failed, whatever the order.
        loom::model(|| {
            let sem = barging(1);
            let held = sem.try_acquire().unwrap();
            let pool = sem.clone();
            let returner = thread::spawn(move || {
                held.forget();
                pool.add_permits(1);
            });
            drop(block_on(sem.acquire()).unwrap());
            returner.join().unwrap();
            assert_eq!((sem.available_permits(), sem.capacity()), (1, 1));
        });
    }

    #[test]
    fn weighted_waiters_in_order() {
        // A request for both permits against one for one: neither is lost,
        // in either mode (a woken large waiter that does not fit re-queues).
        for make in [barging, switching, strict_fifo] {
            loom::model(move || {
                let sem = make(2);
                let other = sem.clone();
                let worker = thread::spawn(move || drop(block_on(other.acquire_many(2)).unwrap()));
                drop(block_on(sem.acquire()).unwrap());
                worker.join().unwrap();
                assert_eq!(sem.available_permits(), 2);
            });
        }
    }
}

/// Groups on a loom "runtime": each spawned task runs on a loom thread of its
/// own, so loom explores the tasks' completion accounting, cancellation and
/// the joiner's wake-up against each other.
mod err_group {
    use super::*;
    use std::time::Duration;
    use taskgroup::runtime::Runtime;
    use taskgroup::{CancelCause, ErrGroup, GroupError};

    #[derive(Clone)]
    struct LoomThreads;

    impl Runtime for LoomThreads {
        fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
            // Detached, like a runtime's task: the model ends when every
            // loom thread has finished.
            drop(thread::spawn(move || block_on(future)));
        }

        fn sleep(&self, _duration: Duration) -> impl Future<Output = ()> + Send + 'static {
            // Loom has no clock; no model here sleeps (no deadlines).
            std::future::ready(())
        }
    }

    #[test]
    fn join_collects_every_result_in_spawn_order() {
        loom::model(|| {
            let group = ErrGroup::<u8, (), _>::new(LoomThreads);
            group.spawn(async { Ok(1) }).unwrap();
            group.spawn(async { Ok(2) }).unwrap();
            assert_eq!(block_on(group.join()).unwrap(), vec![1, 2]);
        });
    }

    #[test]
    fn first_error_cancels_a_waiting_sibling() {
        loom::model(|| {
            let group = ErrGroup::<(), &str, _>::new(LoomThreads);
            let sibling_gone = WaitGroup::new();
            let guard = sibling_gone.enter();
            group
                .spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    Ok(())
                })
                .unwrap();
            group.spawn(async { Err("failed") }).unwrap();
            assert!(matches!(
                block_on(group.join()),
                Err(GroupError::Task("failed"))
            ));
            // `join` returned only after the sibling's future was dropped.
            assert_eq!(sibling_gone.count(), 0);
        });
    }

    #[test]
    fn dropping_the_group_cancels_a_running_task() {
        loom::model(|| {
            let group = ErrGroup::<(), (), _>::new(LoomThreads);
            let gone = WaitGroup::new();
            let guard = gone.enter();
            let token = group.cancellation_token();
            group
                .spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    Ok(())
                })
                .unwrap();
            drop(group);
            block_on(gone.wait());
            assert!(token.is_cancelled());
        });
    }

    #[test]
    fn limited_group_hands_the_slot_on() {
        // Limit 1: the second task waits in the queue and runs when the first
        // gives the slot back, whichever thread gets there first.
        loom::model(|| {
            let group = ErrGroup::<u8, (), _>::builder(LoomThreads).limit(1).build();
            group.spawn(async { Ok(1) }).unwrap();
            group.spawn(async { Ok(2) }).unwrap();
            assert_eq!(block_on(group.join()).unwrap(), vec![1, 2]);
        });
    }

    #[test]
    fn join_next_against_finishing_tasks() {
        // `join_next` is woken at every outcome (not only when the group
        // settles): each value arrives once, then `None`.
        loom::model(|| {
            let mut group = ErrGroup::<u8, (), _>::new(LoomThreads);
            group.spawn(async { Ok(1) }).unwrap();
            group.spawn(async { Ok(2) }).unwrap();
            let mut seen = Vec::new();
            while let Some(result) = block_on(group.join_next()) {
                seen.push(result.unwrap());
            }
            seen.sort_unstable();
            assert_eq!(seen, vec![1, 2]);
        });
    }

    #[test]
    fn spawner_against_join() {
        // A spawn through a `Spawner` racing with the join's last check:
        // either the join waits for it and returns its value, or it is
        // refused (the join closed the group) — never run and lost.
        loom::model(|| {
            let group = ErrGroup::<u8, (), _>::new(LoomThreads);
            let spawner = group.spawner();
            group.spawn(async { Ok(1) }).unwrap();
            let late = thread::spawn(move || spawner.spawn(async { Ok(2) }).is_ok());
            let values = block_on(group.join()).unwrap();
            let accepted = late.join().unwrap();
            assert_eq!(values, if accepted { vec![1, 2] } else { vec![1] });
        });
    }

    #[test]
    fn a_refused_spawn_against_join_next() {
        // A spawn on a closed group raises the count for a moment before it
        // sees `CLOSED` and takes it back: a `join_next` loop that looks in
        // between must be woken by the take-back, not left parked.
        loom::model(|| {
            let mut group = ErrGroup::<u8, (), _>::new(LoomThreads);
            let spawner = group.spawner();
            group.spawn(async { Ok(1) }).unwrap();
            group.close();
            let late = thread::spawn(move || spawner.spawn(async { Ok(2) }).is_ok());
            let mut seen = Vec::new();
            while let Some(result) = block_on(group.join_next()) {
                seen.push(result.unwrap());
            }
            assert!(!late.join().unwrap());
            assert_eq!(seen, vec![1]);
        });
    }

    #[test]
    fn child_group_finishing_against_parent_join() {
        // The parent's join waits for a child joined on another thread.
        loom::model(|| {
            let parent = ErrGroup::<u8, (), _>::new(LoomThreads);
            let child = parent.child::<u8, ()>();
            child.spawn(async { Ok(2) }).unwrap();
            let joiner = thread::spawn(move || block_on(child.join()).unwrap());
            assert_eq!(block_on(parent.join()).unwrap(), Vec::<u8>::new());
            assert_eq!(joiner.join().unwrap(), vec![2]);
        });
    }

    #[test]
    fn a_parent_join_waits_for_a_child_task_not_for_the_child_handle() {
        // The child's handle outlives the parent's join: the join returns
        // once the child's task is recorded, and the child is then closed.
        loom::model(|| {
            let parent = ErrGroup::<u8, (), _>::new(LoomThreads);
            let child = parent.child::<u8, ()>();
            child.spawn(async { Ok(2) }).unwrap();
            assert_eq!(block_on(parent.join()).unwrap(), Vec::<u8>::new());
            assert!(child.spawn(async { Ok(3) }).unwrap_err().is_closed());
            assert_eq!(block_on(child.join()).unwrap(), vec![2]);
        });
    }

    #[test]
    fn a_graceful_stop_wakes_a_task_waiting_on_the_token_and_lets_it_finish() {
        // The stop sets `stopping`, then cancels the token; the task wakes on
        // the token, sees the stop, and finishes instead of being dropped.
        loom::model(|| {
            let group = ErrGroup::<u8, (), _>::new(LoomThreads);
            let token = group.cancellation_token();
            group
                .spawn(async move {
                    token.cancelled().await;
                    Ok(7)
                })
                .unwrap();
            let report = block_on(group.stop(Duration::MAX));
            assert!(report.is_clean());
            assert!(matches!(report.outcomes(), [Ok(7)]));
        });
    }

    #[test]
    fn the_end_of_the_grace_period_drops_a_task_that_waits_forever() {
        // Loom's sleep is ready at once: the grace period ends at the first
        // poll, and the abort must reach the task parked on it.
        loom::model(|| {
            let group = ErrGroup::<(), (), _>::new(LoomThreads);
            let gone = WaitGroup::new();
            let guard = gone.enter();
            group
                .spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    Ok(())
                })
                .unwrap();
            let report = block_on(group.stop(Duration::ZERO));
            assert!(matches!(
                report.outcomes(),
                [Err(GroupError::Cancelled(CancelCause::Stopped))]
            ));
            assert!(
                report.overran().len() <= 1,
                "overran only if it had started"
            );
            assert_eq!(gone.count(), 0, "the future was dropped before the report");
        });
    }

    #[test]
    fn a_shield_open_at_the_end_of_the_grace_period_holds_off_the_drop() {
        // The section is opened before the stop: the stop waits for it to
        // close (its exit notifies), and the task finishes inside it.
        loom::model(|| {
            let group = ErrGroup::<u8, (), _>::new(LoomThreads);
            let token = group.cancellation_token();
            let shielded = group.shield(async move {
                token.cancelled().await;
                5
            });
            group.spawn(async move { Ok(shielded.await) }).unwrap();
            let report = block_on(group.stop(Duration::ZERO));
            assert!(matches!(report.outcomes(), [Ok(5)]));
        });
    }

    #[test]
    fn explicit_cancel_against_completion() {
        loom::model(|| {
            let group = ErrGroup::<u8, (), _>::new(LoomThreads);
            group.spawn(async { Ok(1) }).unwrap();
            group.cancel();
            match block_on(group.join()) {
                // The task finished before it saw the cancellation, or not.
                Ok(values) => assert_eq!(values, vec![1]),
                Err(GroupError::Cancelled(cause)) => assert_eq!(cause, CancelCause::Explicit),
                Err(other) => panic!("unexpected {other:?}"),
            }
        });
    }
}

/// A scope's own wake-up path: a child woken from another thread (its slot
/// queued, the scope's task woken unless the scope is mid-poll) is polled.
/// Negative controls: a wake that never wakes the task deadlocks the first
/// model; dropping the scope's check of the woken list after it clears its
/// `polling` flag deadlocks the second.
mod scope {
    use super::*;

    #[test]
    fn child_woken_from_another_thread() {
        loom::model(|| {
            let latch = Latch::new(1);
            let opener = latch.clone();
            let worker = thread::spawn(move || opener.count_down());
            let values = block_on(taskgroup::scope(async |s| {
                s.spawn(async {
                    latch.wait().await;
                    Ok::<_, ()>(1)
                })
                .unwrap();
            }))
            .unwrap();
            assert_eq!(values, [1]);
            worker.join().unwrap();
        });
    }

    #[test]
    fn two_children_woken_from_two_threads() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.check(|| {
            let (first, second) = (Latch::new(1), Latch::new(1));
            let (a, b) = (first.clone(), second.clone());
            let one = thread::spawn(move || a.count_down());
            let two = thread::spawn(move || b.count_down());
            let values = block_on(taskgroup::scope(async |s| {
                for (latch, value) in [(&first, 1), (&second, 2)] {
                    s.spawn(async move {
                        latch.wait().await;
                        Ok::<_, ()>(value)
                    })
                    .unwrap();
                }
            }))
            .unwrap();
            assert_eq!(values, [1, 2]);
            one.join().unwrap();
            two.join().unwrap();
        });
    }
}
