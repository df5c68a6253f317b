//! Find one resource in five simulated datacenters — seven ways, one after
//! another — and compare how many requests each way sent and how long it took.
//!
//! Go's concurrency workshop, with `taskgroup` on any runtime:
//!
//! 1. **plain `WaitGroup`** — [`WaitGroup::spawn`] one lookup per datacenter,
//!    results into a `Mutex<Vec<_>>`, `wg.wait().await`. Waits for all of
//!    them; a failure is just another value.
//! 2. **scatter-gather** — [`scatter_gather`]: every lookup must succeed. Run
//!    twice: over the reliable datacenters (all results, in order), then over
//!    all five (the first error, the rest cancelled).
//! 3. **redundant requests** — [`first_ok`]: ask every datacenter at once,
//!    take the first answer, cancel the others.
//! 4. **`ErrGroup` with an error** — spawn every lookup into an [`ErrGroup`],
//!    fan the outcomes in with `join_next`: the error, the group's
//!    [`cause`](ErrGroup::cause), and the lookups it cancelled.
//! 5. **hedged requests** — [`hedged`]: ask one datacenter; each time
//!    `--hedge-ms` passes without an answer (or at once after a failure), ask
//!    the next. The attempts come from a lazy iterator, so the ones never
//!    needed are never sent: fewer requests than redundant requests.
//! 6. **semaphore** — every lookup first takes a permit of a
//!    `Semaphore::new(2)`: never more than two in flight.
//! 7. **weighted semaphore** — `Semaphore::fixed(30)`; each datacenter's lookup takes
//!    its weight (5 to 30) with [`acquire_many`](Semaphore::acquire_many):
//!    the weight in use never exceeds 30. Then a request for 31 is refused at
//!    once with [`AcquireError::TooLarge`] instead of hanging.
//!
//! A lookup is `Runtime::sleep(delay)`, then a location or an error. Each
//! datacenter has its own delay range, weight and failure rate; the delays
//! and failures are drawn up front from a tiny seeded xorshift generator, so a
//! given `--seed` plans the same lookups, and every pattern runs that same
//! plan. (So that the error paths always have something to show, at least one
//! lookup fails: if the dice spare them all, the flakiest datacenter fails
//! anyway.)
//!
//! "Requests sent" counts lookups that actually *started*: the counter is
//! bumped at the top of the lookup's `async` body, i.e. at its first poll. A
//! hedged attempt that was never needed is never created, let alone polled,
//! and is not counted. A small guard in each lookup counts the ones dropped
//! before they finished (cancelled) and the high-water marks of lookups and
//! of weight in flight.
//!
//! The core is one generic `async fn run<R: Runtime>(..)`, called from the
//! `block_on` of tokio, smol or async-std.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example datacenter_find --all-features
//! cargo run --example datacenter_find --all-features -- --runtime smol
//! cargo run --example datacenter_find --all-features -- --runtime async-std --seed 7 --hedge-ms 20
//! ```

mod common;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ms, Align, Command, RuntimeKind, Table, XorShift64};
use taskgroup::patterns::{first_ok, hedged, scatter_gather};
use taskgroup::runtime::Runtime;
use taskgroup::{AcquireError, ErrGroup, GroupError, Semaphore, WaitGroup};

const USAGE: &str = "\
Find a resource in five simulated datacenters, seven ways, and compare them.

Usage: cargo run --example datacenter_find --all-features -- [OPTIONS]

Options:
  --runtime NAME     tokio | smol | async-std            (default: tokio)
  --seed S           seed for delays and failures         (default: 42)
  --hedge-ms MS      hedging delay, 1 to 1000             (default: 40)
  -h, --help         print this help";

/// The command line, parsed.
#[derive(Clone, Debug)]
struct Args {
    runtime: RuntimeKind,
    seed: u64,
    hedge: Duration,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            runtime: RuntimeKind::Tokio,
            seed: 42,
            hedge: Duration::from_millis(40),
        }
    }
}

