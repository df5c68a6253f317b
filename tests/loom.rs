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

    #[test]
    fn release_against_acquire() {
        loom::model(|| {
            let sem = Semaphore::new(1);
            let held = sem.try_acquire().unwrap();
            let releaser = thread::spawn(move || drop(held));
            let permit = block_on(sem.acquire()).unwrap();
            drop(permit);
            releaser.join().unwrap();
            assert_eq!(sem.available(), 1);
        });
    }

    #[test]
    fn a_dropped_waiter_passes_the_permit_on() {
        // A waiter that is granted the permit and dropped before it sees it
        // must hand it on, or the other waiter waits forever.
        loom::model(|| {
            let sem = Semaphore::new(1);
            let held = sem.try_acquire().unwrap();
            let abandoning = sem.clone();
            let abandoner = thread::spawn(move || poll_once_then_drop(abandoning.acquire()));
            let releaser = thread::spawn(move || drop(held));
            drop(block_on(sem.acquire()).unwrap());
            abandoner.join().unwrap();
            releaser.join().unwrap();
            assert_eq!(sem.available(), 1);
        });
    }

    #[test]
    fn weighted_waiters_in_order() {
        loom::model(|| {
            let sem = Semaphore::new(2);
            let other = sem.clone();
            let worker = thread::spawn(move || drop(block_on(other.acquire_many(2)).unwrap()));
            drop(block_on(sem.acquire()).unwrap());
            worker.join().unwrap();
            assert_eq!(sem.available(), 2);
        });
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
            group.spawn(async { Ok(1) });
            group.spawn(async { Ok(2) });
            assert_eq!(block_on(group.join()).unwrap(), vec![1, 2]);
        });
    }

    #[test]
    fn first_error_cancels_a_waiting_sibling() {
        loom::model(|| {
            let group = ErrGroup::<(), &str, _>::new(LoomThreads);
            let sibling_gone = WaitGroup::new();
            let guard = sibling_gone.enter();
            group.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(())
            });
            group.spawn(async { Err("failed") });
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
            group.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(())
            });
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
            let group = ErrGroup::<u8, (), _>::new(LoomThreads).with_limit(1);
            group.spawn(async { Ok(1) });
            group.spawn(async { Ok(2) });
            assert_eq!(block_on(group.join()).unwrap(), vec![1, 2]);
        });
    }

    #[test]
    fn join_next_against_finishing_tasks() {
        // `join_next` is woken at every outcome (not only when the group
        // settles): each value arrives once, then `None`.
        loom::model(|| {
            let mut group = ErrGroup::<u8, (), _>::new(LoomThreads);
            group.spawn(async { Ok(1) });
            group.spawn(async { Ok(2) });
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
            group.spawn(async { Ok(1) });
            let late = thread::spawn(move || spawner.spawn(async { Ok(2) }).is_ok());
            let values = block_on(group.join()).unwrap();
            let accepted = late.join().unwrap();
            assert_eq!(values, if accepted { vec![1, 2] } else { vec![1] });
        });
    }

    #[test]
    fn child_group_finishing_against_parent_join() {
        // The parent's join waits for a child joined on another thread.
        loom::model(|| {
            let parent = ErrGroup::<u8, (), _>::new(LoomThreads);
            let child = parent.child::<u8, ()>();
            child.spawn(async { Ok(2) });
            let joiner = thread::spawn(move || block_on(child.join()).unwrap());
            assert_eq!(block_on(parent.join()).unwrap(), Vec::<u8>::new());
            assert_eq!(joiner.join().unwrap(), vec![2]);
        });
    }

    #[test]
    fn explicit_cancel_against_completion() {
        loom::model(|| {
            let group = ErrGroup::<u8, (), _>::new(LoomThreads);
            group.spawn(async { Ok(1) });
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
