//! The bounded concurrent map: [`map_concurrent`] for futures that return a
//! value, [`try_map_concurrent`] for futures that return a `Result`, each in
//! input order or (`_unordered`) as the calls finish.

use core::convert::Infallible;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use std::collections::VecDeque;

use futures_core::{FusedStream, Stream};

use super::tasks::{OnError, Outcome, Tasks};
use crate::runtime::Runtime;

/// Maps `f` over `inputs` with at most `limit` calls in flight, streaming the
/// values **in input order**: `futures`' `buffered`, but each call is a task
/// spawned on `runtime`, so the calls run in parallel on a multi-threaded
/// runtime.
///
/// Inputs are taken from the iterator only as slots free up, so a million
/// inputs never mean a million futures at once. A value that finished early
/// holds its slot until its turn comes, so memory stays bounded by `limit`.
/// For futures that can fail, and should stop the rest when one does, use
/// [`try_map_concurrent`].
///
/// # Panics
///
/// If `limit` is zero. A call's panic is resumed in the code polling the
/// stream (the other calls are cancelled). If the runtime drops a call before
/// it finished (it was shut down), polling the stream panics with a message
/// that says so: the stream has no value to give in its place.
///
/// # Cancel safety
///
/// Dropping the stream cancels the calls still running; values not yielded
/// yet are dropped with it.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use taskgroup::{patterns::map_concurrent, runtime::SmolRuntime};
///
/// smol::block_on(async {
///     let rt = SmolRuntime::global();
///     let squares: Vec<u64> = map_concurrent(&rt, 1..=5u64, 2, |n| async move { n * n })
///         .collect()
///         .await;
///     assert_eq!(squares, vec![1, 4, 9, 16, 25]);
/// });
/// ```
#[track_caller]
pub fn map_concurrent<R, I, F, Fut>(
    runtime: &R,
    inputs: I,
    limit: usize,
    f: F,
) -> MapConcurrent<I::IntoIter, F, Fut::Output, R>
where
    R: Runtime,
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    MapConcurrent::new(
        runtime,
        inputs.into_iter(),
        limit,
        f,
        Order::Input,
        "map_concurrent",
    )
}

/// Like [`map_concurrent`], but yields the values as the calls finish
/// (`futures`' `buffer_unordered`), so a slow call never holds back the
/// others.
///
/// # Panics
///
/// As [`map_concurrent`].
///
/// # Cancel safety
///
/// Dropping the stream cancels the calls still running.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use taskgroup::{patterns::map_concurrent_unordered, runtime::SmolRuntime};
///
/// smol::block_on(async {
///     let rt = SmolRuntime::global();
///     let sum: u32 = map_concurrent_unordered(&rt, 1..=4u32, 3, |n| async move { n })
///         .fold(0, |sum, n| async move { sum + n })
///         .await;
///     assert_eq!(sum, 10);
/// });
/// ```
#[track_caller]
pub fn map_concurrent_unordered<R, I, F, Fut>(
    runtime: &R,
    inputs: I,
    limit: usize,
    f: F,
) -> MapConcurrent<I::IntoIter, F, Fut::Output, R>
where
    R: Runtime,
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    MapConcurrent::new(
        runtime,
        inputs.into_iter(),
        limit,
        f,
        Order::Completion,
        "map_concurrent_unordered",
    )
}

/// Maps the fallible `f` over `inputs` with at most `limit` calls in flight,
/// streaming the values **in input order** until the first error: the error
/// is yielded as soon as it happens, the calls still running are cancelled,
/// and the stream ends once they are gone. (`futures`' `try_buffered`, with
/// spawned calls and a stop at the first error.)
///
/// The first error is the first *to happen*, not the first in input order:
/// values of earlier inputs that had not been yielded yet are dropped with
/// the cancelled calls. `try_collect` gives `Ok(every value in input order)`
/// or `Err(the first error)`.
///
/// Inputs are taken lazily and memory stays bounded by `limit`, as with
/// [`map_concurrent`].
///
/// # Panics
///
/// As [`map_concurrent`].
///
/// # Cancel safety
///
/// Dropping the stream cancels the calls still running.
///
/// # Examples
///
/// ```
/// use futures::TryStreamExt;
/// use taskgroup::{patterns::try_map_concurrent, runtime::SmolRuntime};
///
/// smol::block_on(async {
///     let rt = SmolRuntime::global();
///     let parse = |text: &'static str| async move { text.parse::<u32>() };
///
///     let numbers: Vec<u32> = try_map_concurrent(&rt, ["1", "22", "333"], 2, parse)
///         .try_collect()
///         .await
///         .unwrap();
///     assert_eq!(numbers, vec![1, 22, 333]);
///
///     let failed = try_map_concurrent(&rt, ["1", "x", "3"], 2, parse)
///         .try_collect::<Vec<u32>>()
///         .await;
///     assert!(failed.is_err());
/// });
/// ```
#[track_caller]
pub fn try_map_concurrent<R, I, F, Fut, T, E>(
    runtime: &R,
    inputs: I,
    limit: usize,
    f: F,
) -> TryMapConcurrent<I::IntoIter, F, T, E, R>
where
    R: Runtime,
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    TryMapConcurrent::new(
        runtime,
        inputs.into_iter(),
        limit,
        f,
        Order::Input,
        "try_map_concurrent",
    )
}

