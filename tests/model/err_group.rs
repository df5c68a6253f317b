//! `ErrGroup` on a runtime driven by hand, against a sequential model.
//!
//! [`ManualRuntime`] only queues what the group spawns; the sequence decides
//! which runtime task is polled when, and which one the runtime drops
//! unfinished (a runtime shutting down, or losing a task). Each task's future
//! is a [`UserFuture`] that counts its polls and drops: it finishes `Ok`,
//! `Err` or panics when polled, or stays pending until the sequence resolves
//! it (then it wakes the waker it was last polled with). The group may have a
//! limit (its runtime tasks are then workers that run queued tasks after
//! their first), keep going after errors, and capture or resume panics.
//!
//! Operations: `spawn`/`try_spawn` through the group or a `Spawner`, poll or
//! drop a runtime task, resolve a pending future, cancel (through the group
//! or its token), create/poll/drop a `join_next` (or `join_next_with_id`)
//! future, create/poll/drop a `join` (or `join_all`) future, drop the group,
//! `close`, and ask for the cause. After every step:
//!
//! * every future of every task was polled and dropped exactly as often as
//!   the model says: never polled once the group is cancelled (it is dropped
//!   at its task's next poll instead), dropped once when it finishes, when
//!   it is cancelled, when its runtime task is dropped, or when the group
//!   refuses it (the future handed back, or dropped by `spawn`'s panic);
//! * each runtime task is `Ready` exactly when the model's is, and the
//!   group spawned exactly the runtime tasks (plain tasks, or workers of a
//!   limited group) the model expects;
//! * `join_next` returns the model's outcomes in completion order (`Lost` for
//!   a task the runtime dropped unfinished, `Cancelled` with the cause once
//!   the group is cancelled), `None` exactly when nothing is left, and
//!   resumes a panic under `PanicPolicy::Resume`;
//! * `join` returns the values in spawn order, or the first failure, or the
//!   first cancellation / loss; `join_all` every outcome in spawn order; and
//!   when either returns, no runtime task is left and every future spawned
//!   has been dropped exactly once;
//! * wakes: a runtime task is woken exactly once by each event it waits for
//!   (its future's resolution, the group's cancellation) and never
//!   otherwise; a joiner exactly once by the outcome (`join_next`) or the
//!   last outcome (`join`) it waits for, and never otherwise;
//! * `len`, `is_closed`, the token's state and the cause equal the model's.
//!
//! At the end the group is dropped (if still held) and every runtime task
//! left is polled (or dropped, as the runtime shutting down): none may be
//! left, and every future must have been dropped exactly once.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use taskgroup::runtime::Runtime;
use taskgroup::{
    CancelCause, CancellationToken, ErrGroup, GroupError, PanicPolicy, Spawner, TaskId,
};

use crate::harness::{catch_unwind_quietly, config, panic_message, pick, pick_where, Tracked};

// ---------------------------------------------------------------------------
// The runtime and the tasks' futures.
// ---------------------------------------------------------------------------

/// A runtime task as the group hands it over.
type Spawned = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A runtime that runs nothing by itself: `spawn` queues the future, and the
/// test takes it from the queue and polls (or drops) it by hand.
#[derive(Clone, Default)]
struct ManualRuntime {
    spawned: Arc<Mutex<Vec<Spawned>>>,
}

impl Runtime for ManualRuntime {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        lock(&self.spawned).push(Box::pin(future));
    }

    fn sleep(&self, _duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        // No clock: the model sets no deadline, so the group never sleeps.
        std::future::pending()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a task's future ends, once it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// `Ok(user)`.
    Ok,
    /// `Err(user)`.
    Err,
    /// Panics with [`panic_text`].
    Panic,
}

/// What a task's future does when polled.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Finishes at its first poll.
    Now(Plan),
    /// `Pending` until the sequence resolves it.
    Gated,
}

/// A task's future's state, shared with the test.
#[derive(Default)]
struct Control {
    plan: Option<Plan>,
    /// The waker of its last `Pending` poll, until it is resolved.
    waker: Option<Waker>,
    polls: usize,
    drops: usize,
}

/// The future of the test's task number `user` (its value and its error are
/// `user` too).
struct UserFuture {
    user: usize,
    control: Arc<Mutex<Control>>,
}

fn panic_text(user: usize) -> String {
    format!("task {user} panicked")
}

impl Future for UserFuture {
    type Output = Result<usize, usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let plan = {
            let mut control = lock(&self.control);
            control.polls += 1;
            if control.plan.is_none() {
                control.waker = Some(cx.waker().clone());
            }
            control.plan
        };
        match plan {
            None => Poll::Pending,
            Some(Plan::Ok) => Poll::Ready(Ok(self.user)),
            Some(Plan::Err) => Poll::Ready(Err(self.user)),
            Some(Plan::Panic) => panic!("{}", panic_text(self.user)),
        }
    }
}

impl Drop for UserFuture {
    fn drop(&mut self) {
        lock(&self.control).drops += 1;
    }
}

// ---------------------------------------------------------------------------
// What the test sees.
// ---------------------------------------------------------------------------

type Group = ErrGroup<usize, usize, ManualRuntime>;
type TaskResult = Result<usize, GroupError<usize>>;
type NextOutput = Option<(Option<TaskId>, TaskResult)>;

/// What a `join` or `join_all` future returns.
enum JoinOutput {
    Join(Result<Vec<usize>, GroupError<usize>>),
    All(Vec<TaskResult>),
}

