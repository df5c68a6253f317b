//! The scope's future: its body and its children, polled inside one task.
//!
//! The children live in a slab of slots owned by the scope's future (never
//! shared, so polling them takes no lock). Each slot has its own waker: a
//! small `Arc` holding the slot's number, which a wake pushes onto the
//! shared `woken` list (once, until the slot is polled again) before waking
//! the scope's task. So a wake-up polls the children that were woken and no
//! other. A slot and its waker are reused by later children: a stale wake
//! for a slot's previous child costs one spurious poll of its next one,
//! which futures allow. A child that finishes at its first poll (the common
//! case for small work) frees its slot for the next one at once, so the
//! slab grows only to the number of children pending at the same time.
//!
//! A poll of the scope runs in rounds: poll the body; under the state lock
//! publish the outcomes of the round before and take the children spawned
//! since; take the woken list; poll the new children (in spawn order) and
//! the woken ones. It stops when a round finds nothing to do, and yields
//! to the executor (waking itself) after [`ROUNDS`] rounds that always
//! found more, so a scope whose children keep waking each other cannot
//! starve the rest of the thread.

use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::future::Future;
use core::mem;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use super::handle::{Child, Outcome, Shared};
use super::{BodyOutput, Flavour};
use crate::futures::Cancelled;
use crate::sync::{AtomicUsize, AtomicWaker, Mutex, Ordering};
use crate::{CancelCause, GroupError};

/// Rounds in one poll of the scope before it yields to the executor.
const ROUNDS: usize = 32;

/// The slots woken since the scope last looked, and the scope's task.
struct WakeQueue {
    woken: Mutex<Vec<usize>>,
    task: AtomicWaker,
    /// 1 while the scope's future is being polled: a wake then only queues
    /// its slot, as the scope looks at the list again before it returns (see
    /// `Core::poll`).
    polling: AtomicUsize,
}

/// The waker of one slot.
struct SlotWake {
    slot: usize,
    /// 1 from the first wake after the slot's last poll, 0 again just before
    /// its next poll: a slot is on the `woken` list at most once per poll.
    /// (A `usize` flag: the atomics loom models.)
    queued: AtomicUsize,
    queue: Arc<WakeQueue>,
}

impl Wake for SlotWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // SeqCst, with the swap before each poll: both sides store and then
        // load another location (the waker: the child's state, then this
        // flag; the poll: this flag, then the child's state), so only a
        // single total order guarantees that one of them sees the other —
        // either the poll sees what the waker changed, or this wake queues
        // the slot again.
        if self.queued.swap(1, Ordering::SeqCst) == 0 {
            self.queue.woken.lock().push(self.slot);
            // After the push: the scope's task, once woken, finds the slot.
            // SeqCst, with the store that clears `polling`: either this load
            // sees it cleared (and wakes the task), or the store comes later
            // in the single total order, and the scope's check of the list
            // after it (under the lock this push released) finds the slot.
            if self.queue.polling.load(Ordering::SeqCst) == 0 {
                self.queue.task.wake();
            }
        }
    }
}

struct Slot<'env, T, E, K: Flavour> {
    /// The child in this slot and its spawn index; `None` when free.
    child: Option<(usize, Child<'env, T, E, K>)>,
    wake: Arc<SlotWake>,
    waker: Waker,
}

/// The scope's own state: the children, and what a round carries over.
pub(super) struct Core<'env, T, E, K: Flavour> {
    shared: Arc<Shared<'env, T, E, K>>,
    slots: Vec<Slot<'env, T, E, K>>,
    free: Vec<usize>,
    wakes: Arc<WakeQueue>,
    /// Scratch lists, kept for their capacity: the children taken from the
    /// shared state, and the slots taken from the woken list.
    new: Vec<(usize, Child<'env, T, E, K>)>,
    woken: Vec<usize>,
    /// Outcomes of this round, published under the lock in the next.
    finished: Vec<Outcome<T, E>>,
    /// The body's own error, which comes before any child's.
    body_failure: Option<E>,
    cancel_on_error: bool,
    /// The scope returned (or is returning): nothing is left to drop.
    over: bool,
}

