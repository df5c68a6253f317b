//! The smol adapter.

use core::future::Future;
use core::time::Duration;
use std::sync::Arc;

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
    executor: Option<Arc<smol::Executor<'static>>>,
}

impl SmolRuntime {
    /// Spawns with `smol::spawn`, on the global executor (which runs on its
    /// own threads).
    #[must_use]
    pub fn global() -> Self {
        Self { executor: None }
    }

    /// Spawns on `executor`; whoever owns it must drive it.
    #[must_use]
    pub fn with_executor(executor: Arc<smol::Executor<'static>>) -> Self {
        Self {
            executor: Some(executor),
        }
    }
}

impl Runtime for SmolRuntime {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        // A smol `Task` cancels its future when dropped: detach it.
        match &self.executor {
            Some(executor) => executor.spawn(future).detach(),
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
