//! What became of a task, as the task reports it to the group.

use alloc::boxed::Box;
use core::any::Any;

use crate::GroupError;

/// What became of a task, before the group turns it into a
/// `Result<T, GroupError<E>>` (it adds the cancellation's cause).
pub(crate) enum Outcome<T, E> {
    /// The future returned.
    Finished(Result<T, E>),
    /// The future (or its `Drop`) panicked: the payload.
    Panicked(Box<dyn Any + Send + 'static>),
    /// The group's token was cancelled first: the future was dropped.
    Cancelled,
    /// The task was still running when a graceful stop's grace period ran
    /// out: the future was dropped.
    Overran,
    /// The runtime dropped the task unfinished.
    Lost,
}

/// A finished task: its spawn index and what it produced.
pub(crate) type Finished<T, E> = (usize, Result<T, GroupError<E>>);
