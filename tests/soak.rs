//! Soak: random groups, a fixed number of rounds per runtime, then an audit.
//!
//! Each round builds a group (sometimes limited, `keep_going`, with a
//! deadline, with a child group) whose tasks succeed, fail, panic, spin,
//! sleep, wait on a `Semaphore`, hold `WaitGroup`/`Latch` guards, spawn more
//! tasks from inside, or wait until cancelled; the round then joins it
//! (`join`, `join_all`, `join_next`, `join_all_timeout`), cancels it first,
//! or drops it without a join. Plain runtime tasks wait on each round's
//! `WaitGroup` and `Latch` from outside the group.
//!
//! At the end it prints what ran and asserts that
//! * every future spawned completed or was dropped, exactly once (a guard in
//!   each future counts which);
//! * every joined group reported one outcome per task spawned into it, none
//!   `Lost`, and a `keep_going` group that nobody cancelled none `Cancelled`;
//! * every semaphore has all its permits back (`available_permits() == capacity()`);
//! * every outside waiter was woken (each finished its wait);
//! * nothing is left behind: every task value, error and future holds a
//!   clone of one `Arc`, whose strong count is back to 1 (a leaked group,
//!   task or outcome would keep it up).
//!
//! Run: `cargo test --all-features --test soak -- --nocapture` (prints the
//! figures). Each runtime is a test of its own (`soak_tokio_current_thread`,
//! `soak_tokio_multi_thread`, `soak_smol`, `soak_async_std`), run in parallel
//! by the harness. `TASKGROUP_SOAK_ROUNDS` sets the rounds per runtime
//! (default 8,000: about 3 s each in a debug build on 2 cores),
//! `TASKGROUP_SOAK_SEED` the seed (decimal or `0x` hex; by default taken
//! from the clock). The seed and the round count are printed, and a failure
//! says how to replay it: the same seed and rounds make the same decisions,
//! round after round, on any machine; only the thread interleavings differ.
#![cfg(not(loom))]

#[path = "support/hang.rs"]
mod hang;
#[path = "support/yield_now.rs"]
mod yield_now;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};
use yield_now::YieldNow;

use futures::FutureExt;
use taskgroup::runtime::{AsyncStdRuntime, Runtime, SmolRuntime, TokioRuntime};
use taskgroup::{
    AcquireError, ErrGroup, GroupError, Latch, PanicPolicy, Semaphore, Spawner, TryAcquireError,
    WaitGroup, WaitGuard,
};

/// Rounds per runtime unless `TASKGROUP_SOAK_ROUNDS` says otherwise.
const DEFAULT_ROUNDS: u64 = 8_000;
/// How long the audit at the end waits for the tasks of dropped groups to
/// wind down before it checks (and fails on whatever is left).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a soak (its rounds and its audit) may take before it counts as
/// hung: this much, plus [`HANG_TIMEOUT_PER_ROUND`] for each round. It only
/// turns a hang into a failure (a round takes about 0.4 ms here, 25 times
/// less than its allowance); it measures nothing.
const HANG_TIMEOUT: Duration = Duration::from_secs(120);
/// See [`HANG_TIMEOUT`].
const HANG_TIMEOUT_PER_ROUND: Duration = Duration::from_millis(10);
/// The payload of the panics the soak makes on purpose.
const SOAK_PANIC: &str = "soak panic";

fn soak_rounds() -> u64 {
    match std::env::var("TASKGROUP_SOAK_ROUNDS") {
        Ok(rounds) => rounds
            .trim()
            .parse()
            .expect("TASKGROUP_SOAK_ROUNDS is a number of rounds"),
        Err(_) => DEFAULT_ROUNDS,
    }
}

fn soak_seed() -> u64 {
    match std::env::var("TASKGROUP_SOAK_SEED") {
        Ok(seed) => {
            let seed = seed.trim();
            match seed.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => seed.parse(),
            }
            .expect("TASKGROUP_SOAK_SEED is a u64 (decimal or 0x-hex)")
        }
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos() as u64,
    }
}

