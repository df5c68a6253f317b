//! The smol adapter.

use core::future::Future;
use core::time::Duration;
use std::sync::{Arc, Weak};

use super::Runtime;

/// Spawns on smol's global executor, or on an [`Executor`](smol::Executor)
/// of your own.
///
/// With your own executor, remember that smol runs nothing until the executor
/// is driven (`run`/`tick`).
///
/// # Examples
///
/// ```
/// use taskgroup::runtime::{Runtime, SmolRuntime};
///
/// smol::block_on(async {
///     let runtime = SmolRuntime::global();
///     let wg = taskgroup::WaitGroup::new();
///     let guard = wg.enter();
///     runtime.spawn(async move { drop(guard) });
///     wg.wait().await;
/// });
/// ```
#[derive(Clone, Debug, Default)]
pub struct SmolRuntime {
    /// Weak: a group (or a task holding a `Spawner`) must not keep a private
    /// executor alive after its owner dropped it — its tasks would then never
    /// run nor be dropped, and a join would hang.
    executor: Option<Weak<smol::Executor<'static>>>,
}

impl SmolRuntime {
    /// Spawns with `smol::spawn`, on the global executor (which runs on its
    /// own threads), so tasks run whether or not anyone drives an executor.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// // `smol::block_on` only drives this future; the tasks run on smol's
    /// // global executor threads.
    /// let sum = smol::block_on(async {
    ///     let group = ErrGroup::new(SmolRuntime::global());
    ///     for n in 1..=3u32 {
    ///         group.spawn(async move { Ok::<_, ()>(n) }).unwrap();
    ///     }
    ///     group.join().await.unwrap().iter().sum::<u32>()
    /// });
    /// assert_eq!(sum, 6);
    /// ```
    #[must_use]
    pub fn global() -> Self {
        Self { executor: None }
    }

    /// Spawns on `executor`; whoever owns it must drive it (`run`, `tick`):
    /// tasks spawned on an executor nobody drives never run.
    ///
    /// The runtime holds the executor weakly. When its owner drops it, the
    /// executor drops its tasks (a group records them as lost, so a join
    /// returns instead of hanging), and a later `spawn` drops its future at
    /// once (recorded the same way).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use taskgroup::{runtime::SmolRuntime, ErrGroup};
    ///
    /// let executor = Arc::new(smol::Executor::new());
    /// let group = ErrGroup::new(SmolRuntime::with_executor(executor.clone()));
    /// group.spawn(async { Ok::<_, ()>("ran on my executor") }).unwrap();
    /// // Drive the executor while joining the group.
    /// let values = smol::block_on(executor.run(group.join())).unwrap();
    /// assert_eq!(values, ["ran on my executor"]);
    /// ```
    #[must_use]
    pub fn with_executor(executor: Arc<smol::Executor<'static>>) -> Self {
        Self {
            executor: Some(Arc::downgrade(&executor)),
        }
    }
}

impl Runtime for SmolRuntime {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        // A smol `Task` cancels its future when dropped: detach it.
        match &self.executor {
            Some(executor) => match executor.upgrade() {
                Some(executor) => executor.spawn(future).detach(),
                // The executor is gone: nothing will ever run the future.
                None => drop(future),
            },
            None => smol::spawn(future).detach(),
        }
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        let timer = smol::Timer::after(duration);
        async move {
            timer.await;
        }
    }
}
