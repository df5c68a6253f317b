//! [`Builder`]: a group's settings, fixed before its first task.

use core::fmt;
use core::marker::PhantomData;
use core::time::Duration;

use super::shared::{Config, ParentGroup, Shared};
use super::ErrGroup;
use crate::runtime::Runtime;
use crate::{CancellationToken, PanicPolicy};

/// Builds an [`ErrGroup`]: its limit, error and panic policies, deadline and
/// parent. Made by [`ErrGroup::builder`] (or
/// [`ErrGroup::child_builder`] for a nested group).
///
/// A group's settings are fixed when it is built: a running group cannot be
/// reconfigured, so a limit always counts every task of the group.
///
/// # Examples
///
/// ```
/// use taskgroup::{runtime::SmolRuntime, ErrGroup, GroupError};
///
/// smol::block_on(async {
///     let group = ErrGroup::builder(SmolRuntime::global()).limit(2).keep_going().build();
///     for n in 1..=4u32 {
///         group.spawn(async move { if n % 2 == 0 { Err(n) } else { Ok(n) } }).unwrap();
///     }
///     // Nothing was cancelled: every task ran, every outcome is there.
///     let outcomes = group.join_all().await;
///     assert!(matches!(
///         outcomes[..],
///         [Ok(1), Err(GroupError::Task(2)), Ok(3), Err(GroupError::Task(4))]
///     ));
/// });
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<T, E, R: Runtime> {
    runtime: R,
    config: Config,
    deadline: Option<Duration>,
    parent_token: Option<CancellationToken>,
    parent_group: Option<Box<dyn ParentGroup>>,
    _outputs: PhantomData<fn() -> (T, E)>,
}

