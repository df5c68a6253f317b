//! Why an acquire failed: flat enums, tokio's variants where the meaning is
//! the same.

use core::fmt;

/// Why an `acquire` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireError {
    /// The semaphore was closed.
    Closed,
    /// The request can never be granted: more than
    /// [`Semaphore::MAX_PERMITS`](super::Semaphore::MAX_PERMITS), or more
    /// than the size of a [fixed](super::Semaphore::fixed) semaphore.
    TooLarge {
        /// Permits asked for.
        requested: usize,
        /// The most the semaphore can ever grant when the request failed: a
        /// fixed semaphore's size, else `Semaphore::MAX_PERMITS`.
        max: usize,
    },
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("semaphore closed"),
            Self::TooLarge { requested, max } => write!(
                f,
                "requested {requested} permits from a semaphore that can never grant more \
                 than {max}"
            ),
        }
    }
}

impl core::error::Error for AcquireError {}

/// Why a `try_acquire` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits free now, or others are queued first: an
    /// `acquire` would wait.
    NoPermits,
    /// The request can never be granted (as [`AcquireError::TooLarge`]).
    TooLarge {
        /// Permits asked for.
        requested: usize,
        /// The most the semaphore can ever grant.
        max: usize,
    },
}

impl From<AcquireError> for TryAcquireError {
    fn from(error: AcquireError) -> Self {
        match error {
            AcquireError::Closed => Self::Closed,
            AcquireError::TooLarge { requested, max } => Self::TooLarge { requested, max },
        }
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Closed => AcquireError::Closed.fmt(f),
            Self::NoPermits => f.write_str("no permits available now"),
            Self::TooLarge { requested, max } => AcquireError::TooLarge { requested, max }.fmt(f),
        }
    }
}

impl core::error::Error for TryAcquireError {}
