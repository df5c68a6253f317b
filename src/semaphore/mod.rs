//! [`Semaphore`]: a weighted, starvation-free counting semaphore (tokio's
//! `Semaphore`, Go's `x/sync/semaphore.Weighted`, with Go's `sync.Mutex`
//! hand-off rule), runtime-free.
//!
//! One concept per file: this one holds the public type and its model;
//! [`Permit`] is in `permit.rs`, the [`Acquire`] future (and the blocking
//! wait) in `acquire.rs`, the errors in `error.rs`, and the shared state —
//! the atomic word of free permits (its layout drawn there), the queue, the
//! two modes and the hand-off from a release to the waiters — in `queue.rs`.

use core::fmt;
use core::time::Duration;

mod acquire;
mod error;
mod permit;
mod queue;

pub use acquire::Acquire;
pub use error::{AcquireError, TryAcquireError};
pub use permit::Permit;

use crate::sync::Arc;
use queue::{Attempt, Inner};

/// A weighted, starvation-free semaphore: fast under contention, with a
/// bounded wait. Cloning gives another handle to the same semaphore.
///
/// # When to use it
///
/// Use it to bound how much of something is in use at once — connections,
/// memory, CPU-heavy jobs — when different users need different amounts
/// (weights); as a pool's or a token bucket's count of what is left (see
/// [`Permit::forget`] and [`add_permits`](Self::add_permits)). To bound how
/// many tasks of a group run at once, the group's own
/// [`limit`](crate::Builder::limit) is simpler.
///
/// # The model: two kinds of semaphore
///
/// * [`Semaphore::new`] (tokio's model) makes a semaphore whose size the
///   program changes: [`add_permits`](Self::add_permits) adds permits,
///   [`Permit::forget`] and [`forget_permits`](Self::forget_permits) take
///   them out until `add_permits` puts them back. So a request **waits while
///   it could still be granted**: `new(0)` and a later `add_permits(1)`
///   serve a waiting `acquire()`, and taking permits out never fails a
///   queued request. Only a request for more than [`MAX_PERMITS`](Self::MAX_PERMITS) (which no
///   semaphore can ever hold) fails at once with
///   [`AcquireError::TooLarge`].
/// * [`Semaphore::fixed`] (Go's `semaphore.NewWeighted`) makes one whose
///   size never grows: `add_permits` panics, and forgetting permits retires
///   them for good. A request for more than its size can never be granted,
///   so it fails at once with [`AcquireError::TooLarge`] — also a queued one,
///   when forgetting shrinks the size below it — where Go's `Acquire` hangs
///   forever.
///
/// Either way:
///
/// * **Fast and fair: barging with a bound** (the rule of Go's
///   `sync.Mutex`). Waiters queue in arrival order, and a release wakes the
///   one at the head, but a newcomer — `try_acquire`, or an `acquire` on its
///   first poll — may take free permits before the woken waiter runs, as
///   async-lock's semaphore lets it: under contention most releases then
///   cost one atomic operation instead of a thread wake-up. A woken waiter
///   that finds the permits gone goes back to the **front** of the queue.
///   Once the head has waited [`HANDOFF_AFTER`](Self::HANDOFF_AFTER) (1 ms)
///   or more and loses such a race, the semaphore switches to **strict FIFO
///   hand-off**: newcomers queue behind, and each release grants the
///   permits to the waiters at the head in order (a request for many
///   permits is then never starved by a stream of small ones; a small
///   request behind it waits too, even when it would fit). It switches back
///   when the queue empties or a waiter is served within the bound. So
///   arrival order is kept among queued waiters, but not between a queued
///   waiter and a newcomer while the head has waited less than the bound.
///   (Without the `std` feature there is no clock: the bound is zero, which
///   is strict FIFO — a newcomer never passes a queued waiter.)
/// * **Cancel-safe.** Dropping an `acquire` future never loses permits: a
///   queued waiter leaves the queue (and the waiters behind it are served if
///   they now can be); a waiter woken to try again passes the wake-up on to
///   the next; a waiter that was granted permits but dropped before it saw
///   them hands them back, to the next waiter if one fits.
/// * [`close`](Semaphore::close) fails every queued and later acquire with
///   [`AcquireError::Closed`]; permits already held stay valid.
/// * **Cheap when free.** An acquire that finds permits free (outside
///   hand-off mode), and a release that needs to wake nobody, are one
///   atomic compare-and-swap each, with no lock and no allocation.
///
/// # Examples
///
/// ```
/// use taskgroup::{AcquireError, Semaphore};
///
/// let memory = Semaphore::fixed(30);
/// let big = memory.try_acquire_many(20).unwrap();
/// assert_eq!(memory.available_permits(), 10);
/// assert!(memory.try_acquire_many(15).is_err()); // would have to wait
/// drop(big);
/// let again = futures::executor::block_on(memory.acquire_many(15)).unwrap();
/// assert_eq!(again.num_permits(), 15);
/// // More than a fixed size can never be granted: an error, not a hang.
/// assert_eq!(
///     futures::executor::block_on(memory.acquire_many(31)).unwrap_err(),
///     AcquireError::TooLarge { requested: 31, max: 30 }
/// );
/// ```
///
/// A semaphore created empty and filled later: the request waits.
///
/// ```
/// let ready = taskgroup::Semaphore::new(0);
/// let filler = ready.clone();
/// let thread = std::thread::spawn(move || filler.add_permits(1));
/// let permit = futures::executor::block_on(ready.acquire()).unwrap();
/// assert_eq!(permit.num_permits(), 1);
/// thread.join().unwrap();
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Arc<Inner>,
}

