//! Wait for N callbacks from a callback-style ("legacy") client with a
//! [`Latch`] — no busy-wait loop.
//!
//! A latch replaces the `while !done.load() { sleep }` loop that everybody
//! writes first:
//!
//! ```text
//! // before: a counter, and a loop that polls it
//! let done = Arc::new(AtomicUsize::new(0));
//! for req in 0..n {
//!     let done = done.clone();
//!     client.submit(req, Box::new(move |r| { record(r); done.fetch_add(1, SeqCst); }));
//! }
//! while done.load(SeqCst) < n {
//!     thread::sleep(Duration::from_millis(10)); // wakes 100 times a second, up to 10 ms late
//! }
//!
//! // after: a latch
//! let latch = Latch::new(n);
//! for req in 0..n {
//!     let latch = latch.clone();
//!     client.submit(req, Box::new(move |r| { record(r); latch.count_down(); }));
//! }
//! latch.wait_blocking(); // sleeps until the last callback, which wakes it at once
//! ```
//!
//! In this program each callback calls [`Latch::count_down`], and the caller
//! sleeps in [`Latch::wait_blocking_timeout`] until the last callback wakes it
//! at once — or the time-out passes, when it can report progress with
//! [`Latch::count`] and decide whether to keep waiting. Everything a callback
//! wrote before its `count_down` is visible to the waiter once the latch
//! opens.
//!
//! The second round waits on the same kind of latch from async code:
//! `latch.wait().await`, here under `futures::executor::block_on`, as it would
//! be inside any runtime.
//!
//! Delays (20–300 ms) and failures (about one request in four) come from a
//! small seeded xorshift generator: the same `--seed` gives the same run.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example latch_callbacks
//! cargo run --example latch_callbacks -- --requests 10 --seed 7 --timeout-ms 100
//! ```

mod common;

use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{ms, Align, Command, Table, XorShift64};
use taskgroup::Latch;

const USAGE: &str = "\
Wait for N callbacks from a callback-style client with a Latch.

Usage: cargo run --example latch_callbacks -- [OPTIONS]

Options:
  --requests N       requests per round                           (default: 6)
  --seed S           seed for delays and failures                 (default: 42)
  --timeout-ms MS    first wait before reporting progress, round 1 (default: 150)
  -h, --help         print this help";

/// The command line, parsed.
#[derive(Clone, Debug)]
struct Args {
    requests: u32,
    seed: u64,
    timeout: Duration,
}

fn parse_args(argv: impl Iterator<Item = String>) -> Result<Command<Args>, String> {
    let defaults = Args {
        requests: 6,
        seed: 42,
        timeout: Duration::from_millis(150),
    };
    let flags = ["--requests", "--seed", "--timeout-ms"];
    common::parse_flags(argv, defaults, &flags, |args, flag| {
        match flag.name() {
            "--requests" => {
                args.requests =
                    flag.parse_if(|&n| n <= 1_000, "a number of requests from 0 to 1000")?;
            }
            "--seed" => args.seed = flag.parse("an unsigned integer")?,
            "--timeout-ms" => {
                args.timeout = Duration::from_millis(flag.parse("a number of milliseconds")?);
            }
            _ => unreachable!("flag checked above"),
        }
        Ok(())
    })
}

/// What the legacy client calls back with.
type Callback = Box<dyn FnOnce(Result<String, String>) + Send>;

/// Stands in for a client library with a callback API and no futures: each
/// request runs on a thread of its own and calls back from that thread.
struct LegacyClient {
    /// Drawn from in `submit`, in submission order, so a seed always plans
    /// the same delays and failures whichever thread runs first.
    rng: Mutex<XorShift64>,
}