/// One task's outcome, comparable.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Res {
    Value(usize),
    Failed(usize),
    /// A captured panic, by its message.
    Panicked(String),
    Cancelled(CancelCause),
    Lost,
}

fn observe(result: TaskResult) -> Res {
    match result {
        Ok(value) => Res::Value(value),
        Err(error) => observe_error(error),
    }
}

fn observe_error(error: GroupError<usize>) -> Res {
    match error {
        GroupError::Task(error) => Res::Failed(error),
        GroupError::Panicked(payload) => {
            Res::Panicked(payload.message().unwrap_or("<no message>").to_owned())
        }
        GroupError::Cancelled(cause) => Res::Cancelled(cause),
        GroupError::Lost => Res::Lost,
        other => panic!("an outcome the model does not know: {other:?}"),
    }
}

/// A poll of a `join_next` future.
#[derive(Debug, PartialEq, Eq)]
enum NextSeen {
    Pending,
    /// The joiner resumed a task's panic: its message.
    Panic(String),
    /// `None`: nothing left.
    Done,
    /// An outcome, with its task's id for `join_next_with_id`.
    Next(Option<usize>, Res),
}

/// A poll of a `join` / `join_all` future.
#[derive(Debug, PartialEq, Eq)]
enum JoinSeen {
    Pending,
    Panic(String),
    Join(Result<Vec<usize>, Res>),
    All(Vec<Res>),
}

fn seen_panic(payload: &(dyn std::any::Any + Send)) -> String {
    panic_message(payload).unwrap_or("<no message>").to_owned()
}

// ---------------------------------------------------------------------------
// Operations.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum SpawnHow {
    /// `ErrGroup::spawn` (panics on a closed group).
    Spawn,
    /// `ErrGroup::try_spawn`.
    TrySpawn,
    /// `Spawner::spawn`.
    SpawnerSpawn,
    /// `Spawner::try_spawn`.
    SpawnerTrySpawn,
}

#[derive(Clone, Debug)]
enum GroupOp {
    /// Spawns a new future (through the spawner when the group is not at
    /// hand: borrowed by a `join_next`, or gone).
    Spawn(SpawnHow, Behaviour),
    /// Polls a runtime task.
    PollTask(Index),
    /// The runtime drops a runtime task, finished or not.
    DropTask(Index),
    /// A gated future learns its plan (and wakes its waker).
    Resolve(Index, Plan),
    /// `ErrGroup::cancel`, or `cancel` on the group's token.
    Cancel {
        via_token: bool,
    },
    /// Polls the `join_next` future, creating it first if there is none.
    JoinNext {
        with_id: bool,
    },
    DropJoinNext,
    /// Polls the `join` (or `join_all`) future; with no such future and
    /// `start`, creates it first (it takes the group).
    Join {
        all: bool,
        start: bool,
    },
    /// Drops the `join` future, which drops the group.
    DropJoin,
    DropGroup,
    Close,
    /// `Spawner::cause`.
    Cause,
}

fn plan() -> impl Strategy<Value = Plan> {
    prop_oneof![
        8 => Just(Plan::Ok),
        1 => Just(Plan::Err),
        1 => Just(Plan::Panic),
    ]
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        1 => plan().prop_map(Behaviour::Now),
        1 => Just(Behaviour::Gated),
    ]
}

fn spawn_how() -> impl Strategy<Value = SpawnHow> {
    prop_oneof![
        3 => Just(SpawnHow::Spawn),
        2 => Just(SpawnHow::TrySpawn),
        1 => Just(SpawnHow::SpawnerSpawn),
        1 => Just(SpawnHow::SpawnerTrySpawn),
    ]
}

fn group_op() -> impl Strategy<Value = GroupOp> {
    // Weighted so that about half the runs end the group (join, drop,
    // close) before their last operation.
    prop_oneof![
        48 => (spawn_how(), behaviour()).prop_map(|(how, b)| GroupOp::Spawn(how, b)),
        60 => any::<Index>().prop_map(GroupOp::PollTask),
        6 => any::<Index>().prop_map(GroupOp::DropTask),
        30 => (any::<Index>(), plan()).prop_map(|(i, p)| GroupOp::Resolve(i, p)),
        3 => any::<bool>().prop_map(|via_token| GroupOp::Cancel { via_token }),
        30 => any::<bool>().prop_map(|with_id| GroupOp::JoinNext { with_id }),
        4 => Just(GroupOp::DropJoinNext),
        18 => (any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(all, start)| GroupOp::Join { all, start }),
        2 => Just(GroupOp::DropJoin),
        1 => Just(GroupOp::DropGroup),
        1 => Just(GroupOp::Close),
        8 => Just(GroupOp::Cause),
    ]
}

/// How the group is built.
#[derive(Clone, Debug)]
struct Setup {
    limit: Option<usize>,
    keep_going: bool,
    policy: PanicPolicy,
    ending: Ending,
}

/// How a run ends, after its operations.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Every pending future finishes `Ok`, every runtime task is polled,
    /// and the group is joined (with `join_all` if set), if still held.
    Join { all: bool },
    /// The group is dropped and the runtime polls every task left.
    Drop,
    /// The group is dropped and the runtime drops every task left.
    ShutDown,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop_oneof![Just(None), (1usize..=3).prop_map(Some)],
        prop::bool::weighted(0.2),
        prop_oneof![Just(PanicPolicy::Resume), Just(PanicPolicy::Capture)],
        prop_oneof![
            any::<bool>().prop_map(|all| Ending::Join { all }),
            Just(Ending::Drop),
            Just(Ending::ShutDown),
        ],
    )
        .prop_map(|(limit, keep_going, policy, ending)| Setup {
            limit,
            keep_going,
            policy,
            ending,
        })
}

