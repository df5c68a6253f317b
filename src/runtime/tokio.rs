//! The tokio adapter.

use core::future::Future;
use core::time::Duration;

use super::Runtime;

/// Spawns on a tokio runtime, through its [`Handle`](tokio::runtime::Handle).
///
/// The runtime needs the timer enabled (`enable_time`, or `enable_all`) for
/// [`sleep`](Runtime::sleep).
///
/// # Examples
///
/// ```
/// use taskgroup::runtime::{Runtime, TokioRuntime};
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// rt.block_on(async {
///     let runtime = TokioRuntime::current();
///     let wg = taskgroup::WaitGroup::new();
///     let guard = wg.enter();
///     runtime.spawn(async move { drop(guard) });
///     wg.wait().await;
/// });
/// ```
#[derive(Clone, Debug)]
pub struct TokioRuntime {
    handle: tokio::runtime::Handle,
}

impl TokioRuntime {
    /// The runtime this is called from.
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime (see
    /// [`Handle::current`](tokio::runtime::Handle::current)).
    #[must_use]
    #[track_caller]
    pub fn current() -> Self {
        Self {
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// The runtime behind `handle`.
    #[must_use]
    pub fn from_handle(handle: tokio::runtime::Handle) -> Self {
        Self { handle }
    }

    /// The tokio handle this spawns on.
    #[must_use]
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl Runtime for TokioRuntime {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        // Dropping a tokio `JoinHandle` detaches the task.
        drop(self.handle.spawn(future));
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        // `sleep` binds to the timer of the runtime entered when it is
        // created: enter ours, so this works from any thread.
        let _entered = self.handle.enter();
        tokio::time::sleep(duration)
    }
}
