//! A DataLoader-style batcher written as a *runtime-free library*: it knows
//! only taskgroup's primitives and its [`Runtime`] trait (`spawn` + `sleep`),
//! so the same code batches on tokio, smol, async-std or an executor of the
//! caller's choosing.
//!
//! The file has three parts:
//!
//! * **`mod loader` — the library.** `BatchLoader<K, V, E, R>` collects the
//!   keys that `load(key).await` asks for and calls one batch function
//!   (`Fn(Vec<K>) -> impl Future<Output = Result<HashMap<K, V>, E>>`) per
//!   batch. A batch is dispatched when it is full or when its delay (counted
//!   from its first key) expires, keys are deduplicated within a batch, and
//!   at most N batches run at once. Its only imports are `std` and
//!   `taskgroup`; it uses:
//!   - [`Runtime::spawn`] for the batch and timer tasks, [`Runtime::sleep`]
//!     for the delay;
//!   - a [`Semaphore`](taskgroup::Semaphore) to bound the concurrent batches;
//!   - a [`WaitGroup`](taskgroup::WaitGroup) counting every task it spawned,
//!     so `shutdown().await` returns once every queued key was answered and
//!     nothing of the loader runs any more;
//!   - [`CancellationToken`](taskgroup::CancellationToken)s: one per batch
//!     timer (stopped when the batch fills up first), one for all timers
//!     (stopped by `shutdown`), and their root for the batches themselves
//!     (stopped by `abort`);
//!   - a oneshot-like reply made of a `Mutex<Option<_>>` and a
//!     [`Latch`](taskgroup::Latch): no runtime channel.
//!
//!   Every `load` ends with its value or a [`LoadError`](loader::LoadError)
//!   that says why (missing key, batch failed, batch panicked, loader shut
//!   down, batch cancelled, batch task lost by the runtime): never a hang. A
//!   dropped `load` future takes nothing from anybody else.
//! * **`main` — a demo.** `--requests` simulated API requests each load a
//!   few author records from a simulated database through one loader. It
//!   prints how many batches served how many loads, what dispatched them,
//!   and the peak of concurrent batches (all counted while it runs); then it
//!   shows a shutdown with a deadline that falls back to `abort` when a batch
//!   is stuck.
//! * **`mod tests`** — every behaviour, the same test bodies run on tokio
//!   (current-thread and multi-thread), smol and async-std, each under a
//!   hang time-out. Tests that depend on *when* the delay expires use a test
//!   runtime whose `sleep` ends when the test says so, so no test depends on
//!   wall-clock timing.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example batch_loader -- --runtime tokio
//! cargo run --example batch_loader -- --runtime smol --batch-size 8 --delay-ms 2
//! cargo run --example batch_loader -- --runtime async-std --requests 200 --concurrency 4
//! cargo test --all-features --example batch_loader
//! ```

// The test build never calls `main`, so the demo is dead code there.
#![cfg_attr(test, allow(dead_code))]

mod common;

use std::collections::HashMap;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ms, timeout, Command, RuntimeKind, XorShift64};
use loader::{BatchLoader, Config, LoadError};
use taskgroup::runtime::Runtime;
use taskgroup::ErrGroup;

// ===========================================================================
// The library: std + taskgroup, nothing else.
// ===========================================================================

/// A batching loader that runs on any [`Runtime`].
///
/// What a library author keeps in mind to stay runtime-free:
///
/// * take the runtime as a type parameter `R: Runtime` and a value, and do
///   every `spawn` and every `sleep` through it;
/// * wait with taskgroup's futures (`Latch`, `WaitGroup`, `Semaphore`,
///   `CancellationToken`): they work under any executor, and are cancel-safe;
/// * never hold a lock across an `.await`, never spawn or wake under a lock;
/// * make every spawned task *report on drop*: an executor may drop a task
///   unfinished (at its own shutdown), and whoever waits for that task must
///   hear about it rather than hang.
mod loader {
    use std::any::Any;
    use std::collections::HashMap;
    use std::fmt;
    use std::future::Future;
    use std::hash::Hash;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::pin::Pin;
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::task::{Context, Poll};
    use std::time::Duration;

    use taskgroup::runtime::Runtime;
    use taskgroup::{CancellationToken, Latch, Semaphore, WaitGroup, WaitGuard};

