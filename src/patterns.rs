//! Concurrency recipes over a [`Runtime`], built on [`ErrGroup`]: the
//! patterns of Go's concurrency workshop, each with the cancellation and
//! accounting of a group (no task outlives the call).
//!
//! | pattern | use it when | returns |
//! |---------|-------------|---------|
//! | [`scatter_gather`] | every input must succeed; one failure makes the rest pointless | all results in input order, or the first error (the rest cancelled) |
//! | [`map_concurrent`] / [`map_concurrent_unordered`] | a large (or endless) input, bounded concurrency, results streamed | a `Stream` of results, in input or completion order |
//! | [`first_ok`] | redundant requests: ask every replica, take the first answer | the first success (the rest cancelled), or every error |
//! | [`hedged`] | tail latency: ask one replica, ask the next only if it is slow or fails | the first success (the rest cancelled), or every error |

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::collections::BTreeMap;

use event_listener::EventListener;
use futures_core::Stream;

use crate::runtime::Runtime;
use crate::{ErrGroup, GroupError};

/// Every attempt of [`first_ok`] or [`hedged`] failed: their errors, in the
/// order the attempts were given. Implements `std::error::Error`, so `?`
/// works into `Box<dyn Error>`.
pub struct AllFailed<E> {
    /// One error per attempt that ran, in attempt order.
    pub errors: Vec<GroupError<E>>,
}

impl<E: core::fmt::Debug> core::fmt::Debug for AllFailed<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AllFailed")
            .field("errors", &self.errors)
            .finish()
    }
}

impl<E: core::fmt::Display> core::fmt::Display for AllFailed<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.errors.first() {
            None => f.write_str("no attempt was made"),
            Some(first) => write!(
                f,
                "all {} attempts failed; the first: {first}",
                self.errors.len()
            ),
        }
    }
}

impl<E: core::fmt::Debug + core::fmt::Display> std::error::Error for AllFailed<E> {}

/// Runs `f` on every input concurrently and returns all results in input
/// order, or the first error with the other calls cancelled.
///
/// # Errors
///
/// As [`ErrGroup::join`]: [`GroupError::Task`] with the first error (by the
/// time it happened), or [`GroupError::Lost`] if the runtime dropped a call
/// before it finished.
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
    let group = ErrGroup::new(runtime.clone());
    for input in inputs {
        group
            .spawn(f(input))
            .expect("a pattern's own group is never closed");
    }
    group.join().await
}

pin_project_lite::pin_project! {
    /// Stream returned by [`map_concurrent`] and [`map_concurrent_unordered`].
    ///
    /// Dropping it cancels the calls still running.
    #[must_use = "streams do nothing unless polled"]
    pub struct MapConcurrent<I, F, T, E, R: Runtime> {
        group: ErrGroup<T, E, R>,
        inputs: Option<I>,
        f: F,
        limit: usize,
        ordered: bool,
        spawned: usize,
        yielded: usize,
        // Finished out of order, waiting for their turn (ordered only).
        parked: BTreeMap<usize, Result<T, GroupError<E>>>,
        listener: Option<EventListener>,
    }
}

/// Maps `f` over `inputs` with at most `limit` calls in flight, streaming the
/// results **in input order** (like `futures`' `buffered`, but each call is a
/// spawned task, so they run in parallel).
///
/// Inputs are taken from the iterator only as slots free up, so a million
/// inputs never mean a million futures at once. A result that finished early
/// holds its slot until its turn comes, so memory stays bounded by `limit`.
/// An error does not stop the stream: each item is its own result; drop the
/// stream to cancel the rest.
///
/// # Panics
///
/// If `limit` is zero. A task's panic is resumed in the code polling the
/// stream.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use taskgroup::{patterns::map_concurrent, runtime::SmolRuntime};
///
/// smol::block_on(async {
///     let squares: Vec<_> = map_concurrent(&SmolRuntime::global(), 1..=5u64, 2, |n| async move {
///         Ok::<_, ()>(n * n)
///     })
///     .map(Result::unwrap)
///     .collect()
///     .await;
///     assert_eq!(squares, vec![1, 4, 9, 16, 25]);
/// });
/// ```
#[track_caller]
pub fn map_concurrent<R, I, F, Fut, T, E>(
    runtime: &R,
    inputs: I,
    limit: usize,
    f: F,
) -> MapConcurrent<I::IntoIter, F, T, E, R>
where
    R: Runtime,
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    MapConcurrent::new(runtime, inputs.into_iter(), limit, f, true)
}