/// Like [`try_map_concurrent`], but yields the values as the calls finish
/// (`futures`' `try_buffer_unordered`), until the first error.
///
/// # Panics
///
/// As [`map_concurrent`].
///
/// # Cancel safety
///
/// Dropping the stream cancels the calls still running.
///
/// # Examples
///
/// ```
/// use futures::TryStreamExt;
/// use taskgroup::{patterns::try_map_concurrent_unordered, runtime::SmolRuntime};
///
/// smol::block_on(async {
///     let rt = SmolRuntime::global();
///     let total = try_map_concurrent_unordered(&rt, 1..=4u32, 3, |n| async move {
///         if n < 10 { Ok(n) } else { Err("too big") }
///     })
///     .try_fold(0, |sum, n| async move { Ok(sum + n) })
///     .await;
///     assert_eq!(total, Ok(10));
/// });
/// ```
#[track_caller]
pub fn try_map_concurrent_unordered<R, I, F, Fut, T, E>(
    runtime: &R,
    inputs: I,
    limit: usize,
    f: F,
) -> TryMapConcurrent<I::IntoIter, F, T, E, R>
where
    R: Runtime,
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    TryMapConcurrent::new(
        runtime,
        inputs.into_iter(),
        limit,
        f,
        Order::Completion,
        "try_map_concurrent_unordered",
    )
}

/// The stream of [`map_concurrent`] and [`map_concurrent_unordered`]: the
/// calls' values.
///
/// Dropping it cancels the calls still running.
#[must_use = "streams do nothing unless polled"]
pub struct MapConcurrent<I, F, U, R: Runtime> {
    window: Window<I, U, Infallible, R>,
    f: F,
}

/// The stream of [`try_map_concurrent`] and
/// [`try_map_concurrent_unordered`]: the calls' values, then the first error
/// if one happens.
///
/// Dropping it cancels the calls still running.
#[must_use = "streams do nothing unless polled"]
pub struct TryMapConcurrent<I, F, T, E, R: Runtime> {
    window: Window<I, T, E, R>,
    f: F,
}

// Nothing in either stream is pinned: its group lives behind an `Arc`, and
// the calls' futures live in their tasks.
impl<I, F, U, R: Runtime> Unpin for MapConcurrent<I, F, U, R> {}
impl<I, F, T, E, R: Runtime> Unpin for TryMapConcurrent<I, F, T, E, R> {}

impl<I, F, Fut, R> MapConcurrent<I, F, Fut::Output, R>
where
    R: Runtime,
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    #[track_caller]
    fn new(runtime: &R, inputs: I, limit: usize, f: F, order: Order, name: &'static str) -> Self {
        Self {
            window: Window::new(runtime, inputs, limit, order, name),
            f,
        }
    }
}

impl<I, F, Fut, R> Stream for MapConcurrent<I, F, Fut::Output, R>
where
    R: Runtime,
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Item = Fut::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let f = &mut this.f;
        let next = ready!(this
            .window
            .poll_next(cx, |input| Infallibly { future: f(input) }));
        Poll::Ready(next.map(|result| match result {
            Ok(value) => value,
            Err(never) => match never {},
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.window.size_hint()
    }
}

impl<I, F, Fut, R> FusedStream for MapConcurrent<I, F, Fut::Output, R>
where
    R: Runtime,
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.window.done
    }
}

impl<I, F, Fut, T, E, R> TryMapConcurrent<I, F, T, E, R>
where
    R: Runtime,
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    #[track_caller]
    fn new(runtime: &R, inputs: I, limit: usize, f: F, order: Order, name: &'static str) -> Self {
        Self {
            window: Window::new(runtime, inputs, limit, order, name),
            f,
        }
    }
}

impl<I, F, Fut, T, E, R> Stream for TryMapConcurrent<I, F, T, E, R>
where
    R: Runtime,
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.window.poll_next(cx, &mut this.f)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.window.size_hint()
    }
}

