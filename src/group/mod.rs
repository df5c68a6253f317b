//! [`ErrGroup`]: spawn futures on any runtime, join their results, and cancel
//! the rest on the first error (Go's `errgroup`, Python's `asyncio.TaskGroup`,
//! Java's `StructuredTaskScope`).

mod builder;
mod limit;
mod outcome;
mod record;
mod shared;
mod shield;
mod spawner;
mod start;
mod stop;
mod task;
mod worker;

use core::fmt;
use core::future::Future;
use core::task::{Context, Poll};
use core::time::Duration;
use std::borrow::Cow;
use std::collections::VecDeque;

use event_listener::EventListener;

pub use self::builder::Builder;
pub use self::shield::Shielded;
pub use self::spawner::Spawner;
pub use self::start::{Ready, StartError};
pub use self::stop::StopReport;

use self::shared::Shared;
use crate::runtime::Runtime;
use crate::sync::Arc;
use crate::{CancelCause, CancellationToken, GroupError, PanicPolicy, SpawnError, TaskId};

/// A finished task's id and outcome, as `join_next_with_id` gives them.
pub(crate) type IdentifiedOutcome<T, E> = (TaskId, Result<T, GroupError<E>>);

/// A group of spawned fallible tasks: join all their results in spawn order,
/// or the first error with the rest cancelled.
///
/// `T` is what a task returns on success, `E` its error, `R` the
/// [`Runtime`] it spawns on.
///
/// # When to use it
///
/// Use an `ErrGroup` when you spawn a set of fallible futures and want all
/// their results, or the first error with the rest stopped — and no task left
/// running behind your back. Compared with the alternatives:
///
/// * tokio's `JoinSet` is tokio-only, needs `&mut` to spawn, and has no
///   first-error policy or limit; `ErrGroup` works on every runtime, spawns
///   through `&self` (and a [`Spawner`] from inside tasks), cancels on the
///   first error and bounds concurrency with a [limit](Builder::limit).
/// * tokio-util's `TaskTracker` only counts tasks; it loses their results and
///   their panics.
/// * `futures::future::try_join_all` runs everything on one task; `ErrGroup`
///   spawns, so the work runs in parallel.
///
/// # Semantics
///
/// * **First error cancels the rest.** When a task returns `Err` (or panics),
///   the group's [`CancellationToken`] is cancelled and every other task's
///   future is dropped at once (it is woken for that). Cancellation is
///   cooperative: a task stops at its next `.await`, not in the middle of
///   synchronous code. Tasks that need to clean up can watch
///   [`cancellation_token`](ErrGroup::cancellation_token).
///   [`keep_going`](Builder::keep_going) turns this off (Go's `conc` error
///   pool): every task runs, and [`join_all`](ErrGroup::join_all) returns
///   every outcome.
/// * **Nothing outlives the group.** `join` returns only after every spawned
///   future has completed or been dropped. Dropping the group without joining
///   cancels its tasks ([`CancelCause::GroupDropped`]).
/// * **Panics** are caught in the task — the same on every runtime — count as
///   a failure, and are resumed in the task that joins
///   ([`PanicPolicy::Resume`], the default) or handed over as
///   [`GroupError::Panicked`] with their payload ([`PanicPolicy::Capture`]).
/// * **Nothing is lost.** A task that the runtime drops before it finishes
///   (say, the runtime shut down) is reported as [`GroupError::Lost`]; the
///   join does not hang on it.
///
/// # Nested groups
///
/// [`child`](ErrGroup::child) makes a group whose token is a child of this
/// group's: cancelling the parent cancels the child's tasks, and the parent's
/// join waits for the child's *tasks* (not for the child's handle: a child
/// kept alive elsewhere never hangs its parent). Once the parent is joined,
/// the child refuses new tasks with [`SpawnError::Closed`]. A child's errors
/// go to whoever joins the child; they reach the parent when that code
/// returns them (`child.join().await` inside a parent task, with `?`), as
/// with Python's nested task groups.
///
/// # Examples
///
/// ```
/// use taskgroup::{ErrGroup, GroupError};
/// use taskgroup::runtime::SmolRuntime;
///
/// smol::block_on(async {
///     let group = ErrGroup::new(SmolRuntime::global());
///     for n in 1..=3u32 {
///         group.spawn(async move { Ok::<_, String>(n * 10) }).unwrap();
///     }
///     assert_eq!(group.join().await.unwrap(), vec![10, 20, 30]);
///
///     let group = ErrGroup::new(SmolRuntime::global());
///     group.spawn(async { Err::<u32, _>("no route to host") }).unwrap();
///     group.spawn(std::future::pending()).unwrap(); // cancelled by the error
///     match group.join().await {
///         Err(GroupError::Task(error)) => assert_eq!(error, "no route to host"),
///         other => panic!("unexpected {other:?}"),
///     }
/// });
/// ```
pub struct ErrGroup<T, E, R: Runtime> {
    spawner: Spawner<T, E, R>,
    /// Set once a join took every outcome: dropping the group then cancels
    /// nothing.
    joined: bool,
    /// The registration of a parked `join_next`/`poll_join_next`, kept across
    /// polls so that a wake-up between two polls is not lost.
    listener: Option<EventListener>,
    /// Outcomes a `join_next` took from the group's queue (all that were
    /// there, in one step) and has not returned yet; a later join returns
    /// them first. Only ever reached through `&mut self` (`get_mut`, no
    /// locking): the mutex is there so that the group stays `Sync` for
    /// values that are only `Send`, as the group's queue keeps them.
    taken: std::sync::Mutex<VecDeque<shared::Finished<T, E>>>,
}