// ---------------------------------------------------------------------------
// The model.
// ---------------------------------------------------------------------------

/// One future the test made, in the model.
#[derive(Debug, Default)]
struct UserModel {
    /// Its task's id; `None` while not (or never) spawned.
    task: Option<usize>,
    plan: Option<Plan>,
    polls: usize,
    dropped: bool,
    /// Polled `Pending` and not resolved since: it holds a waker, which its
    /// resolution wakes.
    armed: bool,
}

/// One runtime task, in the model.
#[derive(Debug)]
struct TaskModel {
    /// A worker of a limited group: after its job it runs queued ones.
    worker: bool,
    /// The user future it runs now.
    job: usize,
    /// Its last poll was `Pending`: it waits for its job's resolution and
    /// for the group's cancellation.
    pending: bool,
    /// Wakes due from the current step.
    wake_due: usize,
    /// Polled at least once.
    started: bool,
}

/// A `join_next` or `join` future, in the model.
#[derive(Debug, Default)]
struct JoinerModel {
    registered: bool,
    /// Woken since its last `Pending` poll (its listener is notified, so a
    /// later notification adds nothing).
    woken: bool,
    wake_due: bool,
}

impl JoinerModel {
    fn notify(&mut self) {
        if self.registered && !self.woken {
            self.woken = true;
            self.wake_due = true;
        }
    }
}

/// Where the group's handle is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handle {
    /// In the test's hands.
    Held,
    /// Inside a `join` future that has not returned.
    InJoin,
    /// Joined or dropped.
    Gone,
}

/// Where a spawned task goes.
enum Placement {
    Direct,
    Worker,
    Queued,
}

struct Model {
    limit: Option<usize>,
    cancel_on_error: bool,
    policy: PanicPolicy,
    next_index: usize,
    /// Tasks whose outcome is not recorded yet.
    unfinished: usize,
    /// Workers holding a slot.
    running: usize,
    /// Queued user futures, FIFO.
    queue: VecDeque<usize>,
    /// Recorded outcomes not taken yet, in completion order: (task id, outcome).
    outcomes: VecDeque<(usize, Res)>,
    /// The first cause: set when the token is first cancelled, however.
    cause: Option<CancelCause>,
    /// The library has stored a cause (it works one out lazily when the
    /// token was cancelled directly).
    cause_stored: bool,
    cancelled: bool,
    closed: bool,
    /// Joiners are woken at every outcome until a `join` was polled; then
    /// only at the last.
    wake_on_each: bool,
    handle: Handle,
    users: Vec<UserModel>,
    tasks: Vec<Option<TaskModel>>,
    /// Runtime tasks the current step must have spawned.
    spawned: Vec<TaskModel>,
    next: Option<JoinerModel>,
    join: Option<JoinerModel>,
}

impl Model {
    fn new(setup: &Setup) -> Self {
        Self {
            limit: setup.limit,
            cancel_on_error: !setup.keep_going,
            policy: setup.policy,
            next_index: 0,
            unfinished: 0,
            running: 0,
            queue: VecDeque::new(),
            outcomes: VecDeque::new(),
            cause: None,
            cause_stored: false,
            cancelled: false,
            closed: false,
            wake_on_each: true,
            handle: Handle::Held,
            users: Vec::new(),
            tasks: Vec::new(),
            spawned: Vec::new(),
            next: None,
            join: None,
        }
    }

    /// Places a new task for `user`: its id, or `None` if refused.
    fn spawn(&mut self, user: usize, refuse_when_full: bool) -> Option<usize> {
        if self.closed {
            return None;
        }
        let placement = match self.limit {
            None => Placement::Direct,
            // A free slot starts a worker; if older tasks are queued (possible
            // only after a worker was lost), it takes the queue's head and the
            // new task queues behind them: see
            // `a_lost_worker_lets_a_later_task_overtake_the_queue`.
            Some(limit) if self.running < limit => Placement::Worker,
            Some(_) if refuse_when_full => return None,
            Some(_) => Placement::Queued,
        };
        let id = self.next_index;
        self.next_index += 1;
        self.unfinished += 1;
        self.users[user].task = Some(id);
        let (worker, job) = match placement {
            Placement::Queued => {
                self.queue.push_back(user);
                return Some(id);
            }
            Placement::Worker => {
                self.running += 1;
                self.queue.push_back(user);
                (true, self.queue.pop_front().expect("just pushed"))
            }
            Placement::Direct => (false, user),
        };
        self.spawned.push(TaskModel {
            worker,
            job,
            pending: false,
            wake_due: 0,
            started: false,
        });
        Some(id)
    }

    /// The group's token is cancelled, for `cause` if it is the first. Every
    /// runtime task waiting on it is woken, once.
    fn cancel(&mut self, cause: CancelCause) {
        self.cause.get_or_insert(cause);
        if !self.cancelled {
            self.cancelled = true;
            for task in self.tasks.iter_mut().flatten() {
                if task.pending {
                    task.wake_due += 1;
                }
            }
        }
    }

