//! [`Semaphore`]: a weighted, FIFO-fair counting semaphore (Go's
//! `x/sync/semaphore.Weighted`, tokio's `Semaphore`), runtime-free.
//!
//! # State
//!
//! One mutex guards `available`, `capacity`, `closed` and the FIFO queue of
//! waiters. Permits are handed over directly: a release grants permits to
//! waiters at the head of the queue under the lock, then (outside the lock)
//! notifies each granted waiter's own `Event`. A waiter only ever reads its
//! own node's state, so a wake-up is never stolen by another waiter.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::collections::VecDeque;

use event_listener::{Event, EventListener, Listener};

use crate::sync::{Arc, AtomicUsize, Mutex, MutexGuard, Ordering};

/// Why an `acquire` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcquireError {
    /// The semaphore was closed.
    Closed,
    /// More permits were requested than the semaphore will ever have.
    TooLarge {
        /// Permits asked for.
        requested: usize,
        /// The semaphore's capacity when the request failed.
        capacity: usize,
    },
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("semaphore closed"),
            Self::TooLarge {
                requested,
                capacity,
            } => write!(
                f,
                "requested {requested} permits from a semaphore with a capacity of {capacity}: \
                 it could never be granted"
            ),
        }
    }
}

impl std::error::Error for AcquireError {}

/// Why a `try_acquire` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryAcquireError {
    /// Not enough permits free now, or others are queued first.
    NoPermits,
    /// The semaphore was closed, or the request exceeds its capacity.
    Failed(AcquireError),
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPermits => f.write_str("no permits available now"),
            Self::Failed(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for TryAcquireError {}

/// A waiter's state: waiting, then exactly one of the others.
const WAITING: usize = 0;
const GRANTED: usize = 1;
const CLOSED: usize = 2;
const TOO_LARGE: usize = 3;

/// One queued request. Its `state` is written once (from `WAITING`), under
/// the semaphore's lock, then its `event` notified outside the lock.
struct Waiter {
    wanted: usize,
    state: AtomicUsize,
    event: Event,
}

struct State {
    available: usize,
    capacity: usize,
    closed: bool,
    queue: VecDeque<Arc<Waiter>>,
}

impl State {
    /// The immediate failure for a request of `wanted`, if any.
    fn refusal(&self, wanted: usize) -> Option<AcquireError> {
        if self.closed {
            Some(AcquireError::Closed)
        } else if wanted > self.capacity {
            Some(AcquireError::TooLarge {
                requested: wanted,
                capacity: self.capacity,
            })
        } else {
            None
        }
    }

    /// Hands permits to waiters at the head of the queue, in order, while
    /// they fit. Returns whom to notify (after the lock is released).
    #[must_use]
    fn settle_queue(&mut self) -> Vec<Arc<Waiter>> {
        let mut settled = Vec::new();
        while let Some(head) = self.queue.front() {
            if head.wanted > self.available {
                break;
            }
            self.available -= head.wanted;
            head.state.store(GRANTED, Ordering::Release);
            settled.extend(self.queue.pop_front());
        }
        settled
    }

    /// After the capacity shrank: fails the queued requests that can never
    /// fit now (they would block everyone behind them forever), then serves
    /// the queue.
    #[must_use]
    fn settle_after_shrink(&mut self) -> Vec<Arc<Waiter>> {
        let capacity = self.capacity;
        let mut settled = Vec::new();
        self.queue.retain(|waiter| {
            let fits = waiter.wanted <= capacity;
            if !fits {
                waiter.state.store(TOO_LARGE, Ordering::Release);
                settled.push(Arc::clone(waiter));
            }
            fits
        });
        settled.extend(self.settle_queue());
        settled
    }
}

/// Notifies settled waiters; called with the lock released.
fn notify(settled: Vec<Arc<Waiter>>) {
    for waiter in settled {
        waiter.event.notify(1);
    }
}

struct Inner {
    state: Mutex<State>,
}

impl Inner {
    /// No user code runs under this lock, so a poisoned lock still holds
    /// consistent state.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release(&self, permits: usize) {
        if permits == 0 {
            return;
        }
        let settled = {
            let mut state = self.lock();
            state.available += permits;
            state.settle_queue()
        };
        notify(settled);
    }
}

