//! The tokio adapter.

use core::future::Future;
use core::time::Duration;

use super::{Runtime, TaskHandle};

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
    /// The runtime this is called from (inside `block_on`, a tokio task, or
    /// a runtime's `enter` guard).
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime (see
    /// [`Handle::current`](tokio::runtime::Handle::current)).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::TokioRuntime, ErrGroup};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let group = ErrGroup::new(TokioRuntime::current());
    ///     group.spawn(async { Ok::<_, ()>("on tokio") }).unwrap();
    ///     assert_eq!(group.join().await.unwrap(), ["on tokio"]);
    /// }
    /// ```
    #[must_use]
    #[track_caller]
    pub fn current() -> Self {
        Self::from_handle(tokio::runtime::Handle::current())
    }

    /// The runtime behind `handle`. Unlike [`current`](Self::current) it
    /// works from any thread, inside a runtime or not: keep a handle and
    /// spawn from plain threads.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::{Runtime, TokioRuntime}, WaitGroup};
    ///
    /// let rt = tokio::runtime::Builder::new_multi_thread()
    ///     .worker_threads(1)
    ///     .enable_time()
    ///     .build()
    ///     .unwrap();
    /// let runtime = TokioRuntime::from_handle(rt.handle().clone());
    /// // From a plain thread, outside the runtime:
    /// let wg = WaitGroup::new();
    /// runtime.spawn(wg.track(async {}));
    /// wg.wait_blocking();
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[must_use]
    pub fn from_handle(handle: tokio::runtime::Handle) -> Self {
        Self { handle }
    }

    /// The tokio handle this spawns on, e.g. for tokio-only APIs
    /// (`spawn_blocking`, `block_on`).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::runtime::TokioRuntime;
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let runtime = TokioRuntime::from_handle(rt.handle().clone());
    /// assert_eq!(runtime.handle().block_on(async { 1 + 1 }), 2);
    /// ```
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

    fn spawn_with_handle<F: Future<Output = ()> + Send + 'static>(&self, future: F) -> TaskHandle {
        // Not on a current-thread runtime: no other thread can be running
        // the task when it is detached at spawn, so detaching costs nothing
        // there, and keeping the handle would only add the caller's
        // bookkeeping. (Reading the flavor is a match on the handle.)
        if self.handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread {
            self.handle.spawn(future).into()
        } else {
            self.spawn(future);
            TaskHandle::detached()
        }
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        // `sleep` binds to the timer of the runtime entered when it is
        // created: enter ours, so this works from any thread.
        let _entered = self.handle.enter();
        tokio::time::sleep(duration)
    }
}
