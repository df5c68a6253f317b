//! The state a group shares with its tasks.
//!
//! # State
//!
//! A task that succeeds takes no bookkeeping lock: a group without a limit
//! or a parent (built without the `diagnostics` feature, which records
//! where each task came from under the lock) admits it with two atomic
//! additions (its count and its spawn index), and it finishes by pushing its outcome to the outcome queue (a
//! lock of its own, held for the push) and lowering the count. Failures,
//! cancellations, limits and child groups take the bookkeeping lock (no
//! user code and no waker runs under it). Beside the lock sit the group's
//! `CancellationToken` and an `Event` for the joiner.
//!
//! * `unsettled`, one atomic word:
//!
//!   ```text
//!    usize::BITS-1 ............... 3      2          1            0
//!   +--------------------------------+--------+-----------+--------------+
//!   | count: unrecorded tasks, own   |   C    |     L     |      S       |
//!   | and of child groups            | CLOSED | LISTENING | SETTLED_ONLY |
//!   | (ONE = 1 << 3 each)            |        |           |              |
//!   +--------------------------------+--------+-----------+--------------+
//!   ```
//!
//!   - count: tasks spawned whose outcome is not recorded yet (queued or
//!     running), plus the tasks of child groups not recorded yet. Raised
//!     by `admit` (without the lock for a group with no limit and no
//!     parent, under it otherwise) and by a child's `admit_descendant`
//!     (under the lock);
//!     lowered by exactly one `record` per task (after its outcome is in
//!     `outcomes`) and one `descendant_settled` per child task. The group is
//!     *settled* when the count is zero.
//!   - `S` (`SETTLED_ONLY`): wake the joiner only when the group settles
//!     (`join`, `join_all`: one wake-up per join, not one per task), else at
//!     every recorded outcome (`join_next`).
//!   - `L` (`LISTENING`): a joiner has looked for outcomes and may park;
//!     until then nobody listens, and tasks skip the `Event` (whose `notify`
//!     costs a fence and a lock even with no listener). A `join_next` sets
//!     it at every look; the first task that finishes after a look clears
//!     it as it wakes the joiner, so the others skip the `Event` too.
//!
//!   - `C` (`CLOSED`): no new tasks. Set under the lock (by `close`, a stop,
//!     the handle's drop, and a `join` that found the count at zero, with a
//!     compare-and-swap that fails if a task was admitted meanwhile); never
//!     cleared. A lock-free admit raises the count first and reads `C` in
//!     the same step: if it was set, it lowers the count again and refuses,
//!     so a join that closed the group at zero never misses a task.
//!
//!   One word, so that a task lowers the count and learns whether to wake in
//!   one step, and a spawn and a join agree on whether it was admitted.
//! * `outcomes` (a queue behind a lock of its own, see `sync::Queue`):
//!   recorded outcomes, in the order they finished, until a join takes them
//!   (`join` all at once; `join_next` every one queued, into its caller's
//!   buffer, then one by one from there).
//! * `handles` (the same kind of queue): the runtime's handles of the tasks
//!   (see [`TaskHandle`]), kept so that the runtime's cost of detaching a
//!   running task is not paid at spawn. A join drops as many as the
//!   outcomes it takes (not
//!   necessarily that task's: it only has to stay bounded by the tasks not
//!   joined yet), and all of them once the group is settled, when every
//!   task is done.
//! * `next_index` (atomic): the next task's spawn index.
//! * Under the lock ([`State`], private to this file): with a limit, the
//!   slots in use and the jobs waiting for one (see `limit.rs`); `cause`,
//!   the first reason the group cancelled its tasks.
//! * Fixed when the group is built, read without the lock: [`Config`] and
//!   the outside parent token.
//!
//! # Wake-up argument
//!
//! The joiner checks, registers a listener on `finished` and checks again
//! before parking (`poll_until`). Each check sets `LISTENING` with a
//! read-modify-write of `unsettled` *before* it looks at the outcomes; a
//! task pushes its outcome and then lowers `unsettled` with a
//! read-modify-write that reads `LISTENING`. The two are ordered on that
//! word: if the task's comes first, the joiner's check (acquire) sees its
//! outcome, or the settled count; if the joiner's comes first, the task
//! sees `LISTENING` and notifies, and the listener registered before the
//! second check hears it. `SETTLED_ONLY` is only ever set (by the one
//! joiner: `join` and `join_all` own the group, `join_next` borrows it
//! mutably), and the wake at zero is never skipped once a joiner listens.
//! A task clears `LISTENING` only when it does not wait for the group to
//! settle, and then always notifies right after: a clear that lands after
//! the joiner's last look is followed by a wake-up that reaches the
//! listener registered before that look, and the joiner's next look sets
//! the bit again before it checks.
//!
//! # Child groups
//!
//! A child group's tasks count in its parent (and its parent's parents) as
//! well: admitted under each group's lock, child first, after each group's
//! `closed` check, and settled in each after the outcome is recorded in the
//! child. So a parent's join waits for its children's *tasks*, never for
//! their handles, and once a parent is joined (closed) its children refuse
//! new tasks as closed too.