    /// User future `user` is gone (dropped first), with this outcome.
    fn finish(&mut self, user: usize, res: Res) {
        let model = &mut self.users[user];
        model.dropped = true;
        model.armed = false;
        let task = model.task.expect("a spawned task");
        let cause = match res {
            Res::Panicked(_) => CancelCause::TaskPanicked,
            _ => CancelCause::TaskFailed,
        };
        let fails = self.cancel_on_error && matches!(res, Res::Failed(_) | Res::Panicked(_));
        self.cause_stored |= fails || matches!(res, Res::Cancelled(_));
        self.outcomes.push_back((task, res));
        self.unfinished -= 1;
        if fails {
            self.cancel(cause);
        }
        if self.wake_on_each || self.unfinished == 0 {
            self.next.iter_mut().for_each(JoinerModel::notify);
            self.join.iter_mut().for_each(JoinerModel::notify);
        }
    }

    /// A runtime task runs `user`'s task one step: `true` if it finished.
    /// Once the group is cancelled the future is dropped, not polled.
    fn run_job(&mut self, user: usize) -> bool {
        if self.cancelled {
            let cause = self.cause.expect("a cancelled group has a cause");
            self.finish(user, Res::Cancelled(cause));
            return true;
        }
        let model = &mut self.users[user];
        model.polls += 1;
        let res = match model.plan {
            None => {
                model.armed = true;
                return false;
            }
            Some(Plan::Ok) => Res::Value(user),
            Some(Plan::Err) => Res::Failed(user),
            Some(Plan::Panic) => Res::Panicked(panic_text(user)),
        };
        self.finish(user, res);
        true
    }

    /// Polls runtime task `r`: `true` for `Ready`.
    fn poll_task(&mut self, r: usize) -> bool {
        // Out of the list while it runs: the cancellation its own job may
        // cause does not wake it (its listener is gone with the job).
        let mut task = self.tasks[r].take().expect("a live task");
        task.pending = false;
        task.started = true;
        loop {
            if !self.run_job(task.job) {
                task.pending = true;
                self.tasks[r] = Some(task);
                return false;
            }
            if !task.worker {
                return true;
            }
            match self.queue.pop_front() {
                Some(next) => task.job = next,
                None => {
                    self.running -= 1;
                    return true;
                }
            }
        }
    }

    /// Runtime task `r` is dropped: its job is `Lost` (or `Cancelled` if
    /// the group is); a worker gives its slot back, and the last one drops
    /// the queued tasks too. (A worker never polled drops its slot, and so
    /// the queue, before its first task; one that ran drops its current task
    /// first. Nothing promises an order among outcomes of one drop; the
    /// model pins the one there is.)
    fn drop_task(&mut self, r: usize) {
        let task = self.tasks[r].take().expect("a live task");
        // A worker's fields drop in order: its current task first, then its
        // slot (the last worker's slot drops the queue, FIFO).
        self.lose(task.job);
        if task.worker {
            self.running -= 1;
            if self.running == 0 {
                for user in std::mem::take(&mut self.queue) {
                    self.lose(user);
                }
            }
        }
    }

    fn lose(&mut self, user: usize) {
        let res = match self.cause {
            Some(cause) if self.cancelled => Res::Cancelled(cause),
            _ => Res::Lost,
        };
        self.finish(user, res);
    }

    /// `user`'s future learns its plan; if it holds a waker, the runtime
    /// task that polled it is woken.
    fn resolve(&mut self, user: usize, plan: Plan) {
        let model = &mut self.users[user];
        model.plan = Some(plan);
        if std::mem::take(&mut model.armed) {
            let host = self
                .tasks
                .iter_mut()
                .flatten()
                .find(|task| task.job == user)
                .expect("an armed future has a runtime task");
            host.wake_due += 1;
        }
    }

    /// The group's handle is dropped without a join: it closes and cancels
    /// its token. The first cause wins: `GroupDropped` only if nothing
    /// cancelled it before, also when no task is left (see
    /// `a_group_dropped_after_its_token_was_cancelled_reports_explicit` and
    /// `a_settled_group_dropped_reports_group_dropped`).
    fn drop_group(&mut self) {
        self.handle = Handle::Gone;
        self.closed = true;
        self.cancel(CancelCause::GroupDropped);
        self.cause_stored = true;
    }

    /// What `Spawner::cause` must say (and it stores the cause it reports).
    fn query_cause(&mut self) -> Option<CancelCause> {
        self.cause_stored |= self.cancelled;
        self.cause.filter(|_| self.cancelled)
    }

    /// A poll of the `join_next` future.
    fn poll_next(&mut self, with_id: bool) -> NextSeen {
        match self.outcomes.pop_front() {
            Some((_, Res::Panicked(message))) if self.policy == PanicPolicy::Resume => {
                NextSeen::Panic(message)
            }
            Some((task, res)) => NextSeen::Next(with_id.then_some(task), res),
            None if self.unfinished == 0 => NextSeen::Done,
            None => {
                let next = self.next.as_mut().expect("a join_next future");
                next.registered = true;
                next.woken = false;
                NextSeen::Pending
            }
        }
    }