impl<T, E, R> ErrGroup<T, E, R>
where
    T: Send + 'static,
    E: Send + 'static,
    R: Runtime,
{
    /// A group that spawns on `runtime` with the default settings: no
    /// limit, errors cancel the other tasks, panics are resumed in the
    /// joiner, no deadline. [`builder`](Self::builder) chooses others.
    ///
    /// # Examples
    ///
    /// The same group on tokio (any runtime with a [`Runtime`] adapter will
    /// do):
    ///
    /// ```
    /// use taskgroup::{runtime::TokioRuntime, ErrGroup};
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    /// rt.block_on(async {
    ///     let group = ErrGroup::new(TokioRuntime::current());
    ///     for word in ["tokio", "smol"] {
    ///         group.spawn(async move { Ok::<_, std::io::Error>(word.len()) }).unwrap();
    ///     }
    ///     assert_eq!(group.join().await.unwrap(), vec![5, 4]);
    /// });
    /// ```
    #[must_use]
    pub fn new(runtime: R) -> Self {
        Self::builder(runtime).build()
    }

    /// A [`Builder`] for a group that spawns on `runtime`: set its limit,
    /// error and panic policies, deadline and parent token, then
    /// [`build`](Builder::build) it. A group is configured before its first
    /// task, so a running group cannot be reconfigured.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, PanicPolicy};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::builder(SmolRuntime::global())
    ///         .limit(8)
    ///         .keep_going()
    ///         .panic_policy(PanicPolicy::Capture)
    ///         .deadline(Duration::from_secs(30))
    ///         .build();
    ///     for n in 0..20u32 {
    ///         group.spawn(async move { Ok::<_, ()>(n * 2) }).unwrap();
    ///     }
    ///     assert_eq!(group.join().await.unwrap().len(), 20);
    /// });
    /// ```
    pub fn builder(runtime: R) -> Builder<T, E, R> {
        Builder::new(runtime)
    }

    /// The group a builder made.
    fn from_parts(runtime: R, shared: Shared<T, E>) -> Self {
        Self {
            spawner: Spawner::new(Arc::new(shared), runtime),
            joined: false,
            listener: None,
            taken: std::sync::Mutex::new(VecDeque::new()),
        }
    }

    /// Spawns `future` as a task of the group and returns its [`TaskId`]
    /// (its position in spawn order).
    ///
    /// With the group's [limit](Builder::limit) reached, the task waits its
    /// turn in FIFO order (`spawn` never blocks the caller). If the group is
    /// cancelled before the task finishes, its future is dropped at its next
    /// poll (or never polled, if it had not started).
    ///
    /// Every spawning method — here and on [`Spawner`] — has this contract:
    /// a refusal is a [`SpawnError`] that hands the future back.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Closed`], the future untouched, if the group was
    /// [closed](Self::close). (`spawn` never refuses for a full group: it
    /// queues; [`try_spawn`](Self::try_spawn) does.)
    ///
    /// # Panics
    ///
    /// If the runtime's [`spawn`](Runtime::spawn) panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::new(SmolRuntime::global());
    ///     let first = group.spawn(async { Ok::<_, ()>("first") }).unwrap();
    ///     let second = group.spawn(async { Ok("second") }).unwrap();
    ///     assert_eq!((first.index(), second.index()), (0, 1));
    ///
    ///     group.close();
    ///     let refused = group.spawn(async { Ok("third") }).unwrap_err();
    ///     assert!(refused.is_closed());
    ///     assert_eq!(group.join().await.unwrap(), ["first", "second"]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<TaskId, SpawnError<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.spawner.spawn(future)
    }

    /// As [`spawn`](Self::spawn), with a name for the task: shown by
    /// [`pending`](Self::pending) (feature `diagnostics`) and on the task's
    /// span (feature `tracing`). With neither feature the name is dropped.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn): [`SpawnError::Closed`] if the group was
    /// closed.
    ///
    /// # Panics
    ///
    /// If the runtime's `spawn` panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<u32, (), _>::new(SmolRuntime::global());
    ///     group.spawn_named("answer", async { Ok(42) }).unwrap();
    ///     assert_eq!(group.join().await.unwrap(), vec![42]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_named<F>(
        &self,
        name: impl Into<Cow<'static, str>>,
        future: F,
    ) -> Result<TaskId, SpawnError<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.spawner.spawn_named(name, future)
    }

    /// Spawns `future` only if it can start now: with the limit reached,
    /// hands the future back instead of queueing it (Go's `TryGo`). Without
    /// a limit it always starts, unless the group was closed.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Full`] when the group's limit is reached (a later try
    /// may succeed), [`SpawnError::Closed`] when the group was
    /// [closed](Self::close) (every later try fails too); the future comes
    /// back untouched either way.
    ///
    /// # Panics
    ///
    /// If the runtime's [`spawn`](Runtime::spawn) panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, Latch, SpawnError};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<u32, (), _>::builder(SmolRuntime::global()).limit(1).build();
    ///     let gate = Latch::new(1);
    ///     let held = gate.clone();
    ///     let slow = async move {
    ///         held.wait().await;
    ///         Ok(1)
    ///     };
    ///     assert!(group.try_spawn(slow).is_ok()); // takes the only slot
    ///     // Full: the future comes back instead of waiting in the queue.
    ///     let Err(SpawnError::Full(refused)) = group.try_spawn(async { Ok(2) }) else {
    ///         panic!("the group is full");
    ///     };
    ///     group.spawn(refused).unwrap(); // `spawn` queues it instead
    ///     gate.count_down();
    ///     assert_eq!(group.join().await.unwrap(), vec![1, 2]);
    /// });
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<TaskId, SpawnError<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.spawner.try_spawn(future)
    }

    /// A handle that spawns into this group from inside its tasks (or from
    /// anywhere else), for work that discovers more work. The group still
    /// owns its tasks: its join waits for the ones spawned through the
    /// handle too, and once the group is joined or dropped the handle's
    /// spawns are refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<u32, (), _>::new(SmolRuntime::global());
    ///     let spawner = group.spawner();
    ///     group.spawn(async move {
    ///         // Found more work: spawn it into the same group.
    ///         assert!(spawner.spawn(async { Ok(2) }).is_ok());
    ///         Ok(1)
    ///     }).unwrap();
    ///     assert_eq!(group.join().await.unwrap(), vec![1, 2]);
    /// });
    /// ```
    #[must_use]
    pub fn spawner(&self) -> Spawner<T, E, R> {
        self.spawner.clone()
    }

    /// A nested group on the same runtime with the default settings:
    /// cancelled with this one (cause [`CancelCause::Parent`]), and waited
    /// for by this one's join (see *Nested groups* in the
    /// [type docs](ErrGroup)). [`child_builder`](Self::child_builder) gives
    /// it settings of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     // A child's results reach the parent through the task that joins it.
    ///     let parent = ErrGroup::<u32, GroupError<()>, _>::new(SmolRuntime::global());
    ///     let child = parent.child::<u32, ()>();
    ///     for n in 1..=3 {
    ///         child.spawn(async move { Ok(n) }).unwrap();
    ///     }
    ///     parent.spawn(async move { Ok(child.join().await?.iter().sum()) }).unwrap();
    ///     assert_eq!(parent.join().await.unwrap(), vec![6]);
    ///
    ///     // Cancelling the parent cancels the child's tasks.
    ///     let parent = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    ///     let child = parent.child::<(), ()>();
    ///     child.spawn(std::future::pending()).unwrap();
    ///     parent.cancel();
    ///     assert!(matches!(
    ///         child.join().await,
    ///         Err(GroupError::Cancelled(CancelCause::Parent))
    ///     ));
    /// });
    /// ```
    #[must_use]
    pub fn child<T2, E2>(&self) -> ErrGroup<T2, E2, R>
    where
        T2: Send + 'static,
        E2: Send + 'static,
    {
        self.child_builder().build()
    }

    /// A [`Builder`] for a nested group (see [`child`](Self::child)) with
    /// settings of its own: a limit, a policy, a deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     let parent = ErrGroup::<usize, GroupError<()>, _>::new(SmolRuntime::global());
    ///     let child = parent.child_builder::<u32, ()>().limit(2).build();
    ///     for n in 0..5 {
    ///         child.spawn(async move { Ok(n) }).unwrap();
    ///     }
    ///     parent.spawn(async move { Ok(child.join().await?.len()) }).unwrap();
    ///     assert_eq!(parent.join().await.unwrap(), vec![5]);
    /// });
    /// ```
    pub fn child_builder<T2, E2>(&self) -> Builder<T2, E2, R>
    where
        T2: Send + 'static,
        E2: Send + 'static,
    {
        let (shared, runtime) = self.spawner.parts();
        Builder::child_of(runtime.clone(), shared::as_parent(shared))
    }

    /// Waits for every task and returns their values in spawn order, or the
    /// first failure (by the time it happened): a task's error, or a captured
    /// panic. If the group was cancelled otherwise (explicitly, by deadline,
    /// or by a parent) and a task did not finish, returns
    /// [`GroupError::Cancelled`] with the cause; if the runtime lost a task,
    /// [`GroupError::Lost`].
    ///
    /// Values taken by [`join_next`](Self::join_next) are not returned again.
    /// Either way, `join` returns only after every task has finished or been
    /// dropped, and every [child](Self::child) group has been joined or
    /// dropped.
    ///
    /// # Errors
    ///
    /// * [`GroupError::Task`]: the first task to fail returned this error.
    /// * [`GroupError::Panicked`]: the first task to fail panicked, under
    ///   [`PanicPolicy::Capture`].
    /// * [`GroupError::Cancelled`] or [`GroupError::Lost`]: no task failed,
    ///   but some task did not finish: the group was cancelled (with this
    ///   cause), or the runtime dropped the task. The first such outcome
    ///   (by the time it happened) is returned.
    ///
    /// # Panics
    ///
    /// Resumes a task's panic, after every task has finished, under
    /// [`PanicPolicy::Resume`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the future owns the group, so dropping it drops the
    /// group, which cancels its tasks (cause [`CancelCause::GroupDropped`])
    /// and loses their results. The tasks' futures are dropped by their
    /// runtime soon after; the drop does not wait for them.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::new(SmolRuntime::global());
    ///     group.spawn(async { Ok(1) }).unwrap();
    ///     group.spawn(async { Err("bad input") }).unwrap();
    ///     group.spawn(std::future::pending()).unwrap(); // cancelled by the failure
    ///     match group.join().await {
    ///         Err(GroupError::Task(error)) => assert_eq!(error, "bad input"),
    ///         other => panic!("unexpected {other:?}"),
    ///     }
    ///
    ///     let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    ///     group.spawn(std::future::pending()).unwrap();
    ///     group.cancel();
    ///     assert!(matches!(
    ///         group.join().await,
    ///         Err(GroupError::Cancelled(CancelCause::Explicit))
    ///     ));
    /// });
    /// ```
    pub async fn join(mut self) -> Result<Vec<T>, GroupError<E>> {
        let finished = self.shared().all_finished().await;
        let finished = self.after_taken(finished);
        let mut values = Vec::with_capacity(finished.len());
        let mut failure = None;
        let mut cancellation = None;
        for (index, result) in finished {
            match result {
                Ok(value) => values.push((index, value)),
                Err(error @ (GroupError::Task(_) | GroupError::Panicked(_))) => {
                    failure.get_or_insert(error);
                }
                Err(error) => {
                    cancellation.get_or_insert(error);
                }
            }
        }
        self.joined = true;
        if let Some(failure) = failure {
            return Err(self.resume_if_panic(failure));
        }
        if let Some(cancellation) = cancellation {
            return Err(cancellation);
        }
        Ok(in_spawn_order(values))
    }

    /// Waits for every task and returns every outcome in spawn order: values,
    /// errors, captured panics, cancellations. Use it with
    /// [`keep_going`](Builder::keep_going) to collect all errors. Outcomes
    /// taken by [`join_next`](Self::join_next) are not returned again.
    ///
    /// # Panics
    ///
    /// Resumes the first task panic, after every task has finished, under
    /// [`PanicPolicy::Resume`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the future owns the group, so dropping it drops the
    /// group, which cancels its tasks (cause [`CancelCause::GroupDropped`])
    /// and loses their outcomes.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::new(SmolRuntime::global());
    ///     group.spawn(async { Ok(1) }).unwrap();
    ///     group.spawn(async { Err("bad input") }).unwrap();
    ///     group.spawn(std::future::pending()).unwrap();
    ///     let outcomes = group.join_all().await;
    ///     assert_eq!(outcomes.len(), 3);
    ///     assert!(matches!(outcomes[1], Err(GroupError::Task("bad input"))));
    ///     // The failure cancelled the task that was still running.
    ///     assert!(matches!(outcomes[2], Err(GroupError::Cancelled(CancelCause::TaskFailed))));
    /// });
    /// ```
    pub async fn join_all(mut self) -> Vec<Result<T, GroupError<E>>> {
        let finished = self.shared().all_finished().await;
        self.all_outcomes(finished)
    }

    /// `finished`, after the outcomes a `join_next` took and did not return
    /// (they finished first).
    fn after_taken(
        &mut self,
        finished: Vec<shared::Finished<T, E>>,
    ) -> Vec<shared::Finished<T, E>> {
        let taken = self
            .taken
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if taken.is_empty() {
            return finished;
        }
        let mut all: Vec<_> = core::mem::take(taken).into();
        all.extend(finished);
        all
    }

    /// Every outcome in spawn order, once every task is done; resumes a
    /// panic under [`PanicPolicy::Resume`].
    fn all_outcomes(
        &mut self,
        finished: Vec<shared::Finished<T, E>>,
    ) -> Vec<Result<T, GroupError<E>>> {
        let mut finished = self.after_taken(finished);
        self.joined = true;
        if self.policy() == PanicPolicy::Resume {
            if let Some(at) = finished
                .iter()
                .position(|(_, result)| matches!(result, Err(GroupError::Panicked(_))))
            {
                if let (_, Err(GroupError::Panicked(payload))) = finished.swap_remove(at) {
                    payload.resume();
                }
            }
        }
        in_spawn_order(finished)
    }

    /// Stops the group gracefully: refuses new tasks, asks the running ones
    /// to finish (the group's [token](Self::cancellation_token) is
    /// cancelled: `cancelled()` and `is_cancelled()` tell them), waits up to
    /// `grace` for them, then drops the ones still running — but first waits
    /// for every open [shielded](Self::shield) section. Returns every
    /// outcome and which tasks overran (see [`StopReport`]).
    ///
    /// Unlike [`cancel`](Self::cancel), which drops every task at its next
    /// poll, a stop lets a task finish what it is doing: a reply being
    /// written, a buffer being flushed. Tasks still queued behind the limit
    /// are dropped without starting. Child groups
    /// follow their parent's stop (their tasks are asked, and dropped at the
    /// same time). A forced cancellation during the grace period — a
    /// [`cancel`](Self::cancel), the group's deadline, or the first error
    /// when the group cancels on error — drops what is left at once.
    ///
    /// `grace` is how long to wait: `Duration::ZERO` asks and drops at once
    /// (shielded sections still finish); `Duration::MAX` waits for every
    /// task however long it takes (no timer). Other values are a timer on the
    /// group's runtime. Stopping consumes the group, so it cannot be stopped
    /// twice or spawned into during the stop.
    ///
    /// # Panics
    ///
    /// Resumes a task's panic, after every task has finished, under
    /// [`PanicPolicy::Resume`]; and if the runtime's `spawn` or timer panics.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: dropping the future drops the group, which drops its
    /// tasks at once (cause [`CancelCause::Stopped`], the first cause).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let server = ErrGroup::<u32, (), _>::new(SmolRuntime::global());
    ///     for request in 0..3 {
    ///         let stop = server.cancellation_token();
    ///         server.spawn(async move {
    ///             stop.cancelled().await; // serve until asked to stop...
    ///             Ok(request) // ...then finish cleanly
    ///         }).unwrap();
    ///     }
    ///     let report = server.stop(Duration::from_secs(5)).await;
    ///     assert!(report.is_clean());
    ///     assert_eq!(report.outcomes().len(), 3);
    /// });
    /// ```
    pub async fn stop(mut self, grace: Duration) -> StopReport<T, E> {
        let (shared, runtime) = self.spawner.parts();
        let (shared, runtime) = (Arc::clone(shared), runtime.clone());
        shared.begin_stop();
        let mut all = core::pin::pin!(shared.all_finished());
        let finished = if grace == Duration::MAX {
            None
        } else {
            let timer = core::pin::pin!(runtime.sleep(grace));
            first_of(all.as_mut(), timer).await.left()
        };
        #[cfg(feature = "diagnostics")]
        let mut pending = Vec::new();
        let finished = match finished {
            Some(finished) => finished,
            None if grace == Duration::MAX => all.await,
            None => {
                // The grace period is over; shielded sections still finish.
                let mut listener = None;
                let shields =
                    core::future::poll_fn(|cx| shared.shields().poll_none_open(&mut listener, cx));
                match first_of(all.as_mut(), core::pin::pin!(shields)).await {
                    First::Left(finished) => finished,
                    First::Right(()) => {
                        #[cfg(feature = "diagnostics")]
                        {
                            pending = shared.pending();
                        }
                        shared.end_grace();
                        all.await
                    }
                }
            }
        };
        let overran: Vec<TaskId> = shared.take_overran().into_iter().map(TaskId::new).collect();
        #[cfg(feature = "diagnostics")]
        pending
            .retain(|p| matches!(p.kind(), crate::PendingKind::Task(id) if overran.contains(&id)));
        let outcomes = self.all_outcomes(finished);
        StopReport::new(
            outcomes,
            overran,
            #[cfg(feature = "diagnostics")]
            pending,
        )
    }

    /// Starts a task and waits until it reports that it is ready (Trio's
    /// `nursery.start`, Go's `Start() error`): `make` gets a [`Ready`]
    /// handle and returns the task's future, which calls
    /// [`ready(value)`](Ready::ready) once it is up (say, with the address
    /// it bound). `start` returns that value with the task's id; the task
    /// goes on running in the group.
    ///
    /// Until it is ready, the future runs inside this call (on the caller's
    /// task), so a failure before readiness is the caller's alone: the
    /// group never sees the task.
    ///
    /// # Errors
    ///
    /// * [`StartError::Failed`]: the task returned an error, panicked (under
    ///   [`PanicPolicy::Capture`]) or the group was cancelled or stopped
    ///   before it was ready.
    /// * [`StartError::EndedBeforeReady`]: it returned `Ok` without
    ///   reporting ready — never a hang.
    /// * [`StartError::Closed`]: it was ready, but the group was closed
    ///   meanwhile (the task is dropped).
    ///
    /// # Panics
    ///
    /// Resumes the task's panic before readiness under
    /// [`PanicPolicy::Resume`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the task is ready drops the task (it never
    /// reached the group).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, StartError};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<(), String, _>::new(SmolRuntime::global());
    ///     let (_, address) = group
    ///         .start(|ready| async move {
    ///             let listener = smol::net::TcpListener::bind("127.0.0.1:0").await
    ///                 .map_err(|e| e.to_string())?;
    ///             ready.ready(listener.local_addr().unwrap()); // up: `start` returns
    ///             let _ = listener.accept().await; // ...and it goes on serving
    ///             Ok(())
    ///         })
    ///         .await
    ///         .unwrap();
    ///     assert!(address.ip().is_loopback());
    ///
    ///     // A task that fails before it is ready hands its error to `start`.
    ///     let failed = group.start::<(), _, _>(|_ready| async { Err("port in use".to_owned()) }).await;
    ///     let Err(StartError::Failed(error)) = failed else { panic!("it failed") };
    ///     assert_eq!(error.into_task_error().as_deref(), Some("port in use"));
    ///     group.cancel();
    ///     let _ = group.join().await;
    /// });
    /// ```
    pub async fn start<V, F, Fut>(&self, make: F) -> Result<(TaskId, V), StartError<E>>
    where
        F: FnOnce(Ready<V>) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.spawner.start(make).await
    }

    /// Runs `future` as a *shielded section* of a task: while it runs, a
    /// graceful [`stop`](Self::stop) does not drop this group's tasks (nor
    /// its parent's), even after the grace period: the stop waits for the
    /// section to end, then drops what is still running. Use it around work
    /// that must not be cut halfway, such as a write. Sections may nest (a
    /// section inside a section is part of it).
    ///
    /// A shield protects only against the grace period's end. A forced
    /// cancellation — [`cancel`](Self::cancel), the deadline, the first
    /// error, dropping the group — still drops the task at its next poll, in
    /// the section or not; and a shielded section that never ends keeps a
    /// stop waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use taskgroup::{runtime::{Runtime, SmolRuntime}, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let rt = SmolRuntime::global();
    ///     let group = ErrGroup::<(), (), _>::new(rt.clone());
    ///     let written = Arc::new(AtomicBool::new(false));
    ///     let (spawner, done) = (group.spawner(), written.clone());
    ///     let (started, go) = (taskgroup::Latch::new(1), rt.clone());
    ///     let signal = started.clone();
    ///     group.spawn(async move {
    ///         spawner.shield(async {
    ///             signal.count_down();
    ///             go.sleep(Duration::from_millis(30)).await; // a slow write
    ///             done.store(true, Ordering::SeqCst);
    ///         }).await;
    ///         Ok(())
    ///     }).unwrap();
    ///     started.wait().await;
    ///     let report = group.stop(Duration::from_millis(1)).await;
    ///     assert!(written.load(Ordering::SeqCst), "the shielded write completed");
    ///     assert!(report.is_clean() && report.outcomes()[0].is_ok());
    /// });
    /// ```
    pub fn shield<F: Future>(&self, future: F) -> Shielded<F> {
        self.spawner.shield(future)
    }

    /// Like [`join_all`](Self::join_all), but cancels what is left after
    /// `timeout` (cause [`CancelCause::Deadline`]): the tasks that completed
    /// give their values, the others `Err(GroupError::Cancelled(Deadline))`.
    /// The timeout counts from this call (a builder's
    /// [`deadline`](Builder::deadline) counts from the group's start): the
    /// way to drain a [closed](Self::close) group for a bounded time. The
    /// timer is a task spawned on the group's runtime.
    ///
    /// # Panics
    ///
    /// As [`join_all`](Self::join_all), under [`PanicPolicy::Resume`]; and
    /// if the runtime's [`spawn`](Runtime::spawn) panics.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe, as [`join_all`](Self::join_all): dropping the future
    /// drops the group, which cancels its tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup, GroupError, Latch};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<u32, (), _>::new(SmolRuntime::global());
    ///     let fast_done = Latch::new(1);
    ///     let signal = fast_done.clone();
    ///     group.spawn(async move {
    ///         signal.count_down();
    ///         Ok(1)
    ///     }).unwrap();
    ///     group.spawn(std::future::pending()).unwrap(); // too slow
    ///     fast_done.wait().await;
    ///     let outcomes = group.join_all_timeout(Duration::from_millis(10)).await;
    ///     assert!(matches!(
    ///         outcomes[..],
    ///         [Ok(1), Err(GroupError::Cancelled(CancelCause::Deadline))]
    ///     ));
    /// });
    /// ```
    pub async fn join_all_timeout(self, timeout: Duration) -> Vec<Result<T, GroupError<E>>> {
        self.spawner.cancel_after(timeout);
        self.join_all().await
    }

    /// Waits for the next task to finish and returns its outcome, in the
    /// order they finish (fan-in). `None` once no task is left (and every
    /// [child](Self::child) group has finished). Under the default policy a
    /// failure still cancels the other tasks, whose outcomes then come as
    /// `Err(GroupError::Cancelled(_))`.
    ///
    /// # Errors
    ///
    /// `Some(Err(_))` for a task that did not produce a value: its error, a
    /// captured panic, a cancellation or a loss (see [`GroupError`]).
    ///
    /// # Panics
    ///
    /// Resumes a task's panic under [`PanicPolicy::Resume`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped, no outcome is lost; the next
    /// call returns it.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let mut group = ErrGroup::new(SmolRuntime::global());
    ///     for n in 1..=4u32 {
    ///         group.spawn(async move { Ok::<_, ()>(n * n) }).unwrap();
    ///     }
    ///     let mut total = 0;
    ///     while let Some(result) = group.join_next().await {
    ///         total += result.unwrap(); // in the order the tasks finish
    ///     }
    ///     assert_eq!(total, 1 + 4 + 9 + 16);
    /// });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, GroupError<E>>> {
        Some(self.join_next_with_id().await?.1)
    }

    /// Like [`join_next`](Self::join_next), with the [`TaskId`] of the task
    /// that finished (the one its `spawn` returned).
    ///
    /// # Errors
    ///
    /// As [`join_next`](Self::join_next).
    ///
    /// # Panics
    ///
    /// Resumes a task's panic under [`PanicPolicy::Resume`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as `join_next`.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{ErrGroup, GroupError, runtime::SmolRuntime};
    ///
    /// smol::block_on(async {
    ///     let mut group = ErrGroup::new(SmolRuntime::global());
    ///     let failing = group.spawn(async { Err::<(), _>("disk full") }).unwrap();
    ///     let (id, result) = group.join_next_with_id().await.unwrap();
    ///     assert_eq!(id, failing);
    ///     assert!(matches!(result, Err(GroupError::Task("disk full"))));
    /// });
    /// ```
    pub async fn join_next_with_id(&mut self) -> Option<IdentifiedOutcome<T, E>> {
        // Its own registration, dropped with the future (a dropped
        // `join_next` leaves nothing behind in the group).
        let mut listener = None;
        let (index, result) =
            core::future::poll_fn(|cx| self.poll_next_indexed(&mut listener, cx)).await?;
        Some((TaskId::new(index), result))
    }

    /// The poll form of [`join_next`](Self::join_next), for a hand-written
    /// future or stream (tokio's `JoinSet::poll_join_next`): `Ready(Some(_))`
    /// with the next outcome, `Ready(None)` once no task is left, or
    /// `Pending`, with `cx`'s waker registered to be woken when a task
    /// finishes.
    ///
    /// # Errors
    ///
    /// As [`join_next`](Self::join_next).
    ///
    /// # Panics
    ///
    /// Resumes a task's panic under [`PanicPolicy::Resume`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::Poll;
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let mut group = ErrGroup::new(SmolRuntime::global());
    ///     group.spawn(async { Ok::<_, ()>(7) }).unwrap();
    ///     let next = std::future::poll_fn(|cx| group.poll_join_next(cx)).await;
    ///     assert!(matches!(next, Some(Ok(7))));
    ///     // No task left: `Ready(None)` at once.
    ///     let waker = std::task::Waker::noop();
    ///     let done = group.poll_join_next(&mut std::task::Context::from_waker(waker));
    ///     assert!(matches!(done, Poll::Ready(None)));
    /// });
    /// ```
    pub fn poll_join_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<T, GroupError<E>>>> {
        self.poll_join_next_with_id(cx)
            .map(|next| next.map(|(_, result)| result))
    }

    /// The poll form of [`join_next_with_id`](Self::join_next_with_id) (see
    /// [`poll_join_next`](Self::poll_join_next)).
    ///
    /// # Errors
    ///
    /// As [`join_next`](Self::join_next).
    ///
    /// # Panics
    ///
    /// Resumes a task's panic under [`PanicPolicy::Resume`].
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let mut group = ErrGroup::new(SmolRuntime::global());
    ///     let id = group.spawn(async { Ok::<_, ()>(7) }).unwrap();
    ///     let next = std::future::poll_fn(|cx| group.poll_join_next_with_id(cx)).await;
    ///     assert!(matches!(next, Some((finished, Ok(7))) if finished == id));
    /// });
    /// ```
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<IdentifiedOutcome<T, E>>> {
        let mut listener = self.listener.take();
        let next = self.poll_next_indexed(&mut listener, cx);
        self.listener = listener;
        next.map(|next| next.map(|(index, result)| (TaskId::new(index), result)))
    }

    /// The next finished task with its spawn index, panics resumed as the
    /// policy says (for the patterns, which keep their own order).
    fn poll_next_indexed(
        &mut self,
        listener: &mut Option<EventListener>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<shared::Finished<T, E>>> {
        let taken = self
            .taken
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let next = self
            .spawner
            .parts()
            .0
            .poll_next_finished(listener, taken, cx);
        next.map(|next| {
            next.map(|(index, result)| (index, result.map_err(|e| self.resume_if_panic(e))))
        })
    }

    fn policy(&self) -> PanicPolicy {
        self.shared().config().panic_policy
    }

    fn resume_if_panic(&self, error: GroupError<E>) -> GroupError<E> {
        match error {
            GroupError::Panicked(payload) if self.policy() == PanicPolicy::Resume => {
                payload.resume()
            }
            error => error,
        }
    }

    /// Cancels every task of the group (cause [`CancelCause::Explicit`], if
    /// it is the first cause): each task's future is dropped at its next poll,
    /// and a queued task never starts. Cancelling again does nothing. The
    /// group still has to be joined (or dropped); its join reports the tasks
    /// that did not finish as [`GroupError::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    ///     group.spawn(std::future::pending()).unwrap();
    ///     group.cancel();
    ///     assert!(group.cancellation_token().is_cancelled());
    ///     let outcomes = group.join_all().await;
    ///     assert!(matches!(outcomes[..], [Err(GroupError::Cancelled(CancelCause::Explicit))]));
    /// });
    /// ```
    pub fn cancel(&self) {
        self.shared().cancel(CancelCause::Explicit);
    }

    /// Why the group was cancelled, or `None` if it was not. The first cause
    /// wins and does not change afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let mut group = ErrGroup::<(), _, _>::new(SmolRuntime::global());
    ///     assert_eq!(group.cause(), None);
    ///     group.spawn(async { Err("timeout talking to the database") }).unwrap();
    ///     let failed = group.join_next().await.unwrap();
    ///     assert!(failed.is_err());
    ///     assert_eq!(group.cause(), Some(CancelCause::TaskFailed));
    ///     group.cancel(); // a later cause does not replace the first
    ///     assert_eq!(group.cause(), Some(CancelCause::TaskFailed));
    /// });
    /// ```
    #[must_use]
    pub fn cause(&self) -> Option<CancelCause> {
        self.shared().cause()
    }

    /// Refuses new tasks from now on: [`Spawner::spawn`] and
    /// [`try_spawn`](Self::try_spawn) hand the future back, and
    /// [`spawn`](Self::spawn) panics. Tasks already spawned run on. Use it to
    /// stop a service's intake before draining it with a join (tokio's
    /// `TaskTracker::close` does not stop spawns, tokio#6759; this does).
    /// Closing cannot be undone; closing again does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<u32, (), _>::new(SmolRuntime::global());
    ///     let spawner = group.spawner();
    ///     group.spawn(async { Ok(1) }).unwrap();
    ///     group.close();
    ///     // Refused from now on: the futures come back.
    ///     assert!(group.try_spawn(async { Ok(2) }).is_err());
    ///     assert!(spawner.spawn(async { Ok(3) }).is_err());
    ///     // The task spawned before `close` still runs.
    ///     assert_eq!(group.join().await.unwrap(), vec![1]);
    /// });
    /// ```
    pub fn close(&self) {
        self.shared().close_spawning();
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    /// assert!(!group.is_closed());
    /// group.close();
    /// assert!(group.is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared().is_closed()
    }

    /// The group's token: cancelled when the group cancels its tasks.
    /// Cancelling it cancels the group (cause [`CancelCause::Explicit`]).
    /// Work outside the group (other tasks, threads, child tokens) can watch
    /// it; the group's own tasks are dropped when it fires, so their cleanup
    /// belongs in `Drop`.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<(), &str, _>::new(SmolRuntime::global());
    ///     let token = group.cancellation_token();
    ///     // Work outside the group stops with it: here, a plain thread.
    ///     let watcher = std::thread::spawn(move || {
    ///         futures::executor::block_on(token.cancelled());
    ///         "stopped"
    ///     });
    ///     group.spawn(async { Err("failed") }).unwrap(); // cancels the group
    ///     assert!(group.join().await.is_err());
    ///     assert_eq!(watcher.join().unwrap(), "stopped");
    /// });
    /// ```
    #[must_use]
    pub fn cancellation_token(&self) -> CancellationToken {
        self.shared().token().clone()
    }

    /// Tasks spawned whose outcome has not been taken yet (running, queued,
    /// or finished and waiting for a join). A snapshot: tasks spawned through
    /// a [`Spawner`] may change it at any time.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let mut group = ErrGroup::new(SmolRuntime::global());
    ///     group.spawn(async { Ok::<_, ()>(1) }).unwrap();
    ///     group.spawn(async { Ok(2) }).unwrap();
    ///     assert_eq!(group.len(), 2); // finished or not, not taken yet
    ///     group.join_next().await;
    ///     assert_eq!(group.len(), 1);
    /// });
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        let (unfinished, unjoined) = self.shared().unfinished_and_unjoined();
        unfinished + unjoined + self.taken_len()
    }

    /// `len() == 0`: every outcome has been taken (or nothing was spawned).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let mut group = ErrGroup::<u32, (), _>::new(SmolRuntime::global());
    ///     assert!(group.is_empty());
    ///     group.spawn(async { Ok(7) }).unwrap();
    ///     assert!(!group.is_empty());
    ///     assert_eq!(group.join_next().await.unwrap().unwrap(), 7);
    ///     assert!(group.is_empty());
    /// });
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tasks that have not finished yet (running, or queued behind the
    /// limit), in spawn order, each with the source line that spawned it and
    /// its name (feature `diagnostics`). Print it when a join takes too long.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "diagnostics")] {
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, PendingKind};
    ///
    /// let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    /// let id = group.spawn_named("never ends", std::future::pending()).unwrap();
    /// let pending = group.pending();
    /// assert_eq!(pending[0].kind(), PendingKind::Task(id));
    /// assert_eq!(pending[0].name(), Some("never ends"));
    /// println!("{}", pending[0]); // task #0 "never ends" spawned at src/main.rs:6:7
    /// # }
    /// ```
    #[cfg(feature = "diagnostics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "diagnostics")))]
    #[must_use]
    pub fn pending(&self) -> Vec<crate::Pending> {
        self.spawner.pending()
    }
}

