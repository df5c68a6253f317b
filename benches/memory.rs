//! Memory: how big each public type and future of the crate is, next to its
//! peers' equivalents, and how much memory a group of finished tasks holds
//! until it is joined. Prints markdown tables (copied into
//! `docs/benchmarks.md`, "Allocations and memory"); measures no time.
//!
//! * **Sizes**: `size_of` of every public type, and of every future the
//!   crate returns (taken from a value with [`size_of_val_future`], since most
//!   are unnameable `async fn` futures), next to tokio, tokio-util,
//!   crossbeam-utils, async-lock, event-listener, smol and async-std
//!   equivalents. Futures are created and dropped, never polled. Generic
//!   types are shown with `T = u64`, `E = std::io::Error`.
//! * **Handed to the runtime**: the size of the future each way of spawning
//!   gives the runtime per task, taken by a [`Runtime`] that records it.
//! * **Held by finished tasks**: spawn 100,000 tasks (each the same fallible
//!   future, `async fn job(i: u64) -> io::Result<u64> { Ok(i) }`), let all
//!   of them finish, and read the live bytes (bytes allocated minus bytes freed, from
//!   the counting allocator in `tests/support/counting_alloc.rs`) before the
//!   spawns, right after them (queued, not yet run), after every task has
//!   finished (before the join), and after the join and drop. Contenders:
//!   `ErrGroup` against tokio's `JoinSet` and a `Vec<JoinHandle>` on a tokio
//!   current-thread runtime, and against a `Vec<Task>` on a smol `Executor`.
//!   Everything runs on this one thread (current-thread tokio; the smol
//!   executor driven by `block_on(executor.run(..))`), so the per-thread live
//!   count sees every allocation and every free. Each contender runs its
//!   whole scenario once before the measured run, so the runtimes' queues are
//!   already grown to their size and are not counted as the tasks' memory.
//!
//! Run: `cargo bench --bench memory` (a few seconds).

use std::future::Future;
use std::io;
use std::mem::size_of;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use taskgroup::futures::{Acquire, Cancelled, RunUntilCancelled, Wait};
use taskgroup::patterns::{
    first_ok, hedged, map_concurrent, scatter_gather, try_map_concurrent,
    try_map_concurrent_unordered, AllFailed, MapConcurrent, TryMapConcurrent,
};
use taskgroup::runtime::{AsyncStdRuntime, Runtime, SmolRuntime, TokioRuntime};
use taskgroup::{
    AcquireError, CancelCause, CancellationToken, DropGuard, ErrGroup, GroupError, Latch,
    PanicPayload, PanicPolicy, Permit, Semaphore, Spawner, TaskId, TryAcquireError, WaitGroup,
    WaitGuard,
};

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::live_bytes;

/// The size of a future (or any value) whose type has no name.
fn size_of_val_future<F>(_: &F) -> usize {
    size_of::<F>()
}

// ---------------------------------------------------------------------------
// Sizes.

/// One line of the sizes table: a taskgroup item and its peers' equivalents.
struct Row {
    ours: String,
    size: usize,
    peers: Vec<(String, usize)>,
}

fn row(ours: &str, size: usize, peers: &[(&str, usize)]) -> Row {
    Row {
        ours: ours.to_owned(),
        size,
        peers: peers
            .iter()
            .map(|&(name, size)| (name.to_owned(), size))
            .collect(),
    }
}

fn print_sizes(title: &str, rows: &[Row]) {
    println!("\n#### {title}\n");
    println!("| taskgroup | bytes | peer equivalent | bytes |");
    println!("|---|---:|---|---:|");
    for row in rows {
        let mut peers = row.peers.iter();
        match peers.next() {
            Some((peer, size)) => {
                println!("| {} | {} | {peer} | {size} |", row.ours, row.size);
            }
            None => println!("| {} | {} | — | |", row.ours, row.size),
        }
        for (peer, size) in peers {
            println!("| | | {peer} | {size} |");
        }
    }
}

/// The user future the size rows wrap (`run_until_cancelled`, the patterns).
async fn job(i: u64) -> Result<u64, io::Error> {
    Ok(i)
}