    /// A poll of the `join` future.
    fn poll_join(&mut self, all: bool) -> JoinSeen {
        self.wake_on_each = false;
        if self.unfinished > 0 {
            let join = self.join.as_mut().expect("a join future");
            join.registered = true;
            join.woken = false;
            return JoinSeen::Pending;
        }
        // Joined: the handle is gone, closed, and nothing is cancelled.
        self.handle = Handle::Gone;
        self.closed = true;
        let outcomes = std::mem::take(&mut self.outcomes);
        let resume = self.policy == PanicPolicy::Resume;
        let first_panic = outcomes.iter().find_map(|(_, res)| match res {
            Res::Panicked(message) => Some(message.clone()),
            _ => None,
        });
        let mut sorted: Vec<(usize, Res)> = outcomes.iter().cloned().collect();
        sorted.sort_by_key(|(task, _)| *task);
        if all {
            return match first_panic {
                Some(message) if resume => JoinSeen::Panic(message),
                _ => JoinSeen::All(sorted.into_iter().map(|(_, res)| res).collect()),
            };
        }
        let failure = outcomes
            .iter()
            .find(|(_, res)| matches!(res, Res::Failed(_) | Res::Panicked(_)));
        let stopped = outcomes
            .iter()
            .find(|(_, res)| matches!(res, Res::Cancelled(_) | Res::Lost));
        match (failure, stopped) {
            (Some((_, Res::Panicked(message))), _) if resume => JoinSeen::Panic(message.clone()),
            (Some((_, res)), _) | (None, Some((_, res))) => JoinSeen::Join(Err(res.clone())),
            (None, None) => JoinSeen::Join(Ok(sorted
                .into_iter()
                .map(|(_, res)| match res {
                    Res::Value(value) => value,
                    other => unreachable!("only values are left: {other:?}"),
                })
                .collect())),
        }
    }
}

// ---------------------------------------------------------------------------
// The real group, and the run.
// ---------------------------------------------------------------------------

struct Real<'g> {
    /// The group while the test holds it.
    cell: &'g RefCell<Option<Group>>,
    spawner: Spawner<usize, usize, ManualRuntime>,
    token: CancellationToken,
    runtime: ManualRuntime,
    controls: Vec<Arc<Mutex<Control>>>,
    tasks: Vec<Option<Tracked<'static, ()>>>,
    /// The `join_next` future (it borrows the group in `cell`), and whether
    /// it is `join_next_with_id`.
    next: Option<(Tracked<'g, NextOutput>, bool)>,
    join: Option<(Tracked<'static, JoinOutput>, bool)>,
}

impl<'g> Real<'g> {
    /// The group, if the test holds it and no `join_next` borrows it.
    fn group(&self) -> Option<std::cell::Ref<'g, Group>> {
        if self.next.is_some() {
            return None;
        }
        std::cell::Ref::filter_map(self.cell.borrow(), Option::as_ref).ok()
    }

    fn control(&self, user: usize) -> MutexGuard<'_, Control> {
        lock(&self.controls[user])
    }
}

fn run_group(setup: &Setup, ops: &[GroupOp]) -> Result<(), TestCaseError> {
    let runtime = ManualRuntime::default();
    let mut builder = Group::builder(runtime.clone()).panic_policy(setup.policy);
    if let Some(limit) = setup.limit {
        builder = builder.limit(limit);
    }
    if setup.keep_going {
        builder = builder.keep_going();
    }
    let group = builder.build();
    let cell = RefCell::new(None);
    let mut real = Real {
        cell: &cell,
        spawner: group.spawner(),
        token: group.cancellation_token(),
        runtime,
        controls: Vec::new(),
        tasks: Vec::new(),
        next: None,
        join: None,
    };
    *cell.borrow_mut() = Some(group);
    let mut model = Model::new(setup);

    for op in ops {
        step(&mut real, &mut model, op)?;
        check(&mut real, &mut model, op)?;
    }

    if let Ending::Join { all } = setup.ending {
        // Everything finishes, and the join returns.
        let start = GroupOp::Join { all, start: true };
        for op in [GroupOp::DropJoinNext, start] {
            step(&mut real, &mut model, &op)?;
            check(&mut real, &mut model, &op)?;
        }
        for user in 0..model.users.len() {
            let model_user = &model.users[user];
            if model_user.task.is_some() && model_user.plan.is_none() && !model_user.dropped {
                resolve(&mut real, &mut model, user, Plan::Ok);
                check(
                    &mut real,
                    &mut model,
                    &format_args!("the end: resolve {user}"),
                )?;
            }
        }
        for r in 0..real.tasks.len() {
            if real.tasks[r].is_some() {
                poll_task(&mut real, &mut model, r)?;
                check(
                    &mut real,
                    &mut model,
                    &format_args!("the end: poll task {r}"),
                )?;
            }
        }
        let poll = GroupOp::Join { all, start: false };
        step(&mut real, &mut model, &poll)?;
        check(&mut real, &mut model, &poll)?;
        prop_assert!(
            real.join.is_none(),
            "the join returns once every task finished"
        );
    }
    // The group goes (if still held), then the runtime polls, or drops,
    // every task left.
    for op in [GroupOp::DropJoinNext, GroupOp::DropJoin, GroupOp::DropGroup] {
        step(&mut real, &mut model, &op)?;
        check(&mut real, &mut model, &op)?;
    }
    for r in 0..real.tasks.len() {
        if real.tasks[r].is_some() {
            if let Ending::ShutDown = setup.ending {
                drop_task(&mut real, &mut model, r)?;
                check(
                    &mut real,
                    &mut model,
                    &format_args!("the end: drop task {r}"),
                )?;
            } else {
                poll_task(&mut real, &mut model, r)?;
                check(
                    &mut real,
                    &mut model,
                    &format_args!("the end: poll task {r}"),
                )?;
            }
        }
    }
    prop_assert!(
        real.tasks.iter().all(Option::is_none),
        "a runtime task outlived its cancelled group"
    );
    prop_assert_eq!(model.unfinished, 0, "every task's outcome is recorded");
    for (user, control) in real.controls.iter().enumerate() {
        prop_assert_eq!(
            lock(control).drops,
            1,
            "future {} dropped exactly once",
            user
        );
    }
    Ok(())
}

