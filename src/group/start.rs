//! The start handshake: spawn a task and wait until it reports that it is
//! ready (Trio's `nursery.start`).
//!
//! Until it is ready the task's future runs inside the caller's `start`
//! future, so a failure before readiness belongs to the caller alone (the
//! group never sees the task); once it reports ready, the same future —
//! boxed, so it stays where it was pinned — is spawned into the group and
//! goes on there.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::Poll;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use super::Spawner;
use crate::runtime::Runtime;
use crate::sync::Arc;
use crate::{CancelCause, GroupError, PanicPayload, PanicPolicy, TaskId};

/// The handle a started task reports its readiness through (see
/// [`ErrGroup::start`](crate::ErrGroup::start)).
pub struct Ready<V> {
    slot: Arc<Mutex<Option<V>>>,
}

impl<V> Ready<V> {
    /// Reports the task ready with `value` (say, the address it bound): the
    /// `start` call returns it, and the task goes on in the group.
    pub fn ready(self, value: V) {
        *self
            .slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(value);
    }
}

impl<V> fmt::Debug for Ready<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready").finish_non_exhaustive()
    }
}

/// Why a [`start`](crate::ErrGroup::start) did not get its task ready.
#[non_exhaustive]
pub enum StartError<E> {
    /// The task failed before it was ready: its error
    /// ([`GroupError::Task`]), its panic under [`PanicPolicy::Capture`]
    /// ([`GroupError::Panicked`]; under `Resume` the panic is resumed in the
    /// caller), or the group was cancelled first
    /// ([`GroupError::Cancelled`]). The group never saw the task.
    Failed(GroupError<E>),
    /// The task returned `Ok` without reporting that it was ready (its value
    /// is dropped): a bug in the task.
    EndedBeforeReady,
    /// The task was ready, but the group had been closed (or stopped, or
    /// joined) meanwhile: the task was dropped.
    Closed,
}

impl<E: fmt::Debug> fmt::Debug for StartError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
            Self::EndedBeforeReady => f.write_str("EndedBeforeReady"),
            Self::Closed => f.write_str("Closed"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for StartError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(error) => write!(f, "the task failed before it was ready: {error}"),
            Self::EndedBeforeReady => {
                f.write_str("the task ended without reporting that it was ready")
            }
            Self::Closed => f.write_str("the task was ready, but the group was closed"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for StartError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Failed(error) => Some(error),
            _ => None,
        }
    }
}

/// How the handshake ended.
enum Handshake<V, T, E> {
    /// Ready, the task still running.
    Running(V),
    /// Ready, and the task also finished in the same poll, with this.
    Finished(V, Result<T, E>),
    /// Not ready.
    Failed(StartError<E>),
}

/// The handshake, for `spawner`'s group.
pub(super) async fn start<T, E, R, V, F, Fut>(
    spawner: &Spawner<T, E, R>,
    policy: PanicPolicy,
    make: F,
) -> Result<(TaskId, V), StartError<E>>
where
    T: Send + 'static,
    E: Send + 'static,
    R: Runtime,
    F: FnOnce(Ready<V>) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    let slot = Arc::new(Mutex::new(None));
    let mut future: Pin<Box<Fut>> = Box::pin(make(Ready {
        slot: Arc::clone(&slot),
    }));
    let token = spawner.cancellation_token();
    let mut cancelled = core::pin::pin!(token.cancelled());
    let ended = core::future::poll_fn(|cx| {
        // The group's cancellation (or stop) ends a start, as it would a
        // task that had not started.
        if cancelled.as_mut().poll(cx).is_ready() {
            let cause = spawner.cause().unwrap_or(CancelCause::Explicit);
            return Poll::Ready(Handshake::Failed(StartError::Failed(
                GroupError::Cancelled(cause),
            )));
        }
        let polled = catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)));
        let value = slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        Poll::Ready(match (polled, value) {
            (Err(payload), _) if policy == PanicPolicy::Capture => Handshake::Failed(
                StartError::Failed(GroupError::Panicked(PanicPayload::new(payload))),
            ),
            (Err(payload), _) => resume_unwind(payload),
            (Ok(Poll::Pending), Some(value)) => Handshake::Running(value),
            (Ok(Poll::Ready(result)), Some(value)) => Handshake::Finished(value, result),
            (Ok(Poll::Ready(Err(error))), None) => {
                Handshake::Failed(StartError::Failed(GroupError::Task(error)))
            }
            (Ok(Poll::Ready(Ok(_))), None) => Handshake::Failed(StartError::EndedBeforeReady),
            (Ok(Poll::Pending), None) => return Poll::Pending,
        })
    })
    .await;
    // Ready: the task goes on in the group (a finished one is spawned as its
    // result, so that the group records it like any other).
    let (spawned, value) = match ended {
        Handshake::Running(value) => (spawner.spawn(future).map_err(drop), value),
        Handshake::Finished(value, result) => (
            spawner.spawn(core::future::ready(result)).map_err(drop),
            value,
        ),
        Handshake::Failed(error) => return Err(error),
    };
    match spawned {
        Ok(id) => Ok((id, value)),
        Err(()) => Err(StartError::Closed),
    }
}
