//! [`StopReport`]: what a graceful stop did with each task.

use core::fmt;

use crate::{GroupError, TaskId};

/// What [`ErrGroup::stop`](crate::ErrGroup::stop) did: every task's outcome
/// in spawn order, and which tasks were still running when the grace period
/// ran out (they were dropped, and their outcome is
/// `Err(GroupError::Cancelled(CancelCause::Stopped))`).
///
/// A task that finished within the grace period has its own outcome: its
/// value, or the error it returned (a task that sees the stop may well end
/// with an error of its own). A task still queued behind the group's limit
/// when the stop began was dropped without running: `Cancelled(Stopped)`,
/// but not in [`overran`](Self::overran).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use taskgroup::{runtime::SmolRuntime, CancelCause, ErrGroup, GroupError};
///
/// smol::block_on(async {
///     let group = ErrGroup::<&str, (), _>::new(SmolRuntime::global());
///     let token = group.cancellation_token();
///     group.spawn(async move {
///         token.cancelled().await; // sees the stop, and finishes its reply
///         Ok("reply sent")
///     }).unwrap();
///     let stuck = group.spawn(std::future::pending()).unwrap(); // never finishes
///     let report = group.stop(Duration::from_millis(20)).await;
///     assert_eq!(report.overran(), [stuck]);
///     assert!(matches!(report.outcomes()[0], Ok("reply sent")));
///     assert!(matches!(
///         report.outcomes()[1],
///         Err(GroupError::Cancelled(CancelCause::Stopped))
///     ));
/// });
/// ```
pub struct StopReport<T, E> {
    outcomes: Vec<Result<T, GroupError<E>>>,
    overran: Vec<TaskId>,
    #[cfg(feature = "diagnostics")]
    overran_pending: Vec<crate::Pending>,
}

impl<T, E> StopReport<T, E> {
    pub(crate) fn new(
        outcomes: Vec<Result<T, GroupError<E>>>,
        overran: Vec<TaskId>,
        #[cfg(feature = "diagnostics")] overran_pending: Vec<crate::Pending>,
    ) -> Self {
        Self {
            outcomes,
            overran,
            #[cfg(feature = "diagnostics")]
            overran_pending,
        }
    }

    /// Every task's outcome, in spawn order (values are not kept by a group
    /// built with [`discard_values`](crate::Builder::discard_values)).
    pub fn outcomes(&self) -> &[Result<T, GroupError<E>>] {
        &self.outcomes
    }

    /// The outcomes, owned.
    #[must_use]
    pub fn into_outcomes(self) -> Vec<Result<T, GroupError<E>>> {
        self.outcomes
    }

    /// The tasks still running when the grace period ran out, in spawn
    /// order: they were dropped.
    #[must_use]
    pub fn overran(&self) -> &[TaskId] {
        &self.overran
    }

    /// Whether every task finished within the grace period (none was cut).
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.overran.is_empty()
    }

    /// The tasks that overran, with their names and the source lines that
    /// spawned them (feature `diagnostics`).
    #[cfg(feature = "diagnostics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "diagnostics")))]
    #[must_use]
    pub fn overran_pending(&self) -> &[crate::Pending] {
        &self.overran_pending
    }
}

impl<T: fmt::Debug, E: fmt::Debug> fmt::Debug for StopReport<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("StopReport");
        debug
            .field("outcomes", &self.outcomes)
            .field("overran", &self.overran);
        #[cfg(feature = "diagnostics")]
        debug.field("overran_pending", &self.overran_pending);
        debug.finish()
    }
}
