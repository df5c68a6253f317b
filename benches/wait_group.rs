//! `WaitGroup` against its floor and its peers, on the same work in the same
//! run. Results and how to read them: `docs/benchmarks.md`.
//!
//! Groups:
//!
//! * `add_done/no_waiter`: one `add(1)` + `done()` pair with nobody waiting,
//!   against two bare atomics (the floor), crossbeam's `WaitGroup`
//!   (`clone()` + `drop()`), and hand-rolled `AtomicUsize` groups on tokio's
//!   `Notify` and on event-listener's `Event` that notify at zero.
//! * `wait_open`: create `wait()` on a group at zero and poll it once with a
//!   no-op waker, against an atomic load and a branch.
//! * `wake_latency/{tasks,threads}`: round trips of a ping-pong in which each
//!   side `add(1)`s the group it is about to wait on and `done()`s the other
//!   side's group, so every round trip is two wake-ups of one parked waiter.
//!   `tasks`: two tasks on a tokio current-thread runtime. `threads`: two OS
//!   threads, each blocking on its group (its own blocking wait, and its
//!   future under `futures::executor::block_on`). Peers: the same ping-pong
//!   on the hand-rolled `Event` group (raw event-listener) and `Notify` group.
//!
//! Run: `cargo bench --bench wait_group` (well under two minutes).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use event_listener::{Event, Listener};
use taskgroup::{Latch, WaitGroup};

/// The operations every contender in `add_done` and `wake_latency` offers.
trait Group: Send + Sync + 'static {
    const NAME: &'static str;
    fn with_count(count: usize) -> Self;
    fn add1(&self);
    fn done(&self);
    /// Waits for zero, blocking the thread.
    fn wait_blocking(&self);
    /// Waits for zero, as a future.
    fn wait(&self) -> impl Future<Output = ()> + Send + '_;
}

impl Group for WaitGroup {
    const NAME: &'static str = "taskgroup";
    fn with_count(count: usize) -> Self {
        let wg = WaitGroup::new();
        wg.add(count);
        wg
    }
    fn add1(&self) {
        self.add(1);
    }
    fn done(&self) {
        WaitGroup::done(self);
    }
    fn wait_blocking(&self) {
        WaitGroup::wait_blocking(self);
    }
    fn wait(&self) -> impl Future<Output = ()> + Send + '_ {
        WaitGroup::wait(self)
    }
}

/// The usual hand-rolled async wait group on tokio: a counter and a `Notify`
/// that is told at every transition to zero.
struct TokioGroup {
    count: AtomicUsize,
    notify: tokio::sync::Notify,
}

