//! The runtimes the contention benches run on, and how a bench drives them:
//! one small trait ([`Rt`]: the taskgroup adapter, the runtime's own spawn,
//! `block_on` from the bench thread) with its drivers, the [`Runtimes`] a
//! bench builds once for its whole run, and [`timed`], which turns "one
//! iteration" into criterion's `iter_custom` closure. Shared by
//! `benches/fan_out.rs`, `benches/wake.rs`, `benches/patterns.rs` and
//! `benches/err_group.rs`, included by each with `#[path]`; each uses part
//! of it.
//!
//! Where the benches drove a runtime differently, the difference is kept as
//! a choice each bench makes: [`Tokio`] (spawn with `tokio::spawn`, the
//! adapter from `TokioRuntime::current()`, as code running inside the
//! runtime does) against [`TokioByHandle`] (spawn through the `Runtime`,
//! the adapter from its handle); the smol executor run by background
//! threads or by the bench thread inside `block_on` ([`SmolThreads`]).

// Each bench file uses only part of this file.
#![allow(dead_code)]

use std::future::Future;
use std::hint::black_box;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use taskgroup::runtime::{AsyncStdRuntime, Runtime, SmolRuntime, TokioRuntime};

#[path = "tokio_handle.rs"]
mod tokio_handle;

use tokio_handle::TokioHandle;

// ---------------------------------------------------------------------------
// The drivers.

/// A runtime as a contender sees it: its own spawn (with and without a
/// handle), the taskgroup adapter for it, and how the bench thread enters it.
pub trait Rt: Clone {
    type Adapter: Runtime;
    type Handle<T: Send + 'static>: Future<Output = T> + Send + Unpin + 'static;
    fn adapter(&self) -> Self::Adapter;
    fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Self::Handle<T>;
    fn spawn_detached(&self, future: impl Future<Output = ()> + Send + 'static);
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T;
}

/// A tokio runtime (multi-thread or current-thread) as code running inside
/// it sees it: tasks are spawned with `tokio::spawn` and the adapter is
/// `TokioRuntime::current()`, so both must be called inside `block_on`.
#[derive(Clone, Copy)]
pub struct Tokio<'a>(pub &'a tokio::runtime::Runtime);

impl Rt for Tokio<'_> {
    type Adapter = TokioRuntime;
    type Handle<T: Send + 'static> = TokioHandle<T>;
    fn adapter(&self) -> TokioRuntime {
        TokioRuntime::current()
    }
    fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> TokioHandle<T> {
        TokioHandle(tokio::spawn(future))
    }
    fn spawn_detached(&self, future: impl Future<Output = ()> + Send + 'static) {
        // Dropping a tokio `JoinHandle` detaches the task.
        drop(tokio::spawn(future));
    }
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        self.0.block_on(future)
    }
}

/// A tokio runtime as its owner sees it: tasks are spawned through the
/// `Runtime` (`rt.spawn`) and the adapter is built from its handle
/// (`TokioRuntime::from_handle(rt.handle().clone())`); both work anywhere.
#[derive(Clone, Copy)]
pub struct TokioByHandle<'a>(pub &'a tokio::runtime::Runtime);

impl Rt for TokioByHandle<'_> {
    type Adapter = TokioRuntime;
    type Handle<T: Send + 'static> = TokioHandle<T>;
    fn adapter(&self) -> TokioRuntime {
        TokioRuntime::from_handle(self.0.handle().clone())
    }
    fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> TokioHandle<T> {
        TokioHandle(self.0.spawn(future))
    }
    fn spawn_detached(&self, future: impl Future<Output = ()> + Send + 'static) {
        // Dropping a tokio `JoinHandle` detaches the task.
        drop(self.0.spawn(future));
    }
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        self.0.block_on(future)
    }
}

/// A dedicated smol executor (the one in [`Runtimes`]). Who runs it is
/// decided when the runtimes are built ([`SmolThreads`]): its background
/// threads, while the bench thread only blocks on the future
/// (`smol::block_on(future)`), or the bench thread itself, inside
/// `block_on` (`smol::block_on(ex.run(future))`).
#[derive(Clone)]
pub struct Smol {
    ex: Arc<smol::Executor<'static>>,
    run_in_block_on: bool,
}

impl Rt for Smol {
    type Adapter = SmolRuntime;
    type Handle<T: Send + 'static> = smol::Task<T>;
    fn adapter(&self) -> SmolRuntime {
        SmolRuntime::with_executor(Arc::clone(&self.ex))
    }
    fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> smol::Task<T> {
        self.ex.spawn(future)
    }
    fn spawn_detached(&self, future: impl Future<Output = ()> + Send + 'static) {
        // Dropping a smol `Task` cancels it: detach.
        self.ex.spawn(future).detach();
    }
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        if self.run_in_block_on {
            smol::block_on(self.ex.run(future))
        } else {
            smol::block_on(future)
        }
    }
}

/// smol's global executor (`smol::spawn`; its own threads, `SMOL_THREADS`,
/// default 1), entered with `smol::block_on`.
#[derive(Clone, Copy)]
pub struct SmolGlobal;

