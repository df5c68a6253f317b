//! [`ErrGroup`]: spawn futures on any runtime, join their results, and cancel
//! the rest on the first error (Go's `errgroup`, Python's `asyncio.TaskGroup`,
//! Java's `StructuredTaskScope`).

mod error;
mod shared;
mod task;

use core::fmt;
use core::future::Future;
use core::time::Duration;
use std::borrow::Cow;

pub use error::{CancelCause, GroupError, PanicPayload};

use self::shared::{Finished, Shared};
use self::task::{Recorder, Slot, Task, Worker};
use crate::runtime::Runtime;
use crate::sync::Arc;
use crate::{CancellationToken, Name};

/// Which task of a group: its position in spawn order (0 for the first task
/// spawned). Returned by `spawn`, and with each outcome by
/// [`join_next_with_id`](ErrGroup::join_next_with_id), so a caller can tell
/// which task failed or was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub usize);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task #{}", self.0)
    }
}

/// What the group's joiner does with a task that panicked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PanicPolicy {
    /// Resume the panic in the task that calls `join`/`join_next`/`join_all`
    /// (after every task has finished, for `join` and `join_all`), payload
    /// intact. The default: a panic is a bug, and should look like one.
    #[default]
    Resume,
    /// Report it as [`GroupError::Panicked`] with its payload (conc's
    /// `WaitAndRecover`).
    Capture,
}

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
///   first error and bounds concurrency with [`with_limit`](ErrGroup::with_limit).
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
///   [`keep_going`](ErrGroup::keep_going) turns this off (Go's `conc` error
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
/// join waits until the child has been joined or dropped and its tasks are
/// gone. A child's errors go to whoever joins the child; they reach the parent
/// when that code returns them (`child.join().await` inside a parent task,
/// with `?`), as with Python's nested task groups.
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
///         group.spawn(async move { Ok::<_, String>(n * 10) });
///     }
///     assert_eq!(group.join().await.unwrap(), vec![10, 20, 30]);
///
///     let group = ErrGroup::new(SmolRuntime::global());
///     group.spawn(async { Err::<u32, _>("no route to host") });
///     group.spawn(std::future::pending()); // cancelled by the error
///     match group.join().await {
///         Err(GroupError::Task(error)) => assert_eq!(error, "no route to host"),
///         other => panic!("unexpected {other:?}"),
///     }
/// });
/// ```
pub struct ErrGroup<T, E, R: Runtime> {
    spawner: Spawner<T, E, R>,
    joined: bool,
}

/// A handle that spawns into an [`ErrGroup`] from anywhere — inside its own
/// tasks, for dynamic fan-out — without owning the group: the group's owner
/// still joins it, and dropping the group still cancels everything.
///
/// Spawning after the group was joined or dropped is refused.
pub struct Spawner<T, E, R: Runtime> {
    shared: Arc<Shared<T, E>>,
    runtime: R,
}