impl Semaphore {
    /// The most permits a semaphore can hold (`usize::MAX >> 4`): the bits
    /// of its state word above four flags.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{AcquireError, Semaphore};
    ///
    /// let sem = Semaphore::new(0);
    /// let too_many = Semaphore::MAX_PERMITS + 1;
    /// assert_eq!(
    ///     sem.acquire_many_blocking(too_many).unwrap_err(),
    ///     AcquireError::TooLarge { requested: too_many, max: Semaphore::MAX_PERMITS }
    /// );
    /// ```
    pub const MAX_PERMITS: usize = queue::MAX_PERMITS;

    /// How long the waiter at the head of the queue may be passed over by
    /// newcomers before the semaphore hands permits over in strict FIFO
    /// order (see the [type's docs](Self)): 1 ms, as Go's `sync.Mutex`.
    /// Without the `std` feature (no clock) the bound is zero: strict FIFO.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(taskgroup::Semaphore::HANDOFF_AFTER.as_millis(), 1);
    /// ```
    pub const HANDOFF_AFTER: Duration = Duration::from_millis(1);

    /// The bound this build uses: [`HANDOFF_AFTER`](Self::HANDOFF_AFTER)
    /// with a clock, zero without.
    const BOUND: Duration = if cfg!(feature = "std") {
        Self::HANDOFF_AFTER
    } else {
        Duration::ZERO
    };

