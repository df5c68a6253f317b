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

    /// The group's token (a task stops when it is cancelled).
    pub(super) fn token(&self) -> &CancellationToken {
        self.shared.token()
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
