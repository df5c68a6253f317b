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
    /// assert_eq!(sem.try_acquire().unwrap().num_permits(), 1);
    /// assert_eq!(sem.try_acquire_many(5).unwrap().num_permits(), 5);
    /// ```
    #[must_use]
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Takes the permits out of the semaphore instead of returning them:
    /// its total ([`capacity`](super::Semaphore::capacity)) shrinks by as
    /// many. On a semaphore made by [`new`](super::Semaphore::new) they are
    /// gone until [`add_permits`](super::Semaphore::add_permits) puts them
    /// back — a pool forgets a permit per object it hands out and adds it
    /// back when the object returns — and requests keep waiting meanwhile.
    /// On a [fixed](super::Semaphore::fixed) one the size shrinks for good,
    /// and queued requests above the new size fail with
    /// [`AcquireError::TooLarge`](super::AcquireError::TooLarge).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!((sem.available_permits(), sem.capacity()), (0, 0));
    /// sem.add_permits(1); // back
    /// assert!(sem.try_acquire().is_ok());
    /// ```
    pub fn forget(mut self) {
        let permits = core::mem::take(&mut self.permits);
        self.inner.forget_held(permits);
    }

    /// Splits `n` permits off into a permit of their own; `None` (and this
    /// permit unchanged) if it holds fewer than `n`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(3);
    /// let mut three = sem.try_acquire_many(3).unwrap();
    /// let one = three.split(1).unwrap();
    /// assert_eq!((three.num_permits(), one.num_permits()), (2, 1));
    /// assert!(three.split(5).is_none());
    /// drop(one);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[must_use = "the split-off permit is released at once if dropped"]
    pub fn split(&mut self, n: usize) -> Option<Self> {
        if n > self.permits {
            return None;
        }
        self.permits -= n;
        Some(Self::new(&self.inner, n))
    }

    /// Moves the permits of `other` into this one; they are released
    /// together.
    ///
    /// # Panics
    ///
    /// If the two permits come from different semaphores.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(3);
    /// let mut one = sem.try_acquire().unwrap();
    /// one.merge(sem.try_acquire_many(2).unwrap());
    /// assert_eq!(one.num_permits(), 3);
    /// ```
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            Arc::ptr_eq(&self.inner, &other.inner),
            "Permit::merge: the permits come from different semaphores"
        );
        self.permits += core::mem::take(&mut other.permits);
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