fn primitive_sizes() -> Vec<Row> {
    let wg = WaitGroup::new();
    let latch = Latch::new(1);
    let token = CancellationToken::new();
    let sem = Semaphore::new(1);
    let peer_token = tokio_util::sync::CancellationToken::new();
    let tracker = tokio_util::task::TaskTracker::new();
    let notify = tokio::sync::Notify::new();
    let tokio_sem = tokio::sync::Semaphore::new(1);
    let lock_sem = async_lock::Semaphore::new(1);
    let ready = std::future::ready(1u64);
    // Bound first: the futures in it borrow the locals above.
    let rows = vec![
        row(
            "`WaitGroup`",
            size_of::<WaitGroup>(),
            &[
                (
                    "crossbeam-utils `WaitGroup`",
                    size_of::<crossbeam_utils::sync::WaitGroup>(),
                ),
                (
                    "tokio-util `TaskTracker`",
                    size_of::<tokio_util::task::TaskTracker>(),
                ),
            ],
        ),
        row(
            "`WaitGuard`",
            size_of::<WaitGuard>(),
            &[(
                "tokio-util `TaskTrackerToken`",
                size_of::<tokio_util::task::task_tracker::TaskTrackerToken>(),
            )],
        ),
        row(
            "`futures::Wait` (`WaitGroup::wait()`)",
            size_of_val_future(&wg.wait()),
            &[
                (
                    "tokio-util `TaskTracker::wait()`",
                    size_of_val_future(&tracker.wait()),
                ),
                (
                    "tokio `Notify::notified()`",
                    size_of_val_future(&notify.notified()),
                ),
                (
                    "event-listener `EventListener` (a `Box`; the listener itself is on the heap)",
                    size_of::<event_listener::EventListener>(),
                ),
            ],
        ),
        row("`Latch`", size_of::<Latch>(), &[]),
        row(
            "`Latch::wait()`, `arrive_and_wait()` (`Wait`)",
            size_of_val_future(&latch.wait()),
            &[],
        ),
        row(
            "`CancellationToken`",
            size_of::<CancellationToken>(),
            &[(
                "tokio-util `CancellationToken`",
                size_of::<tokio_util::sync::CancellationToken>(),
            )],
        ),
        row(
            "`futures::Cancelled` (`cancelled()`)",
            size_of_val_future(&token.cancelled()),
            &[(
                "tokio-util `cancelled()`",
                size_of_val_future(&peer_token.cancelled()),
            )],
        ),
        row(
            "`DropGuard`",
            size_of::<DropGuard>(),
            &[(
                "tokio-util `DropGuard`",
                size_of::<tokio_util::sync::DropGuard>(),
            )],
        ),
        row(
            &format!(
                "`RunUntilCancelled<F>`, `F` = `std::future::Ready<u64>` ({} B)",
                size_of_val_future(&ready)
            ),
            size_of_val_future(&token.run_until_cancelled(std::future::ready(1u64))),
            &[(
                "tokio-util `run_until_cancelled(F)`",
                size_of_val_future(&peer_token.run_until_cancelled(std::future::ready(1u64))),
            )],
        ),
        row(
            "`Semaphore`",
            size_of::<Semaphore>(),
            &[
                (
                    "`Arc<tokio::sync::Semaphore>` (shared the same way)",
                    size_of::<Arc<tokio::sync::Semaphore>>(),
                ),
                (
                    "`tokio::sync::Semaphore` (inline)",
                    size_of::<tokio::sync::Semaphore>(),
                ),
                (
                    "`async_lock::Semaphore` (inline)",
                    size_of::<async_lock::Semaphore>(),
                ),
            ],
        ),
        row(
            "`Permit`",
            size_of::<Permit>(),
            &[
                (
                    "tokio `OwnedSemaphorePermit`",
                    size_of::<tokio::sync::OwnedSemaphorePermit>(),
                ),
                (
                    "tokio `SemaphorePermit`",
                    size_of::<tokio::sync::SemaphorePermit<'static>>(),
                ),
                (
                    "async-lock `SemaphoreGuardArc`",
                    size_of::<async_lock::SemaphoreGuardArc>(),
                ),
                (
                    "async-lock `SemaphoreGuard`",
                    size_of::<async_lock::SemaphoreGuard<'static>>(),
                ),
            ],
        ),
        row(
            "`futures::Acquire` (`acquire()`, `acquire_many(n)`)",
            size_of_val_future(&sem.acquire()),
            &[
                (
                    "tokio `Semaphore::acquire()`",
                    size_of_val_future(&tokio_sem.acquire()),
                ),
                (
                    "tokio `Semaphore::acquire_many(n)`",
                    size_of_val_future(&tokio_sem.acquire_many(1)),
                ),
                (
                    "async-lock `futures::Acquire`",
                    size_of_val_future(&lock_sem.acquire()),
                ),
            ],
        ),
        row(
            "`AcquireError`",
            size_of::<AcquireError>(),
            &[(
                "tokio `AcquireError`",
                size_of::<tokio::sync::AcquireError>(),
            )],
        ),
        row(
            "`TryAcquireError`",
            size_of::<TryAcquireError>(),
            &[(
                "tokio `TryAcquireError`",
                size_of::<tokio::sync::TryAcquireError>(),
            )],
        ),
    ];
    rows
}