    /// How a [`BatchLoader`] forms and runs its batches.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Config {
        /// A batch is dispatched as soon as it holds this many distinct keys.
        pub max_batch_size: usize,
        /// A batch that is not full is dispatched this long after its first
        /// key was queued.
        pub max_delay: Duration,
        /// At most this many batch functions run at once; further batches
        /// wait their turn, in dispatch order.
        pub max_concurrent_batches: usize,
    }

    impl Default for Config {
        fn default() -> Self {
            Self {
                max_batch_size: 100,
                max_delay: Duration::from_millis(2),
                max_concurrent_batches: 4,
            }
        }
    }

    /// Why a `load` did not get a value.
    ///
    /// Every waiter of a failed batch gets the same error: the batch
    /// function's error is shared through an `Arc`, so `E` need not be
    /// `Clone`.
    #[derive(Debug, PartialEq, Eq)]
    pub enum LoadError<E> {
        /// The batch function succeeded but returned no value for this key.
        Missing,
        /// The batch function returned this error for the key's batch.
        BatchFailed(Arc<E>),
        /// The batch function panicked, with this message.
        BatchPanicked(Arc<str>),
        /// The loader was shut down (or aborted) before this key was queued.
        ShutDown,
        /// [`BatchLoader::abort`] stopped the key's batch before it answered.
        Cancelled,
        /// The runtime dropped the batch's task (or its timer) unfinished:
        /// usually the executor itself was shutting down.
        Lost,
    }

    // By hand: `derive(Clone)` would ask for `E: Clone`.
    impl<E> Clone for LoadError<E> {
        fn clone(&self) -> Self {
            match self {
                Self::Missing => Self::Missing,
                Self::BatchFailed(error) => Self::BatchFailed(Arc::clone(error)),
                Self::BatchPanicked(message) => Self::BatchPanicked(Arc::clone(message)),
                Self::ShutDown => Self::ShutDown,
                Self::Cancelled => Self::Cancelled,
                Self::Lost => Self::Lost,
            }
        }
    }

    impl<E: fmt::Display> fmt::Display for LoadError<E> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Self::Missing => f.write_str("the batch function returned no value for the key"),
                Self::BatchFailed(error) => write!(f, "the key's batch failed: {error}"),
                Self::BatchPanicked(message) => write!(f, "the key's batch panicked: {message}"),
                Self::ShutDown => f.write_str("the loader is shut down"),
                Self::Cancelled => f.write_str("the key's batch was cancelled by abort()"),
                Self::Lost => f.write_str("the runtime dropped the key's batch unfinished"),
            }
        }
    }

    impl<E: fmt::Debug + fmt::Display> std::error::Error for LoadError<E> {}

    /// What a loader has done so far (a snapshot).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Stats {
        /// Keys queued by `load`/`load_many` (refusals after shutdown not
        /// counted), duplicates included.
        pub loads: usize,
        /// Of those, how many joined a key already queued in the same batch.
        pub deduplicated: usize,
        /// Batches dispatched because they were full.
        pub batches_full: usize,
        /// Batches dispatched because their delay expired.
        pub batches_by_delay: usize,
        /// Batches dispatched by `shutdown`, before their delay expired.
        pub batches_at_shutdown: usize,
        /// Distinct keys handed to the batch function, over all batches.
        pub keys_dispatched: usize,
    }

    impl Stats {
        /// Batches dispatched, whatever dispatched them.
        pub fn batches(&self) -> usize {
            self.batches_full + self.batches_by_delay + self.batches_at_shutdown
        }
    }

    /// What dispatched a batch.
    #[derive(Clone, Copy)]
    enum Trigger {
        Full,
        Delay,
        Shutdown,
    }

    type BatchFuture<K, V, E> = Pin<Box<dyn Future<Output = Result<HashMap<K, V>, E>> + Send>>;
    type BatchFn<K, V, E> = dyn Fn(Vec<K>) -> BatchFuture<K, V, E> + Send + Sync;

    /// Batches the keys that [`load`](Self::load) asks for into calls of one
    /// batch function, on the runtime `R`.
    ///
    /// Cloning gives another handle to the same loader. Dropping every
    /// handle does not stop it: queued keys are still dispatched when their
    /// delay expires. Call [`shutdown`](Self::shutdown) to finish now.
    ///
    /// There is no cache: a key is deduplicated only within the batch that
    /// is being filled, so two loads of a key land in one call of the batch
    /// function only if the second comes before that batch is dispatched.
    pub struct BatchLoader<K, V, E, R> {
        shared: Arc<Shared<K, V, E, R>>,
    }

    struct Shared<K, V, E, R> {
        runtime: R,
        config: Config,
        batch_fn: Box<BatchFn<K, V, E>>,
        state: Mutex<State<K, V, E>>,
        /// Every task the loader spawned (batches and timers), counted from
        /// the moment it was decided on, under the state lock.
        tasks: WaitGroup,
        /// One permit per batch that may run.
        permits: Semaphore,
        /// Cancelled by `abort`: stops the batches (and, as its child,
        /// `timers`).
        work: CancellationToken,
        /// Cancelled by `shutdown`: stops every timer. Each batch's timer
        /// token is a child of this one.
        timers: CancellationToken,
    }

    struct State<K, V, E> {
        /// The batch being filled, if any.
        pending: Option<Pending<K, V, E>>,
        /// Numbers the batches, so a late timer never dispatches a newer
        /// batch than its own.
        next_generation: u64,
        /// No more keys are accepted.
        closed: bool,
        stats: Stats,
    }

    /// The batch being filled.
    struct Pending<K, V, E> {
        generation: u64,
        batch: Batch<K, V, E>,
        /// Stops this batch's timer once the batch is dispatched otherwise.
        timer: CancellationToken,
    }

    /// A batch's keys, in the order they were first asked for, and the
    /// reply each waiter is waiting on.
    ///
    /// Dropped with replies still unanswered (its task was dropped by the
    /// runtime, or its timer was), it answers them with
    /// [`LoadError::Lost`]: a waiter never hangs on a batch that is gone.
    struct Batch<K, V, E> {
        keys: Vec<K>,
        replies: HashMap<K, Arc<Reply<V, E>>>,
    }

    /// A batch taken out of the state, to be spawned once the lock is
    /// released.
    struct Dispatch<K, V, E> {
        batch: Batch<K, V, E>,
        timer: CancellationToken,
        /// Counts the batch's task in `tasks`; taken under the lock, so a
        /// `shutdown` that runs right after cannot miss the batch.
        counted: WaitGuard,
    }

    /// A oneshot reply shared by every waiter of one key: the value goes in
    /// once, then the latch opens. Any number of waiters may read it (each
    /// gets a clone), and any of them may stop waiting at any time.
    struct Reply<V, E> {
        value: Mutex<Option<Result<V, LoadError<E>>>>,
        ready: Latch,
    }

    /// Locks a mutex that no user code runs under, so poisoning can only
    /// come from a bug here: take the guard either way, never panic twice.
    fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    impl<V, E> Reply<V, E> {
        fn new() -> Self {
            Self {
                value: Mutex::new(None),
                ready: Latch::new(1),
            }
        }

        /// Answers, unless already answered (the first answer wins).
        fn set(&self, result: Result<V, LoadError<E>>) {
            let mut value = lock(&self.value);
            if value.is_some() {
                return;
            }
            *value = Some(result);
            drop(value);
            // Outside the lock: opening the latch wakes the waiters.
            self.ready.count_down();
        }
    }

    impl<V: Clone, E> Reply<V, E> {
        async fn get(&self) -> Result<V, LoadError<E>> {
            // The latch opens only after the value is stored, and the
            // latch's wait gives a happens-before edge to the store.
            self.ready.wait().await;
            lock(&self.value)
                .clone()
                .expect("a reply's latch opens only after its value is stored")
        }
    }

    impl<K, V, E> Batch<K, V, E> {
        fn new() -> Self {
            Self {
                keys: Vec::new(),
                replies: HashMap::new(),
            }
        }

        /// Answers every waiter with `error`.
        fn fail(mut self, error: LoadError<E>) {
            for (_, reply) in self.replies.drain() {
                reply.set(Err(error.clone()));
            }
        }
    }

    impl<K: Eq + Hash, V, E> Batch<K, V, E> {
        /// Answers every waiter from the batch function's values; keys it
        /// did not return get [`LoadError::Missing`], values nobody asked
        /// for are dropped.
        fn answer(mut self, mut values: HashMap<K, V>) {
            for (key, reply) in self.replies.drain() {
                reply.set(values.remove(&key).ok_or(LoadError::Missing));
            }
        }
    }

    impl<K, V, E> Drop for Batch<K, V, E> {
        fn drop(&mut self) {
            for (_, reply) in self.replies.drain() {
                reply.set(Err(LoadError::Lost));
            }
        }
    }

    /// Owned by a timer task: if the task is dropped before its batch was
    /// dispatched (the runtime dropped it unfinished), fails that batch with
    /// [`LoadError::Lost`] instead of leaving its waiters hanging.
    struct TimerGuard<K, V, E, R> {
        shared: Arc<Shared<K, V, E, R>>,
        generation: u64,
    }

    impl<K, V, E, R> Drop for TimerGuard<K, V, E, R> {
        fn drop(&mut self) {
            let orphan = {
                let mut state = lock(&self.shared.state);
                match &state.pending {
                    Some(pending) if pending.generation == self.generation => state.pending.take(),
                    _ => None,
                }
            };
            // Dropped outside the lock: the batch answers `Lost`.
            drop(orphan);
        }
    }

    /// Runs a future, turning a panic in its `poll` into an `Err` with the
    /// panic's message: the same outcome on every runtime, whatever each
    /// does with a panicking task.
    struct CatchUnwind<F>(F);

    impl<F: Future + Unpin> Future for CatchUnwind<F> {
        type Output = Result<F::Output, Arc<str>>;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let inner = &mut self.0;
            match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
                Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
                Ok(Poll::Pending) => Poll::Pending,
                Err(payload) => Poll::Ready(Err(panic_message(payload))),
            }
        }
    }

    fn panic_message(payload: Box<dyn Any + Send>) -> Arc<str> {
        if let Some(message) = payload.downcast_ref::<&str>() {
            Arc::from(*message)
        } else if let Some(message) = payload.downcast_ref::<String>() {
            Arc::from(message.as_str())
        } else {
            Arc::from("a panic without a message")
        }
    }

    impl<K, V, E, R> Shared<K, V, E, R> {
        fn lock(&self) -> MutexGuard<'_, State<K, V, E>> {
            lock(&self.state)
        }

        /// Takes `pending` for dispatch: counts it, and counts its task in
        /// `tasks` (under the lock, see [`Dispatch::counted`]).
        fn dispatch(
            &self,
            state: &mut State<K, V, E>,
            pending: Pending<K, V, E>,
            trigger: Trigger,
        ) -> Dispatch<K, V, E> {
            let stats = &mut state.stats;
            match trigger {
                Trigger::Full => stats.batches_full += 1,
                Trigger::Delay => stats.batches_by_delay += 1,
                Trigger::Shutdown => stats.batches_at_shutdown += 1,
            }
            stats.keys_dispatched += pending.batch.keys.len();
            Dispatch {
                batch: pending.batch,
                timer: pending.timer,
                counted: self.tasks.enter(),
            }
        }
    }

    impl<K, V, E, R> Shared<K, V, E, R>
    where
        K: Eq + Hash + Clone + Send + 'static,
        V: Clone + Send + 'static,
        E: Send + Sync + 'static,
        R: Runtime,
    {
        /// Queues `key` and returns the reply to wait on: a new one, or the
        /// one of the same key already in the batch being filled.
        fn enqueue(self: &Arc<Self>, key: K) -> Result<Arc<Reply<V, E>>, LoadError<E>> {
            let mut new_timer = None;
            let mut start_timer = None;
            let mut full = None;
            let reply = {
                let mut guard = self.lock();
                let state = &mut *guard;
                if state.closed {
                    return Err(LoadError::ShutDown);
                }
                state.stats.loads += 1;
                let pending = state.pending.get_or_insert_with(|| {
                    state.next_generation += 1;
                    let timer = self.timers.child_token();
                    new_timer = Some((state.next_generation, timer.clone()));
                    Pending {
                        generation: state.next_generation,
                        batch: Batch::new(),
                        timer,
                    }
                });
                if let Some(reply) = pending.batch.replies.get(&key) {
                    // Not a new batch: it has this key already.
                    state.stats.deduplicated += 1;
                    return Ok(Arc::clone(reply));
                }
                let reply = Arc::new(Reply::new());
                pending.batch.keys.push(key.clone());
                pending.batch.replies.insert(key, Arc::clone(&reply));
                if pending.batch.keys.len() >= self.config.max_batch_size {
                    // Full (at birth too, with a size of 1: then no timer).
                    if let Some(pending) = state.pending.take() {
                        full = Some(self.dispatch(state, pending, Trigger::Full));
                    }
                } else if let Some((generation, token)) = new_timer.take() {
                    start_timer = Some((generation, token, self.tasks.enter()));
                }
                reply
            };
            // Spawning happens outside the lock.
            if let Some((generation, token, counted)) = start_timer {
                self.start_timer(generation, token, counted);
            }
            if let Some(dispatch) = full {
                self.launch(dispatch);
            }
            Ok(reply)
        }

        /// The delay of batch `generation`: dispatches it when the delay
        /// expires, unless it was dispatched otherwise first (then `token`
        /// is cancelled and the task ends at once).
        fn start_timer(
            self: &Arc<Self>,
            generation: u64,
            token: CancellationToken,
            counted: WaitGuard,
        ) {
            let sleep = self.runtime.sleep(self.config.max_delay);
            // Created here, not in the task: dropped even if the task is
            // dropped before its first poll.
            let lost_if_dropped = TimerGuard {
                shared: Arc::clone(self),
                generation,
            };
            self.runtime.spawn(async move {
                // Declared first, dropped last: the task counts as finished
                // only after the guard below has done its work.
                let _counted = counted;
                let guard = lost_if_dropped;
                if token.run_until_cancelled(sleep).await.is_some() {
                    guard.shared.dispatch_if_pending(generation);
                }
            });
        }

        /// Dispatches batch `generation` if it is still the one being filled.
        fn dispatch_if_pending(self: &Arc<Self>, generation: u64) {
            let dispatch = {
                let mut guard = self.lock();
                let state = &mut *guard;
                match state.pending.take() {
                    Some(pending) if pending.generation == generation => {
                        Some(self.dispatch(state, pending, Trigger::Delay))
                    }
                    other => {
                        state.pending = other;
                        None
                    }
                }
            };
            if let Some(dispatch) = dispatch {
                self.launch(dispatch);
            }
        }

        /// Spawns the task that runs one batch and answers its waiters.
        fn launch(self: &Arc<Self>, dispatch: Dispatch<K, V, E>) {
            let Dispatch {
                batch,
                timer,
                counted,
            } = dispatch;
            timer.cancel(); // the delay no longer matters: end the timer task now
            let shared = Arc::clone(self);
            self.runtime.spawn(async move {
                let _counted = counted; // dropped last, after every reply is set
                let mut batch = batch;
                let keys = std::mem::take(&mut batch.keys);
                let result = shared
                    .work
                    .run_until_cancelled(shared.call(keys))
                    .await
                    .unwrap_or(Err(LoadError::Cancelled));
                match result {
                    Ok(values) => batch.answer(values),
                    Err(error) => batch.fail(error),
                }
            });
        }

        /// Waits for a batch slot, then calls the batch function.
        async fn call(&self, keys: Vec<K>) -> Result<HashMap<K, V>, LoadError<E>> {
            // The permit is held until the batch function's future is done.
            // The loader never closes its semaphore, so a refusal cannot
            // happen; were it closed, the batch could not run: cancelled.
            let Ok(_permit) = self.permits.acquire().await else {
                return Err(LoadError::Cancelled);
            };
            let future = catch_unwind(AssertUnwindSafe(|| (self.batch_fn)(keys)))
                .map_err(|payload| LoadError::BatchPanicked(panic_message(payload)))?;
            CatchUnwind(future)
                .await
                .map_err(LoadError::BatchPanicked)?
                .map_err(|error| LoadError::BatchFailed(Arc::new(error)))
        }
    }

    impl<K, V, E, R> BatchLoader<K, V, E, R>
    where
        K: Eq + Hash + Clone + Send + 'static,
        V: Clone + Send + 'static,
        E: Send + Sync + 'static,
        R: Runtime,
    {
        /// A loader that calls `batch_fn` with each batch of distinct keys,
        /// on `runtime`.
        ///
        /// # Panics
        ///
        /// If `config.max_batch_size` or `config.max_concurrent_batches` is
        /// zero: no batch could ever be dispatched, or run.
        #[track_caller]
        pub fn new<F, Fut>(runtime: R, config: Config, batch_fn: F) -> Self
        where
            F: Fn(Vec<K>) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = Result<HashMap<K, V>, E>> + Send + 'static,
        {
            assert!(
                config.max_batch_size > 0,
                "BatchLoader::new: a max_batch_size of 0 would never dispatch a batch"
            );
            assert!(
                config.max_concurrent_batches > 0,
                "BatchLoader::new: a max_concurrent_batches of 0 would never run a batch"
            );
            let work = CancellationToken::new();
            Self {
                shared: Arc::new(Shared {
                    runtime,
                    config,
                    batch_fn: Box::new(move |keys| {
                        Box::pin(batch_fn(keys)) as BatchFuture<K, V, E>
                    }),
                    state: Mutex::new(State {
                        pending: None,
                        next_generation: 0,
                        closed: false,
                        stats: Stats::default(),
                    }),
                    tasks: WaitGroup::new(),
                    permits: Semaphore::new(config.max_concurrent_batches),
                    timers: work.child_token(),
                    work,
                }),
            }
        }

        /// Loads the value of `key`: queues it at the first poll, then waits
        /// for its batch to answer.
        ///
        /// # Errors
        ///
        /// [`LoadError::ShutDown`] at once if the loader is shut down; else
        /// the batch's outcome for this key (see [`LoadError`]).
        ///
        /// # Cancel safety
        ///
        /// Cancel-safe. Dropped before its first poll, it queued nothing.
        /// Dropped later, the key stays in its batch (others may be waiting
        /// on it too) and only this caller's wait ends.
        pub async fn load(&self, key: K) -> Result<V, LoadError<E>> {
            let reply = self.shared.enqueue(key)?;
            reply.get().await
        }

        /// Loads every key of `keys`, all queued at the first poll (so they
        /// share batches), and returns their outcomes in the same order.
        ///
        /// # Cancel safety
        ///
        /// As [`load`](Self::load), for each key.
        pub async fn load_many(
            &self,
            keys: impl IntoIterator<Item = K>,
        ) -> Vec<Result<V, LoadError<E>>> {
            let replies: Vec<_> = keys
                .into_iter()
                .map(|key| self.shared.enqueue(key))
                .collect();
            // Every key is queued now; awaiting the replies one by one costs
            // nothing, the batches run meanwhile.
            let mut results = Vec::with_capacity(replies.len());
            for reply in replies {
                results.push(match reply {
                    Ok(reply) => reply.get().await,
                    Err(error) => Err(error),
                });
            }
            results
        }

        /// Stops accepting keys, dispatches the batch being filled without
        /// waiting for its delay, and waits until every batch has answered
        /// and every task of the loader has ended. Calling it again (or
        /// concurrently) waits the same way.
        ///
        /// A batch function that never returns keeps `shutdown` waiting: race
        /// it against a time-out and call [`abort`](Self::abort) if it loses.
        ///
        /// # Cancel safety
        ///
        /// Dropping the future stops only the wait: the loader stays closed
        /// and its batches still run to their end.
        pub async fn shutdown(&self) {
            let dispatch = {
                let mut guard = self.shared.lock();
                let state = &mut *guard;
                state.closed = true;
                state
                    .pending
                    .take()
                    .map(|pending| self.shared.dispatch(state, pending, Trigger::Shutdown))
            };
            self.shared.timers.cancel();
            if let Some(dispatch) = dispatch {
                self.shared.launch(dispatch);
            }
            self.shared.tasks.wait().await;
        }

        /// Stops accepting keys, cancels every batch that has not answered
        /// yet — queued, waiting for a slot, or running (its future is
        /// dropped) — whose waiters get [`LoadError::Cancelled`], and waits
        /// until every task of the loader has ended.
        ///
        /// # Cancel safety
        ///
        /// Dropping the future stops only the wait: the cancellation is done.
        pub async fn abort(&self) {
            let pending = {
                let mut state = self.shared.lock();
                state.closed = true;
                state.pending.take()
            };
            self.shared.work.cancel();
            if let Some(pending) = pending {
                pending.batch.fail(LoadError::Cancelled);
            }
            self.shared.tasks.wait().await;
        }
    }

    impl<K, V, E, R> BatchLoader<K, V, E, R> {
        /// What the loader has done so far.
        pub fn stats(&self) -> Stats {
            self.shared.lock().stats
        }
    }

    impl<K, V, E, R> Clone for BatchLoader<K, V, E, R> {
        fn clone(&self) -> Self {
            Self {
                shared: Arc::clone(&self.shared),
            }
        }
    }

    impl<K, V, E, R> fmt::Debug for BatchLoader<K, V, E, R> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let state = self.shared.lock();
            f.debug_struct("BatchLoader")
                .field("config", &self.shared.config)
                .field(
                    "queued",
                    &state.pending.as_ref().map_or(0, |p| p.batch.keys.len()),
                )
                .field("closed", &state.closed)
                .field("tasks", &self.shared.tasks.count())
                .field("stats", &state.stats)
                .finish()
        }
    }
}

