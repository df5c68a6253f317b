//! [`Spawner`]: spawning into a group, and where each task goes (straight
//! to the runtime, to a new worker of a limited group, or to its queue).

use core::fmt;
use core::future::Future;
use core::time::Duration;
use std::borrow::Cow;

use super::record::Recorder;
use super::shared::{Admitted, Shared};
use super::shield::Shielded;
use super::start::{Ready, StartError};
use super::task::Task;
use super::worker::{Slot, Worker};
use crate::runtime::Runtime;
use crate::sync::Arc;
use crate::{CancelCause, CancellationToken, Name, SpawnError, TaskId};

/// A handle that spawns into an [`ErrGroup`](crate::ErrGroup) from anywhere — inside its own
/// tasks, for dynamic fan-out — without owning the group: the group's owner
/// still joins it, and dropping the group still cancels everything.
///
/// Spawning after the group was joined or dropped is refused.
pub struct Spawner<T, E, R: Runtime> {
    shared: Arc<Shared<T, E>>,
    runtime: R,
}

impl<T, E, R: Runtime> Spawner<T, E, R> {
    pub(super) fn new(shared: Arc<Shared<T, E>>, runtime: R) -> Self {
        Self { shared, runtime }
    }

    /// Hands `task` to the runtime. A group that keeps its values keeps the
    /// runtime's handle until a join (see `TaskHandle`); a discarding group
    /// keeps nothing, so a finished task leaves nothing behind.
    fn launch<Tk: Future<Output = ()> + Send + 'static>(&self, task: Tk) {
        if self.shared.config().discard_values {
            self.runtime.spawn(task);
        } else {
            self.shared.keep(self.runtime.spawn_with_handle(task));
        }
    }

    /// Starts a task and waits until it is ready (see
    /// [`ErrGroup::start`](crate::ErrGroup::start)).
    ///
    /// # Errors
    ///
    /// As [`ErrGroup::start`](crate::ErrGroup::start).
    ///
    /// # Panics
    ///
    /// As [`ErrGroup::start`](crate::ErrGroup::start).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, StartError};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    ///     let spawner = group.spawner();
    ///     // Returning without reporting ready is an error, not a hang.
    ///     let ended = spawner.start::<u16, _, _>(|_ready| async { Ok(()) }).await;
    ///     assert!(matches!(ended, Err(StartError::EndedBeforeReady)));
    ///     let (_, port) = spawner.start(|ready| async move { ready.ready(8080u16); Ok(()) }).await.unwrap();
    ///     assert_eq!(port, 8080);
    ///     group.join().await.unwrap();
    /// });
    /// ```
    pub async fn start<V, F, Fut>(&self, make: F) -> Result<(TaskId, V), StartError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(Ready<V>) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        super::start::start(self, self.shared.config().panic_policy, make).await
    }

    /// Runs `future` as a shielded section (see
    /// [`ErrGroup::shield`](crate::ErrGroup::shield)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<&str, (), _>::new(SmolRuntime::global());
    ///     let spawner = group.spawner();
    ///     group.spawn(async move {
    ///         spawner.shield(async { Ok("written") }).await // not cut by a stop
    ///     }).unwrap();
    ///     let report = group.stop(Duration::ZERO).await;
    ///     assert!(report.overran().is_empty());
    /// });
    /// ```
    pub fn shield<F: Future>(&self, future: F) -> Shielded<F> {
        Shielded::new(self.shared.shields(), future)
    }

    /// The group's shared state and runtime.
    pub(super) fn parts(&self) -> (&Arc<Shared<T, E>>, &R) {
        (&self.shared, &self.runtime)
    }
}

