//! The [`Runtime`] trait: the one place where taskgroup meets an executor.
//!
//! The primitives ([`WaitGroup`](crate::WaitGroup), [`Latch`](crate::Latch),
//! [`CancellationToken`](crate::CancellationToken)) need no runtime at all.
//! Whatever spawns tasks or sleeps goes through this trait, so the same code
//! runs on tokio, smol, async-std, or an executor of your own.
//!
//! | feature     | adapter             | spawns with                          | sleeps with                  |
//! |-------------|---------------------|--------------------------------------|------------------------------|
//! | `tokio`     | [`TokioRuntime`]    | `Handle::spawn` (handle kept on a multi-thread runtime, else detached) | `tokio::time::sleep` |
//! | `smol`      | [`SmolRuntime`]     | `smol::spawn` or your `Executor` (detached) | `smol::Timer`         |
//! | `async-std` | [`AsyncStdRuntime`] | `async_std::task::spawn` (handle kept or detached) | `async_std::task::sleep` |
//!
//! [`Runtime::spawn`] detaches the task. [`Runtime::spawn_with_handle`]
//! returns a [`TaskHandle`] for the caller to keep until the task is done:
//! an [`ErrGroup`](crate::ErrGroup) spawns that way, because detaching a task
//! that another thread is already running costs the spawning thread more, on
//! tokio's multi-thread runtime and on async-std, than the rest of a trivial
//! task's spawn and join (see `docs/benchmarks.md`). Implementing it is
//! optional: the provided method spawns and returns
//! [`TaskHandle::detached`].
//!
//! # Implementing it for your executor
//!
//! ```
//! use std::{future::Future, time::Duration};
//! use taskgroup::runtime::Runtime;
//!
//! /// Runs every task on a thread of its own, and sleeps on a thread too.
//! #[derive(Clone)]
//! struct ThreadPerTask;
//!
//! impl Runtime for ThreadPerTask {
//!     fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
//!         std::thread::spawn(move || futures::executor::block_on(future));
//!     }
//!
//!     fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
//!         let (tx, rx) = futures::channel::oneshot::channel::<()>();
//!         std::thread::spawn(move || {
//!             std::thread::sleep(duration);
//!             let _ = tx.send(());
//!         });
//!         async move {
//!             let _ = rx.await;
//!         }
//!     }
//! }
//!
//! let wg = taskgroup::WaitGroup::new();
//! let guard = wg.enter();
//! ThreadPerTask.spawn(async move {
//!     ThreadPerTask.sleep(Duration::from_millis(1)).await;
//!     drop(guard);
//! });
//! wg.wait_blocking();
//! ```

use core::future::Future;
use core::time::Duration;

#[cfg(feature = "async-std")]
mod async_std;
mod handle;
#[cfg(feature = "smol")]
mod smol;
#[cfg(feature = "tokio")]
mod tokio;

#[cfg(feature = "async-std")]
pub use self::async_std::AsyncStdRuntime;
pub use self::handle::TaskHandle;
#[cfg(feature = "smol")]
pub use self::smol::SmolRuntime;
#[cfg(feature = "tokio")]
pub use self::tokio::TokioRuntime;

/// An executor that can run futures in the background and sleep.
///
/// Implementations are cheap handles (`Clone`), usable from any thread.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// Runs `future` to completion in the background, detached: nothing waits
    /// for it unless the future itself reports back (through a
    /// [`WaitGroup`](crate::WaitGroup) guard, a channel, ...).
    ///
    /// # Panics
    ///
    /// Whatever the executor does when it cannot spawn (tokio panics outside
    /// a runtime).
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F);

    /// Spawns `future` like [`spawn`](Self::spawn), and returns a
    /// [`TaskHandle`] that the caller keeps until the task has finished, then
    /// drops; dropping it earlier must not cancel the task. An
    /// [`ErrGroup`](crate::ErrGroup) spawns through this and keeps its tasks'
    /// handles, so that the runtime's cost of detaching a task another thread
    /// is already running is not paid (see [`TaskHandle`]).
    ///
    /// The provided method calls [`spawn`](Self::spawn) and returns
    /// [`TaskHandle::detached`]; the tokio and async-std adapters return
    /// their `JoinHandle`.
    ///
    /// # Panics
    ///
    /// As [`spawn`](Self::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::runtime::{AsyncStdRuntime, Runtime};
    ///
    /// async_std::task::block_on(async {
    ///     let wg = taskgroup::WaitGroup::new();
    ///     let guard = wg.enter();
    ///     let handle = AsyncStdRuntime.spawn_with_handle(async move { drop(guard) });
    ///     wg.wait().await;
    ///     drop(handle); // after the task is done: nothing left to race with
    /// });
    /// ```
    fn spawn_with_handle<F: Future<Output = ()> + Send + 'static>(&self, future: F) -> TaskHandle {
        self.spawn(future);
        TaskHandle::detached()
    }

    /// A future that completes after `duration`.
    ///
    /// # Cancel safety
    ///
    /// Implementations must let it be dropped at any point: dropping it
    /// simply stops the sleep (the group's deadlines and
    /// [`hedged`](crate::patterns::hedged) drop it when something else
    /// finishes first). The adapters' timers (tokio's `Sleep`, smol's
    /// `Timer`, async-std's `sleep`) all are.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use taskgroup::runtime::{Runtime, SmolRuntime};
    ///
    /// let start = Instant::now();
    /// smol::block_on(SmolRuntime::global().sleep(Duration::from_millis(5)));
    /// assert!(start.elapsed() >= Duration::from_millis(5));
    /// ```
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static;
}