impl<T, E, R> ErrGroup<T, E, R>
where
    T: Send + 'static,
    E: Send + 'static,
    R: Runtime,
{
    /// A group that spawns on `runtime`, with no limit: every task starts
    /// when it is spawned. Errors cancel the other tasks and panics are
    /// resumed in the joiner (see [`keep_going`](Self::keep_going) and
    /// [`with_panic_policy`](Self::with_panic_policy) to change that).
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
    ///         group.spawn(async move { Ok::<_, std::io::Error>(word.len()) });
    ///     }
    ///     assert_eq!(group.join().await.unwrap(), vec![5, 4]);
    /// });
    /// ```
    #[must_use]
    pub fn new(runtime: R) -> Self {
        Self::with_token(runtime, CancellationToken::new(), None)
    }

    /// A group whose token is a child of `parent` (Go's
    /// `errgroup.WithContext(ctx)`): cancelling `parent` cancels the group's
    /// tasks (cause [`CancelCause::Parent`]); the group's own cancellation
    /// leaves `parent` alone.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, CancellationToken, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     let shutdown = CancellationToken::new();
    ///     let group = ErrGroup::<(), (), _>::with_parent_token(SmolRuntime::global(), &shutdown);
    ///     group.spawn(std::future::pending());
    ///     shutdown.cancel();
    ///     assert!(matches!(group.join().await, Err(GroupError::Cancelled(CancelCause::Parent))));
    /// });
    /// ```
    #[must_use]
    pub fn with_parent_token(runtime: R, parent: &CancellationToken) -> Self {
        let group = Self::with_token(runtime, parent.child_token(), None);
        group.spawner.shared.lock().parent_token = Some(parent.clone());
        group
    }

    fn with_token(
        runtime: R,
        token: CancellationToken,
        parent: Option<Box<dyn shared::ChildLink>>,
    ) -> Self {
        Self {
            spawner: Spawner {
                shared: Arc::new(Shared::new(token, parent)),
                runtime,
            },
            joined: false,
        }
    }

    /// At most `limit` of this group's futures run at once; the others wait
    /// their turn in FIFO order. `spawn` never blocks: a waiting task costs
    /// its future, boxed, in a queue.
    ///
    /// # Panics
    ///
    /// If `limit` is zero (nothing could ever run).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{ErrGroup, runtime::SmolRuntime};
    ///
    /// let group = ErrGroup::<(), (), _>::new(SmolRuntime::global()).with_limit(4);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn with_limit(self, limit: usize) -> Self {
        assert!(
            limit > 0,
            "ErrGroup::with_limit(0): a limit of zero would never run any task"
        );
        self.spawner.shared.lock().limit = Some(limit);
        self
    }

    /// Errors no longer cancel the other tasks: every task runs to its end,
    /// and [`join_all`](Self::join_all) returns every outcome (Go's `conc`
    /// `ErrorPool`). `join` still returns the first error, once every task
    /// has finished. A panicking task does not cancel the others either; what
    /// the joiner does with the panic is still up to the [`PanicPolicy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::new(SmolRuntime::global()).keep_going();
    ///     for n in 1..=4u32 {
    ///         group.spawn(async move { if n % 2 == 0 { Err(n) } else { Ok(n) } });
    ///     }
    ///     // Nothing was cancelled: every task ran, every outcome is there.
    ///     let outcomes = group.join_all().await;
    ///     assert!(matches!(
    ///         outcomes[..],
    ///         [Ok(1), Err(GroupError::Task(2)), Ok(3), Err(GroupError::Task(4))]
    ///     ));
    /// });
    /// ```
    #[must_use]
    pub fn keep_going(self) -> Self {
        self.spawner.shared.lock().cancel_on_error = false;
        self
    }

    /// Chooses what the joiner does with a panicking task (the default is
    /// [`PanicPolicy::Resume`]). Either way the panic is caught in the task
    /// and counts as a failure (it cancels the other tasks unless the group
    /// [keeps going](Self::keep_going)).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, PanicPolicy};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<(), (), _>::new(SmolRuntime::global())
    ///         .with_panic_policy(PanicPolicy::Capture);
    ///     group.spawn(async { panic!("bug in the parser") });
    ///     // Captured: an error value, not a panic in this task.
    ///     let error = group.join().await.unwrap_err();
    ///     assert_eq!(error.panic_message(), Some("bug in the parser"));
    /// });
    /// ```
    #[must_use]
    pub fn with_panic_policy(self, policy: PanicPolicy) -> Self {
        self.spawner.shared.lock().panic_policy = policy;
        self
    }

    /// Cancels the group (cause [`CancelCause::Deadline`]) if it has not
    /// been joined after `timeout`, counted from this call. The timer is a
    /// small task spawned on the group's runtime; it stops when the group is
    /// joined or dropped.
    ///
    /// # Panics
    ///
    /// If the runtime's [`spawn`](Runtime::spawn) panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<(), (), _>::new(SmolRuntime::global())
    ///         .with_deadline(Duration::from_millis(10));
    ///     group.spawn(std::future::pending()); // never finishes by itself
    ///     assert!(matches!(
    ///         group.join().await,
    ///         Err(GroupError::Cancelled(CancelCause::Deadline))
    ///     ));
    /// });
    /// ```
    #[must_use]
    pub fn with_deadline(self, timeout: Duration) -> Self {
        self.schedule_deadline(timeout);
        self
    }

    fn schedule_deadline(&self, timeout: Duration) {
        let shared = Arc::clone(&self.spawner.shared);
        let sleep = self.spawner.runtime.sleep(timeout);
        self.spawner.runtime.spawn(async move {
            let handle_gone = shared.handle_gone_token().clone();
            if handle_gone.run_until_cancelled(sleep).await.is_some() {
                shared.cancel(CancelCause::Deadline);
            }
        });
    }

    /// Spawns `future` as a task of the group and returns its [`TaskId`]
    /// (its position in spawn order).
    ///
    /// With a [limit](Self::with_limit) reached, the task waits its turn.
    /// If the group is cancelled before the task finishes, its future is
    /// dropped at its next poll (or never polled, if it had not started).
    ///
    /// # Panics
    ///
    /// If the group was [closed](Self::close): spawning into a closed group
    /// is a bug in the caller (use [`Spawner::spawn`] to get the future
    /// back instead). Also if the runtime's [`spawn`](Runtime::spawn) panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, TaskId};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::new(SmolRuntime::global());
    ///     let first = group.spawn(async { Ok::<_, ()>("first") });
    ///     let second = group.spawn(async { Ok("second") });
    ///     assert_eq!((first, second), (TaskId(0), TaskId(1)));
    ///     assert_eq!(group.join().await.unwrap(), ["first", "second"]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> TaskId
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        spawned_or_panic(self.spawner.spawn(future))
    }

    /// As [`spawn`](Self::spawn), with a name for the task: shown by
    /// [`pending`](Self::pending) (feature `diagnostics`) and on the task's
    /// span (feature `tracing`). With neither feature the name is dropped.
    ///
    /// # Panics
    ///
    /// As [`spawn`](Self::spawn): if the group was closed, or the runtime's
    /// `spawn` panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<u32, (), _>::new(SmolRuntime::global());
    ///     group.spawn_named("answer", async { Ok(42) });
    ///     assert_eq!(group.join().await.unwrap(), vec![42]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_named<F>(&self, name: impl Into<Cow<'static, str>>, future: F) -> TaskId
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        spawned_or_panic(self.spawner.spawn_named(name, future))
    }

    /// Spawns `future` only if it can start now: with a limit reached, hands
    /// the future back instead (Go's `TryGo`). Without a limit it always
    /// starts, unless the group was closed.
    ///
    /// # Errors
    ///
    /// `Err(future)`, the future untouched, when the group's limit is
    /// reached or the group was [closed](Self::close).
    ///
    /// # Panics
    ///
    /// If the runtime's [`spawn`](Runtime::spawn) panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, Latch};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<u32, (), _>::new(SmolRuntime::global()).with_limit(1);
    ///     let gate = Latch::new(1);
    ///     let held = gate.clone();
    ///     let slow = async move {
    ///         held.wait().await;
    ///         Ok(1)
    ///     };
    ///     assert!(group.try_spawn(slow).is_ok()); // takes the only slot
    ///     // Full: the future comes back instead of waiting in the queue.
    ///     let refused = group.try_spawn(async { Ok(2) }).unwrap_err();
    ///     group.spawn(refused); // `spawn` queues it instead
    ///     gate.count_down();
    ///     assert_eq!(group.join().await.unwrap(), vec![1, 2]);
    /// });
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<TaskId, F>
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
    ///     });
    ///     assert_eq!(group.join().await.unwrap(), vec![1, 2]);
    /// });
    /// ```
    #[must_use]
    pub fn spawner(&self) -> Spawner<T, E, R> {
        self.spawner.clone()
    }

    /// A nested group on the same runtime: cancelled with this one (cause
    /// [`CancelCause::Parent`]), and waited for by this one's join (see
    /// *Nested groups* in the [type docs](ErrGroup)). Its own settings
    /// (limit, policy, deadline) start from the defaults.
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
    ///         child.spawn(async move { Ok(n) });
    ///     }
    ///     parent.spawn(async move { Ok(child.join().await?.iter().sum()) });
    ///     assert_eq!(parent.join().await.unwrap(), vec![6]);
    ///
    ///     // Cancelling the parent cancels the child's tasks.
    ///     let parent = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    ///     let child = parent.child::<(), ()>();
    ///     child.spawn(std::future::pending());
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
        // The child's span is created under this group's.
        #[cfg(feature = "tracing")]
        let _in_parent = self.spawner.shared.span.enter();
        ErrGroup::with_token(
            self.spawner.runtime.clone(),
            self.spawner.shared.token().child_token(),
            Some(shared::child_link(&self.spawner.shared)),
        )
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
    ///     group.spawn(async { Ok(1) });
    ///     group.spawn(async { Err("bad input") });
    ///     group.spawn(std::future::pending()); // cancelled by the failure
    ///     match group.join().await {
    ///         Err(GroupError::Task(error)) => assert_eq!(error, "bad input"),
    ///         other => panic!("unexpected {other:?}"),
    ///     }
    ///
    ///     let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    ///     group.spawn(std::future::pending());
    ///     group.cancel();
    ///     assert!(matches!(
    ///         group.join().await,
    ///         Err(GroupError::Cancelled(CancelCause::Explicit))
    ///     ));
    /// });
    /// ```
    pub async fn join(mut self) -> Result<Vec<T>, GroupError<E>> {
        let finished = self.spawner.shared.all_finished().await;
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
    /// [`keep_going`](Self::keep_going) to collect all errors. Outcomes
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
    ///     group.spawn(async { Ok(1) });
    ///     group.spawn(async { Err("bad input") });
    ///     group.spawn(std::future::pending());
    ///     let outcomes = group.join_all().await;
    ///     assert_eq!(outcomes.len(), 3);
    ///     assert!(matches!(outcomes[1], Err(GroupError::Task("bad input"))));
    ///     // The failure cancelled the task that was still running.
    ///     assert!(matches!(outcomes[2], Err(GroupError::Cancelled(CancelCause::TaskFailed))));
    /// });
    /// ```
    pub async fn join_all(mut self) -> Vec<Result<T, GroupError<E>>> {
        let mut finished = self.spawner.shared.all_finished().await;
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

    /// Like [`join_all`](Self::join_all), but cancels what is left after
    /// `timeout` (cause [`CancelCause::Deadline`]): the tasks that completed
    /// give their values, the others `Err(GroupError::Cancelled(Deadline))`.
    /// The timeout counts from this call; the timer is a task spawned on the
    /// group's runtime.
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
    ///     });
    ///     group.spawn(std::future::pending()); // too slow
    ///     fast_done.wait().await;
    ///     let outcomes = group.join_all_timeout(Duration::from_millis(10)).await;
    ///     assert!(matches!(
    ///         outcomes[..],
    ///         [Ok(1), Err(GroupError::Cancelled(CancelCause::Deadline))]
    ///     ));
    /// });
    /// ```
    pub async fn join_all_timeout(self, timeout: Duration) -> Vec<Result<T, GroupError<E>>> {
        self.schedule_deadline(timeout);
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
    ///         group.spawn(async move { Ok::<_, ()>(n * n) });
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
    ///     let failing = group.spawn(async { Err::<(), _>("disk full") });
    ///     let (id, result) = group.join_next_with_id().await.unwrap();
    ///     assert_eq!(id, failing);
    ///     assert!(matches!(result, Err(GroupError::Task("disk full"))));
    /// });
    /// ```
    pub async fn join_next_with_id(&mut self) -> Option<(TaskId, Result<T, GroupError<E>>)> {
        let (index, result) = self.spawner.shared.next_finished().await?;
        Some((
            TaskId(index),
            result.map_err(|error| self.resume_if_panic(error)),
        ))
    }

    /// The next finished task with its spawn index, panics resumed as the
    /// policy says (for the patterns, which keep their own order).
    pub(crate) fn poll_next_indexed(
        &self,
        listener: &mut Option<event_listener::EventListener>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<Option<Finished<T, E>>> {
        self.spawner
            .shared
            .poll_next_finished(listener, cx)
            .map(|next| {
                next.map(|(index, result)| (index, result.map_err(|e| self.resume_if_panic(e))))
            })
    }

    fn policy(&self) -> PanicPolicy {
        self.spawner.shared.lock().panic_policy
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
    ///     group.spawn(std::future::pending());
    ///     group.cancel();
    ///     assert!(group.cancellation_token().is_cancelled());
    ///     let outcomes = group.join_all().await;
    ///     assert!(matches!(outcomes[..], [Err(GroupError::Cancelled(CancelCause::Explicit))]));
    /// });
    /// ```
    pub fn cancel(&self) {
        self.spawner.shared.cancel(CancelCause::Explicit);
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
    ///     group.spawn(async { Err("timeout talking to the database") });
    ///     let failed = group.join_next().await.unwrap();
    ///     assert!(failed.is_err());
    ///     assert_eq!(group.cause(), Some(CancelCause::TaskFailed));
    ///     group.cancel(); // a later cause does not replace the first
    ///     assert_eq!(group.cause(), Some(CancelCause::TaskFailed));
    /// });
    /// ```
    #[must_use]
    pub fn cause(&self) -> Option<CancelCause> {
        self.spawner.shared.cause()
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
    ///     group.spawn(async { Ok(1) });
    ///     group.close();
    ///     // Refused from now on: the futures come back.
    ///     assert!(group.try_spawn(async { Ok(2) }).is_err());
    ///     assert!(spawner.spawn(async { Ok(3) }).is_err());
    ///     // The task spawned before `close` still runs.
    ///     assert_eq!(group.join().await.unwrap(), vec![1]);
    /// });
    /// ```
    pub fn close(&self) {
        self.spawner.shared.lock().closed = true;
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
        self.spawner.shared.lock().closed
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
    ///     group.spawn(async { Err("failed") }); // cancels the group
    ///     assert!(group.join().await.is_err());
    ///     assert_eq!(watcher.join().unwrap(), "stopped");
    /// });
    /// ```
    #[must_use]
    pub fn cancellation_token(&self) -> CancellationToken {
        self.spawner.shared.token().clone()
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
    ///     group.spawn(async { Ok::<_, ()>(1) });
    ///     group.spawn(async { Ok(2) });
    ///     assert_eq!(group.len(), 2); // finished or not, not taken yet
    ///     group.join_next().await;
    ///     assert_eq!(group.len(), 1);
    /// });
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        let (unfinished, unjoined) = self.spawner.shared.unfinished_and_unjoined();
        unfinished + unjoined
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
    ///     group.spawn(async { Ok(7) });
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
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, PendingKind, TaskId};
    ///
    /// let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    /// group.spawn_named("never ends", std::future::pending());
    /// let pending = group.pending();
    /// assert_eq!(pending[0].kind(), PendingKind::Task(TaskId(0)));
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

impl<T, E, R: Runtime> Drop for ErrGroup<T, E, R> {
    fn drop(&mut self) {
        self.spawner.shared.close(self.joined);
    }
}

impl<T, E, R: Runtime> fmt::Debug for ErrGroup<T, E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.spawner, f)
    }
}

impl<T, E, R> Spawner<T, E, R>
where
    T: Send + 'static,
    E: Send + 'static,
    R: Runtime,
{
    /// Spawns `future` into the group (queued if the group's limit is
    /// reached) and returns its [`TaskId`]. Unlike [`ErrGroup::spawn`], a
    /// refusal is a value, not a panic: a spawner may outlive its group.
    ///
    /// # Errors
    ///
    /// `Err(future)`, the future untouched, if the group was
    /// [closed](ErrGroup::close), joined or dropped.
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
    ///     let group = ErrGroup::<u32, (), _>::new(SmolRuntime::global());
    ///     let spawner = group.spawner();
    ///     assert!(spawner.spawn(async { Ok(1) }).is_ok());
    ///     assert_eq!(group.join().await.unwrap(), vec![1]);
    ///     // The group is gone: the future is handed back.
    ///     assert!(spawner.spawn(async { Ok(2) }).is_err());
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<TaskId, F>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.place(future, false, None)
    }

    /// As [`spawn`](Self::spawn), with a name (see [`ErrGroup::spawn_named`]).
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn): `Err(future)` if the group was closed,
    /// joined or dropped.
    ///
    /// # Panics
    ///
    /// If the runtime's [`spawn`](Runtime::spawn) panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, TaskId};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<&str, (), _>::new(SmolRuntime::global());
    ///     let spawner = group.spawner();
    ///     let id = spawner.spawn_named("greeter", async { Ok("hello") });
    ///     assert_eq!(id.ok(), Some(TaskId(0)));
    ///     assert_eq!(group.join().await.unwrap(), ["hello"]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_named<F>(&self, name: impl Into<Cow<'static, str>>, future: F) -> Result<TaskId, F>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.place(future, false, Some(name.into()))
    }

    /// Spawns `future` only if it can start now (see
    /// [`ErrGroup::try_spawn`]).
    ///
    /// # Errors
    ///
    /// `Err(future)`, the future untouched, if the group's limit is reached,
    /// or the group was closed, joined or dropped.
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
    ///     let group = ErrGroup::<(), (), _>::new(SmolRuntime::global()).with_limit(1);
    ///     let spawner = group.spawner();
    ///     assert!(spawner.try_spawn(std::future::pending()).is_ok()); // holds the slot
    ///     assert!(spawner.try_spawn(async { Ok(()) }).is_err()); // full
    ///     group.cancel();
    ///     assert!(group.join().await.is_err()); // the pending task was cancelled
    /// });
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<TaskId, F>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.place(future, true, None)
    }

    #[track_caller]
    #[cfg_attr(
        not(any(feature = "diagnostics", feature = "tracing")),
        allow(unused_variables)
    )]
    fn place<F>(&self, future: F, refuse_when_full: bool, name: Name) -> Result<TaskId, F>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(future);
        }
        let placement = match state.limit {
            None => Placement::Direct,
            Some(limit) if state.running < limit => {
                state.running += 1;
                Placement::NewWorker
            }
            Some(_) if refuse_when_full => return Err(future),
            Some(_) => Placement::Queued,
        };
        let index = state.next_index;
        state.next_index += 1;
        self.shared.count_spawned(&mut state);
        #[cfg(feature = "diagnostics")]
        state.origins.insert(
            index,
            crate::diagnostics::Origin::new(core::panic::Location::caller(), name.clone()),
        );
        // Building the task runs no user code (an `async fn` does nothing
        // until polled), so a queued task joins the queue in this same
        // critical section: FIFO holds, and no worker can miss it.
        let task = Task::new(Recorder::new(Arc::clone(&self.shared), index), future);
        #[cfg(feature = "tracing")]
        let task = tracing::Instrument::instrument(
            task,
            tracing::debug_span!(parent: &self.shared.span, "task", id = index, name = name.as_deref()),
        );
        match placement {
            Placement::Queued => state.queue.push_back(Box::pin(task)),
            // A slot is free while tasks queue (a worker was lost): the new
            // worker takes the queue's head, and the new task queues behind
            // it, so FIFO holds and the slot is not left empty.
            Placement::NewWorker if !state.queue.is_empty() => {
                state.queue.push_back(Box::pin(task));
                let head = state.queue.pop_front().expect("the queue is not empty");
                drop(state);
                let slot = Slot::new(Arc::clone(&self.shared));
                self.shared
                    .keep(self.runtime.spawn_with_handle(Worker::new(slot, head)));
            }
            Placement::NewWorker => {
                drop(state);
                let slot = Slot::new(Arc::clone(&self.shared));
                self.shared
                    .keep(self.runtime.spawn_with_handle(Worker::new(slot, task)));
            }
            Placement::Direct => {
                drop(state);
                self.shared.keep(self.runtime.spawn_with_handle(task));
            }
        }
        Ok(TaskId(index))
    }

    /// The group's cancellation token (see
    /// [`ErrGroup::cancellation_token`]): cancelled when the group cancels
    /// its tasks; cancelling it cancels the group.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    /// let token = group.spawner().cancellation_token();
    /// assert!(!token.is_cancelled());
    /// group.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    #[must_use]
    pub fn cancellation_token(&self) -> CancellationToken {
        self.shared.token().clone()
    }

    /// Why the group was cancelled, or `None` if it was not (see
    /// [`ErrGroup::cause`]). Still answers after the group is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup};
    ///
    /// let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    /// let spawner = group.spawner();
    /// group.spawn(std::future::pending());
    /// assert_eq!(spawner.cause(), None);
    /// drop(group); // dropped before its task finished
    /// assert_eq!(spawner.cause(), Some(CancelCause::GroupDropped));
    /// ```
    #[must_use]
    pub fn cause(&self) -> Option<CancelCause> {
        self.shared.cause()
    }
}

