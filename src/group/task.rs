//! How one spawned future runs inside a group: cancelled through the group's
//! token, panics caught, and its outcome recorded exactly once — when it
//! finishes, or when the runtime drops it unfinished.

use core::any::Any;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::shared::Shared;
use crate::sync::Arc;

/// What became of a task, before the group turns it into a
/// `Result<T, GroupError<E>>` (it adds the cancellation's cause).
pub(crate) enum Outcome<T, E> {
    Finished(Result<T, E>),
    Panicked(Box<dyn Any + Send + 'static>),
    Cancelled,
    Lost,
}

pin_project_lite::pin_project! {
    /// Polls `future`, turning a panic into `Err(payload)`; the same on every
    /// runtime, whatever each does with a panicking task by itself. The
    /// future is dropped here too, as soon as it is done (or cancelled, which
    /// `RunUntilCancelled` reports as done): a panic in its `Drop` is
    /// caught and reported the same way, instead of unwinding into the
    /// runtime.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        stage: Stage<F>,
    }

    impl<F> PinnedDrop for CatchUnwind<F> {
        // Dropped unfinished by the runtime (shutdown, a dropped executor):
        // a panic in the future's `Drop` stops here instead of unwinding into
        // the runtime (smol's tasks abort the process on it). The task is
        // then recorded as cancelled or lost, like any task the runtime drops.
        fn drop(this: Pin<&mut Self>) {
            let stage = this.project().stage;
            let _ = catch_unwind(AssertUnwindSafe(|| {
                stage.project_replace(Stage::Done);
            }));
        }
    }
}

pin_project_lite::pin_project! {
    #[project = StageProjection]
    #[project_replace = StageReplaced]
    enum Stage<F> {
        Running { #[pin] future: F },
        Done,
    }
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> Self {
        Self {
            stage: Stage::Running { future },
        }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send + 'static>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut stage = self.project().stage;
        let StageProjection::Running { future } = stage.as_mut().project() else {
            panic!("a group task's future was polled after it finished");
        };
        // AssertUnwindSafe: after a panic the future is never polled again
        // (it is dropped right below), so no broken state is observed.
        let polled = match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(payload) => Err(payload),
        };
        let dropped = catch_unwind(AssertUnwindSafe(|| {
            stage.as_mut().project_replace(Stage::Done);
        }));
        Poll::Ready(match (polled, dropped) {
            (Ok(output), Ok(())) => Ok(output),
            // The first panic wins; a second one (its `Drop` after a
            // panicking poll) says nothing new.
            (Err(payload), _) | (Ok(_), Err(payload)) => Err(payload),
        })
    }
}

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

    fn finish(mut self, outcome: Outcome<T, E>) {
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

/// The future the runtime runs for one task of the group.
///
/// Dropped before its first poll, it drops `future` and `recorder` (which
/// records). Dropped mid-way, it drops `run` (holding the user's future)
/// before `recorder`, which is declared first: `join` never returns before
/// the user's future is gone.
pub(crate) async fn task<T, E, F>(recorder: Recorder<T, E>, future: F)
where
    F: Future<Output = Result<T, E>>,
{
    let recorder = recorder;
    let outcome = {
        // Borrowed from the recorder's `Arc`: no token clone per task.
        let run = CatchUnwind::new(recorder.shared.token().run_until_cancelled(future));
        match run.await {
            Ok(Some(result)) => Outcome::Finished(result),
            Ok(None) => Outcome::Cancelled,
            Err(payload) => Outcome::Panicked(payload),
        }
    };
    recorder.finish(outcome);
}

/// A queued task of a group with a limit, waiting for a free slot.
pub(crate) type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// One of at most `limit` runtime tasks of a limited group: runs its first
/// job, then takes queued jobs in FIFO order until the queue is empty.
///
/// The `slot` is made by the caller, so that a worker dropped before its first
/// poll still gives its slot back.
pub(crate) async fn worker<T, E>(mut slot: Slot<T, E>, first: impl Future<Output = ()>) {
    first.await;
    while let Some(job) = slot.next_job() {
        job.await;
    }
}

/// A worker's hold on one of the group's `limit` slots.
pub(crate) struct Slot<T, E> {
    shared: Arc<Shared<T, E>>,
    held: bool,
}

impl<T, E> Slot<T, E> {
    /// Holds a slot already counted in `running`.
    pub(crate) fn new(shared: Arc<Shared<T, E>>) -> Self {
        Self { shared, held: true }
    }

    /// The next queued job, or `None` after giving the slot back (in the
    /// same critical section, so a `spawn` never queues a job that no worker
    /// will take).
    fn next_job(&mut self) -> Option<Job> {
        let job = self.shared.next_job();
        self.held = job.is_some();
        job
    }
}

impl<T, E> Drop for Slot<T, E> {
    fn drop(&mut self) {
        // Dropped mid-way by the runtime: give the slot back, and if no other
        // worker is left, drop the queued jobs (each records itself).
        if self.held {
            drop(self.shared.release_slot_after_loss());
        }
    }
}