// ===========================================================================
// The demo: an application that picks a runtime and uses the library.
// ===========================================================================

const USAGE: &str = "\
Batch the author look-ups of many simulated API requests into few database
calls, with a runtime-free BatchLoader.

Usage: cargo run --example batch_loader -- [OPTIONS]

Options:
  --runtime NAME     tokio | smol | async-std                   (default: tokio)
  --requests N       simulated requests, 1 to 10000               (default: 40)
  --users N          distinct users the requests pick from, 1 to 100000 (default: 60)
  --batch-size N     max keys per database call, at least 1       (default: 16)
  --delay-ms MS      max wait of a batch for more keys            (default: 5)
  --concurrency N    max database calls at once, at least 1       (default: 2)
  --seed S           seed for the requests                        (default: 42)
  -h, --help         print this help";

/// Users whose id is a multiple of this are deleted: the database returns
/// nothing for them.
const DELETED_EVERY: u32 = 13;

/// The command line, parsed.
#[derive(Clone, Debug)]
struct Args {
    runtime: RuntimeKind,
    requests: usize,
    users: u32,
    batch_size: usize,
    delay: Duration,
    concurrency: usize,
    seed: u64,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            runtime: RuntimeKind::Tokio,
            requests: 40,
            users: 60,
            batch_size: 16,
            delay: Duration::from_millis(5),
            concurrency: 2,
            seed: 42,
        }
    }
}