/// SplitMix64: small, seedable, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `1/n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// Counters shared by everything a soak runs. Every future, value and error
/// holds a clone of its `Arc` (see the module docs).
#[derive(Default)]
struct Tracker {
    futures_started: AtomicUsize,
    futures_completed: AtomicUsize,
    futures_dropped: AtomicUsize,
    waits_started: AtomicUsize,
    waits_finished: AtomicUsize,
    groups: AtomicUsize,
    child_groups: AtomicUsize,
    dropped_groups: AtomicUsize,
    tasks_spawned: AtomicUsize,
    spawned_from_tasks: AtomicUsize,
    spawns_refused: AtomicUsize,
    values: AtomicUsize,
    errors: AtomicUsize,
    panics: AtomicUsize,
    cancelled: AtomicUsize,
    permits_taken: AtomicUsize,
    too_large: AtomicUsize,
    joins: AtomicUsize,
    cancels: AtomicUsize,
    /// What went wrong inside tasks, where an assertion would only become a
    /// task's panic: checked at the end.
    violations: Mutex<Vec<String>>,
}

impl Tracker {
    fn bump(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    fn violation(&self, what: String) {
        self.violations.lock().unwrap().push(what);
    }

    /// Futures neither completed nor dropped yet.
    fn live_futures(&self) -> usize {
        Self::get(&self.futures_started)
            - Self::get(&self.futures_completed)
            - Self::get(&self.futures_dropped)
    }
}

/// A task's value and error: each keeps the tracker alive while it exists.
struct Value(#[allow(dead_code)] Arc<Tracker>);
struct Failure(#[allow(dead_code)] Arc<Tracker>);

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Value")
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Failure")
    }
}

type Outcome = Result<Value, Failure>;

/// Lives inside each spawned future: `finish` at its end, else its drop
/// counts the future as dropped unfinished.
struct Life(Option<Arc<Tracker>>);

impl Life {
    fn new(tracker: &Arc<Tracker>) -> Self {
        Tracker::bump(&tracker.futures_started);
        Self(Some(Arc::clone(tracker)))
    }

    fn finish(mut self) {
        if let Some(tracker) = self.0.take() {
            Tracker::bump(&tracker.futures_completed);
        }
    }
}

impl Drop for Life {
    fn drop(&mut self) {
        if let Some(tracker) = self.0.take() {
            Tracker::bump(&tracker.futures_dropped);
        }
    }
}

/// Counts a latch down when dropped, however its future ends.
struct CountDown(Latch);

impl Drop for CountDown {
    fn drop(&mut self) {
        self.0.count_down();
    }
}

/// What one task does.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `Ok` at once.
    Ready,
    /// `Ok` after yielding `n` times.
    Spin(u32),
    /// `Ok` after a runtime sleep of so many microseconds.
    Sleep(u64),
    /// `Err` after a yield.
    Fail,
    /// Panics after a yield.
    Panic,
    /// Waits for `n` permits of the round's semaphore (possibly more than
    /// its capacity: refused at once), holds them across a yield.
    Permits(usize),
    /// Tries for `n` permits without waiting.
    TryPermits(usize),
    /// Spawns `n` more tasks into its own group, then `Ok`.
    SpawnMore(u32),
    /// Never finishes: only a cancellation ends it.
    Pending,
    /// Waits for the group's token: only a cancellation ends it.
    UntilCancelled,
}

impl Kind {
    fn random(rng: &mut Rng, capacity: usize, may_hang: bool) -> Self {
        match rng.below(if may_hang { 20 } else { 18 }) {
            0..=3 => Self::Ready,
            4..=5 => Self::Spin(1 + rng.below(8) as u32),
            6 => Self::Sleep(rng.below(300)),
            7..=8 => Self::Fail,
            9 => Self::Panic,
            10..=13 => Self::Permits(1 + rng.below(capacity as u64 + 1) as usize),
            14 => Self::TryPermits(1 + rng.below(capacity as u64 + 1) as usize),
            15..=17 => Self::SpawnMore(1 + rng.below(3) as u32),
            18 => Self::Pending,
            _ => Self::UntilCancelled,
        }
    }

    /// Whether only a cancellation ends it.
    fn hangs(self) -> bool {
        matches!(self, Self::Pending | Self::UntilCancelled)
    }
}

