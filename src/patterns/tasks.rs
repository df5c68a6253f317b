//! The patterns' one use of [`ErrGroup`]: a group of spawned futures whose
//! outcomes come back one by one, with their spawn index.
//!
//! Every pattern spawns through [`Tasks`] and reads [`Outcome`]s from it, so
//! what a pattern knows about groups is this file.

use core::future::Future;
use core::task::{Context, Poll};

use crate::runtime::Runtime;
use crate::{ErrGroup, GroupError};

/// What the first error does to the other tasks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum OnError {
    /// Cancel them (the group's default).
    CancelRest,
    /// Let them run: each outcome is read on its own.
    KeepGoing,
}

/// How one task ended. A panic never shows up here: under the group's
/// default panic policy it is resumed in the code that reads the outcome.
pub(super) enum Outcome<T, E> {
    /// The future returned `Ok`.
    Value(T),
    /// The future returned `Err`.
    Error(E),
    /// The task was dropped unfinished because its group was cancelled: by a
    /// pattern that has its answer, or by the first error under
    /// [`OnError::CancelRest`].
    Cancelled,
    /// The runtime dropped the task before it finished (it was shut down, or
    /// drops tasks for its own reasons).
    Lost,
}

/// A group of tasks.
pub(super) struct Tasks<T, E, R: Runtime> {
    group: ErrGroup<T, E, R>,
}

impl<T, E, R> Tasks<T, E, R>
where
    T: Send + 'static,
    E: Send + 'static,
    R: Runtime,
{
    pub(super) fn new(runtime: &R, on_error: OnError) -> Self {
        let builder = ErrGroup::builder(runtime.clone());
        let group = match on_error {
            OnError::CancelRest => builder.build(),
            OnError::KeepGoing => builder.keep_going().build(),
        };
        Self { group }
    }

    /// Spawns `future` now. Its spawn index is the number of tasks spawned
    /// before it.
    pub(super) fn spawn<F>(&self, future: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        // The group is private to the pattern, which never closes it, and
        // has no limit.
        self.group
            .spawn(future)
            .expect("a pattern's own group is never closed");
    }

    /// The next task to finish, with its spawn index; `None` once every task
    /// spawned so far has been read.
    pub(super) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(usize, Outcome<T, E>)>> {
        self.group.poll_join_next_with_id(cx).map(|next| {
            next.map(|(id, result)| {
                let outcome = match result {
                    Ok(value) => Outcome::Value(value),
                    Err(GroupError::Task(error)) => Outcome::Error(error),
                    Err(GroupError::Cancelled(_)) => Outcome::Cancelled,
                    Err(GroupError::Lost) => Outcome::Lost,
                    // Only under `PanicPolicy::Capture`, which these groups
                    // do not use; resumed all the same.
                    Err(GroupError::Panicked(payload)) => payload.resume(),
                };
                (id.index(), outcome)
            })
        })
    }

    /// See [`poll_next`](Self::poll_next).
    pub(super) async fn next(&mut self) -> Option<(usize, Outcome<T, E>)> {
        core::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Cancels the tasks still running and waits until every one is gone:
    /// a pattern that has its answer leaves nothing behind.
    pub(super) async fn cancel_and_wait(self) {
        self.group.cancel();
        let _ = self.group.join_all().await;
    }

    /// Waits for every task; the first error (by the time it happened), or
    /// every value in spawn order.
    pub(super) async fn join(self) -> Result<Vec<T>, GroupError<E>> {
        self.group.join().await
    }
}