    /// A semaphore as [`new`](Self::new) (`fixed` false) or
    /// [`fixed`](Self::fixed) makes it, with another hand-off bound:
    /// `Duration::ZERO` is strict FIFO (hand-off whenever anyone is queued),
    /// `Duration::MAX` never hands off. For deterministic tests of both
    /// modes; not part of the stable API. (Without the `std` feature there
    /// is no clock, and any bound but zero never hands off.)
    ///
    /// # Panics
    ///
    /// As [`new`](Self::new).
    #[doc(hidden)]
    #[must_use]
    #[track_caller]
    pub fn with_handoff_after(permits: usize, fixed: bool, bound: Duration) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "Semaphore::with_handoff_after: {permits} permits is more than Semaphore::MAX_PERMITS"
        );
        Self {
            inner: Arc::new(Inner::new(permits, fixed, bound)),
        }
    }

    /// A semaphore with `permits` permits, all available, whose size the
    /// program may change: [`add_permits`](Self::add_permits) adds permits,
    /// [`Permit::forget`] and [`forget_permits`](Self::forget_permits) take
    /// them out. A request waits while it could still be granted (see the
    /// [type's docs](Self)); `new(0)` is a semaphore to be filled later.
    ///
    /// Not `const`: a semaphore is a handle to shared state on the heap. For
    /// a `static`, use a lazily initialized one (`std::sync::LazyLock`).
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// # Examples
    ///
    /// ```
    /// let connections = taskgroup::Semaphore::new(10);
    /// assert_eq!(connections.available_permits(), 10);
    /// assert!(!connections.is_fixed());
    ///
    /// // In a `static`:
    /// static DOWNLOADS: std::sync::LazyLock<taskgroup::Semaphore> =
    ///     std::sync::LazyLock::new(|| taskgroup::Semaphore::new(4));
    /// assert_eq!(DOWNLOADS.available_permits(), 4);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn new(permits: usize) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "Semaphore::new: {permits} permits is more than Semaphore::MAX_PERMITS"
        );
        Self {
            inner: Arc::new(Inner::new(permits, false, Self::BOUND)),
        }
    }

    /// A semaphore of `size` permits, all available, whose size never grows
    /// (Go's `semaphore.NewWeighted`): a request for more than the size fails
    /// at once with [`AcquireError::TooLarge`] instead of waiting forever.
    /// [`add_permits`](Self::add_permits) panics on it; forgetting permits
    /// ([`Permit::forget`], [`forget_permits`](Self::forget_permits))
    /// shrinks the size for good, and fails the queued requests that no
    /// longer fit.
    ///
    /// # Panics
    ///
    /// If `size` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{Semaphore, TryAcquireError};
    ///
    /// let workers = Semaphore::fixed(4);
    /// assert!(workers.is_fixed());
    /// assert_eq!(
    ///     workers.try_acquire_many(5).unwrap_err(),
    ///     TryAcquireError::TooLarge { requested: 5, max: 4 }
    /// );
    /// ```
    #[must_use]
    #[track_caller]
    pub fn fixed(size: usize) -> Self {
        assert!(
            size <= Self::MAX_PERMITS,
            "Semaphore::fixed: a size of {size} is more than Semaphore::MAX_PERMITS"
        );
        Self {
            inner: Arc::new(Inner::new(size, true, Self::BOUND)),
        }
    }

    /// Acquires one permit, waiting in the queue if none is free; see
    /// [`acquire_many`](Self::acquire_many).
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is (or gets) closed;
    /// [`AcquireError::TooLarge`] if it is [fixed](Self::fixed) and its size
    /// is (or shrinks to) zero.
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

    /// Acquires `n` permits, taking them at once if they are free (unless
    /// the semaphore is in hand-off mode), else waiting in the queue until
    /// it gets all `n` (they are taken together); see the [type's
    /// docs](Self) for the order.
    ///
    /// # Errors
    ///
    /// The future resolves to an error, at once and without queueing, if
    /// the request can never be granted: [`AcquireError::Closed`] if the
    /// semaphore is closed, [`AcquireError::TooLarge`] if `n` exceeds
    /// [`MAX_PERMITS`](Self::MAX_PERMITS), or the size of a
    /// [fixed](Self::fixed) semaphore. A queued request fails the same way
    /// when the semaphore is closed, or when a fixed one shrinks below it.
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
    /// assert_eq!(sem.available_permits(), 1);
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    #[inline]
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire::new(self, n)
    }

    /// Takes one permit if one is free now, without waiting (it may pass
    /// queued waiters, except in hand-off mode).
    ///
    /// # Errors
    ///
    /// As [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{Semaphore, TryAcquireError};
    ///
    /// let sem = Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// drop(permit);
    /// assert!(sem.try_acquire().is_ok());
    /// sem.close();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free now. It may take them before
    /// queued waiters, as a fresh [`acquire_many`](Self::acquire_many)
    /// does, except in hand-off mode (the head of the queue has waited
    /// [`HANDOFF_AFTER`](Self::HANDOFF_AFTER)), where queued waiters come
    /// first.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if it would have to wait (which
    /// includes a semaphore emptied by [`Permit::forget`]);
    /// [`TryAcquireError::Closed`] if the semaphore is closed;
    /// [`TryAcquireError::TooLarge`] if the request can never be granted
    /// (as in [`acquire_many`](Self::acquire_many)).
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
            Attempt::Refused(error) => Err(error.into()),
        }
    }

    #[cfg(feature = "std")]
    /// Blocks the current thread until one permit is acquired (in the same
    /// order as [`acquire`](Self::acquire)).
    ///
    /// Do not call it from inside an async task: it blocks the executor's
    /// thread. Use [`acquire`](Self::acquire) there.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
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
    /// Blocks the current thread until `n` permits are acquired (in the
    /// same order as [`acquire_many`](Self::acquire_many)).
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
    /// let waiter = std::thread::spawn(move || other.acquire_blocking().map(|p| p.num_permits()));
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
    /// assert_eq!(sem.available_permits(), 1);
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 4);
    /// ```
    #[must_use]
    pub fn available_permits(&self) -> usize {
        self.inner.available()
    }

    /// Permits in total: free plus held (a snapshot). It grows with
    /// [`add_permits`](Self::add_permits) and shrinks when permits are
    /// forgotten; for a [fixed](Self::fixed) semaphore it is the size that
    /// bounds a request.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(4);
    /// let held = sem.try_acquire_many(3).unwrap();
    /// assert_eq!(sem.capacity(), 4); // held permits still count
    /// held.forget();
    /// assert_eq!(sem.capacity(), 1); // forgotten ones do not
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// Whether this semaphore was made by [`fixed`](Self::fixed) (its size
    /// never grows).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(taskgroup::Semaphore::fixed(1).is_fixed());
    /// assert!(!taskgroup::Semaphore::new(1).is_fixed());
    /// ```
    #[must_use]
    pub fn is_fixed(&self) -> bool {
        self.inner.is_fixed()
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

    /// Closes the semaphore: queued and later acquires fail with
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

    /// Adds `n` permits, serving the queued waiters (as a release does). This is how a pool returns an object whose permit it
    /// [forgot](Permit::forget), and how a token bucket refills.
    ///
    /// # Panics
    ///
    /// On a [fixed](Self::fixed) semaphore (its size never grows), and if
    /// the permits in total would exceed [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(1);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        self.inner.add_permits(n);
    }

    /// Takes up to `n` of the permits free now out of the semaphore, as if
    /// acquired and [forgotten](Permit::forget), and returns how many it
    /// took (fewer than `n` when fewer are free). It never waits. On a
    /// [fixed](Self::fixed) semaphore the size shrinks for good, and queued
    /// requests that no longer fit fail with [`AcquireError::TooLarge`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(5);
    /// let _held = sem.try_acquire_many(2).unwrap();
    /// assert_eq!(sem.forget_permits(10), 3);
    /// assert_eq!((sem.available_permits(), sem.capacity()), (0, 2));
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        self.inner.forget_free(n)
    }
}

/// Counts and flags from atomic loads: never takes the lock.
impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (available, capacity, queued, closed) = self.inner.snapshot();
        f.debug_struct("Semaphore")
            .field("available", &available)
            .field("capacity", &capacity)
            .field("fixed", &self.inner.is_fixed())
            .field("queued", &queued)
            .field("closed", &closed)
            .finish()
    }
}