impl<I, F, Fut, T, E, R> FusedStream for TryMapConcurrent<I, F, T, E, R>
where
    R: Runtime,
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.window.done
    }
}

impl<I, F, U, R: Runtime> fmt::Debug for MapConcurrent<I, F, U, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.window.debug("MapConcurrent", f)
    }
}

impl<I, F, T, E, R: Runtime> fmt::Debug for TryMapConcurrent<I, F, T, E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.window.debug("TryMapConcurrent", f)
    }
}

/// The order the values come out in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Input,
    Completion,
}

pin_project_lite::pin_project! {
    /// A call of the plain map as a task of the group, whose tasks return a
    /// `Result`: `Result<U, Infallible>` has the size and layout of `U`, so
    /// this costs nothing.
    struct Infallibly<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Infallibly<F> {
    type Output = Result<F::Output, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx).map(Ok)
    }
}

/// What both streams share: the inputs not taken yet, the calls in flight,
/// and (in input order) the values that finished before their turn.
struct Window<I, T, E, R: Runtime> {
    tasks: Tasks<T, E, R>,
    /// `None` once exhausted, or after the first error.
    inputs: Option<I>,
    limit: usize,
    /// In input order only: one slot per call spawned and not yielded, the
    /// front one for the next value to yield (`None` while that call runs).
    /// Its length is `spawned - yielded`, at most `limit`.
    parked: Option<VecDeque<Option<T>>>,
    /// Calls spawned so far; a call's spawn index is its input's position.
    spawned: usize,
    /// Values yielded so far (in input order: the next index to yield).
    yielded: usize,
    /// An error was yielded: the rest were cancelled, and the stream only
    /// waits for them to be gone.
    failed: bool,
    /// `None` was yielded.
    done: bool,
    /// The public name, for panic messages.
    name: &'static str,
}

impl<I, T, E, R> Window<I, T, E, R>
where
    R: Runtime,
    I: Iterator,
    T: Send + 'static,
    E: Send + 'static,
{
    #[track_caller]
    fn new(runtime: &R, inputs: I, limit: usize, order: Order, name: &'static str) -> Self {
        assert!(
            limit > 0,
            "{name} with a limit of zero would never run anything"
        );
        Self {
            tasks: Tasks::new(runtime, OnError::CancelRest),
            inputs: Some(inputs),
            limit,
            // Not `with_capacity(limit)`: `usize::MAX` is a fine limit.
            parked: (order == Order::Input).then(VecDeque::new),
            spawned: 0,
            yielded: 0,
            failed: false,
            done: false,
            name,
        }
    }

    fn poll_next<Fut>(
        &mut self,
        cx: &mut Context<'_>,
        mut call: impl FnMut(I::Item) -> Fut,
    ) -> Poll<Option<Result<T, E>>>
    where
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            // Top up: every call not yielded yet holds a slot.
            while self.spawned - self.yielded < self.limit {
                let Some(input) = self.inputs.as_mut().and_then(Iterator::next) else {
                    self.inputs = None;
                    break;
                };
                self.tasks.spawn(call(input));
                self.spawned += 1;
                if let Some(parked) = &mut self.parked {
                    parked.push_back(None);
                }
            }
            if let Some(parked) = &mut self.parked {
                if let Some(value) = parked.front_mut().and_then(Option::take) {
                    parked.pop_front();
                    self.yielded += 1;
                    return Poll::Ready(Some(Ok(value)));
                }
            }
            let Some((index, outcome)) = ready!(self.tasks.poll_next(cx)) else {
                self.done = true;
                return Poll::Ready(None);
            };
            if self.failed {
                // The error was yielded; the rest is being cancelled.
                continue;
            }
            match outcome {
                Outcome::Value(value) => match &mut self.parked {
                    None => {
                        self.yielded += 1;
                        return Poll::Ready(Some(Ok(value)));
                    }
                    Some(parked) => parked[index - self.yielded] = Some(value),
                },
                Outcome::Error(error) => {
                    // The group cancelled the other calls already.
                    self.failed = true;
                    self.inputs = None;
                    if let Some(parked) = &mut self.parked {
                        parked.clear();
                    }
                    return Poll::Ready(Some(Err(error)));
                }
                Outcome::Lost => panic!(
                    "{}: the runtime dropped a call before it finished (was it shut down?)",
                    self.name
                ),
                Outcome::Cancelled => panic!(
                    "{}: polled again after a call's panic was resumed",
                    self.name
                ),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done || self.failed {
            return (0, Some(0));
        }
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

impl<I, T, E, R: Runtime> Window<I, T, E, R> {
    fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("limit", &self.limit)
            .field("ordered", &self.parked.is_some())
            .field("spawned", &self.spawned)
            .field("yielded", &self.yielded)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}
