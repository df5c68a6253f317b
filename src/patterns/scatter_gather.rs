//! [`scatter_gather`]: every input must succeed.

use core::future::Future;

use super::tasks::{OnError, Tasks};
use crate::runtime::Runtime;
use crate::GroupError;

/// Runs `f` on every input concurrently and returns all results in input
/// order, or the first error with the other calls cancelled.
///
/// Every call is spawned at once; for a large input, or to bound how many
/// run at once, use [`try_map_concurrent`](super::try_map_concurrent).
///
/// # Errors
///
/// As [`ErrGroup::join`](crate::ErrGroup::join): [`GroupError::Task`] with
/// the first error (by the time it happened), or [`GroupError::Lost`] if the
/// runtime dropped a call before it finished.
///
/// # Panics
///
/// Resumes a task's panic, once every task has finished.
///
/// # Cancel safety
///
/// Dropping the future cancels every call still running.
///
/// # Examples
///
/// ```
/// use taskgroup::{patterns::scatter_gather, runtime::SmolRuntime};
///
/// smol::block_on(async {
///     let lengths = scatter_gather(&SmolRuntime::global(), ["a", "bb", "ccc"], |word| async move {
///         Ok::<_, String>(word.len())
///     })
///     .await
///     .unwrap();
///     assert_eq!(lengths, vec![1, 2, 3]);
/// });
/// ```
pub async fn scatter_gather<R, I, F, Fut, T, E>(
    runtime: &R,
    inputs: I,
    mut f: F,
) -> Result<Vec<T>, GroupError<E>>
where
    R: Runtime,
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let tasks = Tasks::new(runtime, OnError::CancelRest);
    for input in inputs {
        tasks.spawn(f(input));
    }
    tasks.join().await
}
