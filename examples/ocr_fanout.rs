//! Fan out N simulated OCR jobs, then wait for them with a time-out.
//!
//! Shows a [`WaitGroup`] used the Go way, under any runtime:
//!
//! * every job is a detached task spawned through the [`Runtime`] trait and
//!   holds a [`WaitGuard`] from [`WaitGroup::enter`], so the count is balanced
//!   when the job ends, however it ends;
//! * the main task races [`WaitGroup::wait`] against [`Runtime::sleep`]: with
//!   the defaults the time-out fires while some jobs are still running. The
//!   time-out only stops *waiting* (dropping a `Wait` future is cancel-safe);
//!   the jobs carry on, and a second `wait()` collects them;
//! * each job reports the count as it falls, and records its result in a
//!   shared `Mutex<Vec<_>>`, printed as a table at the end.
//!
//! The core is one generic `async fn run<R: Runtime>(..)`, called from the
//! `block_on` of tokio, smol or async-std. Job durations (50–400 ms) and the
//! one job that fails come from a small seeded xorshift generator, so a given
//! `--seed` always plans the same work.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example ocr_fanout --all-features
//! cargo run --example ocr_fanout --all-features -- --runtime smol
//! cargo run --example ocr_fanout --all-features -- --runtime async-std --jobs 12 --seed 7 --timeout-ms 500
//! ```

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ms, timeout, Align, Command, RuntimeKind, Table, XorShift64};
use taskgroup::runtime::Runtime;
use taskgroup::{WaitGroup, WaitGuard};

const USAGE: &str = "\
Fan out N simulated OCR jobs and wait for them with a time-out.

Usage: cargo run --example ocr_fanout --all-features -- [OPTIONS]

Options:
  --runtime NAME     tokio | smol | async-std          (default: tokio)
  --jobs N           number of concurrent jobs         (default: 8)
  --seed S           seed for durations and failures   (default: 42)
  --timeout-ms MS    how long to wait before reporting (default: 300)
  -h, --help         print this help";

/// The command line, parsed.
#[derive(Clone, Debug)]
struct Args {
    runtime: RuntimeKind,
    jobs: usize,
    seed: u64,
    timeout: Duration,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            runtime: RuntimeKind::Tokio,
            jobs: 8,
            seed: 42,
            timeout: Duration::from_millis(300),
        }
    }
}

fn parse_args(argv: impl Iterator<Item = String>) -> Result<Command<Args>, String> {
    let flags = ["--runtime", "--jobs", "--seed", "--timeout-ms"];
    common::parse_flags(argv, Args::default(), &flags, |args, flag| {
        match flag.name() {
            "--runtime" => args.runtime = flag.runtime()?,
            "--jobs" => {
                args.jobs = flag.parse_if(|&n| n <= 10_000, "a number of jobs from 0 to 10000")?;
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

/// The work one job will do, planned up front from the seed.
struct Plan {
    id: usize,
    page: String,
    duration: Duration,
    fails: bool,
    words: u64,
}

/// What a job reported when it finished.
struct Record {
    id: usize,
    page: String,
    took: Duration,
    result: Result<u64, String>,
}

fn plan_jobs(jobs: usize, seed: u64) -> Vec<Plan> {
    let mut rng = XorShift64::new(seed);
    let failing = (jobs > 0).then(|| rng.next_u64() as usize % jobs);
    (0..jobs)
        .map(|id| Plan {
            id,
            page: format!("scan-{:02}.png", id + 1),
            duration: Duration::from_millis(rng.between(50, 400)),
            fails: Some(id) == failing,
            words: rng.between(80, 900),
        })
        .collect()
}

/// One simulated OCR call.
async fn ocr_job<R: Runtime>(
    rt: R,
    plan: Plan,
    start: Instant,
    guard: WaitGuard,
    records: Arc<Mutex<Vec<Record>>>,
) {
    let began = Instant::now();
    rt.sleep(plan.duration).await;
    let result = if plan.fails {
        Err("unreadable: page too blurry".to_owned())
    } else {
        Ok(plan.words)
    };
    let outcome = if result.is_ok() { "ok    " } else { "FAILED" };

    // Record, print, then `done()`, all under the lock. Only jobs lower the
    // count, and they take turns here, so the lines read 7, 6, 5, ... in
    // order, and the main task's "all done" comes after the last of them.
    // (Waking the group's waiters does not need this lock.)
    let mut records = records.lock().unwrap();
    records.push(Record {
        id: plan.id,
        page: plan.page,
        took: began.elapsed(),
        result,
    });
    println!(
        "[{:>5} ms] job {:>2} {outcome}  -> {} still running",
        ms(start.elapsed()),
        plan.id,
        guard.group().count() - 1
    );
    guard.done();
}

/// The whole program, on any runtime.
async fn run<R: Runtime>(rt: R, args: Args) {
    let start = Instant::now();
    let plans = plan_jobs(args.jobs, args.seed);
    let total = plans.len();
    let records = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let wg = WaitGroup::new();

    println!(
        "runtime {}, {} jobs, seed {}, time-out {} ms",
        args.runtime.name(),
        total,
        args.seed,
        ms(args.timeout)
    );
    for plan in plans {
        // `enter()` before spawning, so that `wait()` can never miss a job.
        let guard = wg.enter();
        rt.spawn(ocr_job(rt.clone(), plan, start, guard, records.clone()));
    }
    println!(
        "[{:>5} ms] spawned {total} jobs, {} running",
        ms(start.elapsed()),
        wg.count()
    );

    match timeout(&rt, args.timeout, wg.wait()).await {
        Some(()) => println!(
            "[{:>5} ms] all {total} done within the time-out",
            ms(start.elapsed())
        ),
        None => {
            // Under the jobs' lock, so that no job is half-way through its
            // report while we read the count.
            {
                let _jobs_hold_off = records.lock().unwrap();
                println!(
                    "[{:>5} ms] timed out with {} still running; waiting for the rest",
                    ms(start.elapsed()),
                    wg.count()
                );
            }
            // The time-out dropped the first `Wait`; the jobs never noticed.
            wg.wait().await;
            println!("[{:>5} ms] all {total} done", ms(start.elapsed()));
        }
    }

    // Every guard has been dropped, so every job has pushed its record.
    let mut records = std::mem::take(&mut *records.lock().unwrap());
    records.sort_by_key(|r| r.id);
    if !records.is_empty() {
        print_table(&records);
    }
    let failed = records.iter().filter(|r| r.result.is_err()).count();
    println!(
        "{} ok, {} failed, {} ms in all",
        records.len() - failed,
        failed,
        ms(start.elapsed())
    );
}

fn print_table(records: &[Record]) {
    let mut table = Table::new(
        &[
            ("job", Align::Right, 3),
            ("page", Align::Left, 12),
            ("took ms", Align::Right, 7),
        ],
        "result",
        35,
    );
    for r in records {
        let result = match &r.result {
            Ok(words) => format!("ok, {words} words"),
            Err(e) => format!("FAILED: {e}"),
        };
        table.row(&[&r.id, &r.page, &ms(r.took), &result]);
    }
    println!();
    table.print();
    println!();
}

fn main() {
    let args = common::args_or_exit(USAGE, parse_args);
    common::block_on!(args.runtime, |rt| run(rt, args));
}
