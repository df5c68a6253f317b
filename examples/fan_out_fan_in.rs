//! Fan out N tasks into an [`ErrGroup`], fan their results back in — and see
//! exactly what the first error cancelled.
//!
//! This is Go's `ProcessTasksInParallel` with `errgroup`, the Rust way:
//!
//! * **Phase 1, `join`.** Every task sleeps for a planned, seeded time
//!   ([`Runtime::sleep`]); one of them (`--fail-at`) returns an error part-way
//!   through the batch, at the median of the planned times. `group.join().await` returns every value in spawn order, or the
//!   first error — and by the time it returns, every other task's future has
//!   been dropped. Each task carries a small drop-tracking guard whose `Drop`
//!   writes the task's final state into a shared `Mutex<Vec<_>>`, so the
//!   table shows which futures completed, which failed and which were dropped
//!   unfinished (cancelled), and that none was still alive when `join`
//!   returned. `join` consumes the group, so the cancellation cause is read
//!   through a [`Spawner`](taskgroup::Spawner) cloned before the join.
//! * **Phase 2, `join_next`.** A shorter round streams the outcomes as they
//!   finish (fan-in), printing each as it arrives, with `len()` counting down.
//!
//! With `--limit K` at most K tasks run at once; the rest wait in the group's
//! queue, and a queued task cancelled before it ever ran shows up as
//! "cancelled before start".
//!
//! The core is one generic `async fn run<R: Runtime>(..)`, called from the
//! `block_on` of tokio, smol or async-std. Durations (40–400 ms) come from a
//! small seeded xorshift generator, so a given `--seed` plans the same work.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example fan_out_fan_in --all-features
//! cargo run --example fan_out_fan_in --all-features -- --runtime smol --limit 3
//! cargo run --example fan_out_fan_in --all-features -- --runtime async-std --fail-at none
//! ```

mod common;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ms, Align, Command, RuntimeKind, Table, XorShift64};
use taskgroup::runtime::Runtime;
use taskgroup::{ErrGroup, GroupError};

const USAGE: &str = "\
Fan out N tasks into an ErrGroup, fan the results back in, and show what the
first error cancelled.

Usage: cargo run --example fan_out_fan_in --all-features -- [OPTIONS]

Options:
  --runtime NAME     tokio | smol | async-std                 (default: tokio)
  --tasks N          number of tasks, 1 to 1000                (default: 12)
  --limit K          at most K tasks at once, or `none`        (default: none)
  --seed S           seed for the task durations               (default: 42)
  --fail-at I        the task that fails, or `none`            (default: 5)
  -h, --help         print this help";

/// How many tasks the streaming phase runs (at most).
const PHASE_2_TASKS: usize = 6;

/// The command line, parsed.
#[derive(Clone, Debug)]
struct Args {
    runtime: RuntimeKind,
    tasks: usize,
    limit: Option<usize>,
    seed: u64,
    fail_at: Option<usize>,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            runtime: RuntimeKind::Tokio,
            tasks: 12,
            limit: None,
            seed: 42,
            fail_at: Some(5),
        }
    }
}

fn parse_args(argv: impl Iterator<Item = String>) -> Result<Command<Args>, String> {
    let flags = ["--runtime", "--tasks", "--limit", "--seed", "--fail-at"];
    let parsed = common::parse_flags(argv, Args::default(), &flags, |args, flag| {
        match flag.name() {
            "--runtime" => args.runtime = flag.runtime()?,
            "--tasks" => {
                args.tasks = flag.parse_if(
                    |n| (1..=1_000).contains(n),
                    "a number of tasks from 1 to 1000",
                )?;
            }
            "--limit" => {
                args.limit = match flag.value() {
                    "none" => None,
                    _ => Some(flag.parse_if(|&k| k > 0, "a limit of at least 1, or `none`")?),
                }
            }
            "--seed" => args.seed = flag.parse("an unsigned integer")?,
            "--fail-at" => {
                args.fail_at = match flag.value() {
                    "none" => None,
                    _ => Some(flag.parse("a task index, or `none`")?),
                }
            }
            _ => unreachable!("flag checked above"),
        }
        Ok(())
    })?;
    let Command::Run(args) = parsed else {
        return Ok(parsed);
    };
    if let Some(index) = args.fail_at.filter(|&i| i >= args.tasks) {
        return Err(format!(
            "`--fail-at {index}` is not a task: there are {} (0 to {}), or use `none`",
            args.tasks,
            args.tasks - 1
        ));
    }
    Ok(Command::Run(args))
}