impl LegacyClient {
    /// Starts `request` and returns at once; `callback` runs later, on
    /// another thread, with the reply or an error.
    fn submit(&self, request: u32, callback: Callback) {
        let (delay, fails, reply) = {
            let mut rng = self.rng.lock().unwrap();
            let delay = Duration::from_millis(rng.between(20, 300));
            (delay, rng.next_u64() % 4 == 0, rng.between(100, 999))
        };
        thread::Builder::new()
            .name(format!("legacy-{request}"))
            .spawn(move || {
                thread::sleep(delay);
                callback(if fails {
                    Err(format!("503 from upstream after {} ms", delay.as_millis()))
                } else {
                    Ok(format!("order #{reply} confirmed"))
                });
            })
            .expect("failed to spawn a client thread");
    }
}

/// One callback's report, written from the client's thread.
struct Call {
    request: u32,
    finished_at: Duration,
    thread: String,
    result: Result<String, String>,
}

/// Shared between the callbacks (which write) and the caller (which reads
/// once the latch is open).
type Calls = Arc<Mutex<Vec<Call>>>;

/// Submits the requests numbered `requests`; each callback records its
/// result, then counts the latch down.
fn submit_all(client: &LegacyClient, requests: Range<u32>, start: Instant) -> (Latch, Calls) {
    let n = requests.len();
    let latch = Latch::new(n);
    let calls: Calls = Arc::new(Mutex::new(Vec::with_capacity(n)));
    for request in requests {
        let latch = latch.clone();
        let calls = Arc::clone(&calls);
        client.submit(
            request,
            Box::new(move |result| {
                let thread = thread::current().name().unwrap_or("?").to_owned();
                calls.lock().unwrap().push(Call {
                    request,
                    finished_at: start.elapsed(),
                    thread,
                    result,
                });
                // Last, after the lock is released: when the latch opens,
                // every record is in place.
                latch.count_down();
            }),
        );
    }
    (latch, calls)
}

/// Prints the calls in request order, then a summary line.
fn report(calls: &Calls, start: Instant) {
    let mut calls = std::mem::take(&mut *calls.lock().unwrap());
    calls.sort_by_key(|c| c.request);
    if !calls.is_empty() {
        let mut table = Table::new(
            &[
                ("req", Align::Right, 3),
                ("done at", Align::Right, 7),
                ("thread", Align::Left, 11),
            ],
            "result",
            40,
        );
        for c in &calls {
            let result = match &c.result {
                Ok(reply) => format!("ok      {reply}"),
                Err(e) => format!("FAILED  {e}"),
            };
            let done_at = format!("{} ms", ms(c.finished_at));
            table.row(&[&c.request, &done_at, &c.thread, &result]);
        }
        println!();
        table.print();
    }
    let failed = calls.iter().filter(|c| c.result.is_err()).count();
    println!(
        "\n{} calls: {} ok, {} failed; all callbacks in after {} ms\n",
        calls.len(),
        calls.len() - failed,
        failed,
        ms(start.elapsed())
    );
}

fn main() {
    let args = common::args_or_exit(USAGE, parse_args);
    let n = args.requests;

    // Round 1: a plain thread waits, with a time-out first.
    println!(
        "round 1: blocking wait, {n} requests, seed {}, first time-out {} ms",
        args.seed,
        ms(args.timeout)
    );
    let client = LegacyClient {
        rng: Mutex::new(XorShift64::new(args.seed)),
    };
    let start = Instant::now();
    let (latch, calls) = submit_all(&client, 0..n, start);
    if latch.wait_blocking_timeout(args.timeout) {
        println!(
            "[{:>4} ms] all {n} callbacks in within the time-out",
            ms(start.elapsed())
        );
    } else {
        println!(
            "[{:>4} ms] time-out: {} of {n} callbacks still outstanding, waiting on",
            ms(start.elapsed()),
            latch.count()
        );
        latch.wait_blocking();
        println!("[{:>4} ms] latch open", ms(start.elapsed()));
    }
    report(&calls, start);

    // Round 2: the same, awaited from async code.
    println!("round 2: async wait (latch.wait().await), {n} requests");
    let start = Instant::now();
    let (latch, calls) = submit_all(&client, n..2 * n, start);
    futures::executor::block_on(async {
        latch.wait().await;
    });
    println!("[{:>4} ms] latch open", ms(start.elapsed()));
    report(&calls, start);
}