/// The public types whose size depends on nothing generic, and the named
/// future types, checked against the values above.
fn named_type_checks() {
    assert_eq!(
        size_of::<Wait<'static>>(),
        size_of_val_future(&WaitGroup::new().wait())
    );
    assert_eq!(
        size_of::<Cancelled<'static>>(),
        size_of_val_future(&CancellationToken::new().cancelled())
    );
    assert_eq!(
        size_of::<Acquire<'static>>(),
        size_of_val_future(&Semaphore::new(1).acquire())
    );
    let latch = Latch::new(1);
    assert_eq!(
        size_of::<Wait<'static>>(),
        size_of_val_future(&latch.wait())
    );
    assert_eq!(
        size_of::<Wait<'static>>(),
        size_of_val_future(&latch.arrive_and_wait())
    );
    let token = CancellationToken::new();
    assert_eq!(
        size_of::<RunUntilCancelled<'static, std::future::Ready<u64>>>(),
        size_of_val_future(&token.run_until_cancelled(std::future::ready(1u64)))
    );
}

type Group<R> = ErrGroup<u64, io::Error, R>;

/// Group types, handles and the futures of a group on runtime `R`; `peers`
/// are this runtime's own equivalents (empty but for tokio).
fn group_sizes<R: Runtime>(name: &str, runtime: R, with_peers: bool) -> Vec<Row> {
    let peers = |rows: &[(&str, usize)]| -> Vec<(String, usize)> {
        if with_peers {
            rows.iter().map(|&(n, s)| (n.to_owned(), s)).collect()
        } else {
            Vec::new()
        }
    };
    let mut join_set = tokio::task::JoinSet::<u64>::new();
    let join_next = size_of_val_future(&join_set.join_next());
    let join_next_with_id = size_of_val_future(&join_set.join_next_with_id());
    let join_all = size_of_val_future(&join_set.join_all());

    let mut group = Group::new(runtime.clone());
    let join_next_size = size_of_val_future(&group.join_next());
    let join_next_with_id_size = size_of_val_future(&group.join_next_with_id());
    let rows = vec![
        Row {
            ours: format!("`ErrGroup<u64, io::Error, {name}>`"),
            size: size_of::<Group<R>>(),
            peers: peers(&[(
                "tokio `JoinSet<u64>`",
                size_of::<tokio::task::JoinSet<u64>>(),
            )]),
        },
        Row {
            ours: format!("`Spawner<u64, io::Error, {name}>`"),
            size: size_of::<Spawner<u64, io::Error, R>>(),
            peers: Vec::new(),
        },
        Row {
            ours: format!("`{name}`"),
            size: size_of::<R>(),
            peers: peers(&[(
                "`tokio::runtime::Handle`",
                size_of::<tokio::runtime::Handle>(),
            )]),
        },
        Row {
            ours: format!("`join()` future ({name})"),
            size: size_of_val_future(&Group::new(runtime.clone()).join()),
            peers: peers(&[("tokio `JoinSet::join_all()`", join_all)]),
        },
        Row {
            ours: format!("`join_all()` future ({name})"),
            size: size_of_val_future(&Group::new(runtime.clone()).join_all()),
            peers: Vec::new(),
        },
        Row {
            ours: format!("`join_next()` future ({name})"),
            size: join_next_size,
            peers: peers(&[("tokio `JoinSet::join_next()`", join_next)]),
        },
        Row {
            ours: format!("`join_next_with_id()` future ({name})"),
            size: join_next_with_id_size,
            peers: peers(&[("tokio `JoinSet::join_next_with_id()`", join_next_with_id)]),
        },
    ];
    rows
}