/// A weighted, FIFO-fair semaphore. Cloning gives another handle to the
/// same semaphore.
///
/// # When to use it
///
/// Use it to bound how much of something is in use at once — connections,
/// memory, CPU-heavy jobs — when different users need different amounts
/// (weights). To bound how many tasks of a group run at once, the group's own
/// [`with_limit`](crate::ErrGroup::with_limit) is simpler.
///
/// # Semantics
///
/// * **FIFO-fair.** Waiters are served strictly in arrival order: a request
///   for many permits is never starved by a stream of small ones (a small
///   request behind it waits too, even when it would fit — Go's rule).
/// * **Impossible requests fail at once.** Asking for more than the capacity
///   returns [`AcquireError::TooLarge`] instead of waiting forever (Go's
///   `Acquire` hangs here). If the capacity shrinks below a queued request,
///   that request fails the same way.
/// * **Cancel-safe.** Dropping an `acquire` future never loses permits: a
///   queued waiter leaves the queue (and the waiters behind it are served if
///   they now can be); a waiter that was granted permits but dropped before
///   it saw them hands them back.
/// * [`close`](Semaphore::close) fails every queued and future acquire with
///   [`AcquireError::Closed`]; permits already held stay valid.
///
/// # Examples
///
/// ```
/// use taskgroup::Semaphore;
///
/// let memory = Semaphore::new(30);
/// let big = memory.try_acquire_many(20).unwrap();
/// assert_eq!(memory.available(), 10);
/// assert!(memory.try_acquire_many(15).is_err()); // would have to wait
/// drop(big);
/// let again = futures::executor::block_on(memory.acquire_many(15)).unwrap();
/// assert_eq!(again.permits(), 15);
/// // More than the capacity can never be granted: an error, not a hang.
/// assert!(futures::executor::block_on(memory.acquire_many(31)).is_err());
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Arc<Inner>,
}

impl Semaphore {
    /// A semaphore with `permits` permits, all available.
    #[must_use]
    pub fn new(permits: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    available: permits,
                    capacity: permits,
                    closed: false,
                    queue: VecDeque::new(),
                }),
            }),
        }
    }

    /// Acquires one permit; see [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe; see [`Acquire`].
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Acquires `n` permits, waiting in FIFO order behind earlier requests.
    ///
    /// The future resolves to an error at once (without queueing) if the
    /// semaphore is closed or `n` exceeds its capacity.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future never loses permits or blocks the
    /// queue (see [`Acquire`]). It does lose the waiter's place in line.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(3);
    /// let permit = futures::executor::block_on(sem.acquire_many(2)).unwrap();
    /// assert_eq!(sem.available(), 1);
    /// drop(permit);
    /// assert_eq!(sem.available(), 3);
    /// ```
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            wanted: n,
            waiter: None,
            listener: None,
        }
    }

    /// Takes one permit if one is free now and nobody is queued.
    ///
    /// # Errors
    ///
    /// See [`try_acquire_many`](Self::try_acquire_many).
    pub fn try_acquire(&self) -> Result<Permit, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free now and nobody is queued (queued
    /// waiters come first, even when `n` would fit).
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if it would have to wait;
    /// [`TryAcquireError::Failed`] if the semaphore is closed or `n` exceeds
    /// its capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{Semaphore, TryAcquireError};
    ///
    /// let sem = Semaphore::new(1);
    /// let held = sem.try_acquire().unwrap();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<Permit, TryAcquireError> {
        let mut state = self.inner.lock();
        if let Some(error) = state.refusal(n) {
            return Err(TryAcquireError::Failed(error));
        }
        if !state.queue.is_empty() || state.available < n {
            return Err(TryAcquireError::NoPermits);
        }
        state.available -= n;
        Ok(self.permit(n))
    }

    /// Blocks the current thread until one permit is acquired.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    pub fn acquire_blocking(&self) -> Result<Permit, AcquireError> {
        self.acquire_many_blocking(1)
    }

    /// Blocks the current thread until `n` permits are acquired.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(2);
    /// let permit = sem.acquire_many_blocking(2).unwrap();
    /// let other = sem.clone();
    /// let waiter = std::thread::spawn(move || other.acquire_blocking().map(|p| p.permits()));
    /// drop(permit);
    /// assert_eq!(waiter.join().unwrap(), Ok(1));
    /// ```
    pub fn acquire_many_blocking(&self, n: usize) -> Result<Permit, AcquireError> {
        let mut acquire = self.acquire_many(n);
        loop {
            if let Some(result) = acquire.try_complete() {
                return result;
            }
            if let Some(listener) = acquire.listener.take() {
                listener.wait();
            }
        }
    }

    /// Permits free now (a snapshot).
    #[must_use]
    pub fn available(&self) -> usize {
        self.inner.lock().available
    }

    /// Permits in total: free plus held.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.inner.lock().capacity
    }

    /// Whether [`close`](Self::close) was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }

    /// Closes the semaphore: queued and future acquires fail with
    /// [`AcquireError::Closed`]. Permits already held stay valid and are
    /// returned as usual.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{AcquireError, Semaphore};
    ///
    /// let sem = Semaphore::new(1);
    /// sem.close();
    /// assert_eq!(sem.acquire_blocking().unwrap_err(), AcquireError::Closed);
    /// ```
    pub fn close(&self) {
        let failed: Vec<_> = {
            let mut state = self.inner.lock();
            state.closed = true;
            state
                .queue
                .drain(..)
                .inspect(|waiter| waiter.state.store(CLOSED, Ordering::Release))
                .collect()
        };
        notify(failed);
    }

    /// Adds `n` permits (and as much capacity), serving queued waiters that
    /// now fit.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(1);
    /// sem.add_permits(2);
    /// assert_eq!((sem.available(), sem.capacity()), (3, 3));
    /// ```
    pub fn add_permits(&self, n: usize) {
        let settled = {
            let mut state = self.inner.lock();
            state.available += n;
            state.capacity += n;
            state.settle_queue()
        };
        notify(settled);
    }

    /// Removes up to `n` of the permits free now, for good (capacity shrinks
    /// too), and returns how many were removed. Queued requests that no longer
    /// fit the capacity fail with [`AcquireError::TooLarge`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(5);
    /// let _held = sem.try_acquire_many(2).unwrap();
    /// assert_eq!(sem.forget_permits(10), 3);
    /// assert_eq!((sem.available(), sem.capacity()), (0, 2));
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        let (removed, settled) = {
            let mut state = self.inner.lock();
            let removed = n.min(state.available);
            state.available -= removed;
            state.capacity -= removed;
            (removed, state.settle_after_shrink())
        };
        notify(settled);
        removed
    }

    fn permit(&self, permits: usize) -> Permit {
        Permit {
            inner: Arc::clone(&self.inner),
            permits,
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("Semaphore")
            .field("available", &state.available)
            .field("capacity", &state.capacity)
            .field("queued", &state.queue.len())
            .field("closed", &state.closed)
            .finish()
    }
}