impl Group for TokioGroup {
    const NAME: &'static str = "tokio_notify";
    fn with_count(count: usize) -> Self {
        Self {
            count: AtomicUsize::new(count),
            notify: tokio::sync::Notify::new(),
        }
    }
    fn add1(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.notify.notify_waiters();
        }
    }
    fn wait_blocking(&self) {
        futures::executor::block_on(Group::wait(self));
    }
    async fn wait(&self) {
        // Enable the `Notified` (register), then re-check the count: a
        // `notify_waiters` between the check and the registration is not lost.
        // (A group raised again before the waiter runs would make this wait
        // for the next zero; the ping-pong never does that.)
        loop {
            let mut notified = pin!(self.notify.notified());
            notified.as_mut().enable();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// The same group on a raw event-listener `Event`: notify (everyone) at every
/// transition to zero; wait = check, `listen()`, re-check, park.
struct EventGroup {
    count: AtomicUsize,
    event: Event,
}

impl Group for EventGroup {
    const NAME: &'static str = "event_listener";
    fn with_count(count: usize) -> Self {
        Self {
            count: AtomicUsize::new(count),
            event: Event::new(),
        }
    }
    fn add1(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.event.notify(usize::MAX);
        }
    }
    fn wait_blocking(&self) {
        while self.count.load(Ordering::Acquire) != 0 {
            let listener = self.event.listen();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            listener.wait();
        }
    }
    async fn wait(&self) {
        while self.count.load(Ordering::Acquire) != 0 {
            let listener = self.event.listen();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            listener.await;
        }
    }
}

fn add_done_one<G: Group>(c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let group = G::with_count(0);
    c.bench_function(G::NAME, |b| {
        b.iter(|| {
            let group = black_box(&group);
            group.add1();
            group.done();
        })
    });
}

fn add_done(c: &mut Criterion) {
    let mut g = c.benchmark_group("add_done/no_waiter");

    // The floor: the two read-modify-writes any counting group needs.
    let atomic = AtomicUsize::new(0);
    g.bench_function("atomic_floor", |b| {
        b.iter(|| {
            let atomic = black_box(&atomic);
            atomic.fetch_add(1, Ordering::Relaxed);
            atomic.fetch_sub(1, Ordering::AcqRel);
        })
    });

    // 0 -> 1 -> 0: every `done` ends a generation (what a group in use does).
    add_done_one::<WaitGroup>(&mut g);

    // 1 -> 2 -> 1: the same pair when the count never reaches zero.
    let wg = WaitGroup::new();
    wg.add(1);
    g.bench_function("taskgroup_nonzero", |b| {
        b.iter(|| {
            let wg = black_box(&wg);
            wg.add(1);
            wg.done();
        })
    });

    // crossbeam counts handles: the original keeps the count at 1 or more,
    // so its clone + drop never reaches zero (never takes its lock).
    let cb = crossbeam_utils::sync::WaitGroup::new();
    g.bench_function("crossbeam_clone_drop", |b| {
        b.iter(|| drop(black_box(&cb).clone()));
    });

    add_done_one::<TokioGroup>(&mut g);
    add_done_one::<EventGroup>(&mut g);
    g.finish();
}

fn wait_open(c: &mut Criterion) {
    let mut g = c.benchmark_group("wait_open");
    let mut cx = Context::from_waker(Waker::noop());

    let atomic = AtomicUsize::new(0);
    g.bench_function("atomic_load_branch", |b| {
        b.iter(|| {
            let ready = if black_box(&atomic).load(Ordering::Acquire) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
            black_box(ready)
        })
    });

    // A group handle is a pointer to shared state, so the load that any group
    // does goes through one more (dependent) load: the same floor behind an `Arc`.
    let shared = Arc::new(AtomicUsize::new(0));
    g.bench_function("arc_atomic_load_branch", |b| {
        b.iter(|| {
            let ready = if black_box(&shared).load(Ordering::Acquire) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
            black_box(ready)
        })
    });

    let wg = WaitGroup::new();
    g.bench_function("taskgroup_wait_group", |b| {
        b.iter(|| {
            let wait = pin!(black_box(&wg).wait());
            black_box(wait.poll(&mut cx))
        })
    });

    let latch = Latch::new(0);
    g.bench_function("taskgroup_latch", |b| {
        b.iter(|| {
            let wait = pin!(black_box(&latch).wait());
            black_box(wait.poll(&mut cx))
        })
    });
    g.finish();
}

/// A contender whose blocking wait is its future run by
/// `futures::executor::block_on`, which parks the thread with
/// `std::thread::park` (event-listener's own blocking `wait()` parks on the
/// `parking` crate's `Mutex` + `Condvar`).
struct BlockOn<G>(G);

impl<G: Group> Group for BlockOn<G> {
    const NAME: &'static str = "block_on";
    fn with_count(count: usize) -> Self {
        Self(G::with_count(count))
    }
    fn add1(&self) {
        self.0.add1();
    }
    fn done(&self) {
        self.0.done();
    }
    fn wait_blocking(&self) {
        futures::executor::block_on(self.0.wait());
    }
    fn wait(&self) -> impl Future<Output = ()> + Send + '_ {
        self.0.wait()
    }
}