impl<T, E, R> Spawner<T, E, R>
where
    T: Send + 'static,
    E: Send + 'static,
    R: Runtime,
{
    /// Cancels the group (cause `Deadline`) after `timeout`, unless its
    /// handle is gone first: a small timer task on the group's runtime.
    pub(super) fn cancel_after(&self, timeout: Duration) {
        let shared = Arc::clone(&self.shared);
        let sleep = self.runtime.sleep(timeout);
        self.runtime.spawn(async move {
            let handle_gone = shared.handle_gone_token().clone();
            if handle_gone.run_until_cancelled(sleep).await.is_some() {
                shared.cancel(CancelCause::Deadline);
            }
        });
    }

    /// Spawns `future` into the group (queued if the group's limit is
    /// reached) and returns its [`TaskId`]: the same contract as
    /// [`ErrGroup::spawn`](crate::ErrGroup::spawn). A spawner may outlive its
    /// group, so expect the refusal.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Closed`], the future untouched, if the group was
    /// [closed](crate::ErrGroup::close), joined or dropped.
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
    pub fn spawn<F>(&self, future: F) -> Result<TaskId, SpawnError<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.place(future, false, None)
    }

    /// As [`spawn`](Self::spawn), with a name (see [`ErrGroup::spawn_named`](crate::ErrGroup::spawn_named)).
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn): [`SpawnError::Closed`] if the group was closed,
    /// joined or dropped.
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
    ///     let group = ErrGroup::<&str, (), _>::new(SmolRuntime::global());
    ///     let spawner = group.spawner();
    ///     let id = spawner.spawn_named("greeter", async { Ok("hello") });
    ///     assert_eq!(id.unwrap().index(), 0);
    ///     assert_eq!(group.join().await.unwrap(), ["hello"]);
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
        self.place(future, false, Some(name.into()))
    }

    /// Spawns `future` only if it can start now (see
    /// [`ErrGroup::try_spawn`](crate::ErrGroup::try_spawn)).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Full`] if the group's limit is reached,
    /// [`SpawnError::Closed`] if the group was closed, joined or dropped; the
    /// future comes back untouched either way.
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
    ///     let group = ErrGroup::<(), (), _>::builder(SmolRuntime::global()).limit(1).build();
    ///     let spawner = group.spawner();
    ///     assert!(spawner.try_spawn(std::future::pending()).is_ok()); // holds the slot
    ///     assert!(spawner.try_spawn(async { Ok(()) }).is_err()); // full
    ///     group.cancel();
    ///     assert!(group.join().await.is_err()); // the pending task was cancelled
    /// });
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<TaskId, SpawnError<F>>
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
    fn place<F>(
        &self,
        future: F,
        refuse_when_full: bool,
        name: Name,
    ) -> Result<TaskId, SpawnError<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        #[cfg(feature = "diagnostics")]
        let origin = crate::diagnostics::Origin::new(core::panic::Location::caller(), name.clone());
        let admitted = self.shared.admit(
            future,
            refuse_when_full,
            #[cfg(feature = "diagnostics")]
            origin,
            |index, future| {
                let task = Task::new(Recorder::new(Arc::clone(&self.shared), index), future);
                #[cfg(feature = "tracing")]
                let task = tracing::Instrument::instrument(
                    task,
                    tracing::debug_span!(parent: self.shared.span(), "task", id = index, name = name.as_deref()),
                );
                task
            },
        )?;
        let index = match admitted {
            Admitted::Direct(index, task) => {
                self.launch(task);
                index
            }
            Admitted::Worker(index, task) => {
                self.launch(Worker::new(Slot::new(Arc::clone(&self.shared)), task));
                index
            }
            Admitted::WorkerForJob(index, head) => {
                self.launch(Worker::new(Slot::new(Arc::clone(&self.shared)), head));
                index
            }
            Admitted::Queued(index) => index,
        };
        Ok(TaskId::new(index))
    }

    /// The group's cancellation token (see
    /// [`ErrGroup::cancellation_token`](crate::ErrGroup::cancellation_token)): cancelled when the group cancels
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
    /// [`ErrGroup::cause`](crate::ErrGroup::cause)). Still answers after the group is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup};
    ///
    /// let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    /// let spawner = group.spawner();
    /// group.spawn(std::future::pending()).unwrap();
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
    /// The unfinished tasks (see [`ErrGroup::pending`](crate::ErrGroup::pending)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "diagnostics")] {
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// let group = ErrGroup::<(), (), _>::new(SmolRuntime::global());
    /// let spawner = group.spawner();
    /// let id = spawner.spawn_named("poll the queue", std::future::pending()).ok().unwrap();
    /// let pending = spawner.pending();
    /// assert_eq!(pending.len(), 1);
    /// assert_eq!(pending[0].kind(), taskgroup::PendingKind::Task(id));
    /// assert_eq!(pending[0].name(), Some("poll the queue"));
    /// assert_eq!(id.index(), 0);
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "diagnostics")))]
    #[must_use]
    pub fn pending(&self) -> Vec<crate::Pending> {
        self.shared.pending()
    }
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
        self.fmt_with_taken(f, 0)
    }
}

impl<T, E, R: Runtime> Spawner<T, E, R> {
    /// The group's `Debug`, with `taken` outcomes the group's owner holds
    /// besides those in the queue.
    pub(super) fn fmt_with_taken(&self, f: &mut fmt::Formatter<'_>, taken: usize) -> fmt::Result {
        let mut debug = f.debug_struct("ErrGroup");
        let (unfinished, unjoined) = self.shared.unfinished_and_unjoined();
        debug
            .field("unfinished", &unfinished)
            .field("unjoined", &(unjoined + taken))
            .field("limit", &self.shared.config().limit)
            .field("cause", &self.shared.recorded_cause());
        #[cfg(feature = "diagnostics")]
        debug.field("pending", &self.pending());
        debug.finish_non_exhaustive()
    }
}