fn parse_args(argv: impl Iterator<Item = String>) -> Result<Command<Args>, String> {
    let flags = [
        "--runtime",
        "--requests",
        "--users",
        "--batch-size",
        "--delay-ms",
        "--concurrency",
        "--seed",
    ];
    common::parse_flags(argv, Args::default(), &flags, |args, flag| {
        match flag.name() {
            "--runtime" => args.runtime = flag.runtime()?,
            "--requests" => {
                args.requests =
                    flag.parse_if(|n| (1..=10_000).contains(n), "a number from 1 to 10000")?;
            }
            "--users" => {
                args.users =
                    flag.parse_if(|n| (1..=100_000).contains(n), "a number from 1 to 100000")?;
            }
            "--batch-size" => {
                args.batch_size = flag.parse_if(|&n| n > 0, "a size of at least 1")?
            }
            "--delay-ms" => args.delay = Duration::from_millis(flag.parse("milliseconds")?),
            "--concurrency" => {
                args.concurrency = flag.parse_if(|&n| n > 0, "a number of at least 1")?;
            }
            "--seed" => args.seed = flag.parse("an unsigned integer")?,
            _ => unreachable!("flag checked above"),
        }
        Ok(())
    })
}

/// The simulated database: one round trip per batch, and a count of the
/// calls running at once.
#[derive(Clone)]
struct Database<R> {
    rt: R,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    /// A batch with this key never returns (to show `abort`).
    stuck_on: Option<u32>,
}

