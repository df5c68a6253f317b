//! [`Acquire`]: the future of `acquire` / `acquire_many`, and the blocking
//! wait built on it.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::EventListener;
#[cfg(feature = "std")]
use event_listener::Listener;

use super::queue::{Attempt, Line, Outcome, Waiter};
use super::{AcquireError, Permit, Semaphore};
use crate::sync::Arc;

/// Future returned by [`Semaphore::acquire`] and
/// [`Semaphore::acquire_many`].
///
/// # Cancel safety
///
/// Cancel-safe. Dropped while queued, it leaves the queue, and the waiters
/// behind it are served if they now fit. Dropped after it was woken to try
/// again, it passes the wake-up on to the next waiter. Dropped after permits
/// were granted to it but before it returned them in a [`Permit`], it gives
/// them back.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Acquire<'a> {
    semaphore: &'a Semaphore,
    wanted: usize,
    /// Our node in the queue, once queued; `None` again once finished.
    waiter: Option<Arc<Waiter>>,
    /// Registered on our node's event while we wait.
    listener: Option<EventListener>,
}

impl<'a> Acquire<'a> {
    #[inline]
    pub(super) fn new(semaphore: &'a Semaphore, wanted: usize) -> Self {
        Self {
            semaphore,
            wanted,
            waiter: None,
            listener: None,
        }
    }

    /// The first attempt ([`Inner::try_take_now`](super::queue::Inner)):
    /// `Some(result)` if finished at once, else `None`, queued.
    #[inline]
    fn first_attempt(&mut self) -> Option<Result<Permit, AcquireError>> {
        let semaphore: &'a Semaphore = self.semaphore;
        let inner = &semaphore.inner;
        match inner.try_take_now(self.wanted) {
            Attempt::Taken => Some(Ok(Permit::new(inner, self.wanted))),
            Attempt::Refused(error) => Some(Err(error)),
            Attempt::MustWait(line) => {
                self.enqueue(line);
                None
            }
        }
    }

    #[inline(never)]
    fn enqueue(&mut self, line: Line<'_>) {
        let (waiter, listener) = line.enqueue(self.wanted);
        self.waiter = Some(waiter);
        self.listener = Some(listener);
    }

    /// Moves the request forward without waiting: `Some(result)` when it is
    /// finished; `None` when it must wait, with `listener` registered.
    fn try_complete(&mut self) -> Option<Result<Permit, AcquireError>> {
        if self.waiter.is_none() {
            if let Some(result) = self.first_attempt() {
                return Some(result);
            }
        }
        loop {
            let waiter = self.waiter.as_ref()?;
            let finished = match waiter.outcome() {
                Outcome::Done(result) => result,
                Outcome::Woken => {
                    // Our notification is used up: the next one needs a
                    // new listener, registered before we re-check.
                    self.listener = None;
                    match self.semaphore.inner.retry(waiter) {
                        Some(result) => result,
                        None => continue,
                    }
                }
                Outcome::Waiting if self.listener.is_none() => {
                    // Listen, then re-check: a change in between is seen.
                    self.listener = Some(waiter.listen());
                    continue;
                }
                Outcome::Waiting => return None,
            };
            self.waiter = None;
            self.listener = None;
            let inner = &self.semaphore.inner;
            return Some(finished.map(|()| Permit::new(inner, self.wanted)));
        }
    }

    /// Blocks the thread until the request is finished.
    #[cfg(feature = "std")]
    pub(super) fn wait_blocking(mut self) -> Result<Permit, AcquireError> {
        loop {
            if let Some(result) = self.try_complete() {
                return result;
            }
            if let Some(listener) = self.listener.take() {
                listener.wait();
            }
        }
    }

    #[inline(never)]
    fn poll_slow(&mut self, cx: &mut Context<'_>) -> Poll<Result<Permit, AcquireError>> {
        loop {
            if let Some(result) = self.try_complete() {
                return Poll::Ready(result);
            }
            let listener = self
                .listener
                .as_mut()
                .expect("a waiting acquire has a listener");
            if Pin::new(listener).poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.listener = None;
        }
    }
}

impl Future for Acquire<'_> {
    type Output = Result<Permit, AcquireError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        // The first attempt's lock-free CAS is inlined into the caller;
        // the locked path, queueing and waiting are out of line.
        if this.waiter.is_none() {
            if let Some(result) = this.first_attempt() {
                return Poll::Ready(result);
            }
        }
        this.poll_slow(cx)
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            self.semaphore.inner.abandon(&waiter);
        }
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("wanted", &self.wanted)
            .field("queued", &self.waiter.is_some())
            .finish()
    }
}