/// Permits held from a [`Semaphore`]; returned to it when dropped.
#[must_use = "dropping the permit releases it at once"]
pub struct Permit {
    inner: Arc<Inner>,
    permits: usize,
}

impl Permit {
    /// How many permits this holds.
    #[must_use]
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits out of the semaphore for good: its capacity shrinks
    /// by as many.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(3);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!((sem.available(), sem.capacity()), (2, 2));
    /// ```
    pub fn forget(mut self) {
        let permits = core::mem::take(&mut self.permits);
        let settled = {
            let mut state = self.inner.lock();
            state.capacity -= permits;
            state.settle_after_shrink()
        };
        notify(settled);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.inner.release(self.permits);
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Future returned by [`Semaphore::acquire`] and
/// [`Semaphore::acquire_many`].
///
/// # Cancel safety
///
/// Cancel-safe. Dropped while queued, it leaves the queue, and the waiters
/// behind it are served if they now fit. Dropped after permits were granted
/// to it but before it returned them in a [`Permit`], it gives them back.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Acquire<'a> {
    semaphore: &'a Semaphore,
    wanted: usize,
    /// Our node in the queue, once queued; `None` again once finished.
    waiter: Option<Arc<Waiter>>,
    listener: Option<EventListener>,
}

impl Acquire<'_> {
    /// Moves the request forward without waiting: `Some(result)` when it is
    /// finished; `None` when it must wait, with `listener` registered.
    fn try_complete(&mut self) -> Option<Result<Permit, AcquireError>> {
        let Some(waiter) = &self.waiter else {
            // First attempt: take the permits at once, or queue.
            let mut state = self.semaphore.inner.lock();
            if let Some(error) = state.refusal(self.wanted) {
                return Some(Err(error));
            }
            if state.queue.is_empty() && state.available >= self.wanted {
                state.available -= self.wanted;
                return Some(Ok(self.semaphore.permit(self.wanted)));
            }
            let waiter = Arc::new(Waiter {
                wanted: self.wanted,
                state: AtomicUsize::new(WAITING),
                event: Event::new(),
            });
            // Listen before the node is visible: a grant right after the
            // unlock is then not missed.
            self.listener = Some(waiter.event.listen());
            state.queue.push_back(Arc::clone(&waiter));
            self.waiter = Some(waiter);
            return None;
        };
        // Acquire: pairs with the Release store under the lock that settled us.
        let result = match waiter.state.load(Ordering::Acquire) {
            WAITING => {
                if self.listener.is_none() {
                    // Listen, then re-check: a settle in between is seen.
                    self.listener = Some(waiter.event.listen());
                    return self.try_complete();
                }
                return None;
            }
            GRANTED => Ok(self.semaphore.permit(self.wanted)),
            CLOSED => Err(AcquireError::Closed),
            _ => Err(AcquireError::TooLarge {
                requested: self.wanted,
                capacity: self.semaphore.capacity(),
            }),
        };
        self.waiter = None;
        self.listener = None;
        Some(result)
    }
}

impl Future for Acquire<'_> {
    type Output = Result<Permit, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            if let Some(result) = this.try_complete() {
                return Poll::Ready(result);
            }
            let listener = this
                .listener
                .as_mut()
                .expect("a waiting acquire has a listener");
            if Pin::new(listener).poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.listener = None;
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(waiter) = self.waiter.take() else {
            return;
        };
        let settled = {
            let mut state = self.semaphore.inner.lock();
            match waiter.state.load(Ordering::Acquire) {
                // Still queued: leave the queue. If we were the head, the
                // waiters behind us may fit now.
                WAITING => {
                    state.queue.retain(|queued| !Arc::ptr_eq(queued, &waiter));
                    state.settle_queue()
                }
                // Granted but never handed out: give the permits back.
                GRANTED => {
                    state.available += self.wanted;
                    state.settle_queue()
                }
                _ => Vec::new(),
            }
        };
        notify(settled);
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