impl<R: Runtime> Database<R> {
    fn new(rt: R, stuck_on: Option<u32>) -> Self {
        Self {
            rt,
            running: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
            stuck_on,
        }
    }

    /// `SELECT id, name FROM users WHERE id IN (ids)`: 2 ms plus 0.1 ms a
    /// key; deleted users are not in the answer.
    async fn users(self, ids: Vec<u32>) -> Result<HashMap<u32, String>, String> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        // Counts the call as finished however it ends (also when dropped).
        let _running = Decrement(&self.running);
        if self.stuck_on.is_some_and(|stuck| ids.contains(&stuck)) {
            std::future::pending::<()>().await;
        }
        let round_trip = Duration::from_micros(2_000 + 100 * ids.len() as u64);
        self.rt.sleep(round_trip).await;
        Ok(ids
            .into_iter()
            .filter(|id| id % DELETED_EVERY != 0)
            .map(|id| (id, format!("user-{id}")))
            .collect())
    }
}

struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One simulated request: when it arrives and which authors it shows.
struct Request {
    arrives_after: Duration,
    authors: Vec<u32>,
}

fn plan_requests(args: &Args) -> Vec<Request> {
    let mut rng = XorShift64::new(args.seed);
    (0..args.requests)
        .map(|_| Request {
            arrives_after: Duration::from_millis(rng.between(0, 20)),
            authors: (0..rng.between(3, 8))
                .map(|_| rng.between(1, u64::from(args.users)) as u32)
                .collect(),
        })
        .collect()
}

async fn run<R: Runtime>(rt: R, args: Args) {
    let config = Config {
        max_batch_size: args.batch_size,
        max_delay: args.delay,
        max_concurrent_batches: args.concurrency,
    };
    println!(
        "{} requests on {}, each showing 3 to 8 authors out of {} users \
         (every {DELETED_EVERY}th user is deleted)",
        args.requests,
        args.runtime.name(),
        args.users
    );
    println!(
        "loader: batches of at most {} keys, dispatched after at most {} ms, \
         at most {} database calls at once",
        config.max_batch_size,
        ms(config.max_delay),
        config.max_concurrent_batches
    );
    println!();

    // Phase 1: every request loads its authors through one shared loader.
    let db = Database::new(rt.clone(), None);
    let calls = db.clone();
    let loader = BatchLoader::new(rt.clone(), config, move |ids| calls.clone().users(ids));
    let started = Instant::now();
    let requests = ErrGroup::new(rt.clone());
    for request in plan_requests(&args) {
        let (rt, loader) = (rt.clone(), loader.clone());
        requests
            .spawn(async move {
                rt.sleep(request.arrives_after).await;
                let mut shown = (0, 0);
                for author in loader.load_many(request.authors).await {
                    match author {
                        Ok(_name) => shown.0 += 1,
                        Err(LoadError::Missing) => shown.1 += 1, // "[deleted]"
                        Err(error) => return Err(error),
                    }
                }
                Ok(shown)
            })
            .unwrap();
    }
    let served = requests.join().await;
    loader.shutdown().await;
    let took = started.elapsed();
    let after_shutdown = loader.load(1).await;

    let stats = loader.stats();
    match served {
        Ok(shown) => {
            let found: usize = shown.iter().map(|s| s.0).sum();
            let missing: usize = shown.iter().map(|s| s.1).sum();
            println!(
                "{} loads served by {} database calls ({:.1} loads per call)",
                stats.loads,
                stats.batches(),
                stats.loads as f64 / stats.batches().max(1) as f64
            );
            println!(
                "  {} loads joined a key already queued, {} distinct keys fetched",
                stats.deduplicated, stats.keys_dispatched
            );
            println!(
                "  batches: {} full, {} dispatched by their delay, {} by shutdown",
                stats.batches_full, stats.batches_by_delay, stats.batches_at_shutdown
            );
            println!("authors shown: {found} found, {missing} deleted");
        }
        Err(error) => println!("a request failed: {error}"),
    }
    println!(
        "peak concurrent database calls: {} (limit {})",
        db.peak.load(Ordering::SeqCst),
        config.max_concurrent_batches
    );
    println!(
        "took {} ms; a load after shutdown: {after_shutdown:?}",
        ms(took)
    );
    println!();

    // Phase 2: a batch that never returns. `shutdown` waits for it, so give
    // the drain a deadline and `abort` when it passes.
    let stuck_db = Database::new(rt.clone(), Some(0));
    let stuck = BatchLoader::new(
        rt.clone(),
        Config {
            max_batch_size: 4,
            max_delay: Duration::from_secs(1),
            max_concurrent_batches: 2,
        },
        move |ids| stuck_db.clone().users(ids),
    );
    let deadline = Duration::from_millis(50);
    let keys: Vec<u32> = (0..6).collect();
    let mut loads = pin!(stuck.load_many(keys.clone()));
    // The first poll queues all six keys: [0, 1, 2, 3] is dispatched full
    // (and hangs on key 0), [4, 5] waits for its delay, until `shutdown`
    // dispatches it at once.
    let _ = futures::poll!(loads.as_mut());
    let drained = timeout(&rt, deadline, stuck.shutdown()).await.is_some();
    if !drained {
        stuck.abort().await;
    }
    let results = loads.await;
    println!(
        "a stuck batch: shutdown {} within {} ms{}",
        if drained {
            "finished"
        } else {
            "did not finish"
        },
        ms(deadline),
        if drained { "" } else { ", then abort()" }
    );
    for (key, result) in keys.iter().zip(&results) {
        match result {
            Ok(name) => println!("  load({key}) -> {name}"),
            Err(error) => println!("  load({key}) -> error: {error}"),
        }
    }
}

fn main() {
    let args = common::args_or_exit(USAGE, parse_args);
    common::block_on!(args.runtime, |rt| run(rt, args));
}