/// The work one task will do, planned up front from the seed.
#[derive(Clone, Copy, Debug)]
struct Plan {
    id: usize,
    duration: Duration,
    fails: bool,
}

/// Plans `tasks` tasks. The failing one gives up at the median of the
/// planned times, so that about half the others finish before it fails and
/// the rest are cancelled, whatever the seed.
fn plan_tasks(tasks: usize, seed: u64, fail_at: Option<usize>) -> Vec<Plan> {
    let mut rng = XorShift64::new(seed);
    let mut plans: Vec<Plan> = (0..tasks)
        .map(|id| Plan {
            id,
            duration: Duration::from_millis(rng.between(40, 400)),
            fails: Some(id) == fail_at,
        })
        .collect();
    let mut sorted: Vec<Duration> = plans.iter().map(|p| p.duration).collect();
    sorted.sort_unstable();
    if let Some(failing) = plans.iter_mut().find(|p| p.fails) {
        failing.duration = sorted[sorted.len() / 2];
    }
    plans
}

/// What a task returns when it succeeds.
#[derive(Debug)]
struct TaskDone {
    id: usize,
}

/// What the failing task returns.
#[derive(Debug)]
struct TaskError {
    id: usize,
    after: Duration,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} gave up after {} ms (simulated failure)",
            self.id,
            ms(self.after)
        )
    }
}

impl std::error::Error for TaskError {}

/// How a task's future ended, as its [`Tracker`] saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Spawned, not polled yet.
    Queued,
    /// Polled at least once, not finished.
    Running,
    /// Ran to the end and returned `Ok`.
    Completed,
    /// Ran to the end and returned `Err`.
    Failed,
    /// Dropped while running: the group cancelled it.
    Cancelled,
    /// Dropped before its first poll (it was waiting in a limited group's
    /// queue).
    CancelledBeforeStart,
}

impl State {
    fn label(self) -> &'static str {
        match self {
            Self::Queued => "queued (still alive!)",
            Self::Running => "running (still alive!)",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::CancelledBeforeStart => "cancelled before start",
        }
    }
}

/// Where the trackers write: per task, its final state and when it was
/// reached. `None` while the task's future is alive.
struct Board {
    start: Instant,
    rows: Mutex<Vec<Option<(State, Duration)>>>,
}

impl Board {
    fn new(start: Instant, tasks: usize) -> Self {
        Self {
            start,
            rows: Mutex::new(vec![None; tasks]),
        }
    }
}

/// Moved into a task's future: knows how far the task got, and writes its
/// final state into the [`Board`] when the future is dropped — at its end, or
/// unfinished when the group cancels it.
struct Tracker {
    id: usize,
    board: Arc<Board>,
    state: State,
}

