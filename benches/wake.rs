//! Wake-up latency: a ping-pong between two tasks (or two threads) in which
//! every round trip is two wake-ups of a waiter that has parked, for
//! taskgroup's `WaitGroup` against tokio's `Notify`, tokio's `oneshot`, a raw
//! event-listener `Event` and the `awaitgroup` crate. Results and how to read
//! them: `docs/benchmarks.md` ("Wake-up latency").
//!
//! The contenders (each is one [`PingPong`]: a driver side and a responder
//! side):
//!
//! * `taskgroup`: two `WaitGroup`s, one per direction. Each side `add(1)`s the
//!   group it is about to wait on, `done()`s the other side's group and waits;
//!   the responder re-arms its group before it answers, so the driver's next
//!   `done()` always finds it armed.
//! * `event_listener_group`, `tokio_notify_group`: the same ping-pong on the
//!   two usual hand-rolled wait groups (`AtomicUsize` + raw event-listener
//!   `Event`, `AtomicUsize` + tokio `Notify`; `benches/support/groups.rs`).
//! * `tokio_notify`: two bare `Notify`s used as signals (`notify_one()`,
//!   which stores a permit when nobody waits, and `notified().await`): the
//!   least a tokio user would write for a ping-pong.
//! * `tokio_oneshot`: a chain of `oneshot` channels: each ping carries the
//!   receiver of the next ping and the sender of its reply (two channels, so
//!   two allocations, per round trip: what a one-shot primitive costs when it
//!   is used again and again).
//! * `awaitgroup`: two `awaitgroup::WaitGroup`s. Its `wait` takes `&mut self`
//!   and a count is raised only by creating a `Worker` from the group (or
//!   cloning one), so each side creates the other side's next `Worker` from
//!   the group it owns and hands it over through a lock-free
//!   `crossbeam_utils::atomic::AtomicCell` slot (one atomic swap per
//!   hand-off). On tasks only: its counter is `Relaxed`-only, so on two
//!   threads the slot hand-off would race.
//!
//! taskgroup's `Latch` and `CancellationToken`, asyncband's `WaitGroup` and
//! the `waitgroup` crate's are one-shot (they cannot be re-armed), so they do
//! not fit a ping-pong without a new object per round trip; they are left out.
//!
//! Groups (the time is per **round trip**; halve it for one wake-up):
//!
//! * `wake/tokio_ct`: two tasks on a tokio current-thread runtime.
//! * `wake/smol`: two tasks on a dedicated `smol::Executor` driven by
//!   `smol::block_on(ex.run(..))` on the bench thread (one thread).
//! * `wake/threads`: two OS threads. `taskgroup` and `event_listener_group`
//!   block with their own blocking wait (event-listener's parking); every
//!   `*_block_on` contender runs its futures under
//!   `futures::executor::block_on` (`thread::park`).
//!
//! `iter_custom` runs criterion's iteration count of round trips after one
//! warm-up round trip and then stops the responder, so any count ends
//! cleanly. After criterion, an interleaved pass (in `--bench` mode; skip it
//! with `WAKE_BENCH_EXTRAS=0`) times the contenders of each group
//! round-robin and prints each one's median and its ratio to `tokio_notify`,
//! which is steadier on this 2-vCPU guest than medians taken one contender
//! after another.
//!
//! (The runtimes and their drivers: `benches/support/runtimes.rs`; the
//! interleaved pass: `benches/support/harness.rs`.)
//!
//! Run: `cargo bench --bench wake` (about a minute).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use crossbeam_utils::atomic::AtomicCell;
use taskgroup::WaitGroup;
use tokio::sync::{oneshot, Notify};

#[path = "support/groups.rs"]
mod groups;

use groups::{EventGroup, Group, TokioGroup};

#[path = "support/harness.rs"]
mod harness;
#[path = "support/runtimes.rs"]
mod runtimes;

use runtimes::{Rt, Runtimes, SmolThreads, Timed, TokioByHandle};

// ---------------------------------------------------------------------------
// The contenders.

/// A ping-pong: the driver side (`Self`) and the responder side.
trait PingPong: Sized + Send + 'static {
    const NAME: &'static str;
    type Responder: Send + 'static;
    /// A driver and a responder, connected, with nothing in flight.
    fn pair() -> (Self, Self::Responder);
    /// The responder: answers every ping until the driver stops it.
    fn respond(responder: Self::Responder) -> impl Future<Output = ()> + Send + 'static;
    /// One round trip: ping, and wait for the answer.
    fn round_trip(&mut self) -> impl Future<Output = ()> + Send + '_;
    /// Ends the responder (after a complete round trip).
    fn stop(self);
}