// ===========================================================================
// Tests: the same bodies on every runtime.
// ===========================================================================

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::future::Future;
    use std::panic::resume_unwind;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{self, RecvTimeoutError};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use futures::future::join_all;
    use futures::poll;
    use taskgroup::runtime::{AsyncStdRuntime, Runtime, SmolRuntime, TokioRuntime};
    use taskgroup::{Latch, WaitGroup};

    use super::loader::{BatchLoader, Config, LoadError};

    /// Turns a hang into a failure; it measures nothing.
    const HANG_LIMIT: Duration = Duration::from_secs(60);

    /// A delay no test waits for: only a full batch, a shutdown or a
    /// [`Clock::advance`] dispatches.
    const NEVER: Duration = Duration::from_secs(3600);

    type Loader<R> = BatchLoader<u32, u32, String, R>;

    /// Runs `test` on a thread of its own; fails if it takes longer than
    /// [`HANG_LIMIT`], resumes its panic if it panics.
    fn fail_on_hang(name: &str, test: impl FnOnce() + Send + 'static) {
        let (finished, finish) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                test();
                let _ = finished.send(());
            })
            .expect("spawn the test thread");
        match finish.recv_timeout(HANG_LIMIT) {
            Ok(()) => thread.join().expect("the test thread finished"),
            Err(RecvTimeoutError::Disconnected) => match thread.join() {
                Err(payload) => resume_unwind(payload),
                Ok(()) => unreachable!("the thread ends by sending or by panicking"),
            },
            Err(RecvTimeoutError::Timeout) => {
                panic!("`{name}` hung: not finished within {HANG_LIMIT:?}")
            }
        }
    }

    fn tokio_current_thread<Fut: Future<Output = ()>>(
        name: &str,
        test: impl FnOnce(TokioRuntime) -> Fut + Send + 'static,
    ) {
        fail_on_hang(name, move || {
            let tokio = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("build a tokio current-thread runtime");
            tokio.block_on(async move { test(TokioRuntime::current()).await });
        });
    }

    fn tokio_multi_thread<Fut: Future<Output = ()>>(
        name: &str,
        test: impl FnOnce(TokioRuntime) -> Fut + Send + 'static,
    ) {
        fail_on_hang(name, move || {
            let tokio = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("build a tokio multi-thread runtime");
            tokio.block_on(async move { test(TokioRuntime::current()).await });
        });
    }

    fn smol<Fut: Future<Output = ()>>(
        name: &str,
        test: impl FnOnce(SmolRuntime) -> Fut + Send + 'static,
    ) {
        fail_on_hang(name, move || ::smol::block_on(test(SmolRuntime::global())));
    }

    fn async_std<Fut: Future<Output = ()>>(
        name: &str,
        test: impl FnOnce(AsyncStdRuntime) -> Fut + Send + 'static,
    ) {
        fail_on_hang(name, move || {
            ::async_std::task::block_on(test(AsyncStdRuntime))
        });
    }

    /// `on_every_runtime!(name, ...)` turns each generic test body
    /// `async fn name<R: Runtime>(rt: R)` into one `#[test]` per runtime:
    /// `tokio_current_thread::name`, `tokio_multi_thread::name`,
    /// `smol::name` and `async_std::name`.
    macro_rules! on_every_runtime {
        ($( $name:ident ),* $(,)?) => {
            on_every_runtime!(@each tokio_current_thread; $( $name ),*);
            on_every_runtime!(@each tokio_multi_thread; $( $name ),*);
            on_every_runtime!(@each smol; $( $name ),*);
            on_every_runtime!(@each async_std; $( $name ),*);
        };
        (@each $runtime:ident; $( $name:ident ),*) => {
            mod $runtime {
                $(
                    #[test]
                    fn $name() {
                        super::$runtime(stringify!($name), super::$name);
                    }
                )*
            }
        };
    }

    /// A test clock around a real runtime: tasks spawn on `inner`, but a
    /// `sleep` ends only when the test calls [`advance`](Self::advance) —
    /// every `sleep` begun before that call, none begun after. So a test
    /// decides exactly when a batch's delay expires.
    #[derive(Clone)]
    struct Clock<R> {
        inner: R,
        now: Arc<Mutex<Latch>>,
    }

    impl<R: Runtime> Clock<R> {
        fn new(inner: R) -> Self {
            Self {
                inner,
                now: Arc::new(Mutex::new(Latch::new(1))),
            }
        }

        /// Ends every sleep begun so far.
        fn advance(&self) {
            let passed = std::mem::replace(&mut *self.now.lock().unwrap(), Latch::new(1));
            passed.count_down();
        }
    }

    impl<R: Runtime> Runtime for Clock<R> {
        fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
            self.inner.spawn(future);
        }

        fn sleep(&self, _: Duration) -> impl Future<Output = ()> + Send + 'static {
            let until = self.now.lock().unwrap().clone();
            async move { until.wait().await }
        }
    }

    /// A fake database that records the keys of every call; the value of
    /// key `k` is `10 * k`.
    #[derive(Clone, Default)]
    struct Db {
        calls: Arc<Mutex<Vec<Vec<u32>>>>,
    }

    impl Db {
        fn loader<R: Runtime>(&self, rt: R, config: Config) -> Loader<R> {
            let db = self.clone();
            BatchLoader::new(rt, config, move |keys: Vec<u32>| {
                db.calls.lock().unwrap().push(keys.clone());
                async move { Ok(keys.into_iter().map(|k| (k, 10 * k)).collect()) }
            })
        }

        /// The keys of every call so far, calls sorted (they may run in any
        /// order), keys in queueing order.
        fn calls(&self) -> Vec<Vec<u32>> {
            let mut calls = self.calls.lock().unwrap().clone();
            calls.sort();
            calls
        }
    }

    fn config(max_batch_size: usize, max_delay: Duration, max_concurrent_batches: usize) -> Config {
        Config {
            max_batch_size,
            max_delay,
            max_concurrent_batches,
        }
    }

    /// Polls each future once, in order: each `load` queues its key.
    async fn start<F: Future + Unpin>(futures: &mut [F]) {
        for future in futures {
            let _ = poll!(future);
        }
    }

    fn values(keys: impl IntoIterator<Item = u32>) -> Vec<Result<u32, LoadError<String>>> {
        keys.into_iter().map(|k| Ok(10 * k)).collect()
    }

    on_every_runtime!(
        dispatches_a_full_batch_at_once,
        dispatches_a_partial_batch_when_its_delay_expires,
        the_runtime_timer_dispatches_partial_batches,
        deduplicates_keys_within_a_batch,
        a_batch_error_reaches_every_waiter_of_that_batch,
        a_key_missing_from_the_answer_is_an_error_for_that_key_only,
        a_batch_panic_reaches_every_waiter_of_that_batch,
        dropped_loads_do_not_affect_the_others,
        shutdown_drains_every_batch,
        abort_cancels_unanswered_batches,
        concurrent_batches_stay_within_the_limit,
        every_load_resolves,
    );

    async fn dispatches_a_full_batch_at_once<R: Runtime>(rt: R) {
        let db = Db::default();
        // The delay never expires: only the size can dispatch.
        let loader = db.loader(Clock::new(rt.clone()), config(4, NEVER, 8));
        assert_eq!(loader.load_many(0..8).await, values(0..8));
        assert_eq!(db.calls(), [[0, 1, 2, 3], [4, 5, 6, 7]]);
        let stats = loader.stats();
        assert_eq!(
            (stats.batches_full, stats.batches(), stats.loads),
            (2, 2, 8)
        );
        loader.shutdown().await;
    }

    async fn dispatches_a_partial_batch_when_its_delay_expires<R: Runtime>(rt: R) {
        let db = Db::default();
        let clock = Clock::new(rt.clone());
        let loader = db.loader(clock.clone(), config(100, NEVER, 8));
        let mut first = [0, 1, 2].map(|k| Box::pin(loader.load(k)));
        start(&mut first).await;
        assert_eq!(
            loader.stats().batches(),
            0,
            "dispatched before its delay expired"
        );
        clock.advance();
        assert_eq!(join_all(first).await, values(0..3));

        // The next key starts a new batch, with a new delay.
        let mut second = [Box::pin(loader.load_many([3, 4]))];
        start(&mut second).await;
        assert_eq!(loader.stats().batches(), 1);
        clock.advance();
        let [second] = second;
        assert_eq!(second.await, values(3..5));
        assert_eq!(db.calls(), [vec![0, 1, 2], vec![3, 4]]);
        let stats = loader.stats();
        assert_eq!((stats.batches_by_delay, stats.batches()), (2, 2));
        loader.shutdown().await;
    }

    async fn the_runtime_timer_dispatches_partial_batches<R: Runtime>(rt: R) {
        // The real timer this time: when it fires is up to the machine,
        // so only what holds in any case is checked.
        let db = Db::default();
        let loader = db.loader(rt.clone(), config(100, Duration::from_millis(1), 8));
        assert_eq!(loader.load_many(0..5).await, values(0..5));
        let stats = loader.stats();
        assert_eq!(stats.batches_full, 0);
        assert_eq!(stats.batches_by_delay, stats.batches());
        assert_eq!(stats.keys_dispatched, 5);
        assert_eq!(db.calls().concat().len(), 5);
        loader.shutdown().await;
    }

    async fn deduplicates_keys_within_a_batch<R: Runtime>(rt: R) {
        let db = Db::default();
        let clock = Clock::new(rt.clone());
        let loader = db.loader(clock.clone(), config(100, NEVER, 8));
        let keys = [1, 2, 1, 3, 2, 1];
        let mut loads = keys.map(|k| Box::pin(loader.load(k)));
        start(&mut loads).await;
        clock.advance();
        assert_eq!(join_all(loads).await, values(keys));
        assert_eq!(db.calls(), [[1, 2, 3]]);
        let stats = loader.stats();
        assert_eq!(
            (stats.loads, stats.deduplicated, stats.keys_dispatched),
            (6, 3, 3)
        );
        loader.shutdown().await;
    }

    async fn a_batch_error_reaches_every_waiter_of_that_batch<R: Runtime>(rt: R) {
        let clock = Clock::new(rt.clone());
        let loader: Loader<_> = BatchLoader::new(
            clock.clone(),
            config(100, NEVER, 8),
            |keys: Vec<u32>| async move {
                if keys.contains(&13) {
                    return Err(format!("no luck with {keys:?}"));
                }
                Ok(keys.into_iter().map(|k| (k, 10 * k)).collect())
            },
        );
        let mut loads = [13, 1, 13, 2].map(|k| Box::pin(loader.load(k)));
        start(&mut loads).await;
        clock.advance();
        let errors: Vec<Arc<String>> = join_all(loads)
            .await
            .into_iter()
            .map(|result| match result {
                Err(LoadError::BatchFailed(error)) => error,
                other => panic!("expected the batch's error, got {other:?}"),
            })
            .collect();
        assert_eq!(*errors[0], "no luck with [13, 1, 2]");
        // One error, shared: the very same allocation for every waiter.
        assert!(errors.iter().all(|error| Arc::ptr_eq(error, &errors[0])));

        // The loader goes on: the next batch does not have the bad key.
        let mut next = [Box::pin(loader.load_many([1, 2]))];
        start(&mut next).await;
        clock.advance();
        let [next] = next;
        assert_eq!(next.await, values([1, 2]));
        loader.shutdown().await;
    }

    async fn a_key_missing_from_the_answer_is_an_error_for_that_key_only<R: Runtime>(rt: R) {
        let loader: Loader<_> = BatchLoader::new(
            rt.clone(),
            config(6, NEVER, 8),
            |keys: Vec<u32>| async move {
                Ok(keys
                    .into_iter()
                    .filter(|k| k % 2 == 0)
                    .map(|k| (k, 10 * k))
                    .collect())
            },
        );
        let results = loader.load_many(0..6).await;
        for (key, result) in (0..6).zip(results) {
            let expected = if key % 2 == 0 {
                Ok(10 * key)
            } else {
                Err(LoadError::Missing)
            };
            assert_eq!(result, expected, "key {key}");
        }
        loader.shutdown().await;
    }

    async fn a_batch_panic_reaches_every_waiter_of_that_batch<R: Runtime>(rt: R) {
        // Key 7 panics inside the batch's future, key 8 in the call that
        // makes it: both are caught, on every runtime.
        let loader: Loader<_> =
            BatchLoader::new(rt.clone(), config(2, NEVER, 8), |keys: Vec<u32>| {
                assert!(!keys.contains(&8), "cannot even start with key 8");
                async move {
                    assert!(!keys.contains(&7), "cannot load key 7");
                    Ok(keys.into_iter().map(|k| (k, 10 * k)).collect())
                }
            });
        let results = loader.load_many([7, 1, 8, 2, 3, 4]).await;
        let messages: Vec<String> = results[..4]
            .iter()
            .map(|result| match result {
                Err(LoadError::BatchPanicked(message)) => message.to_string(),
                other => panic!("expected a panic, got {other:?}"),
            })
            .collect();
        assert_eq!(
            messages,
            [
                "cannot load key 7",
                "cannot load key 7",
                "cannot even start with key 8",
                "cannot even start with key 8"
            ]
        );
        assert_eq!(results[4..], values([3, 4]));
        loader.shutdown().await;
    }

    async fn dropped_loads_do_not_affect_the_others<R: Runtime>(rt: R) {
        let db = Db::default();
        let clock = Clock::new(rt.clone());
        let loader = db.loader(clock.clone(), config(100, NEVER, 8));
        // Dropped before its first poll: queues nothing.
        let never_polled = Box::pin(loader.load(4));
        drop(never_polled);
        let mut loads = [1, 2, 1, 3].map(|k| Box::pin(loader.load(k)));
        start(&mut loads).await;
        // Drop a key nobody else waits for, and one waiter of a shared key.
        let [one, two, one_again, three] = loads;
        drop(two);
        drop(one_again);
        clock.advance();
        assert_eq!((one.await, three.await), (Ok(10), Ok(30)));
        // The dropped loads' keys were still fetched, with the others.
        assert_eq!(db.calls(), [[1, 2, 3]]);
        assert_eq!(loader.stats().loads, 4);
        loader.shutdown().await;
    }

    async fn shutdown_drains_every_batch<R: Runtime>(rt: R) {
        let clock = Clock::new(rt.clone());
        let (called, finished) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let loader: Loader<_> = {
            let (rt, called, finished) = (rt.clone(), called.clone(), finished.clone());
            BatchLoader::new(clock, config(2, NEVER, 1), move |keys: Vec<u32>| {
                called.fetch_add(1, Ordering::SeqCst);
                let (rt, finished) = (rt.clone(), finished.clone());
                async move {
                    rt.sleep(Duration::from_millis(1)).await; // really in flight
                    finished.fetch_add(1, Ordering::SeqCst);
                    Ok(keys.into_iter().map(|k| (k, 10 * k)).collect())
                }
            })
        };
        // [0, 1] and [2, 3] are dispatched full (one runs, one queues for
        // the single slot); [4] waits for a delay that never expires.
        let mut loads: Vec<_> = (0..5).map(|k| Box::pin(loader.load(k))).collect();
        start(&mut loads).await;
        loader.shutdown().await;
        assert_eq!(called.load(Ordering::SeqCst), 3);
        assert_eq!(
            finished.load(Ordering::SeqCst),
            3,
            "shutdown returned before a batch finished"
        );
        let stats = loader.stats();
        assert_eq!((stats.batches_full, stats.batches_at_shutdown), (2, 1));
        // Every load was answered before shutdown returned.
        for (key, load) in (0..).zip(&mut loads) {
            assert_eq!(poll!(load), std::task::Poll::Ready(Ok(10 * key)));
        }
        assert_eq!(loader.load(9).await, Err(LoadError::ShutDown));
        assert_eq!(loader.load_many([1]).await, [Err(LoadError::ShutDown)]);
        loader.shutdown().await; // again: nothing left, returns at once
    }

    async fn abort_cancels_unanswered_batches<R: Runtime>(rt: R) {
        let (calls, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let loader: Loader<_> = {
            let (calls, dropped) = (calls.clone(), dropped.clone());
            BatchLoader::new(
                Clock::new(rt.clone()),
                config(2, NEVER, 1),
                move |_keys: Vec<u32>| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let on_drop = CountOnDrop(dropped.clone());
                    async move {
                        let _on_drop = on_drop;
                        std::future::pending::<Result<HashMap<u32, u32>, String>>().await
                    }
                },
            )
        };
        // [0, 1] runs forever, [2, 3] waits for the slot, [4] is queued.
        let mut loads: Vec<_> = (0..5).map(|k| Box::pin(loader.load(k))).collect();
        start(&mut loads).await;
        loader.abort().await;
        assert_eq!(join_all(loads).await, vec![Err(LoadError::Cancelled); 5]);
        // Every batch future that was made was dropped by the time abort
        // returned.
        assert_eq!(calls.load(Ordering::SeqCst), dropped.load(Ordering::SeqCst));
        assert_eq!(loader.load(1).await, Err(LoadError::ShutDown));
    }

    async fn concurrent_batches_stay_within_the_limit<R: Runtime>(rt: R) {
        const LIMIT: usize = 2;
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let limit_reached = Latch::new(LIMIT);
        let go = Latch::new(1);
        let loader: Loader<_> = {
            let (running, peak, limit_reached, go) = (
                running.clone(),
                peak.clone(),
                limit_reached.clone(),
                go.clone(),
            );
            BatchLoader::new(
                rt.clone(),
                config(1, NEVER, LIMIT),
                move |keys: Vec<u32>| {
                    let (running, peak, limit_reached, go) = (
                        running.clone(),
                        peak.clone(),
                        limit_reached.clone(),
                        go.clone(),
                    );
                    async move {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        limit_reached.count_down();
                        go.wait().await; // hold the slot until the test says go
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(keys.into_iter().map(|k| (k, 10 * k)).collect())
                    }
                },
            )
        };
        let mut loads: Vec<_> = (0..6).map(|k| Box::pin(loader.load(k))).collect();
        start(&mut loads).await; // six batches of one key, dispatched at once
        limit_reached.wait().await;
        // Give a batch beyond the limit every chance to start wrongly.
        rt.sleep(Duration::from_millis(5)).await;
        go.count_down();
        assert_eq!(join_all(loads).await, values(0..6));
        assert_eq!(peak.load(Ordering::SeqCst), LIMIT);
        assert_eq!(loader.stats().batches(), 6);
        loader.shutdown().await;
    }

    async fn every_load_resolves<R: Runtime>(rt: R) {
        // Many loads from many tasks, real timers, failing batches,
        // missing keys and dropped loads: each load that is awaited ends
        // with an outcome that fits its key (and none hangs).
        const TASKS: u32 = 8;
        const LOADS: u32 = 30;
        let loader: Loader<_> = {
            let rt = rt.clone();
            BatchLoader::new(
                rt.clone(),
                config(5, Duration::from_millis(1), 3),
                move |keys: Vec<u32>| {
                    let rt = rt.clone();
                    async move {
                        rt.sleep(Duration::from_millis(1)).await;
                        if keys.iter().any(|k| k % 37 == 36) {
                            return Err("a poisoned key".to_owned());
                        }
                        Ok(keys
                            .into_iter()
                            .filter(|k| k % 11 != 5)
                            .map(|k| (k, 10 * k))
                            .collect())
                    }
                },
            )
        };
        let answered = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for task in 0..TASKS {
            let (loader, answered, dropped) = (loader.clone(), answered.clone(), dropped.clone());
            rt.spawn(wg.track(async move {
                for i in 0..LOADS {
                    let key = (task * 7 + i * 13) % 100;
                    let mut load = Box::pin(loader.load(key));
                    if i % 5 == 4 {
                        let _ = poll!(&mut load); // queued, then dropped
                        dropped.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    match load.await {
                        Ok(value) => {
                            assert_eq!((value, key % 11 != 5), (10 * key, true), "key {key}")
                        }
                        Err(LoadError::Missing) => {
                            assert_eq!(key % 11, 5, "key {key} reported missing")
                        }
                        Err(LoadError::BatchFailed(error)) => assert_eq!(*error, "a poisoned key"),
                        Err(other) => panic!("key {key}: unexpected {other:?}"),
                    }
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            }));
        }
        wg.wait().await;
        loader.shutdown().await;
        let total = (TASKS * LOADS) as usize;
        let dropped = dropped.load(Ordering::SeqCst);
        assert_eq!(dropped, total / 5);
        assert_eq!(answered.load(Ordering::SeqCst), total - dropped);
        assert_eq!(loader.stats().loads, (TASKS * LOADS) as usize);
    }

    /// Counts the drops of the future that owns it.
    struct CountOnDrop(Arc<AtomicUsize>);

    impl Drop for CountOnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A "runtime" that drops every task without running it, as an executor
    /// does with its queued tasks when it shuts down.
    #[derive(Clone)]
    struct DropsEverything;

    impl Runtime for DropsEverything {
        fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
            drop(future);
        }

        fn sleep(&self, _: Duration) -> impl Future<Output = ()> + Send + 'static {
            std::future::pending()
        }
    }

    #[test]
    fn a_load_whose_task_the_runtime_drops_is_lost_not_hung() {
        fail_on_hang("lost", || {
            let db = Db::default();
            let loader = db.loader(DropsEverything, config(2, NEVER, 1));
            futures::executor::block_on(async {
                // A full batch: its task is dropped.
                assert_eq!(
                    loader.load_many([1, 2]).await,
                    [Err(LoadError::Lost), Err(LoadError::Lost)]
                );
                // A partial batch: its timer task is dropped.
                assert_eq!(loader.load(3).await, Err(LoadError::Lost));
                loader.shutdown().await;
            });
            assert!(db.calls().is_empty());
        });
    }

    #[test]
    #[should_panic(expected = "max_batch_size of 0")]
    fn a_batch_size_of_zero_is_refused() {
        let _ = Db::default().loader(DropsEverything, config(0, NEVER, 1));
    }
}
