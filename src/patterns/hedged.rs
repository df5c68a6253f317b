//! [`hedged`]: ask one, ask the next only if it is slow or fails.

use core::future::Future;
use core::task::Poll;
use core::time::Duration;

use super::tasks::{OnError, Outcome, Tasks};
use super::AllFailed;
use crate::runtime::Runtime;

/// Hedged requests: starts the first attempt; each time `delay` passes with
/// no success, starts the next; a failure starts the next at once. The first
/// success wins and the attempts still running are cancelled before this
/// returns. If every attempt fails, returns every error in attempt order.
///
/// Attempts are taken from the iterator only when they start, so a lazy
/// iterator (`replicas.iter().map(|r| query(r))`) sends only the requests
/// that were needed.
///
/// # Errors
///
/// [`AllFailed`] when no attempt succeeded: each started attempt's error, in
/// attempt order, and the count of those the runtime dropped before they
/// finished ([`AllFailed::lost`]; a lost attempt starts the next at once,
/// like a failure). With no attempt at all, an `AllFailed` with nothing in
/// it.
///
/// # Panics
///
/// Resumes an attempt's panic (the others are cancelled).
///
/// # Cancel safety
///
/// Dropping the future cancels every attempt still running; no further
/// attempt is taken from the iterator.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use taskgroup::{patterns::hedged, runtime::{Runtime, SmolRuntime}};
///
/// smol::block_on(async {
///     let rt = SmolRuntime::global();
///     let delays = [500u64, 1];
///     let attempts = delays.iter().enumerate().map(|(i, &ms)| {
///         let rt = rt.clone();
///         async move {
///             rt.sleep(Duration::from_millis(ms)).await;
///             Ok::<_, ()>(i)
///         }
///     });
///     // The first attempt is slow; after 10 ms the second starts and wins.
///     assert_eq!(hedged(&rt, attempts, Duration::from_millis(10)).await, Ok(1));
/// });
/// ```
pub async fn hedged<R, I, Fut, T, E>(
    runtime: &R,
    attempts: I,
    delay: Duration,
) -> Result<T, AllFailed<E>>
where
    R: Runtime,
    I: IntoIterator<Item = Fut>,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let mut tasks = Tasks::new(runtime, OnError::KeepGoing);
    let mut attempts = Attempts {
        iter: attempts.into_iter(),
        exhausted: false,
    };
    let mut errors = Vec::new();
    let mut lost = 0;
    let mut in_flight = 0usize;
    loop {
        if in_flight == 0 {
            match attempts.next() {
                Some(attempt) => {
                    tasks.spawn(attempt);
                    in_flight += 1;
                }
                None => return Err(AllFailed::new(errors, lost)),
            }
        }
        // Race the next outcome against the hedging delay (no timer once
        // there is nothing left to hedge with).
        let mut timer = core::pin::pin!((!attempts.exhausted).then(|| runtime.sleep(delay)));
        let next = core::future::poll_fn(|cx| {
            if let Poll::Ready(next) = tasks.poll_next(cx) {
                return Poll::Ready(Some(next));
            }
            match timer.as_mut().as_pin_mut() {
                Some(timer) => timer.poll(cx).map(|()| None),
                None => Poll::Pending,
            }
        })
        .await;
        match next {
            // The delay passed with no answer: hedge with the next attempt.
            None => {
                if let Some(attempt) = attempts.next() {
                    tasks.spawn(attempt);
                    in_flight += 1;
                }
            }
            Some(Some((index, outcome))) => {
                match outcome {
                    Outcome::Value(value) => {
                        tasks.cancel_and_wait().await;
                        return Ok(value);
                    }
                    Outcome::Error(error) => errors.push((index, error)),
                    // Nothing cancels these tasks before an answer is in;
                    // an attempt that ended without one is counted either
                    // way.
                    Outcome::Lost | Outcome::Cancelled => lost += 1,
                }
                in_flight -= 1;
                // A failure starts the next attempt at once.
                if let Some(attempt) = attempts.next() {
                    tasks.spawn(attempt);
                    in_flight += 1;
                }
            }
            Some(None) => return Err(AllFailed::new(errors, lost)),
        }
    }
}

/// The attempts not started yet; remembers when there are none left.
struct Attempts<I> {
    iter: I,
    exhausted: bool,
}

impl<I: Iterator> Attempts<I> {
    fn next(&mut self) -> Option<I::Item> {
        let attempt = if self.exhausted {
            None
        } else {
            self.iter.next()
        };
        self.exhausted = attempt.is_none();
        attempt
    }
}
