//! `Semaphore`: `try_acquire_many`, `acquire_many` futures, releasing and
//! forgetting permits, `add_permits`, `forget_permits` and `close` against a
//! sequential model with an explicit FIFO queue, for both kinds: a growable
//! semaphore (`Semaphore::new`: requests wait while they could still be
//! granted) and a fixed one (`Semaphore::fixed`: a request above the size
//! fails, also when the size shrinks below a queued one). The semaphores
//! under test have a hand-off bound of zero: strict FIFO, newcomers never
//! pass a queued waiter (barging and the switch to hand-off are tested in
//! the suite and the loom models).

use std::collections::VecDeque;
use std::task::Poll;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use taskgroup::{AcquireError, Permit, Semaphore, TryAcquireError};

use crate::harness::{config, pick, Tracked};

#[derive(Clone, Debug)]
enum SemOp {
    TryAcquire(usize),
    NewAcquire(usize),
    PollAcquire(Index),
    DropAcquire(Index),
    ReleasePermit(Index),
    ForgetPermit(Index),
    AddPermits(usize),
    ForgetPermits(usize),
    Close,
}

fn sem_op() -> impl Strategy<Value = SemOp> {
    prop_oneof![
        4 => (0usize..=7).prop_map(SemOp::TryAcquire),
        5 => (0usize..=7).prop_map(SemOp::NewAcquire),
        7 => any::<Index>().prop_map(SemOp::PollAcquire),
        2 => any::<Index>().prop_map(SemOp::DropAcquire),
        4 => any::<Index>().prop_map(SemOp::ReleasePermit),
        1 => any::<Index>().prop_map(SemOp::ForgetPermit),
        2 => (0usize..=3).prop_map(SemOp::AddPermits),
        1 => (0usize..=4).prop_map(SemOp::ForgetPermits),
        1 => Just(SemOp::Close),
    ]
}

/// Where an `acquire_many` future stands in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AcqState {
    /// Created, never polled: it holds nothing and is in no queue.
    Fresh,
    /// Polled `Pending`: in the FIFO queue.
    Queued,
    /// Permits handed over; it holds them until polled (then `Ready(Ok)`) or
    /// dropped (then they return).
    Granted,
    /// Failed while queued (closed, or a fixed size shrank below it); the
    /// size is the one at the moment it failed.
    Failed(AcquireError),
}

#[derive(Debug)]
struct AcqModel {
    wanted: usize,
    state: AcqState,
    /// Polled `Pending` at least once: it has a waker.
    registered: bool,
    wake_due: bool,
}

impl AcqModel {
    /// Leaves the queue (granted or failed), waking it: `id` joins the order
    /// in which queued futures must be woken.
    fn settle(&mut self, id: usize, state: AcqState, woken: &mut Vec<usize>) {
        self.state = state;
        self.wake_due = self.registered;
        if self.registered {
            woken.push(id);
        }
    }
}

/// The sequential model: free permits, capacity, the closed flag, the FIFO
/// queue of futures by id, each future's state, and the held permits.
struct SemModel {
    available: usize,
    capacity: usize,
    /// `Semaphore::fixed`: the capacity bounds requests and never grows.
    fixed: bool,
    closed: bool,
    queue: VecDeque<usize>,
    futures: Vec<Option<AcqModel>>,
    /// Permits of each held `Permit`, in step with the real `Vec<Permit>`.
    held: Vec<usize>,
    /// The order in which queued futures were settled (granted or failed),
    /// which is the order their wakers must be woken in: FIFO.
    woken: Vec<usize>,
}

impl SemModel {
    /// Direct hand-off: grant from the head while it fits.
    fn settle(&mut self) {
        while let Some(&id) = self.queue.front() {
            let future = self.futures[id].as_mut().unwrap();
            if future.wanted > self.available {
                break;
            }
            self.available -= future.wanted;
            future.settle(id, AcqState::Granted, &mut self.woken);
            self.queue.pop_front();
        }
    }

    /// After the capacity shrank by `n`: on a fixed semaphore, requests that
    /// no longer fit fail, then the queue is served; on a growable one
    /// nothing changes for the queue.
    fn shrink(&mut self, n: usize) {
        self.capacity -= n;
        if !self.fixed {
            return;
        }
        let capacity = self.capacity;
        let futures = &mut self.futures;
        let woken = &mut self.woken;
        self.queue.retain(|&id| {
            let future = futures[id].as_mut().unwrap();
            let fits = future.wanted <= capacity;
            if !fits {
                let error = AcquireError::TooLarge {
                    requested: future.wanted,
                    max: capacity,
                };
                future.settle(id, AcqState::Failed(error), woken);
            }
            fits
        });
        self.settle();
    }

    fn refusal(&self, wanted: usize) -> Option<AcquireError> {
        let max = if self.fixed {
            self.capacity
        } else {
            Semaphore::MAX_PERMITS
        };
        if self.closed {
            Some(AcquireError::Closed)
        } else if wanted > max {
            Some(AcquireError::TooLarge {
                requested: wanted,
                max,
            })
        } else {
            None
        }
    }

