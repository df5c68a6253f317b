//! [`SpawnError`]: why a group refused a future, with the future handed back.

use core::fmt;

/// A refused spawn: the group was *full* or *closed*, and the future comes
/// back untouched (as tokio's `TrySendError` hands back the message).
///
/// Every spawning method of this crate's groups returns it on refusal, so a
/// caller can tell a refusal worth retrying ([`Full`](Self::Full): wait for a
/// slot, or queue with `spawn`) from one that is final
/// ([`Closed`](Self::Closed): the group was closed, joined or dropped).
///
/// # Examples
///
/// ```
/// use taskgroup::SpawnError;
///
/// let refused: SpawnError<&str> = SpawnError::Closed("the work");
/// assert!(refused.is_closed());
/// assert_eq!(refused.into_inner(), "the work");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpawnError<F> {
    /// The group's concurrency limit is reached (only the `try_` methods
    /// refuse for this; `spawn` queues instead).
    Full(F),
    /// The group was closed, joined or dropped: nothing more runs in it.
    Closed(F),
}

impl<F> SpawnError<F> {
    /// The refused future, untouched.
    #[must_use]
    pub fn into_inner(self) -> F {
        match self {
            Self::Full(future) | Self::Closed(future) => future,
        }
    }

    /// Whether the group was full (a later try may succeed).
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// Whether the group was closed (every later try is refused too).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

// By hand, so that the future need not be `Debug` (futures rarely are).
impl<F> fmt::Debug for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "Full(..)",
            Self::Closed(_) => "Closed(..)",
        })
    }
}

impl<F> fmt::Display for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "the group is full: its concurrency limit is reached",
            Self::Closed(_) => "the group is closed: it was closed, joined or dropped",
        })
    }
}

impl<F> core::error::Error for SpawnError<F> {}
