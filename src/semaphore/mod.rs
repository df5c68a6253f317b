//! [`Semaphore`]: a weighted, FIFO-fair counting semaphore (Go's
//! `x/sync/semaphore.Weighted`, tokio's `Semaphore`), runtime-free.
//!
//! One concept per file: this one holds the public type; [`Permit`] is in
//! `permit.rs`, the [`Acquire`] future (and the blocking wait) in
//! `acquire.rs`, the errors in `error.rs`, and the shared state — the atomic
//! word of free permits (its layout drawn there), the FIFO queue and the
//! hand-off from a release to the waiters — in `queue.rs`.

use core::fmt;

mod acquire;
mod error;
mod permit;
mod queue;

pub use acquire::Acquire;
pub use error::{AcquireError, TryAcquireError};
pub use permit::Permit;

use crate::sync::Arc;
use queue::{Attempt, Inner, MAX_PERMITS};

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
            inner: Arc::new(Inner::new(permits)),
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
        Acquire::new(self, n)
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
            Attempt::Taken => Ok(Permit::new(&self.inner, n)),
            Attempt::MustWait(_) => Err(TryAcquireError::NoPermits),
            Attempt::Refused(error) => Err(TryAcquireError::Failed(error)),
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
        self.acquire_many(n).wait_blocking()
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
        self.inner.available()
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
        self.inner.capacity()
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
        self.inner.is_closed()
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
        self.inner.close();
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
        self.inner.add_permits(n);
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
        self.inner.forget_free(n)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (available, capacity, queued, closed) = self.inner.snapshot();
        f.debug_struct("Semaphore")
            .field("available", &available)
            .field("capacity", &capacity)
            .field("queued", &queued)
            .field("closed", &closed)
            .finish()
    }
}