#[cfg(feature = "diagnostics")]
impl<T, E, R: Runtime> Spawner<T, E, R> {
    /// The unfinished tasks (see [`ErrGroup::pending`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "diagnostics")] {
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, TaskId};
    ///
    /// let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    /// let spawner = group.spawner();
    /// let id = spawner.spawn_named("poll the queue", std::future::pending()).ok().unwrap();
    /// let pending = spawner.pending();
    /// assert_eq!(pending.len(), 1);
    /// assert_eq!(pending[0].kind(), taskgroup::PendingKind::Task(id));
    /// assert_eq!(pending[0].name(), Some("poll the queue"));
    /// assert_eq!(id, TaskId(0));
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "diagnostics")))]
    #[must_use]
    pub fn pending(&self) -> Vec<crate::Pending> {
        let state = self.shared.lock();
        let origins = state.origins.iter();
        origins
            .map(|(&index, origin)| origin.pending(crate::PendingKind::Task(TaskId(index))))
            .collect()
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

/// The id of a task spawned through `ErrGroup::spawn`: a closed group refuses
/// it, which `ErrGroup::spawn` reports as the caller's bug.
#[track_caller]
fn spawned_or_panic<F>(spawned: Result<TaskId, F>) -> TaskId {
    match spawned {
        Ok(id) => id,
        Err(_) => panic!("ErrGroup::spawn on a closed group: the task was not spawned"),
    }
}

/// Where a spawned task goes: straight to the runtime, to a new worker of a
/// limited group, or to the queue of a full one.
enum Placement {
    Direct,
    NewWorker,
    Queued,
}

impl<T, E, R: Runtime> Clone for Spawner<T, E, R> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            runtime: self.runtime.clone(),
        }
    }
}

impl<T, E, R: Runtime> fmt::Debug for Spawner<T, E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ErrGroup");
        let (unfinished, unjoined) = self.shared.unfinished_and_unjoined();
        {
            let state = self.shared.lock();
            debug
                .field("unfinished", &unfinished)
                .field("unjoined", &unjoined)
                .field("limit", &state.limit)
                .field("cause", &state.cause);
        }
        #[cfg(feature = "diagnostics")]
        debug.field("pending", &self.pending());
        debug.finish_non_exhaustive()
    }
}