/// Two groups, one per direction. `ping` is waited on by the responder and
/// starts at 1; `pong` is waited on by the driver.
struct PingPong<G> {
    ping: G,
    pong: G,
    stop: AtomicBool,
}

impl<G: Group> PingPong<G> {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            ping: G::with_count(1),
            pong: G::with_count(0),
            stop: AtomicBool::new(false),
        })
    }

    /// Driver side, blocking: arm our group, release the responder, wait.
    fn round_trip_blocking(&self) {
        self.pong.add1();
        self.ping.done();
        self.pong.wait_blocking();
    }

    async fn round_trip(&self) {
        self.pong.add1();
        self.ping.done();
        self.pong.wait().await;
    }

    /// Responder side, blocking: wait, re-arm our group (before answering, so
    /// the driver's next `done` always finds it armed), answer.
    fn respond_blocking(&self) {
        loop {
            self.ping.wait_blocking();
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            self.ping.add1();
            self.pong.done();
        }
    }

    async fn respond(&self) {
        loop {
            self.ping.wait().await;
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            self.ping.add1();
            self.pong.done();
        }
    }

    /// Ends the responder: only after a complete round trip (so `ping` is
    /// armed), whatever the number of iterations was.
    fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.ping.done();
    }
}

/// `iters` round trips between two tasks on a tokio current-thread runtime.
fn tasks_round_trips<G: Group>(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    rt.block_on(async {
        let pp = PingPong::<G>::new();
        let responder = tokio::spawn({
            let pp = Arc::clone(&pp);
            async move { pp.respond().await }
        });
        let driver = tokio::spawn(async move {
            pp.round_trip().await; // warm: both tasks running and registered
            let start = Instant::now();
            for _ in 0..iters {
                pp.round_trip().await;
            }
            let elapsed = start.elapsed();
            pp.stop();
            elapsed
        });
        let elapsed = driver.await.expect("driver task panicked");
        responder.await.expect("responder task panicked");
        elapsed
    })
}

/// `iters` round trips between this thread and a responder thread.
fn threads_round_trips<G: Group>(iters: u64) -> Duration {
    let pp = PingPong::<G>::new();
    let responder = std::thread::spawn({
        let pp = Arc::clone(&pp);
        move || pp.respond_blocking()
    });
    pp.round_trip_blocking(); // warm: the responder thread is running
    let start = Instant::now();
    for _ in 0..iters {
        pp.round_trip_blocking();
    }
    let elapsed = start.elapsed();
    pp.stop();
    responder.join().expect("responder thread panicked");
    elapsed
}

fn wake_latency(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let mut g = c.benchmark_group("wake_latency/tasks");
    fn tasks<G: Group>(
        g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        rt: &tokio::runtime::Runtime,
    ) {
        g.bench_function(G::NAME, |b| {
            b.iter_custom(|iters| tasks_round_trips::<G>(rt, iters))
        });
    }
    tasks::<WaitGroup>(&mut g, &rt);
    tasks::<EventGroup>(&mut g, &rt);
    tasks::<TokioGroup>(&mut g, &rt);
    g.finish();

    let mut g = c.benchmark_group("wake_latency/threads");
    fn threads<G: Group>(
        g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        name: &str,
    ) {
        g.bench_function(name, |b| b.iter_custom(threads_round_trips::<G>));
    }
    // `wait_blocking()` / `listener.wait()`: each contender's own blocking wait.
    threads::<WaitGroup>(&mut g, WaitGroup::NAME);
    threads::<EventGroup>(&mut g, EventGroup::NAME);
    // The same futures, parked by `futures::executor::block_on` instead.
    threads::<BlockOn<WaitGroup>>(&mut g, "taskgroup_block_on");
    threads::<BlockOn<EventGroup>>(&mut g, "event_listener_block_on");
    threads::<TokioGroup>(&mut g, "tokio_notify_block_on");
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_millis(750))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = add_done, wait_open, wake_latency
}
criterion_main!(benches);