/// What the tasks of one round share.
struct Round<R: Runtime> {
    tracker: Arc<Tracker>,
    rt: R,
    semaphore: Semaphore,
    wg: WaitGroup,
}

impl<R: Runtime> Round<R> {
    /// The future of a task of kind `kind`, for `spawner`'s group, whose
    /// spawns `spawned` counts. It holds a `Life`, a guard of the round's
    /// `WaitGroup`, and `latch` if any.
    fn task(
        &self,
        kind: Kind,
        spawner: &Spawner<Value, Failure, R>,
        spawned: &Arc<AtomicUsize>,
        latch: Option<CountDown>,
    ) -> impl Future<Output = Outcome> + Send + 'static {
        let life = Life::new(&self.tracker);
        let guard = self.wg.enter();
        let tracker = Arc::clone(&self.tracker);
        let rt = self.rt.clone();
        let semaphore = self.semaphore.clone();
        let spawner = spawner.clone();
        let spawned = Arc::clone(spawned);
        async move {
            let held = (guard, latch);
            let outcome = match kind {
                Kind::Ready => Ok(Value(Arc::clone(&tracker))),
                Kind::Spin(times) => {
                    for _ in 0..times {
                        YieldNow::default().await;
                    }
                    Ok(Value(Arc::clone(&tracker)))
                }
                Kind::Sleep(micros) => {
                    rt.sleep(Duration::from_micros(micros)).await;
                    Ok(Value(Arc::clone(&tracker)))
                }
                Kind::Fail => {
                    YieldNow::default().await;
                    Err(Failure(Arc::clone(&tracker)))
                }
                Kind::Panic => {
                    YieldNow::default().await;
                    std::panic::panic_any(SOAK_PANIC)
                }
                Kind::Permits(wanted) => match semaphore.acquire_many(wanted).await {
                    Ok(permit) => {
                        if permit.num_permits() != wanted {
                            tracker.violation(format!("asked {wanted} permits, got {permit:?}"));
                        }
                        Tracker::bump(&tracker.permits_taken);
                        YieldNow::default().await;
                        drop(permit);
                        Ok(Value(Arc::clone(&tracker)))
                    }
                    Err(AcquireError::TooLarge { requested, max }) => {
                        if requested <= max {
                            tracker.violation(format!("{requested} of {max} refused"));
                        }
                        Tracker::bump(&tracker.too_large);
                        Ok(Value(Arc::clone(&tracker)))
                    }
                    Err(error) => {
                        tracker.violation(format!("acquire on an open semaphore: {error}"));
                        Ok(Value(Arc::clone(&tracker)))
                    }
                },
                Kind::TryPermits(wanted) => {
                    match semaphore.try_acquire_many(wanted) {
                        Ok(permit) => {
                            Tracker::bump(&tracker.permits_taken);
                            YieldNow::default().await;
                            drop(permit);
                        }
                        Err(TryAcquireError::NoPermits) => {}
                        Err(TryAcquireError::TooLarge { .. }) if wanted > semaphore.capacity() => {
                            Tracker::bump(&tracker.too_large);
                        }
                        Err(error) => tracker.violation(format!("try_acquire({wanted}): {error}")),
                    }
                    Ok(Value(Arc::clone(&tracker)))
                }
                Kind::SpawnMore(count) => {
                    for _ in 0..count {
                        let more = child_task(&tracker, &held.0);
                        match spawner.spawn(more) {
                            Ok(_) => {
                                spawned.fetch_add(1, Ordering::SeqCst);
                                Tracker::bump(&tracker.tasks_spawned);
                                Tracker::bump(&tracker.spawned_from_tasks);
                            }
                            // Closed: the future comes back and is dropped.
                            Err(refused) => {
                                drop(refused);
                                Tracker::bump(&tracker.spawns_refused);
                            }
                        }
                        YieldNow::default().await;
                    }
                    Ok(Value(Arc::clone(&tracker)))
                }
                Kind::Pending => std::future::pending().await,
                Kind::UntilCancelled => {
                    spawner.cancellation_token().cancelled().await;
                    // The group drops a cancelled task's future at its next
                    // poll, so this rarely runs; either way it is fine.
                    Ok(Value(Arc::clone(&tracker)))
                }
            };
            drop(held);
            life.finish();
            outcome
        }
    }
}

