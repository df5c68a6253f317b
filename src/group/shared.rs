//! The state a group shares with its tasks.
//!
//! # State
//!
//! One mutex guards the bookkeeping (user code never runs under it, and no
//! waker is woken under it); the group's `CancellationToken` and an `Event`
//! for the joiner sit beside it:
//!
//! * `unfinished`: tasks spawned whose outcome is not recorded yet (queued or
//!   running). Raised by `spawn`, lowered by exactly one `record` per task.
//! * `outcomes`: recorded outcomes, in the order they finished, until a join
//!   takes them.
//! * `live_children`: child groups not finished yet; a group is finished when
//!   `unfinished == 0`, `live_children == 0` and its handle is gone.
//! * `running` / `queue`: with a limit, the slots in use and the jobs waiting
//!   for one (FIFO).
//! * `cause`: the first reason the group cancelled its tasks.

use core::task::{Context, Poll};
use std::collections::VecDeque;

use event_listener::{Event, EventListener};

use super::error::{CancelCause, GroupError, PanicPayload};
use super::task::{Job, Outcome};
use super::PanicPolicy;
use crate::listen::poll_until;
use crate::sync::{Arc, Mutex, MutexGuard};
use crate::CancellationToken;

pub(crate) struct Shared<T, E> {
    token: CancellationToken,
    /// Cancelled when the group's handle is gone (joined or dropped): stops
    /// the deadline timer, if any.
    handle_gone: CancellationToken,
    state: Mutex<State<T, E>>,
    /// Notified when an outcome is recorded or a child group finishes.
    finished: Event,
    /// The group's span: the parent of its tasks' spans and of its events.
    #[cfg(feature = "tracing")]
    pub(crate) span: tracing::Span,
}

/// A finished task: its spawn index and what it produced.
pub(crate) type Finished<T, E> = (usize, Result<T, GroupError<E>>);

pub(crate) struct State<T, E> {
    pub(crate) next_index: usize,
    pub(crate) unfinished: usize,
    pub(crate) outcomes: VecDeque<Finished<T, E>>,
    pub(crate) cause: Option<CancelCause>,
    pub(crate) limit: Option<usize>,
    pub(crate) running: usize,
    pub(crate) queue: VecDeque<Job>,
    pub(crate) cancel_on_error: bool,
    pub(crate) panic_policy: PanicPolicy,
    pub(crate) live_children: usize,
    pub(crate) handle_gone: bool,
    /// No new tasks: set by `close`, and when the handle is gone.
    pub(crate) closed: bool,
    /// Wake the joiner at every recorded outcome (`join_next`), or only once
    /// the group is settled (`join`, `join_all`: one wake-up per join, not
    /// one per task).
    pub(crate) wake_on_each: bool,
    /// An outside token this group's token is a child of
    /// (`with_parent_token`): its cancellation is cause `Parent`.
    pub(crate) parent_token: Option<CancellationToken>,
    parent: Option<Box<dyn ChildLink>>,
    /// Where each unfinished task was spawned, by spawn index.
    #[cfg(feature = "diagnostics")]
    pub(crate) origins: std::collections::BTreeMap<usize, crate::diagnostics::Origin>,
}

/// What a child group needs of its parent, whatever the parent's `T`/`E`.
pub(crate) trait ChildLink: Send + Sync {
    /// The child group finished: the parent stops waiting for it.
    fn child_finished(&self);
    /// Whether the parent's token is cancelled (then the child's cause is
    /// `Parent`).
    fn is_cancelled(&self) -> bool;
}

struct ParentLink<T, E>(Arc<Shared<T, E>>);

impl<T: Send, E: Send> ChildLink for ParentLink<T, E> {
    fn child_finished(&self) {
        let (wake, parent) = {
            let mut state = self.0.lock();
            state.live_children -= 1;
            let wake = state.wake_on_each || state.is_settled();
            (wake, state.take_parent_if_finished())
        };
        if wake {
            self.0.finished.notify(usize::MAX);
        }
        if let Some(parent) = parent {
            parent.child_finished();
        }
    }

    fn is_cancelled(&self) -> bool {
        self.0.token.is_cancelled()
    }
}

impl<T, E> State<T, E> {
    /// The link to the parent, once this group is finished for good (taken
    /// once, so the parent hears of it once).
    fn take_parent_if_finished(&mut self) -> Option<Box<dyn ChildLink>> {
        if self.handle_gone && self.unfinished == 0 && self.live_children == 0 {
            self.parent.take()
        } else {
            None
        }
    }

