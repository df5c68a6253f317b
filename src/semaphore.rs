//! [`Semaphore`]: a weighted, FIFO-fair counting semaphore (Go's
//! `x/sync/semaphore.Weighted`, tokio's `Semaphore`), runtime-free.
//!
//! # State
//!
//! The free permits live in one atomic word, with two flags:
//!
//! ```text
//!  usize::BITS-1            2    1        0
//! +--------------------------+--------+--------+
//! |        available         | CLOSED | QUEUED |
//! +--------------------------+--------+--------+
//! ```
//!
//! With neither flag set, `try_acquire` and a release are one CAS on this
//! word: no lock, no allocation. `QUEUED` (someone waits) and `CLOSED` send
//! acquires to the slow path, and `QUEUED` sends releases there too, so while
//! anyone waits every change of `available` happens under the mutex, which
//! guards `capacity` and the FIFO queue of waiters. `QUEUED` is set and
//! cleared only under the mutex; a fast-path CAS that raced with its setting
//! fails (the word changed) and retries into the slow path.
//!
//! Permits are handed over directly: a release grants permits to waiters at
//! the head of the queue under the lock, then (outside the lock) notifies each
//! granted waiter's own `Event`. A waiter only ever reads its own node's
//! state, so a wake-up is never stolen by another waiter.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

#[cfg(feature = "std")]
use event_listener::Listener;
use event_listener::{Event, EventListener};

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

impl core::error::Error for AcquireError {}

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

impl core::error::Error for TryAcquireError {}

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
    /// The capacity when the request failed as `TOO_LARGE` (for the error).
    capacity_at_failure: AtomicUsize,
    event: Event,
}

/// Someone waits in the queue: acquires and releases take the lock.
const QUEUED_FLAG: usize = 1;
/// The semaphore is closed: acquires take the slow path (and fail).
const CLOSED_FLAG: usize = 2;
/// `available` starts at bit 2.
const PERMIT_SHIFT: u32 = 2;
/// The most permits a semaphore can hold.
const MAX_PERMITS: usize = usize::MAX >> PERMIT_SHIFT;

/// The atomic word of free permits and flags (see the module docs).
struct Permits(AtomicUsize);

impl Permits {
    #[inline]
    fn available(&self) -> usize {
        self.0.load(Ordering::Acquire) >> PERMIT_SHIFT
    }

    fn is_closed(&self) -> bool {
        self.0.load(Ordering::Acquire) & CLOSED_FLAG != 0
    }

    /// Takes `n` permits if they are free; with `flags_allowed` false, only
    /// when no flag is set (the lock-free fast path).
    #[inline]
    fn try_take(&self, n: usize, flags_allowed: bool) -> bool {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            if word >> PERMIT_SHIFT < n
                || (!flags_allowed && word & (QUEUED_FLAG | CLOSED_FLAG) != 0)
            {
                return false;
            }
            // Acquire: what the releaser did before releasing happens-before
            // the new holder's work.
            match self.0.compare_exchange_weak(
                word,
                word - (n << PERMIT_SHIFT),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => word = actual,
            }
        }
    }

    /// Returns `n` permits without the lock, unless someone is queued (then
    /// the caller must go through the lock and serve the queue).
    #[inline]
    fn try_give_back(&self, n: usize) -> bool {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            if word & QUEUED_FLAG != 0 {
                return false;
            }
            // Release: pairs with the Acquire of the next taker.
            match self.0.compare_exchange_weak(
                word,
                word + (n << PERMIT_SHIFT),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => word = actual,
            }
        }
    }

    /// Adds permits (under the lock).
    fn add(&self, n: usize) {
        self.0.fetch_add(n << PERMIT_SHIFT, Ordering::Release);
    }

    fn set_flag(&self, flag: usize, on: bool) {
        if on {
            self.0.fetch_or(flag, Ordering::AcqRel);
        } else {
            self.0.fetch_and(!flag, Ordering::AcqRel);
        }
    }
}