/// A task spawned from inside another: yields once, then `Ok`. It holds its
/// own guard of the round's `WaitGroup` (taken while its parent's is held,
/// so the count cannot reach zero in between).
fn child_task(
    tracker: &Arc<Tracker>,
    parent_guard: &WaitGuard,
) -> impl Future<Output = Outcome> + Send + 'static {
    let life = Life::new(tracker);
    let guard = parent_guard.group().enter();
    let tracker = Arc::clone(tracker);
    async move {
        let _guard = guard;
        YieldNow::default().await;
        life.finish();
        Ok(Value(tracker))
    }
}

/// How a round ends its group.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Join,
    JoinAll,
    JoinNext,
    JoinAllTimeout(u64),
    Drop,
}

/// Everything one soak keeps until the audit.
struct Soak<R: Runtime> {
    rt: R,
    rng: Rng,
    tracker: Arc<Tracker>,
    semaphores: Vec<Semaphore>,
    /// Held by the outside waiters until they finish.
    outside: WaitGroup,
}

impl<R: Runtime> Soak<R> {
    /// Spawns a plain runtime task on `rt` that waits for `wait`, counted
    /// in `tracker` and holding a guard of `outside` until it is done.
    fn wait_outside(
        rt: &R,
        tracker: &Arc<Tracker>,
        outside: &WaitGroup,
        wait: impl Future<Output = ()> + Send + 'static,
    ) {
        let tracker = Arc::clone(tracker);
        let guard = outside.enter();
        Tracker::bump(&tracker.waits_started);
        rt.spawn(async move {
            wait.await;
            Tracker::bump(&tracker.waits_finished);
            drop(guard);
        });
    }