    /// True when every task's outcome is recorded and every child finished.
    pub(crate) fn is_settled(&self) -> bool {
        self.unfinished == 0 && self.live_children == 0
    }
}

impl<T, E> Shared<T, E> {
    pub(crate) fn new(token: CancellationToken) -> Self {
        Self {
            token,
            handle_gone: CancellationToken::new(),
            state: Mutex::new(State {
                next_index: 0,
                unfinished: 0,
                outcomes: VecDeque::new(),
                cause: None,
                limit: None,
                running: 0,
                queue: VecDeque::new(),
                cancel_on_error: true,
                panic_policy: PanicPolicy::Resume,
                live_children: 0,
                handle_gone: false,
                closed: false,
                wake_on_each: true,
                parent_token: None,
                parent: None,
                #[cfg(feature = "diagnostics")]
                origins: std::collections::BTreeMap::new(),
            }),
            finished: Event::new(),
            #[cfg(feature = "tracing")]
            span: tracing::debug_span!("group"),
        }
    }

    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    pub(crate) fn handle_gone_token(&self) -> &CancellationToken {
        &self.handle_gone
    }

    /// Locks the bookkeeping (no user code runs under this lock).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<T, E>> {
        self.state.lock()
    }

    /// Records the outcome of task `index`; cancels the group on its first
    /// failure (if it cancels on error); wakes the joiner.
    pub(crate) fn record(&self, index: usize, outcome: Outcome<T, E>) {
        #[cfg(feature = "tracing")]
        self.trace_outcome(index, &outcome);
        let (cancel, wake, parent) = {
            let mut state = self.lock();
            let fails_group = state.cancel_on_error
                && matches!(outcome, Outcome::Finished(Err(_)) | Outcome::Panicked(_));
            let cancel = fails_group && state.cause.is_none();
            if cancel {
                state.cause = Some(match outcome {
                    Outcome::Panicked(_) => CancelCause::TaskPanicked,
                    _ => CancelCause::TaskFailed,
                });
            }
            let result = match outcome {
                Outcome::Finished(Ok(value)) => Ok(value),
                Outcome::Finished(Err(error)) => Err(GroupError::Task(error)),
                Outcome::Panicked(payload) => Err(GroupError::Panicked(PanicPayload::new(payload))),
                Outcome::Cancelled => Err(GroupError::Cancelled(Self::cause_of_cancel(&mut state))),
                Outcome::Lost => Err(GroupError::Lost),
            };
            state.outcomes.push_back((index, result));
            state.unfinished -= 1;
            #[cfg(feature = "diagnostics")]
            state.origins.remove(&index);
            let wake = state.wake_on_each || state.is_settled();
            (cancel, wake, state.take_parent_if_finished())
        };
        // Outside the lock: cancelling wakes tasks, and the parent locks its
        // own state.
        if cancel {
            trace_event!(debug, parent: &self.span, task = index, "group cancelled: a task failed");
            self.token.cancel();
        }
        if wake {
            self.finished.notify(usize::MAX);
        }
        if let Some(parent) = parent {
            parent.child_finished();
        }
    }

    #[cfg(feature = "tracing")]
    fn trace_outcome(&self, index: usize, outcome: &Outcome<T, E>) {
        let span = &self.span;
        match outcome {
            Outcome::Finished(Ok(_)) => {
                tracing::trace!(parent: span, task = index, "task finished")
            }
            Outcome::Finished(Err(_)) => tracing::debug!(parent: span, task = index, "task failed"),
            Outcome::Panicked(_) => tracing::warn!(parent: span, task = index, "task panicked"),
            Outcome::Cancelled => tracing::trace!(parent: span, task = index, "task cancelled"),
            Outcome::Lost => {
                tracing::warn!(parent: span, task = index, "task lost: the runtime dropped it");
            }
        }
    }

    /// Why this group's token is cancelled: the recorded cause, else the
    /// parent's cancellation, else someone cancelled the token directly.
    /// Recorded the first time it is worked out, so it does not change when
    /// the parent link is dropped later.
    fn cause_of_cancel(state: &mut State<T, E>) -> CancelCause {
        let parent_cancelled = state.parent.as_ref().is_some_and(|p| p.is_cancelled())
            || state
                .parent_token
                .as_ref()
                .is_some_and(CancellationToken::is_cancelled);
        *state.cause.get_or_insert(if parent_cancelled {
            CancelCause::Parent
        } else {
            CancelCause::Explicit
        })
    }

    /// The cause, if the group is cancelled.
    pub(crate) fn cause(&self) -> Option<CancelCause> {
        let mut state = self.lock();
        if state.cause.is_some() || self.token.is_cancelled() {
            Some(Self::cause_of_cancel(&mut state))
        } else {
            None
        }
    }

    /// Cancels the group's tasks, remembering `cause` if it is the first.
    pub(crate) fn cancel(&self, cause: CancelCause) {
        trace_event!(debug, parent: &self.span, ?cause, "group cancelled");
        self.lock().cause.get_or_insert(cause);
        self.token.cancel();
    }

    /// The group's handle is gone; `joined` says whether it was joined (else
    /// it was dropped, which cancels what is left).
    pub(crate) fn close(&self, joined: bool) {
        let parent = {
            let mut state = self.lock();
            state.handle_gone = true;
            state.closed = true;
            if !joined {
                if self.token.is_cancelled() {
                    // Cancelled before the drop (its cause worked out
                    // lazily): the first cause stays.
                    Self::cause_of_cancel(&mut state);
                } else {
                    state.cause.get_or_insert(CancelCause::GroupDropped);
                }
            }
            state.take_parent_if_finished()
        };
        if !joined {
            self.token.cancel();
        }
        self.handle_gone.cancel();
        if let Some(parent) = parent {
            parent.child_finished();
        }
    }

    /// A worker's next queued job; `None` gives the worker's slot back.
    pub(crate) fn next_job(&self) -> Option<Job> {
        let mut state = self.lock();
        let job = state.queue.pop_front();
        if job.is_none() {
            state.running -= 1;
        }
        job
    }

    /// A worker was dropped before it finished: give its slot back, and hand
    /// out the queued jobs to drop (outside the lock) if no worker is left.
    pub(crate) fn release_slot_after_loss(&self) -> VecDeque<Job> {
        let mut state = self.lock();
        state.running -= 1;
        if state.running == 0 {
            core::mem::take(&mut state.queue)
        } else {
            VecDeque::new()
        }
    }

    /// Waits for the next recorded outcome; `None` once every task and child
    /// group has finished and every outcome has been taken.
    pub(crate) async fn next_finished(&self) -> Option<Finished<T, E>> {
        let mut listener = None;
        core::future::poll_fn(|cx| self.poll_next_finished(&mut listener, cx)).await
    }

    /// The poll form of [`next_finished`](Self::next_finished), for streams
    /// and races; `listener` is the caller's slot for its registration.
    pub(crate) fn poll_next_finished(
        &self,
        listener: &mut Option<EventListener>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Finished<T, E>>> {
        poll_until(&self.finished, listener, cx, || self.try_next_finished())
    }

    /// Waits until every task and child group has finished, then takes every
    /// outcome not taken yet, in the order they finished. Tells `record` to
    /// wake us only at the end.
    pub(crate) async fn all_finished(&self) -> VecDeque<Finished<T, E>> {
        let mut listener = None;
        core::future::poll_fn(|cx| {
            poll_until(&self.finished, &mut listener, cx, || self.try_take_all())
        })
        .await
    }

    fn try_take_all(&self) -> Option<VecDeque<Finished<T, E>>> {
        let mut state = self.lock();
        state.wake_on_each = false;
        state
            .is_settled()
            .then(|| core::mem::take(&mut state.outcomes))
    }

    fn try_next_finished(&self) -> Option<Option<Finished<T, E>>> {
        let mut state = self.lock();
        match state.outcomes.pop_front() {
            Some(finished) => Some(Some(finished)),
            None if state.is_settled() => Some(None),
            None => None,
        }
    }
}

impl<T: Send + 'static, E: Send + 'static> Shared<T, E> {
    /// Makes `self` a child of `parent`: the parent waits for it.
    pub(crate) fn link_to_parent<T2: Send + 'static, E2: Send + 'static>(
        &self,
        parent: &Arc<Shared<T2, E2>>,
    ) {
        parent.lock().live_children += 1;
        self.lock().parent = Some(Box::new(ParentLink(Arc::clone(parent))));
    }
}
