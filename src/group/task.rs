//! How one spawned future runs inside a group: cancelled through the group's
//! token, panics caught, and its outcome recorded exactly once — when it
//! finishes, or when the runtime drops it unfinished.

use core::any::Any;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::shared::Shared;
use crate::stage::{Stage, StageProjection};
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

impl<F> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> Self {
        Self {
            stage: Stage::Running { future },
        }
    }

    /// Drops the future unfinished (the group was cancelled), catching a
    /// panic in its `Drop`.
    fn cancel(self: Pin<&mut Self>) -> Result<(), Box<dyn Any + Send + 'static>> {
        let stage = self.project().stage;
        catch_unwind(AssertUnwindSafe(|| {
            stage.project_replace(Stage::Done);
        }))
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

    fn finish(&mut self, outcome: Outcome<T, E>) {
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

pin_project_lite::pin_project! {
    /// The future the runtime runs for one task of the group.
    ///
    /// Written out rather than an `async fn`: an `async fn` keeps its
    /// arguments in the state machine next to the working copies it moves
    /// them into, so every task would carry the user's future twice (a
    /// 1 KB future made a 2 KB task).
    ///
    /// Dropped unfinished (the runtime shut down, or never polled it), it
    /// drops `run` (the user's future) first and `recorder` last, whose
    /// `Drop` records the task as cancelled or lost: fields drop in order, so
    /// `join` never returns before the user's future is gone.
    pub(crate) struct Task<T, E, F> {
        #[pin]
        run: CatchUnwind<F>,
        // Registered on the group's token once the future is pending.
        cancelled: Option<event_listener::EventListener>,
        recorder: Recorder<T, E>,
    }
}

impl<T, E, F> Task<T, E, F> {
    pub(crate) fn new(recorder: Recorder<T, E>, future: F) -> Self {
        Self {
            run: CatchUnwind::new(future),
            cancelled: None,
            recorder,
        }
    }
}

impl<T, E, F> Future for Task<T, E, F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if this.recorder.recorded {
            return Poll::Ready(());
        }
        let token = this.recorder.shared.token();
        // Biased towards cancellation: a cancelled group never polls the
        // future again. Only a future that waits registers on the token:
        // work that finishes in its first poll costs no listener.
        let cancelled = token.is_cancelled()
            || match this.run.as_mut().poll(cx) {
                Poll::Ready(result) => {
                    let outcome = match result {
                        Ok(result) => Outcome::Finished(result),
                        Err(payload) => Outcome::Panicked(payload),
                    };
                    *this.cancelled = None;
                    this.recorder.finish(outcome);
                    return Poll::Ready(());
                }
                Poll::Pending => token.poll_cancelled(this.cancelled, cx).is_ready(),
            };
        if !cancelled {
            return Poll::Pending;
        }
        *this.cancelled = None;
        let outcome = match this.run.cancel() {
            Ok(()) => Outcome::Cancelled,
            // The future's `Drop` panicked: reported like a panic.
            Err(payload) => Outcome::Panicked(payload),
        };
        this.recorder.finish(outcome);
        Poll::Ready(())
    }
}

/// A queued task of a group with a limit, waiting for a free slot.
pub(crate) type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pin_project_lite::pin_project! {
    /// One of at most `limit` runtime tasks of a limited group: runs its
    /// first task, then takes queued jobs in FIFO order until the queue is
    /// empty. (Written out for the reason given on [`Task`]: an `async fn`
    /// would hold the first task twice.)
    ///
    /// The `slot` is made by the caller, so that a worker dropped before its
    /// first poll still gives its slot back.
    pub(crate) struct Worker<T, E, F> {
        #[pin]
        first: Stage<F>,
        job: Option<Job>,
        slot: Slot<T, E>,
    }
}

impl<T, E, F> Worker<T, E, F> {
    pub(crate) fn new(slot: Slot<T, E>, first: F) -> Self {
        Self {
            first: Stage::Running { future: first },
            job: None,
            slot,
        }
    }
}

impl<T, E, F: Future<Output = ()>> Future for Worker<T, E, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if let StageProjection::Running { future } = this.first.as_mut().project() {
            if future.poll(cx).is_pending() {
                return Poll::Pending;
            }
            // A task future records its outcome and drops the user's
            // future itself; dropping what is left cannot panic.
            this.first.project_replace(Stage::Done);
        }
        loop {
            if let Some(job) = this.job.as_mut() {
                if job.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            *this.job = this.slot.next_job();
            if this.job.is_none() {
                return Poll::Ready(());
            }
        }
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
