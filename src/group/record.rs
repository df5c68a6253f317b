//! Recording a task's outcome in its group, exactly once.

use super::outcome::Outcome;
use super::shared::Shared;
use crate::sync::Arc;
use crate::CancellationToken;

/// Records a task's outcome exactly once. If the task's future is dropped
/// before it records (the runtime shut down, or never polled it), `Drop`
/// records `Cancelled` or `Lost`, so the group never waits for it forever.
pub(crate) struct Recorder<T, E> {
    shared: Arc<Shared<T, E>>,
    index: usize,
    recorded: bool,
}

impl<T, E> Recorder<T, E> {
    pub(crate) fn new(shared: Arc<Shared<T, E>>, index: usize) -> Self {
        Self {
            shared,
            index,
            recorded: false,
        }
    }

    /// Whether the outcome is in.
    pub(super) fn is_recorded(&self) -> bool {
        self.recorded
    }

    /// The group's token: cancelled by every kind of stop.
    pub(super) fn token(&self) -> &CancellationToken {
        self.shared.token()
    }

    /// The group's abort: cancelled when tasks must be dropped now.
    pub(super) fn abort(&self) -> &CancellationToken {
        self.shared.abort_token()
    }

    /// Whether the task must be dropped now: the group aborted, or its
    /// token was cancelled outside a graceful stop.
    pub(super) fn must_drop(&self) -> bool {
        // One load in the common case: every abort cancels the token too
        // (after the abort; a task that polls in between registers on the
        // token, whose cancellation then wakes it).
        self.shared.token().is_cancelled()
            && (self.shared.abort_token().is_cancelled() || !self.shared.is_stopping())
    }

    /// Whether a cancelled token only asks the task to finish (a graceful
    /// stop): then the task waits for the abort instead.
    pub(super) fn waits_for_abort(&self) -> bool {
        self.shared.token().is_cancelled() && self.shared.is_stopping()
    }

    /// Records `outcome` (once: the task never polls again after this).
    pub(super) fn finish(&mut self, outcome: Outcome<T, E>) {
        self.recorded = true;
        self.shared.record(self.index, outcome);
    }
}

impl<T, E> Drop for Recorder<T, E> {
    fn drop(&mut self) {
        if !self.recorded {
            let outcome = if self.shared.token().is_cancelled() {
                Outcome::Cancelled
            } else {
                Outcome::Lost
            };
            self.shared.record(self.index, outcome);
        }
    }
}
