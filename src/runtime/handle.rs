//! [`TaskHandle`]: what a runtime hands back from
//! [`Runtime::spawn_with_handle`](super::Runtime::spawn_with_handle).

use core::fmt;

/// A runtime's handle to a task spawned with
/// [`Runtime::spawn_with_handle`](super::Runtime::spawn_with_handle), kept by
/// the caller until the task has finished and then dropped.
///
/// Dropping it never cancels the task: it only tells the runtime that nobody
/// will ask for the task's (empty) output, so the runtime may free the task.
///
/// # Why keep it
///
/// Detaching a task right after spawning it (dropping tokio's or async-std's
/// `JoinHandle` at once, as [`Runtime::spawn`](super::Runtime::spawn) does)
/// races with the worker thread that starts running it: both write the
/// task's state, and the worker then frees the task on its own thread. On a
/// multi-thread runtime that costs more than the rest of a trivial task's
/// spawn and wait together (see `docs/benchmarks.md`). An
/// [`ErrGroup`](crate::ErrGroup) keeps its tasks' handles and drops them as
/// it takes their outcomes, when the tasks are done and nobody else touches
/// them.
///
/// A runtime without such a handle (smol's tasks are detached explicitly,
/// and a dropped `smol::Task` would cancel it) returns
/// [`TaskHandle::detached`], and so does tokio's adapter on a current-thread
/// runtime (no other thread can be running the task when it is detached at
/// spawn, so detaching costs nothing there).
///
/// # Examples
///
/// ```
/// use taskgroup::runtime::{Runtime, TaskHandle, TokioRuntime};
///
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     let (tx, rx) = futures::channel::oneshot::channel();
///     let handle: TaskHandle = TokioRuntime::current().spawn_with_handle(async move {
///         tx.send(7).unwrap();
///     });
///     assert!(!handle.is_detached());
///     assert_eq!(rx.await, Ok(7));
///     drop(handle); // the task is done: the runtime frees it here
/// });
/// ```
pub struct TaskHandle(Inner);

// The handles are held only to be dropped later, never read.
#[allow(dead_code)]
enum Inner {
    Detached,
    #[cfg(feature = "tokio")]
    Tokio(tokio::task::JoinHandle<()>),
    #[cfg(feature = "async-std")]
    AsyncStd(async_std::task::JoinHandle<()>),
    /// Another runtime's handle, boxed.
    Other(Box<dyn Send + Sync + 'static>),
}

impl TaskHandle {
    /// Keeps `handle`, any runtime's handle to a task, until the task is
    /// done: for a [`Runtime`](super::Runtime) adapter of your own whose
    /// runtime, like tokio's, detaches a task when its handle is dropped and
    /// pays less for that once the task has finished. (The built-in adapters
    /// keep their handles without the box.)
    ///
    /// Dropping `handle` must not cancel the task: wrap a handle that
    /// cancels on drop (smol's `Task`) only after detaching it, or return
    /// [`detached`](Self::detached) instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::Future;
    /// use std::time::Duration;
    /// use taskgroup::runtime::{Runtime, TaskHandle};
    ///
    /// /// Spawns each task on tokio, through a handle of its own.
    /// #[derive(Clone)]
    /// struct MyRuntime(tokio::runtime::Handle);
    ///
    /// impl Runtime for MyRuntime {
    ///     fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
    ///         self.0.spawn(future);
    ///     }
    ///     fn spawn_with_handle<F: Future<Output = ()> + Send + 'static>(&self, future: F) -> TaskHandle {
    ///         TaskHandle::new(self.0.spawn(future))
    ///     }
    ///     fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
    ///         tokio::time::sleep(duration)
    ///     }
    /// }
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    /// let handle = MyRuntime(rt.handle().clone()).spawn_with_handle(async {});
    /// assert!(!handle.is_detached());
    /// ```
    #[must_use]
    pub fn new<H: Send + Sync + 'static>(handle: H) -> Self {
        Self(Inner::Other(Box::new(handle)))
    }

    /// The handle of a task that was detached at spawn: holding it does
    /// nothing. What [`Runtime::spawn_with_handle`](super::Runtime::spawn_with_handle)
    /// returns unless a runtime says otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(taskgroup::runtime::TaskHandle::detached().is_detached());
    /// ```
    #[must_use]
    pub const fn detached() -> Self {
        Self(Inner::Detached)
    }

    /// Whether this handle holds nothing (the task was detached at spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::runtime::{Runtime, SmolRuntime};
    ///
    /// // smol's adapter detaches its tasks: there is nothing to keep.
    /// let handle = SmolRuntime::global().spawn_with_handle(async {});
    /// assert!(handle.is_detached());
    /// ```
    #[must_use]
    pub const fn is_detached(&self) -> bool {
        matches!(self.0, Inner::Detached)
    }
}

impl Default for TaskHandle {
    fn default() -> Self {
        Self::detached()
    }
}

impl fmt::Debug for TaskHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.0 {
            Inner::Detached => "detached",
            #[cfg(feature = "tokio")]
            Inner::Tokio(_) => "tokio",
            #[cfg(feature = "async-std")]
            Inner::AsyncStd(_) => "async-std",
            Inner::Other(_) => "other",
        };
        f.debug_tuple("TaskHandle").field(&kind).finish()
    }
}

#[cfg(feature = "tokio")]
impl From<tokio::task::JoinHandle<()>> for TaskHandle {
    /// Keeps a tokio task's `JoinHandle` (dropping it detaches the task).
    fn from(handle: tokio::task::JoinHandle<()>) -> Self {
        Self(Inner::Tokio(handle))
    }
}

#[cfg(feature = "async-std")]
impl From<async_std::task::JoinHandle<()>> for TaskHandle {
    /// Keeps an async-std task's `JoinHandle` (dropping it detaches the
    /// task).
    fn from(handle: async_std::task::JoinHandle<()>) -> Self {
        Self(Inner::AsyncStd(handle))
    }
}
