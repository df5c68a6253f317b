//! [`AllFailed`]: what [`first_ok`](super::first_ok) and
//! [`hedged`](super::hedged) return when no attempt succeeded.

use core::fmt;

/// No attempt of [`first_ok`](super::first_ok) or [`hedged`](super::hedged)
/// succeeded: the error each attempt returned, in attempt order (the order
/// the attempts were given, as `futures`' `select_ok` gives its errors), and
/// how many attempts ended with no error to give.
///
/// An attempt ends with no error when the runtime drops it before it
/// finishes (the runtime was shut down, or drops tasks for its own
/// reasons). Such an attempt is not silently skipped: it is counted by
/// [`lost`](Self::lost), and the message says so. An attempt that panics is
/// not here either: its panic is resumed in the caller.
///
/// Implements `std::error::Error` (when `E` does), so `?` works into
/// `Box<dyn Error>` and `anyhow::Error`.
///
/// # Examples
///
/// ```
/// use taskgroup::{patterns::first_ok, runtime::SmolRuntime};
///
/// smol::block_on(async {
///     let replicas = ["eu", "us"].map(|name| async move { Err::<u32, _>(format!("{name} down")) });
///     let failed = first_ok(&SmolRuntime::global(), replicas).await.unwrap_err();
///     assert_eq!(failed.errors(), ["eu down", "us down"]);
///     assert_eq!(failed.lost(), 0);
///     assert_eq!(failed.to_string(), "all 2 attempts failed; the first error: eu down");
/// });
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AllFailed<E> {
    /// The error of each attempt that returned one, in attempt order.
    errors: Vec<E>,
    /// Attempts that ended without an error to give.
    lost: usize,
}

impl<E> AllFailed<E> {
    /// From `(attempt index, error)` pairs in any order, and the count of
    /// attempts that ended with no error.
    pub(super) fn new(mut errors: Vec<(usize, E)>, lost: usize) -> Self {
        errors.sort_unstable_by_key(|&(index, _)| index);
        Self {
            errors: errors.into_iter().map(|(_, error)| error).collect(),
            lost,
        }
    }

    /// The error each attempt returned, in attempt order. Empty when no
    /// attempt was given, or when every attempt was lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{patterns::first_ok, runtime::SmolRuntime};
    ///
    /// smol::block_on(async {
    ///     let attempts = [3, 1, 2].map(|n| async move { Err::<(), u32>(n) });
    ///     let failed = first_ok(&SmolRuntime::global(), attempts).await.unwrap_err();
    ///     assert_eq!(failed.errors(), [3, 1, 2]); // attempt order, not finishing order
    /// });
    /// ```
    #[must_use]
    pub fn errors(&self) -> &[E] {
        &self.errors
    }

    /// The errors, in attempt order, by value.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{patterns::first_ok, runtime::SmolRuntime};
    ///
    /// smol::block_on(async {
    ///     let attempts = ["a", "b"].map(|name| async move { Err::<(), _>(name.to_owned()) });
    ///     let failed = first_ok(&SmolRuntime::global(), attempts).await.unwrap_err();
    ///     let errors: Vec<String> = failed.into_errors();
    ///     assert_eq!(errors, ["a", "b"]);
    /// });
    /// ```
    #[must_use]
    pub fn into_errors(self) -> Vec<E> {
        self.errors
    }

    /// How many errors there are: the attempts that returned one.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{patterns::first_ok, runtime::SmolRuntime};
    ///
    /// smol::block_on(async {
    ///     let attempts = [1, 2, 3].map(|n| async move { Err::<(), u32>(n) });
    ///     let failed = first_ok(&SmolRuntime::global(), attempts).await.unwrap_err();
    ///     assert_eq!(failed.len(), 3);
    /// });
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether there is no error at all: no attempt was given, or every
    /// attempt was [`lost`](Self::lost).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::Ready;
    /// use taskgroup::{patterns::first_ok, runtime::SmolRuntime};
    ///
    /// smol::block_on(async {
    ///     let none: Vec<Ready<Result<(), String>>> = Vec::new();
    ///     let failed = first_ok(&SmolRuntime::global(), none).await.unwrap_err();
    ///     assert!(failed.is_empty());
    ///     assert_eq!(failed.to_string(), "no attempt was made");
    /// });
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// How many attempts ended with no error to give: the runtime dropped
    /// them before they finished. Zero unless the runtime was shut down (or
    /// drops tasks for its own reasons) while the attempts ran.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{patterns::first_ok, runtime::SmolRuntime};
    ///
    /// smol::block_on(async {
    ///     let attempts = [async { Err::<(), _>("refused") }];
    ///     let failed = first_ok(&SmolRuntime::global(), attempts).await.unwrap_err();
    ///     assert_eq!(failed.lost(), 0);
    /// });
    /// ```
    #[must_use]
    pub fn lost(&self) -> usize {
        self.lost
    }
}

impl<E: fmt::Debug> fmt::Debug for AllFailed<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllFailed")
            .field("errors", &self.errors)
            .field("lost", &self.lost)
            .finish()
    }
}

impl<E: fmt::Display> fmt::Display for AllFailed<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attempts = self.errors.len() + self.lost;
        if attempts == 0 {
            return f.write_str("no attempt was made");
        }
        if attempts == 1 {
            f.write_str("the only attempt failed")?;
        } else {
            write!(f, "all {attempts} attempts failed")?;
        }
        if self.lost > 0 {
            write!(
                f,
                " ({} lost: the runtime dropped {} before {} finished)",
                self.lost,
                if self.lost == 1 { "it" } else { "them" },
                if self.lost == 1 { "it" } else { "they" },
            )?;
        }
        match self.errors.first() {
            Some(first) => write!(f, "; the first error: {first}"),
            None => Ok(()),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for AllFailed<E> {}