impl<'env, T, E, K: Flavour> Core<'env, T, E, K> {
    pub(super) fn new(shared: Arc<Shared<'env, T, E, K>>, cancel_on_error: bool) -> Self {
        Self {
            shared,
            slots: Vec::new(),
            free: Vec::new(),
            wakes: Arc::new(WakeQueue {
                woken: Mutex::new(Vec::new()),
                task: AtomicWaker::new(),
                polling: AtomicUsize::new(0),
            }),
            new: Vec::new(),
            woken: Vec::new(),
            finished: Vec::new(),
            body_failure: None,
            cancel_on_error,
            over: false,
        }
    }

    /// Polls the scope: the body, then the children, in rounds (see the
    /// module doc). `Ready` once the body and every child are done, or at
    /// the first failure (unless the scope keeps going) or cancellation.
    pub(super) fn poll<Fut>(
        &mut self,
        cx: &mut Context<'_>,
        body: Pin<&mut Option<Fut>>,
        cancelled: &mut Cancelled<'_>,
    ) -> Poll<Result<Vec<T>, GroupError<E>>>
    where
        Fut: Future,
        Fut::Output: BodyOutput<E>,
    {
        // Registered before any child is polled: a wake that comes after
        // `polling` is cleared wakes this task.
        self.wakes.task.register(cx.waker());
        self.wakes.polling.store(1, Ordering::SeqCst);
        let polled = self.poll_rounds(cx, body, cancelled);
        // A wake during the poll only queued its slot (see `WakeQueue`).
        // After this store a wake wakes the task; one that came before it
        // is on the list, and sends the scope round again. (Without this
        // check, loom's two-thread model in `tests/loom.rs` deadlocks.)
        self.wakes.polling.store(0, Ordering::SeqCst);
        if polled.is_pending() && !self.wakes.woken.lock().is_empty() {
            cx.waker().wake_by_ref();
        }
        polled
    }