impl<T, E, R> Builder<T, E, R>
where
    T: Send + 'static,
    E: Send + 'static,
    R: Runtime,
{
    pub(super) fn new(runtime: R) -> Self {
        Self {
            runtime,
            config: Config::default(),
            deadline: None,
            parent_token: None,
            parent_group: None,
            _outputs: PhantomData,
        }
    }

    pub(super) fn child_of(runtime: R, parent: Box<dyn ParentGroup>) -> Self {
        Self {
            parent_group: Some(parent),
            ..Self::new(runtime)
        }
    }

    /// At most `limit` of the group's futures run at once; the others wait
    /// their turn in FIFO order. `spawn` never blocks: a waiting task costs
    /// its future, boxed, in a queue; `try_spawn` refuses instead
    /// ([`SpawnError::Full`](crate::SpawnError::Full)).
    ///
    /// # Panics
    ///
    /// If `limit` is zero (nothing could ever run).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// let group = ErrGroup::<(), (), _>::builder(SmolRuntime::global()).limit(4).build();
    /// ```
    #[track_caller]
    pub fn limit(mut self, limit: usize) -> Self {
        assert!(
            limit > 0,
            "ErrGroup::builder(..).limit(0): a limit of zero would never run any task"
        );
        self.config.limit = Some(limit);
        self
    }

    /// Errors no longer cancel the other tasks: every task runs to its end,
    /// and [`join_all`](ErrGroup::join_all) returns every outcome (Go's
    /// `conc` `ErrorPool`). `join` still returns the first error, once every
    /// task has finished. A panicking task does not cancel the others
    /// either; what the joiner does with the panic is still up to the
    /// [`PanicPolicy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::builder(SmolRuntime::global()).keep_going().build();
    ///     group.spawn(async { Err::<u32, _>("first") }).unwrap();
    ///     group.spawn(async { Ok(2) }).unwrap(); // not cancelled by the error
    ///     let outcomes = group.join_all().await;
    ///     assert!(matches!(outcomes[..], [Err(GroupError::Task("first")), Ok(2)]));
    /// });
    /// ```
    pub fn keep_going(mut self) -> Self {
        self.config.cancel_on_error = false;
        self
    }

    /// Successful values are dropped instead of kept for a join: a group for
    /// a service that runs for a long time (Swift's `DiscardingTaskGroup`,
    /// tokio-util's `TaskTracker`). A finished task then leaves nothing
    /// behind (no value, no runtime handle), so the group's memory stays
    /// bounded by its *live* tasks however many it has run. Failures still
    /// follow the group's policy: the first one cancels the rest (unless the
    /// group [keeps going](Self::keep_going)) and waits to be taken by
    /// [`join_next`](ErrGroup::join_next) or [`join`](ErrGroup::join),
    /// which returns an empty `Vec` when nothing failed.
    ///
    /// A group that keeps its values (the default) holds each finished
    /// task's value and runtime handle until a join takes them: join it (or
    /// take outcomes with `join_next`) as it runs, or discard.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     let connections = ErrGroup::builder(SmolRuntime::global())
    ///         .discard_values()
    ///         .keep_going()
    ///         .build();
    ///     for n in 0..1_000u32 {
    ///         connections.spawn(async move { if n == 7 { Err("reset") } else { Ok(()) } }).unwrap();
    ///     }
    ///     // Only the failure was kept.
    ///     let outcomes = connections.join_all().await;
    ///     assert!(matches!(outcomes[..], [Err(GroupError::Task("reset"))]));
    /// });
    /// ```
    pub fn discard_values(mut self) -> Self {
        self.config.discard_values = true;
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
    ///     let group = ErrGroup::<(), (), _>::builder(SmolRuntime::global())
    ///         .panic_policy(PanicPolicy::Capture)
    ///         .build();
    ///     group.spawn(async { panic!("bug in the parser") }).unwrap();
    ///     // Captured: an error value, not a panic in this task.
    ///     let error = group.join().await.unwrap_err();
    ///     assert_eq!(error.panic_message(), Some("bug in the parser"));
    /// });
    /// ```
    pub fn panic_policy(mut self, policy: PanicPolicy) -> Self {
        self.config.panic_policy = policy;
        self
    }

    /// Cancels the group (cause [`CancelCause::Deadline`](crate::CancelCause::Deadline)) if it has not
    /// been joined `timeout` after it is [built](Self::build). The timer is a
    /// small task spawned on the group's runtime; it stops when the group is
    /// joined or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<(), (), _>::builder(SmolRuntime::global())
    ///         .deadline(Duration::from_millis(10))
    ///         .build();
    ///     group.spawn(std::future::pending()).unwrap(); // never finishes by itself
    ///     assert!(matches!(
    ///         group.join().await,
    ///         Err(GroupError::Cancelled(CancelCause::Deadline))
    ///     ));
    /// });
    /// ```
    pub fn deadline(mut self, timeout: Duration) -> Self {
        self.deadline = Some(timeout);
        self
    }

    /// Makes the group's token a child of `parent` (Go's
    /// `errgroup.WithContext(ctx)`): cancelling `parent` cancels the group's
    /// tasks (cause [`CancelCause::Parent`](crate::CancelCause::Parent)); the group's own cancellation
    /// leaves `parent` alone.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, CancelCause, CancellationToken, ErrGroup, GroupError};
    ///
    /// smol::block_on(async {
    ///     let shutdown = CancellationToken::new();
    ///     let group = ErrGroup::<(), (), _>::builder(SmolRuntime::global())
    ///         .parent_token(&shutdown)
    ///         .build();
    ///     group.spawn(std::future::pending()).unwrap();
    ///     shutdown.cancel();
    ///     assert!(matches!(group.join().await, Err(GroupError::Cancelled(CancelCause::Parent))));
    /// });
    /// ```
    pub fn parent_token(mut self, parent: &CancellationToken) -> Self {
        self.parent_token = Some(parent.clone());
        self
    }

    /// The group, ready to spawn into. A deadline starts counting now.
    ///
    /// # Panics
    ///
    /// With a [deadline](Self::deadline), if the runtime's
    /// [`spawn`](Runtime::spawn) panics.
    #[must_use]
    pub fn build(self) -> ErrGroup<T, E, R> {
        // A child's token is under its parent group's token, which is under
        // any outside token of its own.
        let token = match (&self.parent_group, &self.parent_token) {
            (Some(group), _) => group.token().child_token(),
            (None, Some(parent)) => parent.child_token(),
            (None, None) => CancellationToken::new(),
        };
        let shared = Shared::new(token, self.config, self.parent_token, self.parent_group);
        let group = ErrGroup::from_parts(self.runtime, shared);
        if let Some(timeout) = self.deadline {
            group.spawner.cancel_after(timeout);
        }
        group
    }
}

impl<T, E, R: Runtime> fmt::Debug for Builder<T, E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("limit", &self.config.limit)
            .field("keep_going", &!self.config.cancel_on_error)
            .field("discard_values", &self.config.discard_values)
            .field("panic_policy", &self.config.panic_policy)
            .field("deadline", &self.deadline)
            .field("parent_token", &self.parent_token.is_some())
            .field("child", &self.parent_group.is_some())
            .finish_non_exhaustive()
    }
}
