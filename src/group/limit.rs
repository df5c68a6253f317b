//! The limit's worker queue: how many of a limited group's tasks hold a
//! slot, and the tasks waiting for one, in FIFO order.
//!
//! A limited group runs each task on a *worker*: a runtime task that runs its
//! first task, then takes the next job from this queue, until the queue is
//! empty and it gives its slot back. Kept under the group's lock.

use core::future::Future;
use core::pin::Pin;
use std::collections::VecDeque;

/// A queued task, boxed (its future's type is erased).
pub(crate) type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where a new task goes.
pub(crate) enum Placement {
    /// No limit: straight to the runtime.
    Direct,
    /// A slot was free and is now taken: a new worker runs it.
    NewWorker,
    /// Every slot is taken: it waits in the queue.
    Queued,
}

/// The slots in use and the queue. Invariant: jobs queue only while every
/// slot is taken, except after a worker was lost (see [`release_after_loss`](Self::release_after_loss)).
#[derive(Default)]
pub(crate) struct Limiter {
    /// Workers holding a slot (at most the limit).
    running: usize,
    /// Jobs waiting for a slot, oldest first.
    queue: VecDeque<Job>,
}

impl Limiter {
    /// Where a new task goes under `limit`; takes a slot for a new worker.
    /// `None`: the group is full and the caller refuses instead of queueing.
    pub(crate) fn place(
        &mut self,
        limit: Option<usize>,
        refuse_when_full: bool,
    ) -> Option<Placement> {
        Some(match limit {
            None => Placement::Direct,
            Some(limit) if self.running < limit => {
                self.running += 1;
                Placement::NewWorker
            }
            Some(_) if refuse_when_full => return None,
            Some(_) => Placement::Queued,
        })
    }

    /// Queues `job` behind the others.
    pub(crate) fn push(&mut self, job: Job) {
        self.queue.push_back(job);
    }

    /// For a new worker while older jobs queue (a worker was lost): the
    /// queue's head, with `job` queued behind the rest, so FIFO holds.
    /// `Err(job)` if nothing queues: the worker runs `job` itself.
    pub(crate) fn head_before(&mut self, job: Job) -> Result<Job, Job> {
        match self.queue.pop_front() {
            Some(head) => {
                self.queue.push_back(job);
                Ok(head)
            }
            None => Err(job),
        }
    }

    /// Whether jobs are waiting.
    pub(crate) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// A worker's next job; `None` gives its slot back.
    pub(crate) fn next_job(&mut self) -> Option<Job> {
        let job = self.queue.pop_front();
        if job.is_none() {
            self.running -= 1;
        }
        job
    }

    /// A graceful stop began: the worker gives its slot back, and the jobs
    /// that have not started are handed out, to be dropped outside the lock
    /// (each records itself as cancelled).
    pub(crate) fn drain_for_stop(&mut self) -> VecDeque<Job> {
        self.running -= 1;
        core::mem::take(&mut self.queue)
    }

    /// A worker was dropped before it finished: its slot is free. If no
    /// worker is left, nothing would ever run the queue: hands the jobs out,
    /// to be dropped outside the lock (each records itself as lost or
    /// cancelled).
    pub(crate) fn release_after_loss(&mut self) -> VecDeque<Job> {
        self.running -= 1;
        if self.running == 0 {
            core::mem::take(&mut self.queue)
        } else {
            VecDeque::new()
        }
    }
}