/// The patterns' futures and stream on runtime `R`, over `0..10` with
/// [`job`] as the work.
fn pattern_sizes<R: Runtime>(name: &str, runtime: &R) -> Vec<Row> {
    let inputs: Range<u64> = 0..10;
    let map: MapConcurrent<Range<u64>, _, u64, R> =
        map_concurrent(runtime, inputs.clone(), 4, |i| async move { i });
    let try_map: TryMapConcurrent<Range<u64>, _, u64, io::Error, R> =
        try_map_concurrent(runtime, inputs.clone(), 4, job);
    vec![
        row(
            &format!("`scatter_gather` future ({name})"),
            size_of_val_future(&scatter_gather(runtime, inputs.clone(), job)),
            &[],
        ),
        row(
            &format!("`MapConcurrent` stream, `map_concurrent` ({name})"),
            size_of_val_future(&map),
            &[],
        ),
        row(
            &format!("`TryMapConcurrent` stream, `try_map_concurrent` ({name})"),
            size_of_val_future(&try_map),
            &[],
        ),
        row(
            &format!("`TryMapConcurrent` stream, `try_map_concurrent_unordered` ({name})"),
            size_of_val_future(&try_map_concurrent_unordered(
                runtime,
                inputs.clone(),
                4,
                job,
            )),
            &[],
        ),
        row(
            &format!("`first_ok` future ({name})"),
            size_of_val_future(&first_ok(runtime, inputs.clone().map(job))),
            &[],
        ),
        row(
            &format!("`hedged` future ({name})"),
            size_of_val_future(&hedged(
                runtime,
                inputs.clone().map(job),
                Duration::from_millis(1),
            )),
            &[],
        ),
    ]
}

fn other_sizes() -> Vec<Row> {
    vec![
        row(
            "`TaskId`",
            size_of::<TaskId>(),
            &[("tokio `task::Id`", size_of::<tokio::task::Id>())],
        ),
        row(
            "`GroupError<io::Error>`",
            size_of::<GroupError<io::Error>>(),
            &[("tokio `JoinError`", size_of::<tokio::task::JoinError>())],
        ),
        row(
            "`(usize, Result<u64, GroupError<io::Error>>)`: one finished task's outcome, with its spawn index, as a group stores it until joined",
            size_of::<(usize, Result<u64, GroupError<io::Error>>)>(),
            &[(
                "`Result<Result<u64, io::Error>, JoinError>` (what a `JoinHandle` yields; tokio keeps it in the task's cell until joined)",
                size_of::<Result<Result<u64, io::Error>, tokio::task::JoinError>>(),
            )],
        ),
        row("`PanicPayload`", size_of::<PanicPayload>(), &[]),
        row("`CancelCause`", size_of::<CancelCause>(), &[]),
        row("`PanicPolicy`", size_of::<PanicPolicy>(), &[]),
        row("`AllFailed<io::Error>`", size_of::<AllFailed<io::Error>>(), &[]),
        row(
            "per-task handle: none kept (`spawn` returns a `TaskId`)",
            0,
            &[
                (
                    "tokio `JoinHandle<u64>`",
                    size_of::<tokio::task::JoinHandle<u64>>(),
                ),
                ("smol `Task<u64>`", size_of::<smol::Task<u64>>()),
                (
                    "async-std `JoinHandle<u64>`",
                    size_of::<async_std::task::JoinHandle<u64>>(),
                ),
            ],
        ),
    ]
}

// ---------------------------------------------------------------------------
// What the runtime is handed per task.

/// A spawned future, kept unpolled.
type Kept = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// A [`Runtime`] that records the size of every future it is asked to spawn
/// and keeps it, never polled, until the probe is dropped (a group records
/// such a task as lost then); it sleeps with `inner`.
#[derive(Clone)]
struct SizeProbe<R> {
    inner: R,
    spawned: Arc<std::sync::Mutex<Vec<usize>>>,
    kept: Arc<std::sync::Mutex<Vec<Kept>>>,
}