    async fn round(&mut self) {
        let tracker = Arc::clone(&self.tracker);
        let rng = &mut self.rng;
        let capacity = 1 + rng.below(4) as usize;
        let semaphore = Semaphore::fixed(capacity);
        self.semaphores.push(semaphore.clone());

        let mut builder = ErrGroup::<Value, Failure, R>::builder(self.rt.clone());
        if rng.one_in(3) {
            builder = builder.limit(1 + rng.below(4) as usize);
        }
        let keep_going = rng.one_in(5);
        if keep_going {
            builder = builder.keep_going();
        }
        let policy = if rng.one_in(4) {
            PanicPolicy::Resume
        } else {
            PanicPolicy::Capture
        };
        builder = builder.panic_policy(policy);
        let ending = match rng.below(10) {
            0..=2 => Ending::Join,
            3..=4 => Ending::JoinAll,
            5..=6 => Ending::JoinNext,
            // `join_all` under a deadline: what finished in time, and the rest
            // cancelled.
            7 => Ending::JoinAllTimeout(rng.below(2_000)),
            _ => Ending::Drop,
        };
        let deadline = match ending {
            Ending::JoinAllTimeout(micros) => Some(micros),
            _ => rng.one_in(8).then(|| rng.below(2_000)),
        };
        if let Some(micros) = deadline {
            builder = builder.deadline(Duration::from_micros(micros));
        }
        let mut group = builder.build();
        Tracker::bump(&tracker.groups);

        // Tasks that only a cancellation ends, only where one comes.
        let may_hang = rng.one_in(3);
        let kinds: Vec<(Kind, bool)> = (0..1 + rng.below(12))
            .map(|_| (Kind::random(rng, capacity, may_hang), rng.one_in(3)))
            .collect();
        let hangs = kinds.iter().any(|(kind, _)| kind.hangs());
        let latched = kinds.iter().filter(|&&(_, latched)| latched).count();
        let latch = Latch::new(latched);

        let round = Round {
            tracker: Arc::clone(&tracker),
            rt: self.rt.clone(),
            semaphore,
            wg: WaitGroup::new(),
        };
        // The tasks spawned into the group, for the audit of its join.
        let spawned = Arc::new(AtomicUsize::new(0));
        let spawner = group.spawner();
        for &(kind, latched) in &kinds {
            let latch = latched.then(|| CountDown(latch.clone()));
            let future = round.task(kind, &spawner, &spawned, latch);
            if rng.one_in(6) {
                // `try_spawn` hands the future back when the limit is reached;
                // dropping it counts the latch down.
                match group.try_spawn(future) {
                    Ok(_) => {}
                    Err(refused) => {
                        drop(refused);
                        Tracker::bump(&tracker.spawns_refused);
                        continue;
                    }
                }
            } else {
                group.spawn(future).unwrap();
            }
            spawned.fetch_add(1, Ordering::SeqCst);
            Tracker::bump(&tracker.tasks_spawned);
        }

        // A child group, joined or dropped inside a task of this one, or
        // dropped at once. Its tasks all end on their own.
        if rng.one_in(4) {
            Tracker::bump(&tracker.child_groups);
            let child = group
                .child_builder::<Value, Failure>()
                .panic_policy(if rng.one_in(2) {
                    PanicPolicy::Resume
                } else {
                    PanicPolicy::Capture
                })
                .build();
            let child_spawner = child.spawner();
            let child_spawned = Arc::new(AtomicUsize::new(0));
            for _ in 0..1 + rng.below(5) {
                let kind = Kind::random(rng, capacity, false);
                child
                    .spawn(round.task(kind, &child_spawner, &child_spawned, None))
                    .unwrap();
                Tracker::bump(&tracker.tasks_spawned);
            }
            drop(child_spawner);
            let life = Life::new(&tracker);
            let value = Arc::clone(&tracker);
            match rng.below(3) {
                0 => {
                    group
                        .spawn(async move {
                            // A child's panic, resumed here, is this task's panic.
                            let joined = child.join().await;
                            life.finish();
                            match joined {
                                Ok(_) => Ok(Value(value)),
                                Err(_) => Err(Failure(value)),
                            }
                        })
                        .unwrap();
                    spawned.fetch_add(1, Ordering::SeqCst);
                    Tracker::bump(&tracker.tasks_spawned);
                }
                1 => {
                    group
                        .spawn(async move {
                            drop(child);
                            life.finish();
                            Ok(Value(value))
                        })
                        .unwrap();
                    spawned.fetch_add(1, Ordering::SeqCst);
                    Tracker::bump(&tracker.tasks_spawned);
                }
                _ => {
                    drop(child);
                    life.finish();
                }
            }
        }
        drop(spawner);

        // Outside waiters: woken once every task of the round is gone.
        for _ in 0..rng.below(3) {
            let wg = round.wg.clone();
            Self::wait_outside(&self.rt, &tracker, &self.outside, async move {
                wg.wait().await;
            });
        }
        if latched > 0 && rng.one_in(2) {
            let latch = latch.clone();
            Self::wait_outside(&self.rt, &tracker, &self.outside, async move {
                latch.wait().await;
            });
        }
        if rng.one_in(8) {
            group.close();
        }

        // Something must stop tasks that never end on their own.
        let must_cancel = hangs
            && deadline.is_none()
            && !matches!(ending, Ending::JoinAllTimeout(_) | Ending::Drop);
        let cancelled = must_cancel || rng.one_in(10);
        if cancelled {
            group.cancel();
            Tracker::bump(&tracker.cancels);
        }
        if rng.one_in(3) {
            YieldNow::default().await;
        }

        let expected = || spawned.load(Ordering::SeqCst);
        // Nothing cancels a `keep_going` group but a cancel or a deadline.
        let unforced = keep_going
            && !cancelled
            && deadline.is_none()
            && !matches!(ending, Ending::JoinAllTimeout(_));
        let outcomes: Option<Vec<Result<Value, GroupError<Failure>>>> = match ending {
            Ending::Drop => {
                drop(group);
                Tracker::bump(&tracker.dropped_groups);
                None
            }
            Ending::Join => {
                Tracker::bump(&tracker.joins);
                match AssertUnwindSafe(group.join()).catch_unwind().await {
                    Ok(Ok(values)) => {
                        if values.len() != expected() {
                            tracker.violation(format!(
                                "join gave {} values for {} tasks",
                                values.len(),
                                expected()
                            ));
                        }
                        Some(values.into_iter().map(Ok).collect())
                    }
                    Ok(Err(error)) => {
                        if matches!(error, GroupError::Lost) {
                            tracker.violation("join: Lost".to_owned());
                        }
                        None
                    }
                    Err(payload) => {
                        check_panic(&tracker, policy, &*payload);
                        None
                    }
                }
            }
            Ending::JoinAll | Ending::JoinAllTimeout(_) => {
                Tracker::bump(&tracker.joins);
                match AssertUnwindSafe(group.join_all()).catch_unwind().await {
                    Ok(outcomes) => Some(outcomes),
                    Err(payload) => {
                        check_panic(&tracker, policy, &*payload);
                        None
                    }
                }
            }
            Ending::JoinNext => {
                Tracker::bump(&tracker.joins);
                let mut outcomes = Vec::new();
                let finished = loop {
                    match AssertUnwindSafe(group.join_next()).catch_unwind().await {
                        Ok(Some(outcome)) => outcomes.push(outcome),
                        Ok(None) => break true,
                        Err(payload) => {
                            // Resumed: the rest is dropped with the group.
                            check_panic(&tracker, policy, &*payload);
                            break false;
                        }
                    }
                };
                drop(group);
                finished.then_some(outcomes)
            }
        };
        if let Some(outcomes) = outcomes {
            self.audit_outcomes(&outcomes, expected(), unforced);
        }
    }