struct State {
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
    /// they fit; clears `QUEUED` once the queue is empty. Returns whom to
    /// notify (after the lock is released).
    #[must_use]
    fn settle_queue(&mut self, permits: &Permits) -> Vec<Arc<Waiter>> {
        let mut settled = Vec::new();
        while let Some(head) = self.queue.front() {
            if !permits.try_take(head.wanted, true) {
                break;
            }
            head.state.store(GRANTED, Ordering::Release);
            settled.extend(self.queue.pop_front());
        }
        if self.queue.is_empty() {
            permits.set_flag(QUEUED_FLAG, false);
        }
        settled
    }

    /// After the capacity shrank: fails the queued requests that can never
    /// fit now (they would block everyone behind them forever), then serves
    /// the queue.
    #[must_use]
    fn settle_after_shrink(&mut self, permits: &Permits) -> Vec<Arc<Waiter>> {
        let capacity = self.capacity;
        let mut settled = Vec::new();
        self.queue.retain(|waiter| {
            let fits = waiter.wanted <= capacity;
            if !fits {
                waiter
                    .capacity_at_failure
                    .store(capacity, Ordering::Relaxed);
                waiter.state.store(TOO_LARGE, Ordering::Release);
                settled.push(Arc::clone(waiter));
            }
            fits
        });
        settled.extend(self.settle_queue(permits));
        settled
    }
}

/// Notifies settled waiters; called with the lock released.
fn notify(settled: Vec<Arc<Waiter>>) {
    for waiter in settled {
        trace_event!(trace, "semaphore: waking a queued waiter");
        waiter.event.notify(1);
    }
}

struct Inner {
    permits: Permits,
    state: Mutex<State>,
}

impl Inner {
    /// Locks the queue (no user code runs under this lock).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Returns permits: one CAS when nobody waits (inlined into `Permit`'s
    /// drop), else through the lock.
    #[inline]
    fn release(&self, permits: usize) {
        if permits != 0 && !self.permits.try_give_back(permits) {
            self.release_to_queue(permits);
        }
    }

    #[inline(never)]
    fn release_to_queue(&self, permits: usize) {
        let settled = {
            let mut state = self.lock();
            self.permits.add(permits);
            state.settle_queue(&self.permits)
        };
        notify(settled);
    }

    /// Takes `wanted` permits at once if nothing stands in the way: the
    /// lock-free path, then the locked one (which also reports refusals).
    /// `Ok(false)`: the caller must queue (the lock is released).
    #[inline]
    fn try_take_now(&self, wanted: usize) -> Result<bool, AcquireError> {
        if self.permits.try_take(wanted, false) {
            return Ok(true);
        }
        self.try_take_locked(wanted)
    }

    #[inline(never)]
    fn try_take_locked(&self, wanted: usize) -> Result<bool, AcquireError> {
        let state = self.lock();
        if let Some(error) = state.refusal(wanted) {
            return Err(error);
        }
        Ok(state.queue.is_empty() && self.permits.try_take(wanted, true))
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
/// [`limit`](crate::Builder::limit) is simpler.
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
    /// A semaphore with `permits` permits, all available. Its capacity is
    /// `permits` too (until [`add_permits`](Self::add_permits) or
    /// [`forget_permits`](Self::forget_permits) change it).
    ///
    /// # Panics
    ///
    /// If `permits` exceeds `usize::MAX >> 2`.
    ///
    /// # Examples
    ///
    /// ```
    /// let connections = taskgroup::Semaphore::new(10);
    /// assert_eq!(connections.available(), 10);
    /// assert_eq!(connections.capacity(), 10);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn new(permits: usize) -> Self {
        assert!(permits <= MAX_PERMITS, "Semaphore::new: too many permits");
        Self {
            inner: Arc::new(Inner {
                permits: Permits(AtomicUsize::new(permits << PERMIT_SHIFT)),
                state: Mutex::new(State {
                    capacity: permits,
                    closed: false,
                    queue: VecDeque::new(),
                }),
            }),
        }
    }