/// Two counting groups, one per direction. `ping` is waited on by the
/// responder and starts at 1; `pong` is waited on by the driver.
struct GroupShared<G> {
    ping: G,
    pong: G,
    stop: AtomicBool,
}

struct GroupPair<G>(Arc<GroupShared<G>>);

impl<G: Group> GroupPair<G> {
    fn new_shared() -> Arc<GroupShared<G>> {
        Arc::new(GroupShared {
            ping: G::with_count(1),
            pong: G::with_count(0),
            stop: AtomicBool::new(false),
        })
    }
}

impl<G: Group> GroupShared<G> {
    /// Driver side, blocking: arm our group, release the responder, wait.
    fn round_trip_blocking(&self) {
        self.pong.add1();
        self.ping.done();
        self.pong.wait_blocking();
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

    /// Ends the responder: only after a complete round trip (so `ping` is
    /// armed), whatever the number of iterations was.
    fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.ping.done();
    }
}

impl<G: Group> PingPong for GroupPair<G> {
    const NAME: &'static str = G::NAME;
    type Responder = Arc<GroupShared<G>>;

    fn pair() -> (Self, Self::Responder) {
        let shared = Self::new_shared();
        (Self(Arc::clone(&shared)), shared)
    }

    async fn respond(shared: Self::Responder) {
        loop {
            shared.ping.wait().await;
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            shared.ping.add1();
            shared.pong.done();
        }
    }

    async fn round_trip(&mut self) {
        self.0.pong.add1();
        self.0.ping.done();
        self.0.pong.wait().await;
    }

    fn stop(self) {
        self.0.stop();
    }
}

/// Two bare tokio `Notify`s used as signals.
struct NotifyShared {
    ping: Notify,
    pong: Notify,
    stop: AtomicBool,
}

struct NotifyPair(Arc<NotifyShared>);

impl PingPong for NotifyPair {
    const NAME: &'static str = "tokio_notify";
    type Responder = Arc<NotifyShared>;

    fn pair() -> (Self, Self::Responder) {
        let shared = Arc::new(NotifyShared {
            ping: Notify::new(),
            pong: Notify::new(),
            stop: AtomicBool::new(false),
        });
        (Self(Arc::clone(&shared)), shared)
    }

    async fn respond(shared: Self::Responder) {
        loop {
            shared.ping.notified().await;
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            shared.pong.notify_one();
        }
    }

    async fn round_trip(&mut self) {
        // `notify_one` stores a permit if the responder is not waiting yet.
        self.0.ping.notify_one();
        self.0.pong.notified().await;
    }

    fn stop(self) {
        self.0.stop.store(true, Ordering::Release);
        self.0.ping.notify_one();
    }
}

/// One ping of the oneshot chain: the receiver of the next ping and the
/// sender of this ping's reply.
struct Ping {
    next: oneshot::Receiver<Ping>,
    reply: oneshot::Sender<()>,
}

/// The driver's end of the chain: the sender of the next ping. Dropping it
/// ends the responder.
struct OneshotPair {
    tx: oneshot::Sender<Ping>,
}

impl PingPong for OneshotPair {
    const NAME: &'static str = "tokio_oneshot";
    type Responder = oneshot::Receiver<Ping>;

    fn pair() -> (Self, Self::Responder) {
        let (tx, rx) = oneshot::channel();
        (Self { tx }, rx)
    }

    async fn respond(mut rx: Self::Responder) {
        while let Ok(Ping { next, reply }) = rx.await {
            // The driver is waiting for the reply: it cannot be gone.
            let _ = reply.send(());
            rx = next;
        }
    }

    async fn round_trip(&mut self) {
        let (next_tx, next_rx) = oneshot::channel();
        let (reply_tx, reply_rx) = oneshot::channel();
        let tx = std::mem::replace(&mut self.tx, next_tx);
        let ping = Ping {
            next: next_rx,
            reply: reply_tx,
        };
        if tx.send(ping).is_err() {
            panic!("the responder stopped early");
        }
        reply_rx.await.expect("the responder answers");
    }

    fn stop(self) {
        drop(self.tx);
    }
}