impl Tracker {
    fn new(board: Arc<Board>, id: usize) -> Self {
        Self {
            id,
            board,
            state: State::Queued,
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let state = match self.state {
            State::Queued => State::CancelledBeforeStart,
            State::Running => State::Cancelled,
            finished => finished,
        };
        let at = self.board.start.elapsed();
        self.board.rows.lock().unwrap()[self.id] = Some((state, at));
    }
}

/// One task: sleep for the planned time, then succeed — or, for the failing
/// one, return an error.
async fn process<R: Runtime>(
    rt: R,
    plan: Plan,
    mut tracker: Option<Tracker>,
) -> Result<TaskDone, TaskError> {
    let mut set = |state| {
        if let Some(tracker) = tracker.as_mut() {
            tracker.state = state;
        }
    };
    set(State::Running);
    rt.sleep(plan.duration).await;
    if plan.fails {
        set(State::Failed);
        return Err(TaskError {
            id: plan.id,
            after: plan.duration,
        });
    }
    set(State::Completed);
    Ok(TaskDone { id: plan.id })
}

fn describe_limit(limit: Option<usize>) -> String {
    limit.map_or_else(|| "none".to_owned(), |k| k.to_string())
}

/// Phase 1: spawn every task, `join`, and show what the first error did.
async fn phase_join<R: Runtime>(rt: &R, args: &Args) {
    let start = Instant::now();
    let plans = plan_tasks(args.tasks, args.seed, args.fail_at);
    let board = Arc::new(Board::new(start, plans.len()));

    println!(
        "phase 1: join() — {} tasks, limit {}, failing task: {}",
        plans.len(),
        describe_limit(args.limit),
        args.fail_at
            .map_or_else(|| "none".to_owned(), |i| i.to_string())
    );
    let builder = ErrGroup::builder(rt.clone());
    let group = match args.limit {
        Some(limit) => builder.limit(limit).build(),
        None => builder.build(),
    };
    // `join` consumes the group: keep a spawner to ask for the cause after.
    let watch = group.spawner();
    for &plan in &plans {
        let tracker = Tracker::new(Arc::clone(&board), plan.id);
        group
            .spawn(process(rt.clone(), plan, Some(tracker)))
            .unwrap();
    }
    println!(
        "[{:>5} ms] spawned {} tasks, len() = {}",
        ms(start.elapsed()),
        plans.len(),
        group.len()
    );

    let result = group.join().await;
    let joined_at = start.elapsed();
    match &result {
        Ok(values) => {
            let ids: Vec<usize> = values.iter().map(|done| done.id).collect();
            println!(
                "[{:>5} ms] join -> Ok: {} values in spawn order {ids:?}",
                ms(joined_at),
                values.len()
            );
        }
        Err(error) => println!("[{:>5} ms] join -> Err: {error}", ms(joined_at)),
    }
    match watch.cause() {
        Some(cause) => println!("           cause() -> Some({cause:?}): {cause}"),
        None => println!("           cause() -> None: nothing was cancelled"),
    }

    // `join` returned, so every future has completed or been dropped: every
    // tracker has written its row.
    let rows = std::mem::take(&mut *board.rows.lock().unwrap());
    let mut table = Table::new(
        &[
            ("task", Align::Right, 4),
            ("planned ms", Align::Right, 10),
            ("ended ms", Align::Right, 8),
        ],
        "state",
        24,
    );
    let mut alive = 0;
    let mut counts = [0usize; 4];
    for (plan, row) in plans.iter().zip(&rows) {
        let (label, ended) = match row {
            Some((state, at)) => {
                let slot = match state {
                    State::Completed => 0,
                    State::Failed => 1,
                    State::Cancelled => 2,
                    _ => 3,
                };
                counts[slot] += 1;
                (state.label(), ms(*at).to_string())
            }
            None => {
                alive += 1;
                ("still alive after join!", "-".to_owned())
            }
        };
        table.row(&[&plan.id, &ms(plan.duration), &ended, &label]);
    }
    println!();
    table.print();
    println!();
    println!(
        "{} completed, {} failed, {} cancelled, {} cancelled before start; \
         futures alive after join: {alive}",
        counts[0], counts[1], counts[2], counts[3]
    );
    println!();
}

/// Phase 2: a shorter round, fanned in with `join_next` as tasks finish.
async fn phase_join_next<R: Runtime>(rt: &R, args: &Args) {
    let start = Instant::now();
    let tasks = args.tasks.min(PHASE_2_TASKS);
    let fail_at = args.fail_at.filter(|&i| i < tasks);
    let plans = plan_tasks(tasks, args.seed.wrapping_add(1), fail_at);

    println!(
        "phase 2: join_next() — {tasks} tasks, no limit, failing task: {}",
        fail_at.map_or_else(|| "none".to_owned(), |i| i.to_string())
    );
    let planned: Vec<String> = plans
        .iter()
        .map(|p| format!("{}:{}", p.id, ms(p.duration)))
        .collect();
    println!("           planned ms (task:ms): {}", planned.join("  "));

    let mut group = ErrGroup::new(rt.clone());
    for &plan in &plans {
        group.spawn(process(rt.clone(), plan, None)).unwrap();
    }
    let mut arrival = 0;
    while let Some(outcome) = group.join_next().await {
        arrival += 1;
        let what = match outcome {
            Ok(done) => format!("task {} ok", done.id),
            Err(GroupError::Task(error)) => {
                format!("task {} FAILED -> the rest are cancelled", error.id)
            }
            // A cancelled task's outcome carries no task id: `join_next`
            // hands back only the `Result`.
            Err(GroupError::Cancelled(cause)) => format!("a task was cancelled ({cause})"),
            Err(other) => format!("a task: {other}"),
        };
        println!(
            "[{:>5} ms] #{arrival}  {what:<42}  len() = {}",
            ms(start.elapsed()),
            group.len()
        );
    }
    println!(
        "[{:>5} ms] join_next -> None: all {tasks} outcomes taken",
        ms(start.elapsed())
    );
}

/// The whole program, on any runtime.
async fn run<R: Runtime>(rt: R, args: Args) {
    let start = Instant::now();
    println!("runtime {}, seed {}", args.runtime.name(), args.seed);
    println!();
    phase_join(&rt, &args).await;
    phase_join_next(&rt, &args).await;
    println!();
    println!("{} ms in all", ms(start.elapsed()));
}

fn main() {
    let args = common::args_or_exit(USAGE, parse_args);
    common::block_on!(args.runtime, |rt| run(rt, args));
}