impl<T, E, R: Runtime> ErrGroup<T, E, R> {
    fn shared(&self) -> &Shared<T, E> {
        self.spawner.parts().0
    }

    /// Outcomes a `join_next` took from the queue and has not returned yet.
    fn taken_len(&self) -> usize {
        self.taken
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

impl<T, E, R: Runtime> Drop for ErrGroup<T, E, R> {
    fn drop(&mut self) {
        self.shared().close(self.joined);
    }
}

impl<T, E, R: Runtime> fmt::Debug for ErrGroup<T, E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.spawner.fmt_with_taken(f, self.taken_len())
    }
}

/// The values of `indexed` ordered by their index (spawn indexes: distinct).
/// The outcomes come in the order the tasks finished, which on one thread is
/// usually spawn order already; otherwise each value is placed at its index
/// (one pass, where a comparison sort costs a `log n` factor), unless the
/// indexes are too sparse for that.
fn in_spawn_order<V>(indexed: Vec<(usize, V)>) -> Vec<V> {
    let mut indexes = indexed.iter().map(|&(index, _)| index);
    let Some(first) = indexes.next() else {
        return Vec::new();
    };
    let (mut low, mut high, mut sorted, mut previous) = (first, first, true, first);
    for index in indexes {
        sorted &= previous < index;
        low = low.min(index);
        high = high.max(index);
        previous = index;
    }
    if sorted {
        return indexed.into_iter().map(|(_, value)| value).collect();
    }
    let span = high - low + 1;
    if span / 2 > indexed.len() {
        let mut indexed = indexed;
        indexed.sort_unstable_by_key(|&(index, _)| index);
        return indexed.into_iter().map(|(_, value)| value).collect();
    }
    let mut slots: Vec<Option<V>> = core::iter::repeat_with(|| None).take(span).collect();
    for (index, value) in indexed {
        slots[index - low] = Some(value);
    }
    slots.into_iter().flatten().collect()
}

/// Which of two futures finished first.
enum First<A, B> {
    Left(A),
    Right(B),
}

impl<A, B> First<A, B> {
    fn left(self) -> Option<A> {
        match self {
            Self::Left(a) => Some(a),
            Self::Right(_) => None,
        }
    }
}

/// Polls `a`, then `b`, until one is ready (`a` wins a tie).
async fn first_of<A: Future, B: Future>(
    mut a: core::pin::Pin<&mut A>,
    mut b: core::pin::Pin<&mut B>,
) -> First<A::Output, B::Output> {
    core::future::poll_fn(|cx| {
        if let Poll::Ready(a) = a.as_mut().poll(cx) {
            return Poll::Ready(First::Left(a));
        }
        b.as_mut().poll(cx).map(First::Right)
    })
    .await
}
