//! The async-std adapter.

use core::future::Future;
use core::time::Duration;

use super::{Runtime, TaskHandle};

/// Spawns on async-std's global executor.
///
/// async-std is discontinued upstream (RUSTSEC-2025-0052); this adapter is
/// kept for existing code. Prefer [`SmolRuntime`](super::SmolRuntime) for new
/// code.
///
/// # Examples
///
/// ```
/// use taskgroup::runtime::{AsyncStdRuntime, Runtime};
///
/// async_std::task::block_on(async {
///     let wg = taskgroup::WaitGroup::new();
///     let guard = wg.enter();
///     AsyncStdRuntime.spawn(async move { drop(guard) });
///     wg.wait().await;
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        // Dropping an async-std `JoinHandle` detaches the task.
        drop(async_std::task::spawn(future));
    }

    fn spawn_with_handle<F: Future<Output = ()> + Send + 'static>(&self, future: F) -> TaskHandle {
        async_std::task::spawn(future).into()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        async_std::task::sleep(duration)
    }
}
