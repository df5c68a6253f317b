//! Why an acquire failed.

use core::fmt;

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