use core::task::{Context, Poll};
use std::collections::VecDeque;

use event_listener::{Event, EventListener};

use super::limit::{Job, Limiter, Placement};
pub(crate) use super::outcome::Finished;
use super::outcome::Outcome;
use super::shield::Shields;
use crate::listen::poll_until;
use crate::runtime::TaskHandle;
use crate::sync::{Arc, AtomicBool, AtomicUsize, Mutex, MutexGuard, Ordering, Queue};
use crate::{CancelCause, CancellationToken, GroupError, PanicPayload, PanicPolicy, SpawnError};

/// A task that [`Shared::admit`] let in (with its spawn index), and what the
/// caller spawns for it.
pub(crate) enum Admitted<Tk> {
    /// No limit: spawn the task itself.
    Direct(usize, Tk),
    /// A slot was free: spawn a worker that runs the task first.
    Worker(usize, Tk),
    /// A slot was free while older jobs queue: spawn a worker that runs the
    /// queue's head first (the new task queued behind it).
    WorkerForJob(usize, Job),
    /// Every slot is taken: the task waits in the queue; spawn nothing.
    Queued(usize),
}

/// `unsettled`: wake the joiner only when the group settles.
const SETTLED_ONLY: usize = 1;
/// `unsettled`: a joiner has looked for outcomes and may be parked.
const LISTENING: usize = 2;
/// `unsettled`: no new tasks (see the module docs).
const CLOSED: usize = 4;
/// `unsettled`: one task (of this group or of a child group).
const ONE: usize = 8;

/// A field on cache lines of its own (128 bytes: the pair of lines x86's
/// prefetcher pulls together), so that the thread that spawns and the
/// threads that finish tasks do not take each other's lines — nor those of
/// the settings every task reads — on every task (`benches/fan_out.rs`
/// measures it on the multi-thread runtimes).
#[repr(align(128))]
struct Padded<T>(T);

impl<T> core::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A group's settings, fixed when it is built (read without the lock).
pub(crate) struct Config {
    /// At most this many tasks run at once.
    pub(super) limit: Option<usize>,
    /// Successful values are dropped, not kept for a join (a service's
    /// group: memory bounded by the live tasks).
    pub(super) discard_values: bool,
    /// A task's error or panic cancels the other tasks.
    pub(super) cancel_on_error: bool,
    pub(super) panic_policy: PanicPolicy,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limit: None,
            discard_values: false,
            cancel_on_error: true,
            panic_policy: PanicPolicy::Resume,
        }
    }
}

