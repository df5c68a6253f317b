//! What a group or a scope reports when not every task produced a value,
//! and the policy for panicking tasks.

#[cfg(feature = "std")]
use alloc::{borrow::ToOwned, boxed::Box, string::String};
#[cfg(feature = "std")]
use core::any::Any;
use core::fmt;
#[cfg(feature = "std")]
use std::sync::Mutex;

/// What the joiner of a group (or a scope) does with a task that panicked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PanicPolicy {
    /// Resume the panic in the task that joins (after every task has
    /// finished, for `join` and `join_all`), payload intact. The default: a
    /// panic is a bug, and should look like one.
    #[default]
    Resume,
    /// Report it as [`GroupError::Panicked`] with its payload (conc's
    /// `WaitAndRecover`).
    Capture,
}

/// Why a group cancelled its tasks (Go's `context.Cause`).
///
/// The first cause wins: a group cancelled by an error and then dropped
/// reports [`TaskFailed`](Self::TaskFailed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelCause {
    /// A task returned an error (and the group cancels on error, the default).
    TaskFailed,
    /// A task panicked.
    TaskPanicked,
    /// [`ErrGroup::cancel`](crate::ErrGroup::cancel) was called.
    Explicit,
    /// The group's deadline passed, or a `join_all_timeout` timed out.
    Deadline,
    /// The group was dropped without being joined.
    GroupDropped,
    /// The parent group (of a [`child`](crate::ErrGroup::child) group) was
    /// cancelled.
    Parent,
    /// The group was stopped gracefully
    /// ([`ErrGroup::stop`](crate::ErrGroup::stop)): its tasks were asked to
    /// finish, and the ones still queued behind its limit, or still running
    /// when the grace period ran out, were dropped.
    Stopped,
}

impl fmt::Display for CancelCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TaskFailed => "a task failed",
            Self::TaskPanicked => "a task panicked",
            Self::Explicit => "the group was cancelled",
            Self::Deadline => "the group's deadline passed",
            Self::GroupDropped => "the group was dropped",
            Self::Parent => "the parent group was cancelled",
            Self::Stopped => "the group was stopped",
        })
    }
}

/// The payload of a task's panic, as `catch_unwind` gave it, and its
/// message when it has one.
///
/// A panic payload is `Send` but not `Sync`; this holds it behind a mutex so
/// that [`GroupError`] is `Send + Sync` and goes into `anyhow::Error` or
/// `Box<dyn Error + Send + Sync>` with `?`. Both sit behind one box, so
/// that a [`GroupError`] (and every outcome a group keeps until it is
/// joined) stays small: a panic is rare, an outcome is not.
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub struct PanicPayload(Box<PanicInner>);

#[cfg(feature = "std")]
struct PanicInner {
    message: Option<String>,
    payload: Mutex<Box<dyn Any + Send + 'static>>,
}

#[cfg(feature = "std")]
impl PanicPayload {
    pub(crate) fn new(payload: Box<dyn Any + Send + 'static>) -> Self {
        let message = payload
            .downcast_ref::<&'static str>()
            .map(|message| (*message).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        Self(Box::new(PanicInner {
            message,
            payload: Mutex::new(payload),
        }))
    }

    /// The panic's message, when its payload is a string (as `panic!("...")`
    /// makes it); `None` for other payloads (`std::panic::panic_any(42)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, GroupError, PanicPolicy};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<(), (), _>::builder(SmolRuntime::global()).panic_policy(PanicPolicy::Capture).build();
    ///     group.spawn(async { panic!("index {} out of range", 7) }).unwrap();
    ///     match group.join().await {
    ///         Err(GroupError::Panicked(payload)) => {
    ///             assert_eq!(payload.message(), Some("index 7 out of range"));
    ///         }
    ///         other => panic!("unexpected {other:?}"),
    ///     }
    /// });
    /// ```
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    /// The payload itself, as `catch_unwind` gave it: downcast it to the type
    /// passed to `panic_any`, or hand it to `std::panic::resume_unwind`.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, PanicPolicy};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<(), (), _>::builder(SmolRuntime::global()).panic_policy(PanicPolicy::Capture).build();
    ///     group.spawn(async { std::panic::panic_any(42u32) }).unwrap();
    ///     let error = group.join().await.unwrap_err();
    ///     let taskgroup::GroupError::Panicked(payload) = error else { unreachable!() };
    ///     assert_eq!(payload.message(), None); // not a string
    ///     assert_eq!(payload.into_inner().downcast_ref::<u32>(), Some(&42));
    /// });
    /// ```
    #[must_use]
    pub fn into_inner(self) -> Box<dyn Any + Send + 'static> {
        self.0
            .payload
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Resumes the panic on this thread, payload intact
    /// (`std::panic::resume_unwind`).
    ///
    /// # Panics
    ///
    /// Always: that is what it is for. The panic hook is not called again.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, GroupError, PanicPolicy};
    ///
    /// let error = smol::block_on(async {
    ///     let group = ErrGroup::<(), (), _>::builder(SmolRuntime::global()).panic_policy(PanicPolicy::Capture).build();
    ///     group.spawn(async { panic!("boom") }).unwrap();
    ///     group.join().await.unwrap_err()
    /// });
    /// // Log it, clean up, then let it unwind after all:
    /// let GroupError::Panicked(payload) = error else { unreachable!() };
    /// let resumed = std::panic::catch_unwind(move || payload.resume()).unwrap_err();
    /// assert_eq!(resumed.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    pub fn resume(self) -> ! {
        std::panic::resume_unwind(self.into_inner())
    }
}