impl<R: Runtime> SizeProbe<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            spawned: Arc::default(),
            kept: Arc::default(),
        }
    }

    /// The sizes of the futures spawned since the last call.
    fn take(&self) -> Vec<usize> {
        std::mem::take(&mut *self.spawned.lock().expect("not poisoned"))
    }
}

impl<R: Runtime> Runtime for SizeProbe<R> {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.spawned
            .lock()
            .expect("not poisoned")
            .push(size_of_val_future(&future));
        self.kept
            .lock()
            .expect("not poisoned")
            .push(Box::pin(future));
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        self.inner.sleep(duration)
    }
}

/// The one future `spawn_one` spawned through `probe`.
fn spawned_size<R: Runtime>(probe: &SizeProbe<R>, spawn_one: impl FnOnce()) -> usize {
    probe.take();
    spawn_one();
    let sizes = probe.take();
    assert_eq!(sizes.len(), 1, "one future spawned");
    sizes[0]
}

fn task_future_sizes(runtime: &TokioRuntime) {
    println!("\n#### The future a runtime is handed per task\n");
    println!("(Taken by a probe `Runtime` that records what it is asked to spawn; its `sleep` is tokio's.)\n");
    println!("| spawned through | bytes |");
    println!("|---|---:|");
    let probe = SizeProbe::new(runtime.clone());
    let job_size = size_of_val_future(&job(1));
    println!("| nothing: the user future itself, `job(i)` | {job_size} |");

    let group = Group::new(probe.clone());
    let task = spawned_size(&probe, || {
        group.spawn(job(1)).unwrap();
    });
    println!("| `ErrGroup::spawn` (the group's task around it) | {task} |");

    let limited = Group::builder(probe.clone()).limit(1).build();
    let worker = spawned_size(&probe, || {
        limited.spawn(job(1)).unwrap();
    });
    println!(
        "| `ErrGroup::spawn` with a limit, a free slot (a worker around the task) | {worker} |"
    );
    // With the slot taken (the worker is kept, unpolled), the next task is
    // boxed into the group's queue, not spawned: its box holds the group's
    // task future (the size two rows up).
    limited.spawn(job(2)).unwrap();
    assert!(probe.take().is_empty(), "a queued task is not spawned");

    let wg = WaitGroup::new();
    let unit_job = async {
        let _ = job(1).await;
    };
    let unit_size = size_of_val_future(&unit_job);
    let wrapped = spawned_size(&probe, || probe.spawn(wg.track(unit_job)));
    println!("| `WaitGroup::track` (a guard around `async {{ let _ = job.await; }}`, {unit_size} B) | {wrapped} |");

    let deadline = spawned_size(&probe, || {
        drop(
            Group::builder(probe.clone())
                .deadline(Duration::from_secs(1))
                .build(),
        );
    });
    println!("| a builder's `deadline` (one timer task per group) | {deadline} |");
}

// ---------------------------------------------------------------------------
// Memory held by finished, unjoined tasks.

/// Tasks per measured group.
const TASKS: usize = 100_000;

/// Live bytes at the four points of one scenario, relative to the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    spawned: isize,
    finished: isize,
    joined: isize,
}

/// Reads the live bytes at each point; the scenario calls `mark` after
/// spawning and after every task finished, and returns after the join.
struct Marks {
    start: isize,
    spawned: Option<isize>,
    finished: Option<isize>,
}

impl Marks {
    fn start() -> Self {
        Self {
            start: live_bytes(),
            spawned: None,
            finished: None,
        }
    }

    fn mark(&mut self) {
        let now = live_bytes() - self.start;
        if self.spawned.is_none() {
            self.spawned = Some(now);
        } else {
            assert!(self.finished.is_none(), "two marks per scenario");
            self.finished = Some(now);
        }
    }

    fn end(self) -> Held {
        Held {
            spawned: self.spawned.expect("marked after spawning"),
            finished: self.finished.expect("marked after finishing"),
            joined: live_bytes() - self.start,
        }
    }
}