pub(crate) struct Shared<T, E> {
    /// The token tasks watch: cancelled by every kind of stop.
    token: CancellationToken,
    /// Cancelled when tasks must be dropped now: by every stop but a
    /// graceful one, and by a graceful one when its grace period is over.
    /// A child group's is a child of its parent's.
    abort: CancellationToken,
    /// A graceful stop began (here or in a parent group): a cancelled
    /// `token` asks tasks to finish; only `abort` drops them. Set before
    /// `token` is cancelled, so a task that sees the token cancelled sees it.
    stopping: AtomicBool,
    /// Shielded sections open in this group's tasks (a graceful stop does
    /// not drop tasks while any is open).
    shields: Arc<Shields>,
    config: Config,
    /// An outside token this group's token is a child of (the builder's
    /// `parent_token`): its cancellation is cause `Parent`.
    parent_token: Option<CancellationToken>,
    /// Cancelled when the group's handle is gone (joined or dropped): stops
    /// the deadline timer, if any.
    handle_gone: CancellationToken,
    /// Unrecorded tasks plus unfinished child groups, `SETTLED_ONLY`,
    /// `LISTENING` and `CLOSED` (see the module docs).
    unsettled: Padded<AtomicUsize>,
    /// The next task's spawn index.
    next_index: Padded<AtomicUsize>,
    /// The link to the parent group, for a child group: the parent counts
    /// this group's tasks as its own, until they are recorded.
    parent: Option<Box<dyn ChildLink>>,
    /// Of `unsettled`'s count, the tasks of child groups (for `len`).
    descendants: AtomicUsize,
    /// Recorded outcomes, in the order they finished.
    outcomes: Padded<Queue<Finished<T, E>>>,
    /// The runtime's handles of the tasks not joined yet (about).
    handles: Padded<Queue<TaskHandle>>,
    state: Mutex<State>,
    /// Notified when an outcome is recorded or a child group finishes.
    finished: Event,
    /// The group's span: the parent of its tasks' spans and of its events.
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// The bookkeeping under the lock. Only this file touches it.
struct State {
    /// The first reason the group cancelled its tasks.
    cause: Option<CancelCause>,
    /// Tasks still running when a graceful stop's grace period ran out.
    overran: Vec<usize>,
    /// A limited group's slots and queue.
    limiter: Limiter,
    /// Where each unfinished task was spawned, by spawn index.
    #[cfg(feature = "diagnostics")]
    origins: std::collections::BTreeMap<usize, crate::diagnostics::Origin>,
}

/// What a child group needs of its parent, whatever the parent's `T`/`E`.
pub(crate) trait ChildLink: Send + Sync {
    /// A task of the child (or of its children) was admitted: the parent
    /// (and its own parents) wait for it too. `false`, counting nothing, if
    /// the parent (or one of its parents) is closed: then so is the child.
    fn admit_descendant(&self) -> bool;
    /// A task counted by `admit_descendant` recorded its outcome.
    fn descendant_settled(&self);
    /// Whether the parent (or one of its parents) is stopping gracefully.
    fn is_stopping(&self) -> bool;
    /// Whether the parent's token is cancelled (then the child's cause is
    /// `Parent`).
    fn is_cancelled(&self) -> bool;
}

struct ParentLink<T, E>(Arc<Shared<T, E>>);

impl<T: Send, E: Send> ChildLink for ParentLink<T, E> {
    fn admit_descendant(&self) -> bool {
        // Locks go child to parent, never the other way: no lock order cycle.
        let mut state = self.0.lock();
        // Under the lock: no closer can set `CLOSED` meanwhile.
        if self.0.is_closed()
            || !self
                .0
                .parent
                .as_ref()
                .is_none_or(|up| up.admit_descendant())
        {
            return false;
        }
        self.0.descendants.fetch_add(1, Ordering::Relaxed);
        // Counted under the lock, as a task of this group would be: a join
        // that finds this group settled (under the lock) never misses it.
        self.0.count_spawned(&mut state);
        true
    }

    fn is_stopping(&self) -> bool {
        self.0.is_stopping()
    }

    fn descendant_settled(&self) {
        self.0.descendants.fetch_sub(1, Ordering::Relaxed);
        self.0.settle_one();
        if let Some(up) = &self.0.parent {
            up.descendant_settled();
        }
    }

    fn is_cancelled(&self) -> bool {
        self.0.token.is_cancelled()
    }
}

/// A group that child groups can be made under, whatever its `T`/`E`.
pub(crate) trait ParentGroup: Send + Sync {
    /// The parent's token (a child's token is made under it).
    fn token(&self) -> &CancellationToken;
    /// The parent's abort token (a child's is made under it).
    fn abort_token(&self) -> &CancellationToken;
    /// The parent's shields (a child's shield holds off the parent's stop).
    fn shields(&self) -> &Arc<Shields>;
    /// A new child group's link to this one.
    fn link_child(&self) -> Box<dyn ChildLink>;
    /// The parent's span (the child's span is made under it).
    #[cfg(feature = "tracing")]
    fn span(&self) -> &tracing::Span;
}

/// `group` as a parent that child groups can be made under.
pub(crate) fn as_parent<T: Send + 'static, E: Send + 'static>(
    group: &Arc<Shared<T, E>>,
) -> Box<dyn ParentGroup> {
    Box::new(ParentLink(Arc::clone(group)))
}

impl<T: Send + 'static, E: Send + 'static> ParentGroup for ParentLink<T, E> {
    fn token(&self) -> &CancellationToken {
        &self.0.token
    }