/// Like [`map_concurrent`], but yields results as they finish (like
/// `buffer_unordered`), so a slow call never holds back the others.
///
/// # Panics
///
/// If `limit` is zero. A task's panic is resumed in the code polling the
/// stream.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use taskgroup::{patterns::map_concurrent_unordered, runtime::SmolRuntime};
///
/// smol::block_on(async {
///     let mut sum = 0;
///     let mut results = map_concurrent_unordered(&SmolRuntime::global(), 1..=4u32, 3, |n| async move {
///         Ok::<_, ()>(n)
///     });
///     while let Some(n) = results.next().await {
///         sum += n.unwrap();
///     }
///     assert_eq!(sum, 10);
/// });
/// ```
#[track_caller]
pub fn map_concurrent_unordered<R, I, F, Fut, T, E>(
    runtime: &R,
    inputs: I,
    limit: usize,
    f: F,
) -> MapConcurrent<I::IntoIter, F, T, E, R>
where
    R: Runtime,
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    MapConcurrent::new(runtime, inputs.into_iter(), limit, f, false)
}

impl<I, F, Fut, T, E, R> MapConcurrent<I, F, T, E, R>
where
    R: Runtime,
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    #[track_caller]
    fn new(runtime: &R, inputs: I, limit: usize, f: F, ordered: bool) -> Self {
        assert!(
            limit > 0,
            "map_concurrent with a limit of zero would never run anything"
        );
        Self {
            group: ErrGroup::builder(runtime.clone()).keep_going().build(),
            inputs: Some(inputs),
            f,
            limit,
            ordered,
            spawned: 0,
            yielded: 0,
            parked: BTreeMap::new(),
            listener: None,
        }
    }
}

impl<I, F, Fut, T, E, R> Stream for MapConcurrent<I, F, T, E, R>
where
    R: Runtime,
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    type Item = Result<T, GroupError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        loop {
            // Top up: every result not yet yielded holds a slot.
            while *this.spawned - *this.yielded < *this.limit {
                let Some(input) = this.inputs.as_mut().and_then(Iterator::next) else {
                    *this.inputs = None;
                    break;
                };
                this.group
                    .spawn((this.f)(input))
                    .expect("a pattern's own group is never closed");
                *this.spawned += 1;
            }
            if let Some(result) = this.parked.remove(&*this.yielded) {
                *this.yielded += 1;
                return Poll::Ready(Some(result));
            }
            match this.group.poll_next_indexed(this.listener, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some((index, result))) => {
                    if !*this.ordered || index == *this.yielded {
                        *this.yielded += 1;
                        return Poll::Ready(Some(result));
                    }
                    this.parked.insert(index, result);
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = self.spawned - self.yielded;
        match &self.inputs {
            None => (pending, Some(pending)),
            Some(inputs) => {
                let (low, high) = inputs.size_hint();
                (
                    pending.saturating_add(low),
                    high.and_then(|high| high.checked_add(pending)),
                )
            }
        }
    }
}

impl<I, F, T, E, R: Runtime> core::fmt::Debug for MapConcurrent<I, F, T, E, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MapConcurrent")
            .field("limit", &self.limit)
            .field("ordered", &self.ordered)
            .field("spawned", &self.spawned)
            .field("yielded", &self.yielded)
            .finish_non_exhaustive()
    }
}