/// Yields on tokio until every task of the runtime is gone.
async fn tokio_until_idle() {
    let metrics = tokio::runtime::Handle::current().metrics();
    while metrics.num_alive_tasks() > 0 {
        tokio::task::yield_now().await;
    }
}

/// Yields until `executor` has no unfinished task.
async fn smol_until_idle(executor: &smol::Executor<'static>) {
    while !executor.is_empty() {
        smol::future::yield_now().await;
    }
}

async fn tokio_err_group(marks: &mut Marks) {
    let group = Group::new(TokioRuntime::current());
    for i in 0..TASKS {
        group.spawn(job(i as u64)).unwrap();
    }
    marks.mark();
    tokio_until_idle().await;
    assert_eq!(group.len(), TASKS);
    marks.mark();
    let values = group.join().await.expect("no task fails");
    assert_eq!(values.len(), TASKS);
}

async fn tokio_discarding_group(marks: &mut Marks) {
    let group = Group::builder(TokioRuntime::current())
        .discard_values()
        .build();
    for i in 0..TASKS {
        group.spawn(job(i as u64)).unwrap();
    }
    marks.mark();
    tokio_until_idle().await;
    assert_eq!(group.len(), 0, "no value kept");
    marks.mark();
    assert!(group.join().await.expect("no task fails").is_empty());
}

async fn tokio_join_set(marks: &mut Marks) {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..TASKS {
        set.spawn(job(i as u64));
    }
    marks.mark();
    tokio_until_idle().await;
    assert_eq!(set.len(), TASKS);
    marks.mark();
    let mut joined = 0;
    while let Some(result) = set.join_next().await {
        result.expect("no panic").expect("no task fails");
        joined += 1;
    }
    assert_eq!(joined, TASKS);
}

async fn tokio_handles(marks: &mut Marks) {
    let handles: Vec<_> = (0..TASKS).map(|i| tokio::spawn(job(i as u64))).collect();
    marks.mark();
    tokio_until_idle().await;
    assert!(handles.iter().all(tokio::task::JoinHandle::is_finished));
    marks.mark();
    for handle in handles {
        handle.await.expect("no panic").expect("no task fails");
    }
}

async fn smol_err_group(executor: &Arc<smol::Executor<'static>>, marks: &mut Marks) {
    let group = Group::new(SmolRuntime::with_executor(Arc::clone(executor)));
    for i in 0..TASKS {
        group.spawn(job(i as u64)).unwrap();
    }
    marks.mark();
    smol_until_idle(executor).await;
    marks.mark();
    let values = group.join().await.expect("no task fails");
    assert_eq!(values.len(), TASKS);
}

async fn smol_discarding_group(executor: &Arc<smol::Executor<'static>>, marks: &mut Marks) {
    let group = Group::builder(SmolRuntime::with_executor(Arc::clone(executor)))
        .discard_values()
        .build();
    for i in 0..TASKS {
        group.spawn(job(i as u64)).unwrap();
    }
    marks.mark();
    smol_until_idle(executor).await;
    marks.mark();
    assert!(group.join().await.expect("no task fails").is_empty());
}

async fn smol_tasks(executor: &Arc<smol::Executor<'static>>, marks: &mut Marks) {
    let tasks: Vec<_> = (0..TASKS).map(|i| executor.spawn(job(i as u64))).collect();
    marks.mark();
    smol_until_idle(executor).await;
    assert!(tasks.iter().all(smol::Task::is_finished));
    marks.mark();
    for task in tasks {
        task.await.expect("no task fails");
    }
}

/// The bytes tokio allocates for one spawned task whose future carries
/// `N` bytes (the live bytes the spawn adds on this thread, handle kept).
fn tokio_cell_for<const N: usize>(rt: &tokio::runtime::Runtime) -> (usize, isize) {
    let carried = [1u8; N];
    let future = async move {
        std::hint::black_box(&carried);
    };
    let size = size_of_val_future(&future);
    let _entered = rt.enter();
    let before = live_bytes();
    let handle = tokio::spawn(future);
    let cell = live_bytes() - before;
    drop(handle);
    (size, cell)
}

