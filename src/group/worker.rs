//! A limited group's workers: each runs its first task, then queued jobs,
//! and gives its slot back when the queue is empty (or when it is dropped).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::limit::Job;
use super::shared::Shared;
use crate::stage::{Stage, StageProjection};
use crate::sync::Arc;

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