fn parse_args(argv: impl Iterator<Item = String>) -> Result<Command<Args>, String> {
    let flags = ["--runtime", "--seed", "--hedge-ms"];
    common::parse_flags(argv, Args::default(), &flags, |args, flag| {
        match flag.name() {
            "--runtime" => args.runtime = flag.runtime()?,
            "--seed" => args.seed = flag.parse("an unsigned integer")?,
            "--hedge-ms" => {
                let ms =
                    flag.parse_if(|ms| (1..=1000).contains(ms), "milliseconds from 1 to 1000")?;
                args.hedge = Duration::from_millis(ms);
            }
            _ => unreachable!("flag checked above"),
        }
        Ok(())
    })
}

/// A simulated datacenter.
#[derive(Debug)]
struct Datacenter {
    name: &'static str,
    /// Response time range, in milliseconds.
    delay_ms: (u64, u64),
    /// Chance that a lookup fails, in percent.
    fail_pct: u64,
    /// Permits a lookup takes from the weighted semaphore (pattern 7).
    weight: usize,
}

impl Datacenter {
    /// Reliable enough to ask in a scatter-gather that needs every answer.
    fn is_reliable(&self) -> bool {
        self.fail_pct <= 5
    }
}

/// The datacenters, in order of preference (the order hedging asks them).
const DATACENTERS: [Datacenter; 5] = [
    Datacenter {
        name: "eu-west",
        delay_ms: (30, 90),
        fail_pct: 3,
        weight: 5,
    },
    Datacenter {
        name: "us-east",
        delay_ms: (15, 45),
        fail_pct: 2,
        weight: 10,
    },
    Datacenter {
        name: "us-west",
        delay_ms: (30, 80),
        fail_pct: 5,
        weight: 15,
    },
    Datacenter {
        name: "ap-south",
        delay_ms: (40, 90),
        fail_pct: 50,
        weight: 20,
    },
    Datacenter {
        name: "sa-east",
        delay_ms: (60, 110),
        fail_pct: 20,
        weight: 30,
    },
];

/// Capacity of the weighted semaphore (pattern 7).
const WEIGHT_CAPACITY: usize = 30;

const FAILURES: [&str; 3] = [
    "503 service unavailable",
    "connection reset by peer",
    "TLS handshake failed",
];

/// One planned lookup: how long it takes and how it ends.
#[derive(Clone, Copy, Debug)]
struct Lookup {
    dc: &'static Datacenter,
    delay: Duration,
    /// `Some(reason)` if it fails.
    failure: Option<&'static str>,
    /// Where the resource is, if found.
    rack: u64,
}

fn plan_lookups(seed: u64) -> Vec<Lookup> {
    let mut rng = XorShift64::new(seed);
    let mut plan: Vec<Lookup> = DATACENTERS
        .iter()
        .map(|dc| {
            let delay = Duration::from_millis(rng.between(dc.delay_ms.0, dc.delay_ms.1));
            let fails = rng.between(0, 99) < dc.fail_pct;
            let reason = FAILURES[rng.next_u64() as usize % FAILURES.len()];
            Lookup {
                dc,
                delay,
                failure: fails.then_some(reason),
                rack: rng.between(1, 48),
            }
        })
        .collect();
    if plan.iter().all(|lookup| lookup.failure.is_none()) {
        let flakiest = plan
            .iter_mut()
            .max_by_key(|lookup| lookup.dc.fail_pct)
            .expect("there are datacenters");
        flakiest.failure = Some(FAILURES[0]);
    }
    plan
}

/// Where the resource was found.
#[derive(Clone, Debug)]
struct Location {
    dc: &'static str,
    rack: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/rack-{:02}", self.dc, self.rack)
    }
}

/// Why a lookup failed.
#[derive(Clone, Debug)]
struct LookupError {
    dc: &'static str,
    reason: String,
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.dc, self.reason)
    }
}

impl std::error::Error for LookupError {}