fn step(real: &mut Real<'_>, model: &mut Model, op: &GroupOp) -> Result<(), TestCaseError> {
    match *op {
        GroupOp::Spawn(how, behaviour) => spawn(real, model, how, behaviour)?,
        GroupOp::PollTask(ref index) => {
            if let Some(r) = pick(&real.tasks, index) {
                poll_task(real, model, r)?;
            }
        }
        GroupOp::DropTask(ref index) => {
            if let Some(r) = pick(&real.tasks, index) {
                drop_task(real, model, r)?;
            }
        }
        GroupOp::Resolve(ref index, plan) => {
            let users = &model.users;
            let chosen = pick_where(users.len(), index, |u| {
                users[u].task.is_some() && users[u].plan.is_none() && !users[u].dropped
            });
            if let Some(user) = chosen {
                resolve(real, model, user, plan);
            }
        }
        GroupOp::Cancel { via_token } => {
            let via_token = match real.group() {
                Some(group) if !via_token => {
                    group.cancel();
                    false
                }
                _ => {
                    real.token.cancel();
                    true
                }
            };
            model.cause_stored |= !via_token;
            model.cancel(CancelCause::Explicit);
        }
        GroupOp::JoinNext { with_id } => {
            if real.next.is_none() {
                if model.handle != Handle::Held {
                    return Ok(());
                }
                let future = join_next_future(real.cell, with_id);
                real.next = Some((future, with_id));
                model.next = Some(JoinerModel::default());
            }
            let (future, with_id) = real.next.as_mut().expect("a join_next future");
            let with_id = *with_id;
            let seen = match catch_unwind_quietly(|| future.poll()) {
                Err(payload) => NextSeen::Panic(seen_panic(&*payload)),
                Ok(Poll::Pending) => NextSeen::Pending,
                Ok(Poll::Ready(None)) => NextSeen::Done,
                Ok(Poll::Ready(Some((id, result)))) => {
                    NextSeen::Next(id.map(TaskId::index), observe(result))
                }
            };
            let expected = model.poll_next(with_id);
            prop_assert_eq!(&seen, &expected, "join_next");
            if seen != NextSeen::Pending {
                real.next = None;
                model.next = None;
            }
        }
        GroupOp::DropJoinNext => {
            // Cancel-safe: no outcome is lost.
            real.next = None;
            model.next = None;
        }
        GroupOp::Join { all, start } => {
            if real.join.is_none() {
                if !start || model.handle != Handle::Held {
                    return Ok(());
                }
                // `join` takes the group, so a `join_next` goes first.
                real.next = None;
                model.next = None;
                let group = real.cell.borrow_mut().take().expect("the group is held");
                let future = Tracked::new(async move {
                    if all {
                        JoinOutput::All(group.join_all().await)
                    } else {
                        JoinOutput::Join(group.join().await)
                    }
                });
                real.join = Some((future, all));
                model.join = Some(JoinerModel::default());
                model.handle = Handle::InJoin;
            }
            let (future, all) = real.join.as_mut().expect("a join future");
            let all = *all;
            let seen = match catch_unwind_quietly(|| future.poll()) {
                Err(payload) => JoinSeen::Panic(seen_panic(&*payload)),
                Ok(Poll::Pending) => JoinSeen::Pending,
                Ok(Poll::Ready(JoinOutput::Join(result))) => {
                    JoinSeen::Join(result.map_err(observe_error))
                }
                Ok(Poll::Ready(JoinOutput::All(results))) => {
                    JoinSeen::All(results.into_iter().map(observe).collect())
                }
            };
            let expected = model.poll_join(all);
            prop_assert_eq!(&seen, &expected, "join (all: {})", all);
            if seen != JoinSeen::Pending {
                real.join = None;
                model.join = None;
                // Nothing outlives the group: no runtime task is left, and
                // every future spawned has been dropped.
                prop_assert!(
                    real.tasks.iter().all(Option::is_none),
                    "a runtime task outlived the join"
                );
                for (user, control) in real.controls.iter().enumerate() {
                    if model.users[user].task.is_some() {
                        prop_assert_eq!(lock(control).drops, 1, "future {} at the join", user);
                    }
                }
            }
        }
        GroupOp::DropJoin => {
            if real.join.take().is_some() {
                model.join = None;
                model.drop_group();
            }
        }
        GroupOp::DropGroup => {
            if model.handle == Handle::Held {
                real.next = None;
                model.next = None;
                let group = real.cell.borrow_mut().take();
                drop(group);
                model.drop_group();
            }
        }
        GroupOp::Close => {
            if let Some(group) = real.group() {
                group.close();
                model.closed = true;
            }
        }
        GroupOp::Cause => {
            let expected = model.query_cause();
            prop_assert_eq!(real.spawner.cause(), expected, "Spawner::cause");
        }
    }
    Ok(())
}