    /// Permits held by granted futures that have not been polled yet.
    fn granted_unclaimed(&self) -> usize {
        self.futures
            .iter()
            .flatten()
            .filter(|future| future.state == AcqState::Granted)
            .map(|future| future.wanted)
            .sum()
    }
}

/// The model's answer to a poll of future `id`: `None` for `Pending`.
/// Moves the model as the real poll must move the semaphore.
fn model_poll(model: &mut SemModel, id: usize) -> Option<Result<usize, AcquireError>> {
    let wanted = model.futures[id].as_ref().unwrap().wanted;
    let state = model.futures[id].as_ref().unwrap().state;
    match state {
        AcqState::Fresh => {
            if let Some(error) = model.refusal(wanted) {
                Some(Err(error))
            } else if model.queue.is_empty() && wanted <= model.available {
                model.available -= wanted;
                Some(Ok(wanted))
            } else {
                model.queue.push_back(id);
                model.futures[id].as_mut().unwrap().state = AcqState::Queued;
                None
            }
        }
        AcqState::Queued => None,
        AcqState::Granted => Some(Ok(wanted)),
        AcqState::Failed(error) => Some(Err(error)),
    }
}

fn run_semaphore(initial: usize, fixed: bool, ops: &[SemOp]) -> Result<(), TestCaseError> {
    let sem = Semaphore::with_handoff_after(initial, fixed, Duration::ZERO);
    let mut model = SemModel {
        available: initial,
        capacity: initial,
        fixed,
        closed: false,
        queue: VecDeque::new(),
        futures: Vec::new(),
        held: Vec::new(),
        woken: Vec::new(),
    };
    let mut futures: Vec<Option<Tracked<'_, Result<Permit, AcquireError>>>> = Vec::new();
    let mut permits: Vec<Permit> = Vec::new();
    // (wake tick, id) of every wake of a future: the real order of hand-offs.
    let mut woken: Vec<(usize, usize)> = Vec::new();

    for op in ops {
        match op {
            SemOp::TryAcquire(n) => {
                let real = sem.try_acquire_many(*n);
                let expected = if let Some(error) = model.refusal(*n) {
                    Err(TryAcquireError::from(error))
                } else if model.queue.is_empty() && *n <= model.available {
                    Ok(*n)
                } else {
                    Err(TryAcquireError::NoPermits)
                };
                match (real, expected) {
                    (Ok(permit), Ok(n)) => {
                        prop_assert_eq!(permit.num_permits(), n);
                        model.available -= n;
                        model.held.push(n);
                        permits.push(permit);
                    }
                    (Err(real), Err(expected)) => prop_assert_eq!(real, expected),
                    (real, expected) => {
                        return Err(TestCaseError::fail(format!(
                            "try_acquire_many({n}): got {real:?}, the model says {expected:?}"
                        )))
                    }
                }
            }
            SemOp::NewAcquire(n) => {
                futures.push(Some(Tracked::new(sem.acquire_many(*n))));
                model.futures.push(Some(AcqModel {
                    wanted: *n,
                    state: AcqState::Fresh,
                    registered: false,
                    wake_due: false,
                }));
            }
            SemOp::PollAcquire(index) => {
                if let Some(id) = pick(&futures, index) {
                    let real = futures[id].as_mut().unwrap().poll();
                    let expected = model_poll(&mut model, id);
                    match (real, expected) {
                        (Poll::Pending, None) => {
                            model.futures[id].as_mut().unwrap().registered = true;
                        }
                        (Poll::Ready(Ok(permit)), Some(Ok(n))) => {
                            prop_assert_eq!(permit.num_permits(), n);
                            permits.push(permit);
                            model.held.push(n);
                            futures[id] = None;
                            model.futures[id] = None;
                        }
                        (Poll::Ready(Err(real)), Some(Err(expected))) => {
                            prop_assert_eq!(real, expected, "acquire #{}", id);
                            futures[id] = None;
                            model.futures[id] = None;
                        }
                        (real, expected) => {
                            return Err(TestCaseError::fail(format!(
                                "poll of acquire #{id}: got {:?}, the model says {expected:?}",
                                real.map(|r| r.map(|p| p.num_permits()))
                            )))
                        }
                    }
                }
            }
            SemOp::DropAcquire(index) => {
                if let Some(id) = pick(&futures, index) {
                    futures[id] = None;
                    let gone = model.futures[id].take().unwrap();
                    match gone.state {
                        AcqState::Queued => {
                            model.queue.retain(|&queued| queued != id);
                            model.settle();
                        }
                        AcqState::Granted => {
                            model.available += gone.wanted;
                            model.settle();
                        }
                        AcqState::Fresh | AcqState::Failed(_) => {}
                    }
                }
            }
            SemOp::ReleasePermit(index) => {
                if !permits.is_empty() {
                    let j = index.index(permits.len());
                    drop(permits.swap_remove(j));
                    model.available += model.held.swap_remove(j);
                    model.settle();
                }
            }
            SemOp::ForgetPermit(index) => {
                if !permits.is_empty() {
                    let j = index.index(permits.len());
                    permits.swap_remove(j).forget();
                    let n = model.held.swap_remove(j);
                    model.shrink(n);
                }
            }
            // A fixed semaphore never grows (`add_permits` panics on it: a
            // suite test checks that).
            SemOp::AddPermits(_) if fixed => {}
            SemOp::AddPermits(k) => {
                sem.add_permits(*k);
                model.capacity += k;
                model.available += k;
                model.settle();
            }
            SemOp::ForgetPermits(k) => {
                let removed = sem.forget_permits(*k);
                let expected = (*k).min(model.available);
                prop_assert_eq!(removed, expected, "forget_permits({})", k);
                model.available -= expected;
                model.shrink(expected);
            }
            SemOp::Close => {
                sem.close();
                model.closed = true;
                for id in std::mem::take(&mut model.queue) {
                    model.futures[id].as_mut().unwrap().settle(
                        id,
                        AcqState::Failed(AcquireError::Closed),
                        &mut model.woken,
                    );
                }
            }
        }

        // Counts, and permits conserved.
        let held: usize = model.held.iter().sum();
        prop_assert_eq!(
            model.available + held + model.granted_unclaimed(),
            model.capacity,
            "the model conserves permits"
        );
        prop_assert_eq!(
            sem.available_permits(),
            model.available,
            "available after {:?}",
            op
        );
        prop_assert_eq!(sem.capacity(), model.capacity, "capacity after {:?}", op);
        prop_assert_eq!(sem.is_closed(), model.closed);
        prop_assert_eq!(
            permits.iter().map(Permit::num_permits).sum::<usize>(),
            held,
            "held permits"
        );
        // At rest the head of the queue never fits (else it would have been
        // granted).
        if let Some(&head) = model.queue.front() {
            prop_assert!(model.futures[head].as_ref().unwrap().wanted > model.available);
        }
        // Wakes: exactly the futures the model settled while registered.
        for (id, future) in futures.iter_mut().enumerate() {
            if let Some(future) = future {
                let m = model.futures[id].as_mut().unwrap();
                let wakes = future.new_wakes();
                if wakes > 0 {
                    woken.push((future.last_wake(), id));
                }
                let due = usize::from(m.wake_due);
                m.wake_due = false;
                prop_assert_eq!(
                    wakes,
                    due,
                    "acquire #{} ({:?}) after {:?}: woken {} times, the model says {}",
                    id,
                    m.state,
                    op,
                    wakes,
                    due
                );
            }
        }
    }

    // Last sweep: poll every live future in creation order.
    for (id, future) in futures.iter_mut().enumerate() {
        let Some(future) = future else {
            continue;
        };
        let real = future.poll();
        match (real, model_poll(&mut model, id)) {
            (Poll::Pending, None) => {}
            (Poll::Ready(Ok(permit)), Some(Ok(n))) => {
                prop_assert_eq!(permit.num_permits(), n);
                model.held.push(n);
                permits.push(permit);
            }
            (Poll::Ready(Err(real)), Some(Err(expected))) => {
                prop_assert_eq!(real, expected, "final poll of acquire #{}", id);
            }
            (real, expected) => {
                return Err(TestCaseError::fail(format!(
                    "final poll of acquire #{id}: got {:?}, the model says {expected:?}",
                    real.map(|r| r.map(|p| p.num_permits()))
                )))
            }
        }
    }
    // FIFO: queued futures were handed their permits (or failed) in exactly
    // the order the model settled them, also within one operation.
    woken.sort_unstable();
    let woken: Vec<usize> = woken.into_iter().map(|(_, id)| id).collect();
    prop_assert_eq!(woken, model.woken, "FIFO: the order of hand-offs");
    prop_assert_eq!(sem.available_permits(), model.available);
    Ok(())
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn matches_model(
        initial in 0usize..=6,
        fixed in any::<bool>(),
        ops in prop::collection::vec(sem_op(), 1..60),
    ) {
        run_semaphore(initial, fixed, &ops)?;
    }
}

/// A queued request on a fixed semaphore that fails because the size shrank
/// below it reports the size it failed at, even if the size shrinks again
/// before it is polled.
#[test]
fn semaphore_too_large_reports_the_size_it_failed_at() {
    let sem = Semaphore::fixed(4);
    let held = sem.try_acquire().unwrap();
    let mut acquire = Tracked::new(sem.acquire_many(4));
    assert!(acquire.poll().is_pending()); // 3 free: queued
    held.forget(); // size 3 < 4: the request fails
    assert_eq!(acquire.new_wakes(), 1);
    assert_eq!(sem.forget_permits(2), 2); // size 1
    match acquire.poll() {
        Poll::Ready(Err(error)) => assert_eq!(
            error,
            AcquireError::TooLarge {
                requested: 4,
                max: 3
            },
            "{error}"
        ),
        other => panic!(
            "expected TooLarge, got {:?}",
            other.map(|r| r.map(|p| p.num_permits()))
        ),
    }
}