    /// Acquires one permit, waiting in FIFO order behind earlier requests;
    /// see [`acquire_many`](Self::acquire_many).
    ///
    /// The future resolves to an error at once (without queueing) if the
    /// semaphore is closed or its capacity is zero.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe; see [`Acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup, Semaphore};
    ///
    /// smol::block_on(async {
    ///     let downloads = Semaphore::new(2); // at most two at a time
    ///     let running = Arc::new(AtomicUsize::new(0));
    ///     let group = ErrGroup::new(SmolRuntime::global());
    ///     for _ in 0..6 {
    ///         let (downloads, running) = (downloads.clone(), running.clone());
    ///         group.spawn(async move {
    ///             let _permit = downloads.acquire().await?;
    ///             let now = running.fetch_add(1, Ordering::SeqCst) + 1;
    ///             smol::future::yield_now().await; // "download", permit held
    ///             running.fetch_sub(1, Ordering::SeqCst);
    ///             Ok::<_, taskgroup::AcquireError>(now)
    ///         }).unwrap();
    ///     }
    ///     assert!(group.join().await.unwrap().iter().all(|&now| now <= 2));
    /// });
    /// ```
    #[inline]
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
    #[inline]
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            wanted: n,
            waiter: None,
            listener: None,
        }
    }

    /// Takes one permit if one is free now and nobody is queued, without
    /// waiting.
    ///
    /// # Errors
    ///
    /// See [`try_acquire_many`](Self::try_acquire_many):
    /// [`TryAcquireError::NoPermits`] if it would have to wait,
    /// [`TryAcquireError::Failed`] if the semaphore is closed (or its
    /// capacity is zero).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{AcquireError, Semaphore, TryAcquireError};
    ///
    /// let sem = Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// drop(permit);
    /// assert!(sem.try_acquire().is_ok());
    /// sem.close();
    /// assert_eq!(
    ///     sem.try_acquire().unwrap_err(),
    ///     TryAcquireError::Failed(AcquireError::Closed)
    /// );
    /// ```
    #[inline]
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
    #[inline]
    pub fn try_acquire_many(&self, n: usize) -> Result<Permit, TryAcquireError> {
        match self.inner.try_take_now(n) {
            Ok(true) => Ok(self.permit(n)),
            Ok(false) => Err(TryAcquireError::NoPermits),
            Err(error) => Err(TryAcquireError::Failed(error)),
        }
    }

    #[cfg(feature = "std")]
    /// Blocks the current thread until one permit is acquired (FIFO, as
    /// [`acquire`](Self::acquire)).
    ///
    /// Do not call it from inside an async task: it blocks the executor's
    /// thread. Use [`acquire`](Self::acquire) there.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many): [`AcquireError::Closed`] if
    /// the semaphore is (or gets) closed, [`AcquireError::TooLarge`] if its
    /// capacity is (or shrinks to) zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use taskgroup::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// let running = Arc::new(AtomicUsize::new(0));
    /// let threads: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let (sem, running) = (sem.clone(), running.clone());
    ///         std::thread::spawn(move || {
    ///             let _permit = sem.acquire_blocking().unwrap();
    ///             let now = running.fetch_add(1, Ordering::SeqCst) + 1;
    ///             std::thread::sleep(std::time::Duration::from_millis(1)); // the work
    ///             running.fetch_sub(1, Ordering::SeqCst);
    ///             now
    ///         })
    ///     })
    ///     .collect();
    /// for thread in threads {
    ///     assert!(thread.join().unwrap() <= 2); // never more than two at once
    /// }
    /// ```
    pub fn acquire_blocking(&self) -> Result<Permit, AcquireError> {
        self.acquire_many_blocking(1)
    }

    #[cfg(feature = "std")]
    /// Blocks the current thread until `n` permits are acquired (FIFO, as
    /// [`acquire_many`](Self::acquire_many)).
    ///
    /// Do not call it from inside an async task: it blocks the executor's
    /// thread.
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

    /// Permits free now (a snapshot: other handles may take or return
    /// permits at any time).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(4);
    /// let permit = sem.try_acquire_many(3).unwrap();
    /// assert_eq!(sem.available(), 1);
    /// drop(permit);
    /// assert_eq!(sem.available(), 4);
    /// ```
    #[must_use]
    pub fn available(&self) -> usize {
        self.inner.permits.available()
    }

    /// Permits in total: free plus held. Requests for more than this fail
    /// at once with [`AcquireError::TooLarge`].
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{AcquireError, Semaphore};
    ///
    /// let sem = Semaphore::new(4);
    /// let _held = sem.try_acquire_many(3).unwrap();
    /// assert_eq!(sem.capacity(), 4); // held permits still count
    /// assert_eq!(
    ///     sem.acquire_many_blocking(5).unwrap_err(),
    ///     AcquireError::TooLarge { requested: 5, capacity: 4 }
    /// );
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.inner.lock().capacity
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(1);
    /// assert!(!sem.is_closed());
    /// sem.close();
    /// assert!(sem.is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.permits.is_closed()
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
            self.inner.permits.set_flag(CLOSED_FLAG, true);
            self.inner.permits.set_flag(QUEUED_FLAG, false);
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
    ///
    /// # Panics
    ///
    /// If the capacity would exceed `usize::MAX >> 2`.
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        let settled = {
            let mut state = self.inner.lock();
            assert!(
                n <= MAX_PERMITS - state.capacity,
                "Semaphore::add_permits: too many permits"
            );
            state.capacity += n;
            self.inner.permits.add(n);
            state.settle_queue(&self.inner.permits)
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
            // Fast-path acquirers may race us (when nobody is queued): take
            // what is free with the same CAS they use.
            let mut removed = n.min(self.inner.permits.available());
            while removed > 0 && !self.inner.permits.try_take(removed, true) {
                removed = n.min(self.inner.permits.available());
            }
            state.capacity -= removed;
            (removed, state.settle_after_shrink(&self.inner.permits))
        };
        notify(settled);
        removed
    }

    #[inline]
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
            .field("available", &self.inner.permits.available())
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
    /// How many permits this holds (and returns to the semaphore when
    /// dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(8);
    /// assert_eq!(sem.try_acquire().unwrap().permits(), 1);
    /// assert_eq!(sem.try_acquire_many(5).unwrap().permits(), 5);
    /// ```
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
            state.settle_after_shrink(&self.inner.permits)
        };
        notify(settled);
    }
}