    /// One outcome per task, none lost; a `keep_going` group that nobody
    /// cancelled cancels nothing.
    fn audit_outcomes(
        &self,
        outcomes: &[Result<Value, GroupError<Failure>>],
        expected: usize,
        unforced: bool,
    ) {
        let tracker = &self.tracker;
        if outcomes.len() != expected {
            tracker.violation(format!("{} outcomes for {expected} tasks", outcomes.len()));
        }
        for outcome in outcomes {
            match outcome {
                Ok(_) => Tracker::bump(&tracker.values),
                Err(GroupError::Task(_)) => Tracker::bump(&tracker.errors),
                Err(GroupError::Panicked(payload)) => {
                    Tracker::bump(&tracker.panics);
                    if payload.message() != Some(SOAK_PANIC) {
                        tracker.violation(format!("unexpected panic: {payload:?}"));
                    }
                }
                Err(GroupError::Cancelled(cause)) => {
                    Tracker::bump(&tracker.cancelled);
                    if unforced {
                        tracker.violation(format!("keep_going group cancelled: {cause:?}"));
                    }
                }
                Err(GroupError::Lost) => tracker.violation("a task was Lost".to_owned()),
                Err(other) => tracker.violation(format!("an unknown outcome: {other:?}")),
            }
        }
    }

    /// Waits until everything spawned is gone, then checks the invariants
    /// and prints the figures.
    async fn audit(self, runtime: &str, seed: u64, rounds: u64, ran_for: Duration) {
        let tracker = self.tracker;
        // Every outside waiter finishes (else the harness's time-out fires).
        self.outside.wait().await;
        // Dropped groups cancel their tasks in the background: let them go.
        let give_up = Instant::now() + SETTLE_TIMEOUT;
        while (tracker.live_futures() != 0 || Arc::strong_count(&tracker) != 1)
            && Instant::now() < give_up
        {
            self.rt.sleep(Duration::from_millis(1)).await;
        }
        let get = Tracker::get;
        println!(
            "soak {runtime}: seed {seed:#x}, {rounds} rounds in {ran_for:.1?}: {} groups ({} child, {} dropped \
             unjoined, {} joined, {} cancelled), {} tasks ({} spawned from tasks, {} spawns \
             refused), {} futures ({} completed, {} dropped), outcomes: {} values, {} errors, \
             {} panics, {} cancelled; {} permits taken, {} too-large refused; {} outside waits",
            get(&tracker.groups),
            get(&tracker.child_groups),
            get(&tracker.dropped_groups),
            get(&tracker.joins),
            get(&tracker.cancels),
            get(&tracker.tasks_spawned),
            get(&tracker.spawned_from_tasks),
            get(&tracker.spawns_refused),
            get(&tracker.futures_started),
            get(&tracker.futures_completed),
            get(&tracker.futures_dropped),
            get(&tracker.values),
            get(&tracker.errors),
            get(&tracker.panics),
            get(&tracker.cancelled),
            get(&tracker.permits_taken),
            get(&tracker.too_large),
            get(&tracker.waits_started),
        );
        let replay = format!(
            "(replay: TASKGROUP_SOAK_SEED={seed:#x} TASKGROUP_SOAK_ROUNDS={rounds} cargo test \
             --all-features --test soak soak_{runtime})"
        );
        let violations = tracker.violations.lock().unwrap().clone();
        assert!(violations.is_empty(), "{runtime} {replay}: {violations:#?}");
        assert_eq!(
            get(&tracker.futures_completed) + get(&tracker.futures_dropped),
            get(&tracker.futures_started),
            "{runtime} {replay}: every future completed or was dropped, exactly once"
        );
        assert_eq!(
            get(&tracker.waits_finished),
            get(&tracker.waits_started),
            "{runtime} {replay}: every outside waiter was woken"
        );
        for (round, semaphore) in self.semaphores.iter().enumerate() {
            assert_eq!(
                semaphore.available_permits(),
                semaphore.capacity(),
                "{runtime} {replay}: round {round}'s semaphore has all its permits back"
            );
        }
        assert_eq!(
            Arc::strong_count(&tracker),
            1,
            "{runtime} {replay}: no future, value, error or group is left holding the tracker"
        );
        assert!(get(&tracker.groups) > 0, "{runtime}: the soak ran");
    }
}