/// The `Worker` slots of the `awaitgroup` ping-pong: each side puts the other
/// side's next worker here, created from the group it owns.
struct AwaitSlots {
    /// A worker of the driver's `pong` group, for the responder to drop.
    to_responder: AtomicCell<Option<awaitgroup::Worker>>,
    /// A worker of the responder's `ping` group, for the driver to drop.
    to_driver: AtomicCell<Option<awaitgroup::Worker>>,
    stop: AtomicBool,
}

struct AwaitGroupPair {
    pong: awaitgroup::WaitGroup,
    slots: Arc<AwaitSlots>,
}

struct AwaitGroupResponder {
    ping: awaitgroup::WaitGroup,
    slots: Arc<AwaitSlots>,
}

impl PingPong for AwaitGroupPair {
    const NAME: &'static str = "awaitgroup";
    type Responder = AwaitGroupResponder;

    fn pair() -> (Self, Self::Responder) {
        assert!(
            AtomicCell::<Option<awaitgroup::Worker>>::is_lock_free(),
            "the worker slot must be one atomic word"
        );
        let ping = awaitgroup::WaitGroup::new();
        let slots = Arc::new(AwaitSlots {
            to_responder: AtomicCell::new(None),
            to_driver: AtomicCell::new(Some(ping.worker())),
            stop: AtomicBool::new(false),
        });
        let driver = Self {
            pong: awaitgroup::WaitGroup::new(),
            slots: Arc::clone(&slots),
        };
        (driver, AwaitGroupResponder { ping, slots })
    }

    async fn respond(responder: Self::Responder) {
        let AwaitGroupResponder { mut ping, slots } = responder;
        loop {
            ping.wait().await;
            if slots.stop.load(Ordering::Acquire) {
                return;
            }
            // Re-arm first, then answer (drop the driver's worker).
            slots.to_driver.store(Some(ping.worker()));
            drop(
                slots
                    .to_responder
                    .take()
                    .expect("the driver armed its group"),
            );
        }
    }

    async fn round_trip(&mut self) {
        self.slots.to_responder.store(Some(self.pong.worker()));
        drop(self.slots.to_driver.take().expect("the responder re-armed"));
        self.pong.wait().await;
    }

    fn stop(self) {
        self.slots.stop.store(true, Ordering::Release);
        drop(self.slots.to_driver.take().expect("the responder re-armed"));
    }
}

// ---------------------------------------------------------------------------
// Where the two sides run.

/// `iters` round trips between two tasks on `exec`.
fn tasks_round_trips<P: PingPong, X: Rt>(exec: &X, iters: u64) -> Duration {
    exec.block_on(async {
        let (mut driver, responder) = P::pair();
        let responder = exec.spawn(P::respond(responder));
        let driver = exec.spawn(async move {
            driver.round_trip().await; // warm: both tasks running and registered
            let start = Instant::now();
            for _ in 0..iters {
                driver.round_trip().await;
            }
            let elapsed = start.elapsed();
            driver.stop();
            elapsed
        });
        let elapsed = driver.await;
        responder.await;
        elapsed
    })
}

/// `iters` round trips between this thread and a responder thread, each
/// side blocking in its group's own blocking wait.
fn threads_blocking<G: Group>(iters: u64) -> Duration {
    let shared = GroupPair::<G>::new_shared();
    let responder = std::thread::spawn({
        let shared = Arc::clone(&shared);
        move || shared.respond_blocking()
    });
    shared.round_trip_blocking(); // warm: the responder thread is running
    let start = Instant::now();
    for _ in 0..iters {
        shared.round_trip_blocking();
    }
    let elapsed = start.elapsed();
    shared.stop();
    responder.join().expect("responder thread panicked");
    elapsed
}

/// The same between two threads, each side's future run by
/// `futures::executor::block_on`.
fn threads_block_on<P: PingPong>(iters: u64) -> Duration {
    use futures::executor::block_on;
    let (mut driver, responder) = P::pair();
    let responder = std::thread::spawn(move || block_on(P::respond(responder)));
    block_on(driver.round_trip()); // warm
    let start = Instant::now();
    for _ in 0..iters {
        block_on(driver.round_trip());
    }
    let elapsed = start.elapsed();
    driver.stop();
    responder.join().expect("responder thread panicked");
    elapsed
}

// ---------------------------------------------------------------------------
// The groups.