impl Rt for SmolGlobal {
    type Adapter = SmolRuntime;
    type Handle<T: Send + 'static> = smol::Task<T>;
    fn adapter(&self) -> SmolRuntime {
        SmolRuntime::global()
    }
    fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> smol::Task<T> {
        smol::spawn(future)
    }
    fn spawn_detached(&self, future: impl Future<Output = ()> + Send + 'static) {
        // Dropping a smol `Task` cancels it: detach.
        smol::spawn(future).detach();
    }
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        smol::block_on(future)
    }
}

/// async-std's global executor, entered with `async_std::task::block_on`.
#[derive(Clone, Copy)]
pub struct AsyncStd;

impl Rt for AsyncStd {
    type Adapter = AsyncStdRuntime;
    type Handle<T: Send + 'static> = async_std::task::JoinHandle<T>;
    fn adapter(&self) -> AsyncStdRuntime {
        AsyncStdRuntime
    }
    fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> async_std::task::JoinHandle<T> {
        async_std::task::spawn(future)
    }
    fn spawn_detached(&self, future: impl Future<Output = ()> + Send + 'static) {
        // Dropping an async-std `JoinHandle` detaches the task.
        drop(async_std::task::spawn(future));
    }
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        async_std::task::block_on(future)
    }
}

// ---------------------------------------------------------------------------
// The runtimes.

/// Who runs the dedicated smol executor.
#[derive(Clone, Copy)]
pub enum SmolThreads {
    /// The bench thread, inside `block_on` (`smol::block_on(ex.run(..))`):
    /// everything on one thread.
    BenchThread,
    /// This many background threads (`ex.run(..)` each); the bench thread
    /// only blocks on the future (`smol::block_on`), as with `tokio_mt`.
    Background(usize),
}

/// The runtimes, built once for the whole run. The tokio runtimes are built
/// on first use, so a bench has only those it uses; async-std's and smol's
/// global executors are global.
pub struct Runtimes {
    /// Multi-thread, 2 workers.
    tokio_mt: OnceLock<tokio::runtime::Runtime>,
    tokio_ct: OnceLock<tokio::runtime::Runtime>,
    smol: Arc<smol::Executor<'static>>,
    /// Dropping the sender stops the smol executor's background threads.
    smol_stop: Option<smol::channel::Sender<()>>,
    smol_threads: Vec<std::thread::JoinHandle<()>>,
}

impl Runtimes {
    pub fn new(smol_threads: SmolThreads) -> Self {
        let smol = Arc::new(smol::Executor::new());
        let (smol_stop, stopped) = smol::channel::bounded::<()>(1);
        let threads = match smol_threads {
            SmolThreads::BenchThread => 0,
            SmolThreads::Background(threads) => threads,
        };
        let smol_threads = (0..threads)
            .map(|_| {
                let ex = Arc::clone(&smol);
                let stopped = stopped.clone();
                std::thread::spawn(move || {
                    // `recv` fails once the sender is dropped.
                    smol::block_on(ex.run(async { stopped.recv().await.unwrap_err() }));
                })
            })
            .collect();
        Self {
            tokio_mt: OnceLock::new(),
            tokio_ct: OnceLock::new(),
            smol,
            smol_stop: Some(smol_stop),
            smol_threads,
        }
    }

    /// A multi-thread tokio runtime with 2 workers.
    pub fn tokio_mt(&self) -> &tokio::runtime::Runtime {
        self.tokio_mt.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .expect("tokio multi-thread runtime")
        })
    }

    /// A current-thread tokio runtime.
    pub fn tokio_ct(&self) -> &tokio::runtime::Runtime {
        self.tokio_ct.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("tokio current-thread runtime")
        })
    }

    /// The dedicated smol executor.
    pub fn smol_executor(&self) -> &Arc<smol::Executor<'static>> {
        &self.smol
    }

    /// The driver of the dedicated smol executor, run as
    /// [`Runtimes::new`] was told.
    pub fn smol(&self) -> Smol {
        Smol {
            ex: Arc::clone(&self.smol),
            run_in_block_on: self.smol_threads.is_empty(),
        }
    }
}

impl Drop for Runtimes {
    fn drop(&mut self) {
        drop(self.smol_stop.take());
        for thread in self.smol_threads.drain(..) {
            thread.join().expect("smol executor thread panicked");
        }
    }
}

// ---------------------------------------------------------------------------
// Timing.

/// Times `iters` iterations (criterion's `iter_custom`).
pub type Timed<'a> = Box<dyn Fn(u64) -> Duration + 'a>;

/// `iters` iterations of `one` inside one `rt.block_on`, so entering the
/// runtime is not measured; each iteration's output goes through
/// `black_box`.
pub fn timed<'a, R, F, Fut>(rt: R, one: F) -> Timed<'a>
where
    R: Rt + 'a,
    F: Fn() -> Fut + 'a,
    Fut: Future,
{
    Box::new(move |iters| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(one().await);
            }
            start.elapsed()
        })
    })
}
