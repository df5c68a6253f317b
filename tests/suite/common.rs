//! The shared harness: one async test body, instantiated once per runtime.
//!
//! `runtime_tests! { async fn name(rt) { ... } }` expands to
//! `tokio_current_thread::name`, `tokio_multi_thread::name`, `smol::name`,
//! `async_std::name` and `futures_executor::name`, each running the body on
//! that runtime with `rt` a [`Runtime`] for it. Every run has a time-out, so
//! a lost wake-up fails the test instead of hanging CI.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Duration;

use futures::executor::ThreadPool;
use taskgroup::runtime::{AsyncStdRuntime, Runtime, SmolRuntime, TokioRuntime};

/// Runs `test` on a thread of its own and fails if it does not finish within
/// the hang time-out. A panic in `test` is resumed here, payload intact.
pub fn fail_on_hang(name: &str, test: impl FnOnce() + Send + 'static) {
    crate::hang::finishes(&format!("test `{name}`"), test);
}

pub fn run_tokio_current_thread<F, Fut>(name: &str, body: F)
where
    F: FnOnce(TokioRuntime) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    fail_on_hang(name, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a tokio current-thread runtime");
        rt.block_on(async move { body(TokioRuntime::current()).await });
    });
}

pub fn run_tokio_multi_thread<F, Fut>(name: &str, body: F)
where
    F: FnOnce(TokioRuntime) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    fail_on_hang(name, move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("build a tokio multi-thread runtime");
        rt.block_on(async move { body(TokioRuntime::current()).await });
    });
}

pub fn run_smol<F, Fut>(name: &str, body: F)
where
    F: FnOnce(SmolRuntime) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    fail_on_hang(name, move || smol::block_on(body(SmolRuntime::global())));
}

pub fn run_async_std<F, Fut>(name: &str, body: F)
where
    F: FnOnce(AsyncStdRuntime) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    fail_on_hang(name, move || {
        async_std::task::block_on(body(AsyncStdRuntime))
    });
}

/// The `futures` crate's executor behind the [`Runtime`] trait: tasks on a
/// `ThreadPool`, sleeps on a thread each (tests sleep rarely), the test body
/// on `block_on`. It stands for "any executor a user plugs in".
#[derive(Clone)]
pub struct FuturesRuntime {
    pool: ThreadPool,
}

impl Runtime for FuturesRuntime {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.pool.spawn_ok(future);
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        let (wake, woken) = futures::channel::oneshot::channel::<()>();
        std::thread::spawn(move || {
            std::thread::sleep(duration);
            let _ = wake.send(());
        });
        async move {
            let _ = woken.await;
        }
    }
}

pub fn run_futures_executor<F, Fut>(name: &str, body: F)
where
    F: FnOnce(FuturesRuntime) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    fail_on_hang(name, move || {
        let pool = ThreadPool::builder()
            .pool_size(2)
            .create()
            .expect("build a futures ThreadPool");
        futures::executor::block_on(body(FuturesRuntime { pool }));
    });
}

/// Spawns `future` on `rt` and returns a future of its output, so tests can
/// join tasks the same way on every runtime. Panics (in the joiner) if the
/// task was dropped without finishing.
pub fn spawn_joinable<R, T>(
    rt: &R,
    future: impl Future<Output = T> + Send + 'static,
) -> impl Future<Output = T>
where
    R: Runtime,
    T: Send + 'static,
{
    let (send, receive) = futures::channel::oneshot::channel();
    rt.spawn(async move {
        let _ = send.send(future.await);
    });
    async move { receive.await.expect("the spawned task finished") }
}

/// A waker that counts how often it is woken: a pending future must not be
/// woken while nothing it waits for changed (no busy-wait).
#[derive(Default)]
pub struct CountingWaker {
    pub wakes: AtomicUsize,
}

impl CountingWaker {
    pub fn new() -> (Arc<Self>, Waker) {
        let counter = Arc::new(Self::default());
        let waker = Waker::from(Arc::clone(&counter));
        (counter, waker)
    }

    pub fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `future` once with `waker`.
pub fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> std::task::Poll<F::Output> {
    std::pin::Pin::new(future).poll(&mut std::task::Context::from_waker(waker))
}

/// Expands each `async fn name(rt) { body }` into one `#[test]` per runtime.
macro_rules! runtime_tests {
    ($( $(#[$meta:meta])* async fn $name:ident($rt:ident) $body:block )*) => {
        runtime_tests!(@runtime tokio_current_thread, run_tokio_current_thread; $( $(#[$meta])* $name $rt $body )*);
        runtime_tests!(@runtime tokio_multi_thread, run_tokio_multi_thread; $( $(#[$meta])* $name $rt $body )*);
        runtime_tests!(@runtime smol, run_smol; $( $(#[$meta])* $name $rt $body )*);
        runtime_tests!(@runtime async_std, run_async_std; $( $(#[$meta])* $name $rt $body )*);
        runtime_tests!(@runtime futures_executor, run_futures_executor; $( $(#[$meta])* $name $rt $body )*);
    };
    (@runtime $module:ident, $runner:ident; $( $(#[$meta:meta])* $name:ident $rt:ident $body:block )*) => {
        mod $module {
            // One body serves every runtime; on async-std the runtime is
            // `Copy`, so the `rt.clone()` the others need would be flagged.
            #![allow(clippy::clone_on_copy)]
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    crate::common::$runner(
                        concat!(module_path!(), "::", stringify!($name)),
                        #[allow(unused_variables)]
                        |$rt| async move $body,
                    );
                }
            )*
        }
    };
}
pub(crate) use runtime_tests;

/// The message of a caught panic (`&str` or `String` payload).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default()
}