/// A panic resumed in a joiner: only under `Resume`, and only ours.
fn check_panic(tracker: &Tracker, policy: PanicPolicy, payload: &(dyn std::any::Any + Send)) {
    Tracker::bump(&tracker.panics);
    let ours = payload.downcast_ref::<&str>() == Some(&SOAK_PANIC);
    if policy != PanicPolicy::Resume || !ours {
        tracker.violation(format!(
            "a panic reached the joiner under {policy:?} (ours: {ours})"
        ));
    }
}

/// Runs [`soak_rounds`] rounds of the soak on `rt`, then audits.
async fn soak<R: Runtime>(runtime: &str, index: u64, rt: R) {
    // Printed for a replay; each runtime draws its own stream from it.
    let seed = soak_seed();
    println!("soak {runtime}: seed {seed:#x}");
    let mut soak = Soak {
        rt,
        rng: Rng(seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F)),
        tracker: Arc::new(Tracker::default()),
        semaphores: Vec::new(),
        outside: WaitGroup::new(),
    };
    // Timed only for the printout.
    let (started, rounds) = (Instant::now(), soak_rounds());
    for _ in 0..rounds {
        soak.round().await;
    }
    soak.audit(runtime, seed, rounds, started.elapsed()).await;
}

/// Keeps the panics the soak makes on purpose off stderr; others print.
fn quiet_soak_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&SOAK_PANIC) {
                default(info);
            }
        }));
    });
}

/// Runs `soak` on a thread of its own; fails if it takes [`HANG_TIMEOUT`]
/// longer than it should.
fn run(name: &'static str, soak: impl FnOnce() + Send + 'static) {
    quiet_soak_panics();
    let allowance =
        HANG_TIMEOUT_PER_ROUND.saturating_mul(soak_rounds().try_into().unwrap_or(u32::MAX));
    hang::finishes_within(
        &format!("soak {name}"),
        HANG_TIMEOUT.saturating_add(allowance),
        soak,
    );
}

#[test]
fn soak_tokio_current_thread() {
    run("tokio_current_thread", || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let rt = TokioRuntime::from_handle(runtime.handle().clone());
        runtime.block_on(soak("tokio_current_thread", 1, rt));
    });
}

#[test]
fn soak_tokio_multi_thread() {
    run("tokio_multi_thread", || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let rt = TokioRuntime::from_handle(runtime.handle().clone());
        runtime.block_on(soak("tokio_multi_thread", 2, rt));
    });
}

#[test]
fn soak_smol() {
    run("smol", || {
        smol::block_on(soak("smol", 3, SmolRuntime::global()))
    });
}

#[test]
fn soak_async_std() {
    run("async_std", || {
        async_std::task::block_on(soak("async_std", 4, AsyncStdRuntime))
    });
}