    fn abort_token(&self) -> &CancellationToken {
        &self.0.abort
    }

    fn shields(&self) -> &Arc<Shields> {
        &self.0.shields
    }

    fn link_child(&self) -> Box<dyn ChildLink> {
        Box::new(ParentLink(Arc::clone(&self.0)))
    }

    #[cfg(feature = "tracing")]
    fn span(&self) -> &tracing::Span {
        &self.0.span
    }
}

impl<T, E> Shared<T, E> {
    /// A group's shared state, with its settings, any outside parent token,
    /// and the group it is a child of (which waits for it from now on).
    pub(crate) fn new(
        token: CancellationToken,
        config: Config,
        parent_token: Option<CancellationToken>,
        parent_group: Option<Box<dyn ParentGroup>>,
    ) -> Self {
        // The child's span is created under its parent group's.
        #[cfg(feature = "tracing")]
        let span = match &parent_group {
            Some(group) => tracing::debug_span!(parent: group.span(), "group"),
            None => tracing::debug_span!("group"),
        };
        let (abort, shields) = match &parent_group {
            Some(group) => (
                group.abort_token().child_token(),
                Arc::new(Shields::under(Some(Arc::clone(group.shields())))),
            ),
            None => (CancellationToken::new(), Arc::new(Shields::under(None))),
        };
        let parent = parent_group.map(|group| group.link_child());
        Self {
            token,
            abort,
            stopping: AtomicBool::new(false),
            shields,
            config,
            parent_token,
            handle_gone: CancellationToken::new(),
            unsettled: Padded(AtomicUsize::new(0)),
            next_index: Padded(AtomicUsize::new(0)),
            parent,
            descendants: AtomicUsize::new(0),
            outcomes: Padded(Queue::new()),
            handles: Padded(Queue::new()),
            state: Mutex::new(State {
                cause: None,
                overran: Vec::new(),
                limiter: Limiter::default(),
                #[cfg(feature = "diagnostics")]
                origins: std::collections::BTreeMap::new(),
            }),
            finished: Event::new(),
            #[cfg(feature = "tracing")]
            span,
        }
    }

    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The group's settings.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The group's span: the parent of its tasks' spans.
    #[cfg(feature = "tracing")]
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    pub(crate) fn handle_gone_token(&self) -> &CancellationToken {
        &self.handle_gone
    }

    /// No new tasks from now on (`ErrGroup::close`).
    pub(crate) fn close_spawning(&self) {
        let state = self.lock();
        self.mark_closed(&state);
    }