fn spawn(
    real: &mut Real<'_>,
    model: &mut Model,
    how: SpawnHow,
    behaviour: Behaviour,
) -> Result<(), TestCaseError> {
    let user = real.controls.len();
    let plan = match behaviour {
        Behaviour::Now(plan) => Some(plan),
        Behaviour::Gated => None,
    };
    let control = Arc::new(Mutex::new(Control {
        plan,
        ..Control::default()
    }));
    real.controls.push(Arc::clone(&control));
    model.users.push(UserModel {
        plan,
        ..UserModel::default()
    });
    let future = UserFuture { user, control };
    let try_spawn = matches!(how, SpawnHow::TrySpawn | SpawnHow::SpawnerTrySpawn);
    let group = real.group();
    let through_group = group.is_some() && matches!(how, SpawnHow::Spawn | SpawnHow::TrySpawn);
    // Every spawning method, on the group and on its spawner, has the same
    // contract: a refusal says full or closed and hands the future back.
    let result = match group {
        Some(group) if through_group => {
            if try_spawn {
                group.try_spawn(future)
            } else {
                group.spawn(future)
            }
        }
        _ if try_spawn => real.spawner.try_spawn(future),
        _ => real.spawner.spawn(future),
    };
    let closed_before = model.closed;
    match (result, model.spawn(user, try_spawn)) {
        (Ok(id), Some(expected)) => prop_assert_eq!(id.index(), expected, "task id"),
        (Err(refused), None) => {
            prop_assert_eq!(refused.is_closed(), closed_before, "closed, or else full");
            prop_assert!(
                try_spawn || refused.is_closed(),
                "only try_spawn refuses a full group"
            );
            let future = refused.into_inner();
            prop_assert_eq!(future.user, user, "the refused future is handed back");
            prop_assert_eq!(real.control(user).drops, 0, "handed back undropped");
            model.users[user].dropped = true;
        }
        (Ok(id), None) => {
            return Err(TestCaseError::fail(format!(
                "{how:?} gave {id:?}; the model refuses it"
            )))
        }
        (Err(_), Some(id)) => {
            return Err(TestCaseError::fail(format!(
                "{how:?} was refused; the model gives task #{id}"
            )))
        }
    }
    Ok(())
}

/// A `join_next` (or `join_next_with_id`) future on the group in `cell`.
///
/// It holds the cell's `RefMut` across its awaits on purpose: that is the
/// `&mut` borrow of the group a `join_next` future holds, and the test never
/// borrows the group while such a future is alive (see [`Real::group`]).
#[allow(clippy::await_holding_refcell_ref)]
fn join_next_future(cell: &RefCell<Option<Group>>, with_id: bool) -> Tracked<'_, NextOutput> {
    Tracked::new(async move {
        let mut held = cell.borrow_mut();
        let group = held.as_mut().expect("the group is held");
        if with_id {
            let next = group.join_next_with_id().await;
            next.map(|(id, result)| (Some(id), result))
        } else {
            group.join_next().await.map(|result| (None, result))
        }
    })
}

