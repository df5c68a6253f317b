//! [`first_ok`]: redundant requests, the first success wins.

use core::future::Future;

use super::tasks::{OnError, Outcome, Tasks};
use super::AllFailed;
use crate::runtime::Runtime;

/// Redundant requests: starts every future at once; the first success wins
/// and the others are cancelled (dropped) before this returns. If none
/// succeeds, returns every error in the order the futures were given
/// (`futures`' `select_ok`, with spawned tasks and every error kept).
///
/// A failure does not stop the others: each attempt runs until one
/// succeeds.
///
/// # Errors
///
/// [`AllFailed`] when no future succeeded: each one's error, in the order
/// they were given, and the count of those the runtime dropped before they
/// finished ([`AllFailed::lost`]). With no future at all, an `AllFailed`
/// with nothing in it.
///
/// # Panics
///
/// Resumes an attempt's panic (the others are cancelled).
///
/// # Cancel safety
///
/// Dropping the future cancels every attempt still running.
///
/// # Examples
///
/// ```
/// use std::{future::Future, pin::Pin};
/// use taskgroup::{patterns::first_ok, runtime::SmolRuntime};
///
/// type Query = Pin<Box<dyn Future<Output = Result<&'static str, &'static str>> + Send>>;
///
/// smol::block_on(async {
///     let replicas: Vec<Query> = vec![
///         Box::pin(async { Err("replica 1 down") }),
///         Box::pin(async { Ok("answer from replica 2") }),
///     ];
///     let answer = first_ok(&SmolRuntime::global(), replicas).await;
///     assert_eq!(answer, Ok("answer from replica 2"));
/// });
/// ```
pub async fn first_ok<R, I, Fut, T, E>(runtime: &R, futures: I) -> Result<T, AllFailed<E>>
where
    R: Runtime,
    I: IntoIterator<Item = Fut>,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let mut tasks = Tasks::new(runtime, OnError::KeepGoing);
    for future in futures {
        tasks.spawn(future);
    }
    let mut errors = Vec::new();
    let mut lost = 0;
    while let Some((index, outcome)) = tasks.next().await {
        match outcome {
            Outcome::Value(value) => {
                tasks.cancel_and_wait().await;
                return Ok(value);
            }
            Outcome::Error(error) => errors.push((index, error)),
            // Nothing cancels these tasks before an answer is in; an
            // attempt that ended without one is counted either way.
            Outcome::Lost | Outcome::Cancelled => lost += 1,
        }
    }
    Err(AllFailed::new(errors, lost))
}