    fn poll_rounds<Fut>(
        &mut self,
        cx: &mut Context<'_>,
        mut body: Pin<&mut Option<Fut>>,
        cancelled: &mut Cancelled<'_>,
    ) -> Poll<Result<Vec<T>, GroupError<E>>>
    where
        Fut: Future,
        Fut::Output: BodyOutput<E>,
    {
        let mut poll_body = true;
        for _ in 0..ROUNDS {
            if self.shared.token.is_cancelled() {
                let cause = self.shared.outside_cause();
                self.cancel_all(cause);
                body.set(None);
                return Poll::Ready(self.finish());
            }
            if poll_body {
                if let Some(running) = body.as_mut().as_pin_mut() {
                    if let Poll::Ready(output) = running.poll(cx) {
                        body.set(None);
                        if let Err(error) = output.into_result() {
                            self.body_failure = Some(error);
                            if self.cancel_on_error {
                                self.cancel_all(CancelCause::TaskFailed);
                                return Poll::Ready(self.finish());
                            }
                        }
                    }
                }
            }
            // Publish the last round's outcomes and take the new children.
            let published = !self.finished.is_empty();
            let (live, joiner) = {
                let mut state = self.shared.lock();
                if published {
                    let finished = self.finished.len();
                    state.live -= finished;
                    if let Some(limit) = state.limit {
                        state.running -= finished;
                        while state.running < limit {
                            let Some(next) = state.waiting.pop_front() else {
                                break;
                            };
                            state.running += 1;
                            state.incoming.push(next);
                        }
                    }
                    state.outcomes.extend(self.finished.drain(..));
                }
                if self.new.is_empty() {
                    mem::swap(&mut self.new, &mut state.incoming);
                } else {
                    self.new.append(&mut state.incoming);
                }
                let joiner = if !state.outcomes.is_empty() || state.live == 0 {
                    state.joiner.take()
                } else {
                    None
                };
                (state.live, joiner)
            };
            poll_body = false;
            if let Some(joiner) = joiner {
                // The body waits in `join_next` (it runs on this task's
                // waker): poll it in the next round. Anyone else (a child)
                // is woken.
                if body.is_some() && joiner.will_wake(cx.waker()) {
                    poll_body = true;
                } else {
                    joiner.wake();
                }
            }
            {
                let mut woken = self.wakes.woken.lock();
                mem::swap(&mut self.woken, &mut *woken);
            }
            if self.new.is_empty() && self.woken.is_empty() && !poll_body {
                if body.is_none() && live == 0 {
                    return Poll::Ready(self.finish());
                }
                // About to sleep: listen for a cancellation from outside
                // (listen, then check again, at the top of the next round).
                if Pin::new(&mut *cancelled).poll(cx).is_ready() {
                    continue;
                }
                return Poll::Pending;
            }
            if self.shared.token.is_cancelled() {
                // Cancelled by the body (`Scope::cancel`, its token) in this
                // round: no child runs again, new ones not at all.
                continue;
            }
            if self.poll_children() {
                body.set(None);
                return Poll::Ready(self.finish());
            }
        }
        // Still busy after a whole budget of rounds: let the executor run
        // others, and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Polls the new children (in spawn order) and the woken ones. `true`
    /// if one failed and the scope cancelled the rest.
    fn poll_children(&mut self) -> bool {
        let mut new = mem::take(&mut self.new);
        let mut failed = false;
        for (index, child) in new.drain(..) {
            let slot = self.occupy(index, child);
            if self.poll_slot(slot) {
                failed = true;
                break; // `drain`'s drop drops the children not yet started
            }
        }
        self.new = new;
        if failed {
            return true;
        }
        let mut woken = mem::take(&mut self.woken);
        for slot in woken.drain(..) {
            if self.poll_slot(slot) {
                failed = true;
                break;
            }
        }
        self.woken = woken;
        failed
    }

    /// Puts a new child in a free slot (or a new one) and returns the slot.
    fn occupy(&mut self, index: usize, child: Child<'env, T, E, K>) -> usize {
        if let Some(slot) = self.free.pop() {
            self.slots[slot].child = Some((index, child));
            return slot;
        }
        let slot = self.slots.len();
        let wake = Arc::new(SlotWake {
            slot,
            queued: AtomicUsize::new(0),
            queue: Arc::clone(&self.wakes),
        });
        let waker = Waker::from(Arc::clone(&wake));
        self.slots.push(Slot {
            child: Some((index, child)),
            wake,
            waker,
        });
        slot
    }

    /// Polls the child in `slot`, if there is one. `true` if it failed and
    /// the scope cancelled the rest.
    fn poll_slot(&mut self, slot: usize) -> bool {
        let entry = &mut self.slots[slot];
        let Some((index, child)) = entry.child.as_mut() else {
            return false; // a stale wake for a slot since freed
        };
        // SeqCst: see `SlotWake::wake_by_ref`.
        entry.wake.queued.swap(0, Ordering::SeqCst);
        let mut cx = Context::from_waker(&entry.waker);
        let outcome = match poll_caught(Pin::new(child), &mut cx) {
            Poll::Pending => return false,
            Poll::Ready(outcome) => outcome,
        };
        let index = *index;
        // Drop the finished future now (it may hold borrows and handles),
        // and free its slot for the next child.
        entry.child = None;
        self.free.push(slot);
        let failed = outcome.is_err();
        self.finished.push((index, outcome));
        if failed && self.cancel_on_error {
            let cause = match self.finished.last() {
                #[cfg(feature = "std")]
                Some((_, Err(GroupError::Panicked(_)))) => CancelCause::TaskPanicked,
                _ => CancelCause::TaskFailed,
            };
            self.cancel_all(cause);
            return true;
        }
        false
    }

    /// Cancels the scope: records `cause` (the first wins), cancels the
    /// token, closes the scope to spawns and drops every child, queued or
    /// started. No lock is held while a user future is dropped.
    fn cancel_all(&mut self, cause: CancelCause) {
        let (incoming, waiting, joiner) = {
            let mut state = self.shared.lock();
            state.cause.get_or_insert(cause);
            state.closed = true;
            state.live = 0;
            state.running = 0;
            (
                mem::take(&mut state.incoming),
                mem::take(&mut state.waiting),
                state.joiner.take(),
            )
        };
        self.shared.token.cancel();
        drop((incoming, waiting, joiner));
        self.new.clear();
        for slot in &mut self.slots {
            slot.child = None;
        }
    }

    /// The scope's result, from the outcomes nobody took: the body's error,
    /// else the first child failure (in completion order), else the
    /// cancellation, else every value in spawn order.
    fn finish(&mut self) -> Result<Vec<T>, GroupError<E>> {
        self.over = true;
        let (outcomes, cause) = {
            let mut state = self.shared.lock();
            state.closed = true;
            (mem::take(&mut state.outcomes), state.cause)
        };
        let mut values = Vec::with_capacity(outcomes.len() + self.finished.len());
        let mut failure = None;
        for (index, outcome) in outcomes.into_iter().chain(self.finished.drain(..)) {
            match outcome {
                Ok(value) => values.push((index, value)),
                Err(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        if let Some(error) = self.body_failure.take() {
            return Err(GroupError::Task(error));
        }
        if let Some(failure) = failure {
            #[cfg(feature = "std")]
            if let GroupError::Panicked(payload) = failure {
                if self.shared.panic_policy == crate::PanicPolicy::Resume {
                    payload.resume();
                }
                return Err(GroupError::Panicked(payload));
            }
            return Err(failure);
        }
        if let Some(cause) = cause {
            return Err(GroupError::Cancelled(cause));
        }
        if !values.is_sorted_by_key(|&(index, _)| index) {
            values.sort_unstable_by_key(|&(index, _)| index);
        }
        Ok(values.into_iter().map(|(_, value)| value).collect())
    }
}

impl<T, E, K: Flavour> Drop for Core<'_, T, E, K> {
    fn drop(&mut self) {
        if !self.over {
            // The scope future was dropped before it finished: cancel and
            // drop every child (each exactly once: they are owned here or
            // in the shared state, and taken out of both).
            self.cancel_all(CancelCause::GroupDropped);
        }
        // Outcomes may hold handles to the scope (a reference cycle through
        // the shared state): drop them with the scope.
        let outcomes = mem::take(&mut self.shared.lock().outcomes);
        drop(outcomes);
    }
}

/// Polls a child, turning a panic into [`GroupError::Panicked`] (`std`);
/// without `std` a panic unwinds through the scope.
fn poll_caught<F, T, E>(child: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<Result<T, GroupError<E>>>
where
    F: Future<Output = Result<T, E>>,
{
    #[cfg(feature = "std")]
    {
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| child.poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(result.map_err(GroupError::Task)),
            Err(payload) => {
                Poll::Ready(Err(GroupError::Panicked(crate::PanicPayload::new(payload))))
            }
        }
    }
    #[cfg(not(feature = "std"))]
    {
        child
            .poll(cx)
            .map(|result| result.map_err(GroupError::Task))
    }
}

/// Resumes a captured panic when the policy says so; any other outcome is
/// returned as it is.
#[cfg(feature = "std")]
pub(super) fn resume_if_asked<T, E>(
    outcome: Result<T, GroupError<E>>,
    policy: crate::PanicPolicy,
) -> Result<T, GroupError<E>> {
    match outcome {
        Err(GroupError::Panicked(payload)) if policy == crate::PanicPolicy::Resume => {
            payload.resume()
        }
        other => other,
    }
}