/// A high-water-mark gauge.
#[derive(Debug, Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn add(&self, n: usize) {
        let now = self.now.fetch_add(n, Ordering::SeqCst) + n;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    fn sub(&self, n: usize) {
        self.now.fetch_sub(n, Ordering::SeqCst);
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// What one pattern's lookups did, counted as they ran.
#[derive(Debug, Default)]
struct Probe {
    /// Lookups that started (were first polled): requests sent.
    started: AtomicUsize,
    /// Lookups dropped before they finished.
    cancelled: AtomicUsize,
    /// Lookups in flight.
    in_flight: Gauge,
    /// Semaphore weight held by lookups in flight.
    weight: Gauge,
}

impl Probe {
    fn sent(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Counts a lookup in; the guard counts it out, as finished or cancelled.
    fn start(self: &Arc<Self>, weight: usize) -> Running {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.in_flight.add(1);
        self.weight.add(weight);
        Running {
            probe: Arc::clone(self),
            weight,
            finished: false,
        }
    }
}

/// Held by a running lookup. Dropped without [`finish`](Running::finish),
/// the lookup was cancelled.
struct Running {
    probe: Arc<Probe>,
    weight: usize,
    finished: bool,
}

impl Running {
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.probe.in_flight.sub(1);
        self.probe.weight.sub(self.weight);
        if !self.finished {
            self.probe.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// One simulated lookup. Nothing happens until the first poll: that is
/// when the request counts as sent.
async fn lookup<R: Runtime>(
    rt: R,
    job: Lookup,
    probe: Arc<Probe>,
) -> Result<Location, LookupError> {
    let running = probe.start(job.dc.weight);
    rt.sleep(job.delay).await;
    running.finish();
    match job.failure {
        None => Ok(Location {
            dc: job.dc.name,
            rack: job.rack,
        }),
        Some(reason) => Err(LookupError {
            dc: job.dc.name,
            reason: reason.to_owned(),
        }),
    }
}

/// A lookup that first takes `weight` permits of `semaphore`, and holds them
/// until it is done.
async fn lookup_with_permits<R: Runtime>(
    rt: R,
    semaphore: Semaphore,
    weight: usize,
    job: Lookup,
    probe: Arc<Probe>,
) -> Result<Location, LookupError> {
    let _permit = semaphore
        .acquire_many(weight)
        .await
        .map_err(|error| LookupError {
            dc: job.dc.name,
            reason: error.to_string(),
        })?;
    lookup(rt, job, probe).await
}

/// "1 lookup", "3 lookups".
fn lookups(n: usize) -> String {
    format!("{n} lookup{}", if n == 1 { "" } else { "s" })
}

/// One line of the final table.
struct Row {
    pattern: &'static str,
    sent: usize,
    result: String,
    elapsed: Duration,
    note: String,
}

/// A group error in a few words: the lookup's own error as it is.
fn describe(error: &GroupError<LookupError>) -> String {
    match error {
        GroupError::Task(error) => error.to_string(),
        other => other.to_string(),
    }
}

/// Summarises a set of outcomes: "4 found, 1 failed".
fn tally<'a>(outcomes: impl IntoIterator<Item = Result<&'a Location, String>>) -> (String, String) {
    let (mut found, mut failed) = (0, Vec::new());
    for outcome in outcomes {
        match outcome {
            Ok(_) => found += 1,
            Err(error) => failed.push(error),
        }
    }
    let result = format!("{found} found, {} failed", failed.len());
    let failures = if failed.is_empty() {
        String::new()
    } else {
        format!(" ({})", failed.join("; "))
    };
    (result, failures)
}

/// 1. One task per datacenter, counted by a `WaitGroup`; results in a
///    shared vector.
async fn plain_wait_group<R: Runtime>(rt: &R, plan: &[Lookup]) -> Row {
    let probe = Arc::new(Probe::default());
    let results = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let wg = WaitGroup::new();
    for &job in plan {
        let (rt2, probe, results) = (rt.clone(), probe.clone(), results.clone());
        rt.spawn(wg.track(async move {
            let result = lookup(rt2, job, probe).await;
            results.lock().unwrap().push(result);
        }));
    }
    wg.wait().await;
    let elapsed = start.elapsed();
    let results = results.lock().unwrap();
    let (result, failures) = tally(
        results
            .iter()
            .map(|r| r.as_ref().map_err(ToString::to_string)),
    );
    Row {
        pattern: "1 WaitGroup",
        sent: probe.sent(),
        result,
        elapsed,
        note: format!("waits for all; a failure is just a value{failures}"),
    }
}

/// 2. `scatter_gather`: all must succeed.
async fn scatter<R: Runtime>(rt: &R, plan: &[Lookup], pattern: &'static str, label: &str) -> Row {
    let probe = Arc::new(Probe::default());
    let start = Instant::now();
    let outcome = scatter_gather(rt, plan.iter().copied(), |job| {
        lookup(rt.clone(), job, probe.clone())
    })
    .await;
    let elapsed = start.elapsed();
    let (result, note) = match outcome {
        Ok(found) => {
            let order: Vec<&str> = found.iter().map(|location| location.dc).collect();
            (
                format!("all {} found", found.len()),
                format!("{label}; in input order: {}", order.join(", ")),
            )
        }
        Err(error) => (
            format!("Err({})", describe(&error)),
            format!(
                "{label}; first error wins, {} cancelled",
                lookups(probe.cancelled())
            ),
        ),
    };
    Row {
        pattern,
        sent: probe.sent(),
        result,
        elapsed,
        note,
    }
}

/// 3. `first_ok`: ask everyone, the first answer wins.
async fn redundant<R: Runtime>(rt: &R, plan: &[Lookup]) -> Row {
    let probe = Arc::new(Probe::default());
    let start = Instant::now();
    let attempts = plan
        .iter()
        .map(|&job| lookup(rt.clone(), job, probe.clone()));
    let outcome = first_ok(rt, attempts).await;
    let elapsed = start.elapsed();
    let result = match outcome {
        Ok(location) => format!("Ok({location})"),
        Err(failed) => format!("Err(all {} failed)", failed.len() + failed.lost()),
    };
    Row {
        pattern: "3 redundant (first_ok)",
        sent: probe.sent(),
        result,
        elapsed,
        note: format!("all sent at once; {} losers cancelled", probe.cancelled()),
    }
}

/// 4. An `ErrGroup`, fanned in with `join_next`: the first error cancels the
///    rest.
async fn err_group<R: Runtime>(rt: &R, plan: &[Lookup]) -> Row {
    let probe = Arc::new(Probe::default());
    let start = Instant::now();
    let mut group = ErrGroup::new(rt.clone());
    for &job in plan {
        group.spawn(lookup(rt.clone(), job, probe.clone())).unwrap();
    }
    let (mut found, mut first_error, mut cancelled_as) = (0, None, Vec::new());
    while let Some(outcome) = group.join_next().await {
        match outcome {
            Ok(_) => found += 1,
            Err(GroupError::Task(error)) => {
                first_error.get_or_insert(error);
            }
            Err(GroupError::Cancelled(cause)) => cancelled_as.push(cause),
            Err(other) => println!("    unexpected outcome: {other}"),
        }
    }
    let elapsed = start.elapsed();
    // `join_next` borrows the group, so it is still here to ask why it
    // cancelled the rest.
    let cause = group.cause();
    println!(
        "  4 ErrGroup   first error: {}",
        first_error
            .as_ref()
            .map_or_else(|| "none".to_owned(), ToString::to_string)
    );
    println!(
        "               cause():     {}",
        cause.map_or_else(|| "None".to_owned(), |c| format!("Some({c:?}): \"{c}\""))
    );
    println!(
        "               cancelled:   {} (drop guard); {} outcomes were Err(Cancelled({}))",
        lookups(probe.cancelled()),
        cancelled_as.len(),
        cancelled_as
            .first()
            .map_or_else(|| "-".to_owned(), |c| format!("{c:?}"))
    );
    let result = match &first_error {
        Some(error) => format!("Err({error})"),
        None => format!("all {found} found"),
    };
    Row {
        pattern: "4 ErrGroup + error",
        sent: probe.sent(),
        result,
        elapsed,
        note: format!(
            "cause() = {}; {} found before it, {} cancelled",
            cause.map_or_else(|| "None".to_owned(), |c| format!("{c:?}")),
            found,
            probe.cancelled()
        ),
    }
}

/// 5. `hedged`: ask one, hedge with the next after `delay`.
async fn hedging<R: Runtime>(
    rt: &R,
    plan: &[Lookup],
    delay: Duration,
    redundant_sent: usize,
) -> Row {
    let probe = Arc::new(Probe::default());
    let start = Instant::now();
    // Lazy: an attempt is created (and sent) only when `hedged` takes it.
    let attempts = plan
        .iter()
        .map(|&job| lookup(rt.clone(), job, probe.clone()));
    let outcome = hedged(rt, attempts, delay).await;
    let elapsed = start.elapsed();
    let result = match outcome {
        Ok(location) => format!("Ok({location})"),
        Err(failed) => format!("Err(all {} failed)", failed.len() + failed.lost()),
    };
    Row {
        pattern: "5 hedged",
        sent: probe.sent(),
        result,
        elapsed,
        note: format!(
            "hedge after {} ms: {} sent vs {redundant_sent} redundant; {} cancelled",
            ms(delay),
            probe.sent(),
            probe.cancelled()
        ),
    }
}

/// 6. At most two lookups in flight, bounded by a semaphore.
async fn bounded<R: Runtime>(rt: &R, plan: &[Lookup]) -> Row {
    let probe = Arc::new(Probe::default());
    let semaphore = Semaphore::new(2);
    let start = Instant::now();
    // `keep_going`: a failure does not cancel the others, so every lookup
    // runs, two at a time.
    let group = ErrGroup::builder(rt.clone()).keep_going().build();
    for &job in plan {
        group
            .spawn(lookup_with_permits(
                rt.clone(),
                semaphore.clone(),
                1,
                job,
                probe.clone(),
            ))
            .unwrap();
    }
    let outcomes = group.join_all().await;
    let elapsed = start.elapsed();
    let (result, _) = tally(outcomes.iter().map(|o| o.as_ref().map_err(describe)));
    Row {
        pattern: "6 Semaphore::new(2)",
        sent: probe.sent(),
        result,
        elapsed,
        note: format!("at most {} lookups in flight", probe.in_flight.peak()),
    }
}

/// 7. Weighted permits, and a request that can never fit.
async fn weighted<R: Runtime>(rt: &R, plan: &[Lookup], rows: &mut Vec<Row>) {
    let probe = Arc::new(Probe::default());
    let semaphore = Semaphore::fixed(WEIGHT_CAPACITY);
    let start = Instant::now();
    let group = ErrGroup::builder(rt.clone()).keep_going().build();
    for &job in plan {
        group
            .spawn(lookup_with_permits(
                rt.clone(),
                semaphore.clone(),
                job.dc.weight,
                job,
                probe.clone(),
            ))
            .unwrap();
    }

    // While the lookups hold (and queue for) the permits: one request that
    // could never be granted. It must fail now, not wait for them.
    rt.sleep(Duration::from_millis(5)).await;
    let in_use = semaphore.capacity() - semaphore.available_permits();
    let asked = Instant::now();
    let refusal = semaphore.acquire_many(WEIGHT_CAPACITY + 1).await;
    let refused_in = asked.elapsed();

    let outcomes = group.join_all().await;
    let elapsed = start.elapsed();
    let (result, _) = tally(outcomes.iter().map(|o| o.as_ref().map_err(describe)));
    let weights: Vec<String> = plan.iter().map(|job| job.dc.weight.to_string()).collect();
    rows.push(Row {
        pattern: "7 weighted, capacity 30",
        sent: probe.sent(),
        result,
        elapsed,
        note: format!(
            "weights {}: at most {} of {WEIGHT_CAPACITY} in use",
            weights.join("+"),
            probe.weight.peak(),
        ),
    });

    let (result, message) = match refusal {
        Err(error @ AcquireError::TooLarge { .. }) => {
            ("Err(TooLarge)".to_owned(), error.to_string())
        }
        Err(error) => (format!("Err({error:?})"), error.to_string()),
        Ok(permit) => (
            format!("granted {}?!", permit.num_permits()),
            "expected a refusal".to_owned(),
        ),
    };
    println!(
        "  7 weighted   acquire_many({}), asked with {in_use} of {WEIGHT_CAPACITY} in use, after {} µs:",
        WEIGHT_CAPACITY + 1,
        refused_in.as_micros()
    );
    println!("               {result}: {message}");
    rows.push(Row {
        pattern: "7 ...then a request for 31",
        sent: 0,
        result,
        elapsed: refused_in,
        note: format!("refused at once, with {in_use} of {WEIGHT_CAPACITY} in use"),
    });
}

fn print_plan(plan: &[Lookup]) {
    println!(
        "{:<10} {:>11} {:>6} {:>8} {:>7}  planned outcome",
        "datacenter", "delay range", "fails", "delay ms", "weight"
    );
    for job in plan {
        let (lo, hi) = job.dc.delay_ms;
        let outcome = match job.failure {
            None => format!("found at {}/rack-{:02}", job.dc.name, job.rack),
            Some(reason) => format!("FAILS: {reason}"),
        };
        println!(
            "{:<10} {:>11} {:>5}% {:>8} {:>7}  {outcome}",
            job.dc.name,
            format!("{lo}-{hi} ms"),
            job.dc.fail_pct,
            ms(job.delay),
            job.dc.weight
        );
    }
    println!();
}

fn print_table(rows: &[Row]) {
    let mut table = Table::fitted(
        &[
            ("pattern", Align::Left),
            ("sent", Align::Right),
            ("result", Align::Left),
            ("ms", Align::Right),
        ],
        "note",
        30,
    );
    for r in rows {
        table.row(&[&r.pattern, &r.sent, &r.result, &ms(r.elapsed), &r.note]);
    }
    println!();
    table.print();
    println!();
}

/// The whole program, on any runtime.
async fn run<R: Runtime>(rt: R, args: Args) {
    let start = Instant::now();
    let plan = plan_lookups(args.seed);
    println!(
        "runtime {}, seed {}, hedging delay {} ms\n",
        args.runtime.name(),
        args.seed,
        ms(args.hedge)
    );
    print_plan(&plan);
    println!("running the patterns one after another; details:");

    let reliable: Vec<Lookup> = plan
        .iter()
        .copied()
        .filter(|job| job.dc.is_reliable())
        .collect();
    let mut rows = vec![plain_wait_group(&rt, &plan).await];
    rows.push(
        scatter(
            &rt,
            &reliable,
            "2 scatter_gather reliable",
            &format!("the {} reliable datacenters", reliable.len()),
        )
        .await,
    );
    rows.push(scatter(&rt, &plan, "2 scatter_gather all", "all 5 datacenters").await);
    let redundant_row = redundant(&rt, &plan).await;
    let redundant_sent = redundant_row.sent;
    rows.push(redundant_row);
    rows.push(err_group(&rt, &plan).await);
    rows.push(hedging(&rt, &plan, args.hedge, redundant_sent).await);
    rows.push(bounded(&rt, &plan).await);
    weighted(&rt, &plan, &mut rows).await;

    print_table(&rows);
    println!("{} ms in all", ms(start.elapsed()));
}

fn main() {
    let args = common::args_or_exit(USAGE, parse_args);
    common::block_on!(args.runtime, |rt| run(rt, args));
}
