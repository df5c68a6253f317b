//! How one spawned future runs inside a group: cancelled through the group's
//! token, panics caught, and its outcome recorded exactly once — when it
//! finishes, or when the runtime drops it unfinished.

use core::any::Any;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::outcome::Outcome;
use super::record::Recorder;
use crate::stage::{Stage, StageProjection};

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
        // Registered on the group's token once the future is pending, and
        // on the group's abort instead once a graceful stop has cancelled
        // the token (the token's registration is used up by then).
        listener: Option<event_listener::EventListener>,
        // The future was polled (one dropped by a stop's end before it ever
        // ran did not overrun).
        started: bool,
        recorder: Recorder<T, E>,
    }
}

impl<T, E, F> Task<T, E, F> {
    pub(crate) fn new(recorder: Recorder<T, E>, future: F) -> Self {
        Self {
            run: CatchUnwind::new(future),
            listener: None,
            started: false,
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
        if this.recorder.is_recorded() {
            return Poll::Ready(());
        }
        // Biased towards cancellation: a task the group must drop is never
        // polled again. Only a future that waits registers on the token: work
        // that finishes in its first poll costs no listener.
        if !this.recorder.must_drop() {
            *this.started = true;
            if let Poll::Ready(result) = this.run.as_mut().poll(cx) {
                let outcome = match result {
                    Ok(result) => Outcome::Finished(result),
                    Err(payload) => Outcome::Panicked(payload),
                };
                *this.listener = None;
                this.recorder.finish(outcome);
                return Poll::Ready(());
            }
            if !this.recorder.waits_for_abort() {
                // Listen, then re-check (in `poll_cancelled`): a cancel
                // between the poll above and this listen is not missed.
                if this
                    .recorder
                    .token()
                    .poll_cancelled(this.listener, cx)
                    .is_pending()
                {
                    return Poll::Pending;
                }
                *this.listener = None;
            }
            // The token is cancelled: by a graceful stop (set before the
            // token, so it is seen here), the task finishes unless the stop
            // runs out of time; otherwise it is dropped now.
            if this.recorder.waits_for_abort()
                && this
                    .recorder
                    .abort()
                    .poll_cancelled(this.listener, cx)
                    .is_pending()
            {
                return Poll::Pending;
            }
        }
        *this.listener = None;
        let overran = *this.started && this.recorder.waits_for_abort();
        let outcome = match this.run.cancel() {
            Ok(()) if overran => Outcome::Overran,
            Ok(()) => Outcome::Cancelled,
            // The future's `Drop` panicked: reported like a panic.
            Err(payload) => Outcome::Panicked(payload),
        };
        this.recorder.finish(outcome);
        Poll::Ready(())
    }
}