/// Tokio's task cell by future size: cells come in steps of 128 bytes on
/// x86_64 (tokio aligns them to 128), which decides what a group's wrapper
/// costs in memory.
fn tokio_cell_sizes() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio current-thread runtime");
    println!("\n#### A tokio task's allocation by the size of its future\n");
    println!("| future (B) | task allocation (B) |\n|---:|---:|");
    for (size, cell) in [
        tokio_cell_for::<8>(&rt),
        tokio_cell_for::<15>(&rt),
        tokio_cell_for::<16>(&rt),
        tokio_cell_for::<23>(&rt),
        tokio_cell_for::<24>(&rt),
        tokio_cell_for::<63>(&rt),
        tokio_cell_for::<151>(&rt),
        tokio_cell_for::<152>(&rt),
        tokio_cell_for::<279>(&rt),
        tokio_cell_for::<280>(&rt),
    ] {
        println!("| {size} | {cell} |");
    }
}

/// Runs a scenario twice (the first warms the runtime up) and returns the
/// second run's figures.
fn held_by(mut run: impl FnMut(&mut Marks)) -> Held {
    run(&mut Marks::start());
    let mut marks = Marks::start();
    run(&mut marks);
    marks.end()
}

fn print_held(runtime: &str, contender: &str, held: Held) {
    let per_task = |bytes: isize| bytes as f64 / TASKS as f64;
    println!(
        "| {runtime} | {contender} | {:.1} | {:.1} | {} |",
        per_task(held.spawned),
        per_task(held.finished),
        held.joined
    );
}

/// `100000` as `100,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn memory_held() {
    println!(
        "\n#### Live bytes held by {} tasks, per task\n",
        thousands(TASKS)
    );
    println!(
        "| runtime | contender | spawned, not yet run (B/task) | all finished, not joined (B/task) | left after join + drop (B, total) |"
    );
    println!("|---|---|---:|---:|---:|");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio current-thread runtime");
    let tokio_row = |name: &str, held: Held| print_held("tokio current-thread", name, held);
    tokio_row(
        "**`ErrGroup::join`**",
        held_by(|marks| rt.block_on(tokio_err_group(marks))),
    );
    tokio_row(
        "**`ErrGroup` with `discard_values`**",
        held_by(|marks| rt.block_on(tokio_discarding_group(marks))),
    );
    tokio_row(
        "`JoinSet` + `join_next` loop",
        held_by(|marks| rt.block_on(tokio_join_set(marks))),
    );
    tokio_row(
        "`Vec<JoinHandle>` awaited in order",
        held_by(|marks| rt.block_on(tokio_handles(marks))),
    );

    let executor = Arc::new(smol::Executor::new());
    let smol_row = |name: &str, held: Held| print_held("smol `Executor`", name, held);
    smol_row(
        "**`ErrGroup::join`**",
        held_by(|marks| smol::block_on(executor.run(smol_err_group(&executor, marks)))),
    );
    smol_row(
        "**`ErrGroup` with `discard_values`**",
        held_by(|marks| smol::block_on(executor.run(smol_discarding_group(&executor, marks)))),
    );
    smol_row(
        "`Vec<Task>` awaited in order",
        held_by(|marks| smol::block_on(executor.run(smol_tasks(&executor, marks)))),
    );
}

fn main() {
    named_type_checks();
    println!("### Sizes (`size_of`, bytes, {})", std::env::consts::ARCH);
    print_sizes("Primitives", &primitive_sizes());

    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio current-thread runtime");
    let tokio_runtime = TokioRuntime::from_handle(tokio_rt.handle().clone());
    let mut groups = group_sizes("TokioRuntime", tokio_runtime.clone(), true);
    groups.extend(group_sizes("SmolRuntime", SmolRuntime::global(), false));
    groups.extend(group_sizes("AsyncStdRuntime", AsyncStdRuntime, false));
    print_sizes("Groups", &groups);

    let mut patterns = pattern_sizes("TokioRuntime", &tokio_runtime);
    patterns.extend(pattern_sizes("SmolRuntime", &SmolRuntime::global()));
    print_sizes(
        "Patterns (over `0..10`, each item's work `job(i)`, the 16-byte future of the last table)",
        &patterns,
    );
    print_sizes("Errors, ids, handles", &other_sizes());
    {
        let _entered = tokio_rt.enter(); // the deadline's timer
        task_future_sizes(&tokio_runtime);
    }
    tokio_cell_sizes();

    memory_held();
}
