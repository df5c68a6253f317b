//! [`Latch`]: a one-shot count-down gate (Java's `CountDownLatch`, C++'s
//! `std::latch`).

use core::fmt;
#[cfg(feature = "std")]
use std::time::Duration;

use crate::counter::{AtZero, Wait, ZeroCounter};
use crate::sync::Arc;

const TOO_LARGE: &str = "Latch::new: count too large (more than 2^30 - 1)";

/// A gate that opens when its count reaches zero, and stays open.
///
/// Cloning gives another handle to the same latch.
///
/// # When to use it
///
/// Use a `Latch` when a fixed number of events must happen before waiters may
/// go on, and the gate never closes again: N callbacks that report on other
/// threads, N services that must be ready, N parties meeting at a point
/// ([`arrive_and_wait`](Latch::arrive_and_wait)). Unlike a
/// [`WaitGroup`](crate::WaitGroup), the count is fixed up front, counting down
/// past zero is a no-op (as in Java), and once open the latch stays open.
///
/// # Examples
///
/// ```
/// use taskgroup::Latch;
///
/// let ready = Latch::new(3);
/// for _ in 0..3 {
///     let ready = ready.clone();
///     std::thread::spawn(move || ready.count_down());
/// }
/// ready.wait_blocking();
/// assert!(ready.try_wait());
/// ```
#[derive(Clone)]
pub struct Latch {
    counter: Arc<ZeroCounter>,
}

impl Latch {
    /// Creates a latch that opens after `count` calls to
    /// [`count_down`](Self::count_down). `Latch::new(0)` is open from the start.
    ///
    /// # Panics
    ///
    /// If `count` exceeds 2<sup>30</sup> − 1 (on 64-bit targets).
    ///
    /// # Examples
    ///
    /// ```
    /// let latch = taskgroup::Latch::new(2);
    /// assert_eq!(latch.count(), 2);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn new(count: usize) -> Self {
        Self {
            counter: Arc::new(ZeroCounter::new(count, TOO_LARGE)),
        }
    }

    /// Takes one off the count, opening the latch (and waking every waiter)
    /// when it reaches zero. On an open latch it does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let latch = taskgroup::Latch::new(1);
    /// latch.count_down();
    /// latch.count_down(); // already open: no-op
    /// assert_eq!(latch.count(), 0);
    /// ```
    #[inline]
    pub fn count_down(&self) {
        self.counter.decrement(AtZero::Ignore);
    }

    /// The remaining count (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let latch = taskgroup::Latch::new(2);
    /// latch.count_down();
    /// assert_eq!(latch.count(), 1);
    /// ```
    #[inline]
    #[must_use]
    pub fn count(&self) -> usize {
        self.counter.count()
    }

    /// Returns `true` if the latch is open, without waiting. When it returns
    /// `true`, everything done before the last `count_down` is visible.
    ///
    /// # Examples
    ///
    /// ```
    /// let latch = taskgroup::Latch::new(1);
    /// assert!(!latch.try_wait());
    /// latch.count_down();
    /// assert!(latch.try_wait());
    /// ```
    #[inline]
    #[must_use]
    pub fn try_wait(&self) -> bool {
        self.counter.count() == 0
    }

    /// Waits until the latch is open.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses no wake-up for other waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// let latch = taskgroup::Latch::new(1);
    /// let opener = latch.clone();
    /// std::thread::spawn(move || opener.count_down());
    /// futures::executor::block_on(latch.wait());
    /// assert!(latch.try_wait());
    /// ```
    #[inline]
    pub fn wait(&self) -> Wait<'_> {
        Wait::new(&self.counter)
    }

    /// Counts down once, then waits until the latch is open: the meeting
    /// point of `count` parties (C++'s `std::latch::arrive_and_wait`).
    ///
    /// The count-down happens when this method is called, not when the
    /// future is first polled.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not undo the arrival; it only stops waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::Latch;
    ///
    /// let meeting = Latch::new(2);
    /// let other = meeting.clone();
    /// let t = std::thread::spawn(move || futures::executor::block_on(other.arrive_and_wait()));
    /// futures::executor::block_on(meeting.arrive_and_wait());
    /// t.join().unwrap();
    /// ```
    pub fn arrive_and_wait(&self) -> Wait<'_> {
        self.count_down();
        self.wait()
    }

    #[cfg(feature = "std")]
    /// Blocks the current thread until the latch is open.
    ///
    /// # Examples
    ///
    /// ```
    /// let latch = taskgroup::Latch::new(1);
    /// let opener = latch.clone();
    /// std::thread::spawn(move || opener.count_down());
    /// latch.wait_blocking();
    /// ```
    pub fn wait_blocking(&self) {
        self.counter.wait_blocking(None);
    }

    #[cfg(feature = "std")]
    /// Blocks the current thread until the latch is open or `timeout` passes.
    /// Returns `true` if it opened, `false` on time-out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let latch = taskgroup::Latch::new(1);
    /// assert!(!latch.wait_blocking_timeout(Duration::from_millis(10)));
    /// latch.count_down();
    /// assert!(latch.wait_blocking_timeout(Duration::from_millis(10)));
    /// ```
    #[must_use = "the result says whether the latch opened or the wait timed out"]
    pub fn wait_blocking_timeout(&self, timeout: Duration) -> bool {
        self.counter.wait_blocking(Some(timeout))
    }
}

impl fmt::Debug for Latch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Latch")
            .field("count", &self.count())
            .finish()
    }
}
