//! [`Permit`]: permits held from a semaphore, returned when dropped.

use core::fmt;

use super::queue::Inner;
use crate::sync::Arc;

/// Permits held from a [`Semaphore`](super::Semaphore); returned to it when
/// dropped.
#[must_use = "dropping the permit releases it at once"]
pub struct Permit {
    inner: Arc<Inner>,
    /// Returned on drop; 0 once forgotten.
    permits: usize,
}

impl Permit {
    #[inline]
    pub(super) fn new(inner: &Arc<Inner>, permits: usize) -> Self {
        Self {
            inner: Arc::clone(inner),
            permits,
        }
    }

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
        self.inner.forget_held(permits);
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