/// Redundant requests: starts every future at once; the first success wins
/// and the others are cancelled (dropped) before this returns. If all fail,
/// returns every error, in the order the futures were given ([`AllFailed`]).
///
/// # Errors
///
/// [`AllFailed`] when no future succeeded, with one error per future (its
/// own error, or [`GroupError::Lost`]); with no future at all, an empty
/// list.
///
/// # Panics
///
/// Resumes a task's panic.
///
/// # Cancel safety
///
/// Dropping the future cancels every request still running.
///
/// # Examples
///
/// ```
/// use taskgroup::{patterns::first_ok, runtime::SmolRuntime};
///
/// smol::block_on(async {
///     let replicas = vec![
///         Box::pin(async { Err::<&str, _>("replica 1 down") }) as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>,
///         Box::pin(async { Ok("answer from replica 2") }),
///     ];
///     assert_eq!(first_ok(&SmolRuntime::global(), replicas).await.unwrap(), "answer from replica 2");
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
    let group = ErrGroup::builder(runtime.clone()).keep_going().build();
    for future in futures {
        group
            .spawn(future)
            .expect("a pattern's own group is never closed");
    }
    let mut errors = Vec::new();
    let mut listener = None;
    while let Some((index, result)) =
        core::future::poll_fn(|cx| group.poll_next_indexed(&mut listener, cx)).await
    {
        match result {
            Ok(value) => return Ok(finish_with(group, value).await),
            Err(error) => errors.push((index, error)),
        }
    }
    Err(in_given_order(errors))
}

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
/// [`AllFailed`] when no attempt succeeded, with one error per attempt (its
/// own error, or [`GroupError::Lost`]); with no attempt at all, an empty
/// list.
///
/// # Panics
///
/// Resumes a task's panic.
///
/// # Cancel safety
///
/// Dropping the future cancels every attempt still running.
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
///     assert_eq!(hedged(&rt, Duration::from_millis(10), attempts).await.unwrap(), 1);
/// });
/// ```
pub async fn hedged<R, I, Fut, T, E>(
    runtime: &R,
    delay: Duration,
    attempts: I,
) -> Result<T, AllFailed<E>>
where
    R: Runtime,
    I: IntoIterator<Item = Fut>,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let group = ErrGroup::builder(runtime.clone()).keep_going().build();
    let mut attempts = Attempts {
        iter: attempts.into_iter(),
        exhausted: false,
    };
    let mut errors = Vec::new();
    let mut in_flight = 0usize;
    let mut listener = None;
    loop {
        if in_flight == 0 {
            match attempts.next() {
                Some(attempt) => {
                    group
                        .spawn(attempt)
                        .expect("a pattern's own group is never closed");
                    in_flight += 1;
                }
                None => return Err(in_given_order(errors)),
            }
        }
        // Race the next outcome against the hedging delay (no timer once
        // there is nothing left to hedge with).
        let mut timer = core::pin::pin!((!attempts.exhausted).then(|| runtime.sleep(delay)));
        let next = core::future::poll_fn(|cx| {
            if let Poll::Ready(next) = group.poll_next_indexed(&mut listener, cx) {
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
                    group
                        .spawn(attempt)
                        .expect("a pattern's own group is never closed");
                    in_flight += 1;
                }
            }
            Some(Some((_, Ok(value)))) => return Ok(finish_with(group, value).await),
            Some(Some((index, Err(error)))) => {
                errors.push((index, error));
                in_flight -= 1;
                // A failure starts the next attempt at once.
                if let Some(attempt) = attempts.next() {
                    group
                        .spawn(attempt)
                        .expect("a pattern's own group is never closed");
                    in_flight += 1;
                }
            }
            Some(None) => return Err(in_given_order(errors)),
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

/// Cancels what is left of `group`, waits until it is gone, and returns
/// `value`: the winner of a race leaves no task behind.
async fn finish_with<T, E, R, V>(group: ErrGroup<T, E, R>, value: V) -> V
where
    R: Runtime,
    T: Send + 'static,
    E: Send + 'static,
{
    group.cancel();
    let _ = group.join_all().await;
    value
}

fn in_given_order<E>(mut errors: Vec<(usize, GroupError<E>)>) -> AllFailed<E> {
    errors.sort_unstable_by_key(|&(index, _)| index);
    AllFailed {
        errors: errors.into_iter().map(|(_, error)| error).collect(),
    }
}