#[cfg(feature = "std")]
impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message().unwrap_or("<non-string payload>"))
    }
}

/// Why a task, or a whole group, produced no value.
///
/// Match it with a wildcard arm: variants may be added.
#[non_exhaustive]
pub enum GroupError<E> {
    /// A task returned this error. From `join`, the first task to fail.
    Task(E),
    /// A task panicked, and the group's [`PanicPolicy`](crate::PanicPolicy)
    /// is `Capture`: the panic's payload, as `catch_unwind` gives it. (Under
    /// the default policy the panic is resumed in the joiner instead.)
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    Panicked(PanicPayload),
    /// The task was cancelled before it finished (its future was dropped),
    /// for this reason.
    Cancelled(CancelCause),
    /// The runtime dropped the task before it finished: it was shut down, or
    /// dropped the task for its own reasons. The group never hangs on it.
    Lost,
}

impl<E> GroupError<E> {
    /// The task's own error, if that is what this is; `None` for a panic, a
    /// cancellation or a lost task.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{CancelCause, GroupError};
    ///
    /// let failed: GroupError<&str> = GroupError::Task("disk full");
    /// assert_eq!(failed.into_task_error(), Some("disk full"));
    ///
    /// let cancelled: GroupError<&str> = GroupError::Cancelled(CancelCause::Explicit);
    /// assert_eq!(cancelled.into_task_error(), None);
    /// ```
    pub fn into_task_error(self) -> Option<E> {
        match self {
            Self::Task(error) => Some(error),
            _ => None,
        }
    }

    /// The message of a captured panic, when its payload is a string (as
    /// `panic!("...")` makes it); `None` for any other error.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, PanicPolicy};
    ///
    /// smol::block_on(async {
    ///     let group = ErrGroup::<(), &str, _>::builder(SmolRuntime::global()).panic_policy(PanicPolicy::Capture).keep_going().build();
    ///     group.spawn(async { panic!("boom") }).unwrap();
    ///     group.spawn(async { Err("plain error") }).unwrap();
    ///     let outcomes = group.join_all().await;
    ///     assert_eq!(outcomes[0].as_ref().unwrap_err().panic_message(), Some("boom"));
    ///     assert_eq!(outcomes[1].as_ref().unwrap_err().panic_message(), None);
    /// });
    /// ```
    #[must_use]
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            #[cfg(feature = "std")]
            Self::Panicked(payload) => payload.message(),
            _ => None,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Task(error) => f.debug_tuple("Task").field(error).finish(),
            #[cfg(feature = "std")]
            Self::Panicked(payload) => f.debug_tuple("Panicked").field(payload).finish(),
            Self::Cancelled(cause) => f.debug_tuple("Cancelled").field(cause).finish(),
            Self::Lost => f.write_str("Lost"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Task(error) => write!(f, "task failed: {error}"),
            #[cfg(feature = "std")]
            Self::Panicked(_) => match self.panic_message() {
                Some(message) => write!(f, "task panicked: {message}"),
                None => f.write_str("task panicked"),
            },
            Self::Cancelled(cause) => write!(f, "task cancelled: {cause}"),
            Self::Lost => f.write_str("task lost: the runtime dropped it before it finished"),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for GroupError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Task(error) => Some(error),
            _ => None,
        }
    }
}