    /// Whether new tasks are refused.
    pub(crate) fn is_closed(&self) -> bool {
        self.unsettled.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Refuses new tasks from now on. Under the lock, so that an admit
    /// under the lock sees `CLOSED` either set or not for its whole
    /// critical section.
    fn mark_closed(&self, _locked: &State) {
        self.unsettled.fetch_or(CLOSED, Ordering::AcqRel);
    }

    /// Locks the bookkeeping (no user code runs under this lock).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Admits a new task, under the lock: refuses it if the group is closed
    /// (or full, with `refuse_when_full`), else gives it the next spawn
    /// index, counts it, and builds it with `make` (which runs no user code:
    /// a queued task joins the queue in this same critical section, so FIFO
    /// holds and no worker can miss it). What to spawn comes back.
    pub(crate) fn admit<F, Tk>(
        &self,
        future: F,
        refuse_when_full: bool,
        #[cfg(feature = "diagnostics")] origin: crate::diagnostics::Origin,
        make: impl FnOnce(usize, F) -> Tk,
    ) -> Result<Admitted<Tk>, SpawnError<F>>
    where
        Tk: core::future::Future<Output = ()> + Send + 'static,
    {
        // No limit, no parent (and no origin to keep): no lock either.
        #[cfg(not(feature = "diagnostics"))]
        if self.config.limit.is_none() && self.parent.is_none() {
            let before = self.unsettled.fetch_add(ONE, Ordering::Relaxed);
            if before & CLOSED != 0 {
                self.settle_one();
                return Err(SpawnError::Closed(future));
            }
            let index = self.next_index.fetch_add(1, Ordering::Relaxed);
            return Ok(Admitted::Direct(index, make(index, future)));
        }
        let mut state = self.lock();
        // A child group is closed with its parent: the parent's join does
        // not wait for a task it refused.
        // Under the lock: no closer can set `CLOSED` meanwhile.
        if self.is_closed() || !self.parent.as_ref().is_none_or(|up| up.admit_descendant()) {
            return Err(SpawnError::Closed(future));
        }
        let Some(placement) = state.limiter.place(self.config.limit, refuse_when_full) else {
            if let Some(up) = &self.parent {
                up.descendant_settled();
            }
            return Err(SpawnError::Full(future));
        };
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        self.count_spawned(&mut state);
        #[cfg(feature = "diagnostics")]
        state.origins.insert(index, origin);
        let task = make(index, future);
        Ok(match placement {
            Placement::Direct => Admitted::Direct(index, task),
            Placement::Queued => {
                state.limiter.push(Box::pin(task));
                Admitted::Queued(index)
            }
            // A slot is free while tasks queue (a worker was lost): the new
            // worker takes the queue's head, and the new task queues behind
            // it, so FIFO holds and the slot is not left empty.
            Placement::NewWorker if state.limiter.has_queued() => {
                match state.limiter.head_before(Box::pin(task)) {
                    Ok(head) | Err(head) => Admitted::WorkerForJob(index, head),
                }
            }
            Placement::NewWorker => Admitted::Worker(index, task),
        })
    }

    /// Counts one more task (or child group) the group waits for. Called
    /// under the lock, after the `CLOSED` check, so that a join that finds
    /// the group settled (under the lock) and closes it never misses a task.
    fn count_spawned(&self, _locked: &mut State) {
        self.unsettled.fetch_add(ONE, Ordering::Relaxed);
    }

    /// Keeps the runtime's handle of a task until a join takes an outcome.
    pub(crate) fn keep(&self, handle: TaskHandle) {
        if !handle.is_detached() {
            self.handles.push(handle);
        }
    }

    /// Drops `count` kept handles (a join took that many outcomes), outside
    /// the lock.
    fn release_some_handles(&self, count: usize) {
        if count != 0 {
            drop(self.handles.take_front(count));
        }
    }

    /// Drops every kept handle (the group is settled: every task is done),
    /// taken in one step and dropped outside the queue's lock.
    fn release_handles(&self) {
        drop(self.handles.take_all());
    }

    /// Tasks not recorded yet, and outcomes not taken yet (a snapshot).
    pub(crate) fn unfinished_and_unjoined(&self) -> (usize, usize) {
        let descendants = self.descendants.load(Ordering::Relaxed);
        let unsettled = self.unsettled.load(Ordering::Acquire) / ONE;
        (unsettled.saturating_sub(descendants), self.outcomes.len())
    }

    /// Records the outcome of task `index`; cancels the group on its first
    /// failure (if it cancels on error); wakes the joiner.
    pub(crate) fn record(&self, index: usize, outcome: Outcome<T, E>) {
        #[cfg(feature = "tracing")]
        self.trace_outcome(index, &outcome);
        let (result, cancel) = match outcome {
            // The common case takes no lock.
            Outcome::Finished(Ok(value)) => (Ok(value), false),
            outcome => self.failure(index, outcome),
        };
        #[cfg(feature = "diagnostics")]
        self.lock().origins.remove(&index);
        // A discarding group keeps no value: only failures wait for a join.
        if result.is_err() || !self.config.discard_values {
            self.outcomes.push((index, result));
        }
        // Counted before `cancel`, which runs wakers: if one of them panics,
        // this outcome is still in and counted.
        let before = self.unsettled.fetch_sub(ONE, Ordering::AcqRel);
        if cancel {
            trace_event!(debug, parent: &self.span, task = index, "group cancelled: a task failed");
            self.cancel_now();
        }
        self.wake_joiner(before);
        // The parent waits for this task too; it hears of it last, when the
        // outcome is in here.
        if let Some(up) = &self.parent {
            up.descendant_settled();
        }
    }

    /// The result for an outcome other than success, under the lock: the
    /// first failure records the cause, and the caller cancels the group.
    fn failure(&self, index: usize, outcome: Outcome<T, E>) -> (Result<T, GroupError<E>>, bool) {
        let mut state = self.lock();
        let fails_group = self.config.cancel_on_error
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
            Outcome::Cancelled => Err(GroupError::Cancelled(self.cause_of_cancel(&mut state))),
            Outcome::Overran => {
                state.overran.push(index);
                Err(GroupError::Cancelled(self.cause_of_cancel(&mut state)))
            }
            Outcome::Lost => Err(GroupError::Lost),
        };
        (result, cancel)
    }