/// One bench group: its name, its contenders, and how many round trips one
/// sample of the interleaved pass takes.
struct Contenders<'a> {
    name: &'static str,
    per_sample: u64,
    list: Vec<(&'static str, Timed<'a>)>,
}

fn on_tasks<'a, P: PingPong, X: Rt + 'a>(exec: &X) -> (&'static str, Timed<'a>) {
    let exec = exec.clone();
    (
        P::NAME,
        Box::new(move |iters| tasks_round_trips::<P, X>(&exec, iters)),
    )
}

fn tasks_list<'a, X: Rt + 'a>(exec: &X) -> Vec<(&'static str, Timed<'a>)> {
    vec![
        on_tasks::<GroupPair<WaitGroup>, X>(exec),
        on_tasks::<NotifyPair, X>(exec),
        on_tasks::<GroupPair<EventGroup>, X>(exec),
        on_tasks::<GroupPair<TokioGroup>, X>(exec),
        on_tasks::<OneshotPair, X>(exec),
        on_tasks::<AwaitGroupPair, X>(exec),
    ]
}

fn threads_list() -> Vec<(&'static str, Timed<'static>)> {
    vec![
        ("taskgroup", Box::new(threads_blocking::<WaitGroup>)),
        (
            "taskgroup_block_on",
            Box::new(threads_block_on::<GroupPair<WaitGroup>>),
        ),
        (
            "tokio_notify_block_on",
            Box::new(threads_block_on::<NotifyPair>),
        ),
        (
            "event_listener_group",
            Box::new(threads_blocking::<EventGroup>),
        ),
        (
            "event_listener_group_block_on",
            Box::new(threads_block_on::<GroupPair<EventGroup>>),
        ),
        (
            "tokio_notify_group_block_on",
            Box::new(threads_block_on::<GroupPair<TokioGroup>>),
        ),
        (
            "tokio_oneshot_block_on",
            Box::new(threads_block_on::<OneshotPair>),
        ),
    ]
}

/// The runtimes: the smol executor is run by the bench thread.
fn new_runtimes() -> Runtimes {
    Runtimes::new(SmolThreads::BenchThread)
}

fn groups(runtimes: &Runtimes) -> Vec<Contenders<'_>> {
    vec![
        Contenders {
            name: "wake/tokio_ct",
            per_sample: 20_000,
            list: tasks_list(&TokioByHandle(runtimes.tokio_ct())),
        },
        Contenders {
            name: "wake/smol",
            per_sample: 20_000,
            list: tasks_list(&runtimes.smol()),
        },
        Contenders {
            name: "wake/threads",
            per_sample: 1_000,
            list: threads_list(),
        },
    ]
}

fn wake(c: &mut Criterion) {
    let runtimes = new_runtimes();
    for group in groups(&runtimes) {
        let mut g = c.benchmark_group(group.name);
        for (name, run) in &group.list {
            g.bench_function(*name, |b| b.iter_custom(run));
        }
        g.finish();
    }
}

// ---------------------------------------------------------------------------
// Interleaved ratios, printed once.

const ROUNDS: usize = 20;

fn interleaved() {
    if !harness::extras_enabled("WAKE_BENCH_EXTRAS") {
        return;
    }
    let runtimes = new_runtimes();
    for group in groups(&runtimes) {
        let list = &group.list;
        let medians = harness::interleaved_medians(
            list,
            group.per_sample / 10,
            ROUNDS,
            group.per_sample,
            1e9,
        );
        let names: Vec<&str> = list.iter().map(|(name, _)| *name).collect();
        let reference = names
            .iter()
            .position(|name| name.starts_with("tokio_notify") && !name.contains("group"))
            .expect("every group has a bare tokio_notify contender");
        println!(
            "\nInterleaved, {} ({ROUNDS} rounds x {} round trips, medians per round trip):",
            group.name, group.per_sample
        );
        println!("| contender | median | vs {} |", names[reference]);
        println!("|---|---:|---:|");
        for (name, median) in names.iter().zip(&medians) {
            println!(
                "| {name} | {median:.1} ns | {:.2}x |",
                median / medians[reference]
            );
        }
    }
    println!();
}

fn main() {
    let mut c = harness::config(20, Duration::from_millis(500), Duration::from_millis(1500))
        .configure_from_args();
    wake(&mut c);
    interleaved();
    c.final_summary();
}