impl Drop for Permit {
    #[inline]
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
            let inner = &self.semaphore.inner;
            if inner.permits.try_take(self.wanted, false) {
                return Some(Ok(self.semaphore.permit(self.wanted)));
            }
            let mut state = inner.lock();
            if let Some(error) = state.refusal(self.wanted) {
                return Some(Err(error));
            }
            if state.queue.is_empty() && inner.permits.try_take(self.wanted, true) {
                return Some(Ok(self.semaphore.permit(self.wanted)));
            }
            let waiter = Arc::new(Waiter {
                wanted: self.wanted,
                state: AtomicUsize::new(WAITING),
                capacity_at_failure: AtomicUsize::new(0),
                event: Event::new(),
            });
            // Listen before the node is visible: a grant right after the
            // unlock is then not missed.
            self.listener = Some(waiter.event.listen());
            state.queue.push_back(Arc::clone(&waiter));
            // From here releases take the lock. One that slipped in before
            // the flag was set is seen by settling now.
            inner.permits.set_flag(QUEUED_FLAG, true);
            let settled = state.settle_queue(&inner.permits);
            drop(state);
            let granted_to_us = settled.iter().any(|other| Arc::ptr_eq(other, &waiter));
            self.waiter = Some(waiter);
            notify(settled);
            // Granted already: finish now rather than wait for the wake-up.
            return if granted_to_us {
                self.try_complete()
            } else {
                None
            };
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
                // Relaxed: ordered by the Acquire load of `state` above.
                capacity: waiter.capacity_at_failure.load(Ordering::Relaxed),
            }),
        };
        self.waiter = None;
        self.listener = None;
        Some(result)
    }
}

impl Future for Acquire<'_> {
    type Output = Result<Permit, AcquireError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        // Fast path, inlined: a first poll with permits free and nobody
        // queued is one CAS.
        if this.waiter.is_none() && this.semaphore.inner.permits.try_take(this.wanted, false) {
            return Poll::Ready(Ok(this.semaphore.permit(this.wanted)));
        }
        this.poll_slow(cx)
    }
}

impl Acquire<'_> {
    #[inline(never)]
    fn poll_slow(&mut self, cx: &mut Context<'_>) -> Poll<Result<Permit, AcquireError>> {
        let this = self;
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
                    state.settle_queue(&self.semaphore.inner.permits)
                }
                // Granted but never handed out: give the permits back.
                GRANTED => {
                    self.semaphore.inner.permits.add(self.wanted);
                    state.settle_queue(&self.semaphore.inner.permits)
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