    /// A child group finished: one less to wait for.
    fn settle_one(&self) {
        let before = self.unsettled.fetch_sub(ONE, Ordering::AcqRel);
        self.wake_joiner(before);
    }

    /// After a task settled (`before`: `unsettled` before it was lowered):
    /// wakes the joiner if it waits for this.
    fn wake_joiner(&self, before: usize) {
        if before & LISTENING == 0 {
            return;
        }
        if before & SETTLED_ONLY == 0 {
            // A `join_next` waits for the next outcome: one wake-up is
            // enough until it looks again (each look sets `LISTENING`
            // first), so the tasks that finish meanwhile skip the `Event`
            // (whose `notify` takes its lock every time).
            self.unsettled.fetch_and(!LISTENING, Ordering::AcqRel);
            self.finished.notify(usize::MAX);
        } else if before / ONE == 1 {
            self.finished.notify(usize::MAX);
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
            Outcome::Overran => {
                tracing::debug!(parent: span, task = index, "task dropped: the grace period ran out");
            }
            Outcome::Lost => {
                tracing::warn!(parent: span, task = index, "task lost: the runtime dropped it");
            }
        }
    }

    /// Why this group's token is cancelled: the recorded cause, else the
    /// parent's cancellation, else someone cancelled the token directly.
    /// Recorded the first time it is worked out, so it does not change when
    /// the parent link is dropped later.
    fn cause_of_cancel(&self, state: &mut State) -> CancelCause {
        let parent_cancelled = self.parent.as_ref().is_some_and(|p| p.is_cancelled())
            || self
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
            Some(self.cause_of_cancel(&mut state))
        } else {
            None
        }
    }

    /// Cancels the group's tasks, remembering `cause` if it is the first.
    pub(crate) fn cancel(&self, cause: CancelCause) {
        trace_event!(debug, parent: &self.span, ?cause, "group cancelled");
        self.lock().cause.get_or_insert(cause);
        self.cancel_now();
    }

    /// Cancels the token and drops every task now (every stop but a graceful
    /// one). The abort first: a task woken by the token finds it set.
    fn cancel_now(&self) {
        self.abort.cancel();
        self.token.cancel();
    }

    /// Whether a graceful stop began here or in a parent group.
    pub(crate) fn is_stopping(&self) -> bool {
        // Acquire: pairs with `begin_stop`'s release, for a task that saw
        // the token cancelled by that stop.
        self.stopping.load(Ordering::Acquire)
            || self.parent.as_ref().is_some_and(|up| up.is_stopping())
    }

    /// The token that drops tasks now (see the field).
    pub(crate) fn abort_token(&self) -> &CancellationToken {
        &self.abort
    }

    /// Begins a graceful stop: no new tasks, and the token is cancelled to
    /// ask the running ones to finish (cause `Stopped`, unless the group was
    /// cancelled before).
    pub(crate) fn begin_stop(&self) {
        {
            let mut state = self.lock();
            self.mark_closed(&state);
            state.cause.get_or_insert(CancelCause::Stopped);
        }
        trace_event!(debug, parent: &self.span, "group stopping: tasks asked to finish");
        self.stopping.store(true, Ordering::Release);
        self.token.cancel();
    }

    /// The grace period is over: drops the tasks still running.
    pub(crate) fn end_grace(&self) {
        trace_event!(debug, parent: &self.span, "grace period over: dropping what is left");
        self.abort.cancel();
    }

    /// The group's shields.
    pub(crate) fn shields(&self) -> &Arc<Shields> {
        &self.shields
    }

    /// The tasks that overran a graceful stop's grace period, in spawn order.
    pub(crate) fn take_overran(&self) -> Vec<usize> {
        let mut overran = core::mem::take(&mut self.lock().overran);
        overran.sort_unstable();
        overran
    }

    /// The group's handle is gone; `joined` says whether it was joined (else
    /// it was dropped, which cancels what is left).
    pub(crate) fn close(&self, joined: bool) {
        {
            let mut state = self.lock();
            self.mark_closed(&state);
            if !joined {
                if self.token.is_cancelled() {
                    // Cancelled before the drop (its cause worked out
                    // lazily): the first cause stays.
                    self.cause_of_cancel(&mut state);
                } else {
                    state.cause.get_or_insert(CancelCause::GroupDropped);
                }
            }
        }
        if !joined {
            self.cancel_now();
        }
        self.handle_gone.cancel();
    }