/// `user`'s pending future learns its plan, and wakes its waker.
fn resolve(real: &mut Real<'_>, model: &mut Model, user: usize, plan: Plan) {
    model.resolve(user, plan);
    let waker = {
        let mut control = real.control(user);
        control.plan = Some(plan);
        control.waker.take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
}

fn poll_task(real: &mut Real<'_>, model: &mut Model, r: usize) -> Result<(), TestCaseError> {
    let task = real.tasks[r].as_mut().expect("a live task");
    let polled = catch_unwind_quietly(|| task.poll());
    prop_assert!(polled.is_ok(), "runtime task #{} panicked", r);
    let ready = polled.is_ok_and(|poll| poll.is_ready());
    prop_assert_eq!(ready, model.poll_task(r), "runtime task #{} ready", r);
    if ready {
        real.tasks[r] = None;
    }
    Ok(())
}

fn drop_task(real: &mut Real<'_>, model: &mut Model, r: usize) -> Result<(), TestCaseError> {
    let task = real.tasks[r].take();
    prop_assert!(
        catch_unwind_quietly(|| drop(task)).is_ok(),
        "dropping runtime task #{} panicked",
        r
    );
    model.drop_task(r);
    Ok(())
}

/// The checks after every step.
fn check(real: &mut Real<'_>, model: &mut Model, op: &dyn Debug) -> Result<(), TestCaseError> {
    let spawned: Vec<Spawned> = std::mem::take(&mut *lock(&real.runtime.spawned));
    prop_assert_eq!(
        spawned.len(),
        model.spawned.len(),
        "runtime tasks spawned by {:?}",
        op
    );
    for (future, task) in spawned.into_iter().zip(std::mem::take(&mut model.spawned)) {
        real.tasks.push(Some(Tracked::new(future)));
        model.tasks.push(Some(task));
    }
    prop_assert_eq!(
        real.token.is_cancelled(),
        model.cancelled,
        "token cancelled after {:?}",
        op
    );
    if let Some(group) = real.group() {
        prop_assert_eq!(
            group.len(),
            model.unfinished + model.outcomes.len(),
            "len after {:?}",
            op
        );
        prop_assert_eq!(group.is_closed(), model.closed, "is_closed after {:?}", op);
    }
    for (user, expected) in model.users.iter().enumerate() {
        let control = real.control(user);
        prop_assert_eq!(
            control.polls,
            expected.polls,
            "future {} polls after {:?}",
            user,
            op
        );
        prop_assert_eq!(
            control.drops,
            usize::from(expected.dropped),
            "future {} drops after {:?}",
            user,
            op
        );
    }
    for (r, task) in real.tasks.iter_mut().enumerate() {
        if let Some(task) = task {
            let expected = model.tasks[r].as_mut().expect("the model's task is live");
            let due = std::mem::take(&mut expected.wake_due);
            prop_assert_eq!(
                task.new_wakes(),
                due,
                "runtime task #{} ({:?}) wakes after {:?}",
                r,
                expected,
                op
            );
        }
    }
    if let (Some((future, _)), Some(expected)) = (real.next.as_mut(), model.next.as_mut()) {
        let due = usize::from(std::mem::take(&mut expected.wake_due));
        prop_assert_eq!(future.new_wakes(), due, "join_next wakes after {:?}", op);
    }
    if let (Some((future, _)), Some(expected)) = (real.join.as_mut(), model.join.as_mut()) {
        let due = usize::from(std::mem::take(&mut expected.wake_due));
        prop_assert_eq!(future.new_wakes(), due, "join wakes after {:?}", op);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn matches_model(
        setup in setup(),
        ops in prop::collection::vec(group_op(), 1..60),
    ) {
        run_group(&setup, &ops)?;
    }
}

// ---------------------------------------------------------------------------
// Open bugs the model found, each in its smallest sequence.
// ---------------------------------------------------------------------------

/// Polls a runtime task once, with a waker that does nothing.
fn poll_once(task: &mut Spawned) -> Poll<()> {
    task.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

/// The runtime tasks spawned since the last call.
fn take_spawned(runtime: &ManualRuntime) -> Vec<Spawned> {
    std::mem::take(&mut *lock(&runtime.spawned))
}

/// Dropping a group with no task left cancels its token, and must say why.
///
/// The bug: `Shared::close` stores `GroupDropped` only while tasks are left,
/// yet cancels the token either way; `cause()` then finds a cancelled token
/// with no cause and works out `Explicit`, though nobody cancelled the
/// group. Found by the model as `[DropGroup, Cause]`.
#[test]
// Was a bug (fixed): a group dropped with no task left reported cause Explicit.
fn a_settled_group_dropped_reports_group_dropped() {
    let group = Group::new(ManualRuntime::default());
    let spawner = group.spawner();
    let token = group.cancellation_token();
    drop(group);
    assert!(token.is_cancelled());
    assert_eq!(spawner.cause(), Some(CancelCause::GroupDropped));
}

/// Cancelling the group's token and then dropping the group: the first
/// cause, `Explicit`, wins.
///
/// The bug: cancelling the token directly stores no cause (it is worked out
/// lazily, the first time someone asks or a task records `Cancelled`); if
/// the group is dropped before that, with a task left, `Shared::close`
/// stores `GroupDropped` over it. Found by the model as `[Spawn, Cancel {
/// via_token: true }, DropGroup, Cause]` (the task not polled yet).
#[test]
// Was a bug (fixed): token cancelled, then group dropped: cause GroupDropped, not Explicit.
fn a_group_dropped_after_its_token_was_cancelled_reports_explicit() {
    let runtime = ManualRuntime::default();
    let group = Group::new(runtime.clone());
    let spawner = group.spawner();
    let token = group.cancellation_token();
    group.spawn(std::future::pending()).unwrap();
    token.cancel();
    drop(group);
    assert_eq!(spawner.cause(), Some(CancelCause::Explicit));
    drop(take_spawned(&runtime));
}

/// With a limit, tasks start in spawn order, also after the runtime lost a
/// worker.
///
/// The bug: a lost worker gives its slot back but leaves the queue to the
/// other workers (`Shared::release_slot_after_loss`), so a slot is free
/// while a task waits; the next `spawn` sees `running < limit` and starts a
/// worker for the *new* task, which overtakes the queued one (and the queued
/// one waits for a busy worker although the group is below its limit). The
/// model follows this behaviour, in `Model::spawn`.
#[test]
// Was a bug (fixed): after a worker was lost, a later spawn overtook the queue.
fn a_lost_worker_lets_a_later_task_overtake_the_queue() {
    let runtime = ManualRuntime::default();
    let group = Group::builder(runtime.clone()).limit(2).build();
    let started = Arc::new(Mutex::new(Vec::new()));
    let task = |n: usize| {
        let started = Arc::clone(&started);
        async move {
            lock(&started).push(n);
            std::future::pending::<Result<usize, usize>>().await
        }
    };
    group.spawn(task(0)).unwrap();
    group.spawn(task(1)).unwrap();
    group.spawn(task(2)).unwrap(); // queued: the limit is reached
    let mut workers = take_spawned(&runtime);
    assert_eq!(workers.len(), 2);
    for worker in &mut workers {
        assert!(poll_once(worker).is_pending());
    }
    drop(workers.pop()); // the runtime loses the worker running task 1
    group.spawn(task(3)).unwrap();
    workers.extend(take_spawned(&runtime));
    for worker in &mut workers {
        assert!(poll_once(worker).is_pending());
    }
    assert_eq!(
        *lock(&started),
        [0, 1, 2],
        "task 2 waited first, so it takes the free slot"
    );
    group.cancel();
    drop(workers);
}