    /// A worker's next queued job; `None` gives the worker's slot back.
    pub(crate) fn next_job(&self) -> Option<Job> {
        let mut state = self.lock();
        if self.is_stopping() {
            // A stop lets running tasks finish, and starts no queued one.
            let unstarted = state.limiter.drain_for_stop();
            drop(state);
            drop(unstarted);
            return None;
        }
        state.limiter.next_job()
    }

    /// A worker was dropped before it finished: give its slot back, and hand
    /// out the queued jobs to drop (outside the lock) if no worker is left.
    pub(crate) fn release_slot_after_loss(&self) -> VecDeque<Job> {
        self.lock().limiter.release_after_loss()
    }

    /// The cause recorded so far, without working one out (for `Debug`).
    pub(crate) fn recorded_cause(&self) -> Option<CancelCause> {
        self.lock().cause
    }

    /// The unfinished tasks, in spawn order (feature `diagnostics`).
    #[cfg(feature = "diagnostics")]
    pub(crate) fn pending(&self) -> Vec<crate::Pending> {
        let state = self.lock();
        let origins = state.origins.iter();
        origins
            .map(|(&index, origin)| {
                origin.pending(crate::PendingKind::Task(crate::TaskId::new(index)))
            })
            .collect()
    }

    /// The next recorded outcome; `None` once every task and child group has
    /// finished and every outcome has been taken. `listener` is the caller's
    /// slot for its registration; `taken` is the caller's buffer of outcomes
    /// already taken from the queue (in one batch: one lock for all of
    /// them) and not returned yet — the next one comes from there first.
    pub(crate) fn poll_next_finished(
        &self,
        listener: &mut Option<EventListener>,
        taken: &mut VecDeque<Finished<T, E>>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Finished<T, E>>> {
        poll_until(&self.finished, listener, cx, || {
            self.try_next_finished(taken)
        })
    }

    /// Waits until every task and child group has finished, then closes the
    /// group and takes every outcome not taken yet, in the order they
    /// finished. Tells `record` to wake us only at the end.
    pub(crate) async fn all_finished(&self) -> Vec<Finished<T, E>> {
        let mut listener = None;
        core::future::poll_fn(|cx| {
            poll_until(&self.finished, &mut listener, cx, || self.try_take_all())
        })
        .await
    }

    /// Moves every queued outcome into `taken` (empty) and returns the
    /// first; drops as many kept handles.
    fn take_batch(&self, taken: &mut VecDeque<Finished<T, E>>) -> Option<Finished<T, E>> {
        let count = self.outcomes.take_into(taken);
        self.release_some_handles(count);
        taken.pop_front()
    }

    fn try_take_all(&self) -> Option<Vec<Finished<T, E>>> {
        if self
            .unsettled
            .fetch_or(SETTLED_ONLY | LISTENING, Ordering::AcqRel)
            / ONE
            != 0
        {
            return None;
        }
        // Settled: close the group in the same step as the check, so that no
        // task spawned through a `Spawner` from now on can be missed by this
        // join. A compare-and-swap: an admit without the lock raises the
        // count on this word, and then this fails (the join waits for that
        // task); one after it sees `CLOSED` and refuses. Under the lock for
        // the admits that count under it (a limit, a parent).
        let state = self.lock();
        let mut current = self.unsettled.load(Ordering::Acquire);
        loop {
            if current / ONE != 0 {
                return None;
            }
            match self.unsettled.compare_exchange_weak(
                current,
                current | CLOSED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => current = now,
            }
        }
        drop(state);
        self.release_handles();
        Some(self.outcomes.take_all())
    }

    fn try_next_finished(
        &self,
        taken: &mut VecDeque<Finished<T, E>>,
    ) -> Option<Option<Finished<T, E>>> {
        if let Some(finished) = taken.pop_front() {
            return Some(Some(finished));
        }
        if let Some(finished) = self.take_batch(taken) {
            return Some(Some(finished));
        }
        // Nothing yet: from now on tasks wake us. `LISTENING` is set before
        // the second look, so a task that lowers the count after it wakes
        // us, and one that lowered it before has its outcome in already.
        let before = self.unsettled.fetch_or(LISTENING, Ordering::AcqRel);
        if let Some(finished) = self.take_batch(taken) {
            return Some(Some(finished));
        }
        if before / ONE == 0 {
            self.release_handles();
            return Some(None);
        }
        None
    }
}
