//! Faults users hit, and what the library does with them:
//!
//! * **The runtime goes away under a group** (tokio runtime dropped, smol
//!   `Executor` dropped or no longer driven, an executor that drops the tasks
//!   it is given): `join` must finish with [`GroupError::Lost`] for the tasks
//!   that never finished, and keep the values of those that did. async-std
//!   has only its global runtime, which cannot be shut down, so it has no
//!   test here.
//! * **A waker that panics** when woken (hand-written `Waker`s through
//!   `std::task::Wake`, futures polled by hand): where the panic goes (to
//!   whoever called `done()`, `count_down()`, `cancel()`, dropped a `Permit`,
//!   or — for a group's joiner — into the task that finished last), and
//!   whether the primitive is still consistent afterwards.
//! * **A waker that re-enters** the library from `wake()` (`add`/`done`,
//!   `cancel`, `try_acquire`, dropping permits, spawning into a group): must
//!   not deadlock. Every such test runs on a thread of its own with a time-out,
//!   so a deadlock fails the test instead of hanging it.
//!
//! The per-runtime fault tests (a panic in a task's `Drop`, a task that does
//! not yield when cancelled) are in the shared suite, `tests/suite/faults.rs`.
//!
//! Run: `cargo test --all-features --test faults`. The `#[ignore]`d tests
//! each show a bug that is not fixed yet (the reason says which); they fail
//! when run with `-- --ignored`.
#![cfg(not(loom))]

#[path = "support/hang.rs"]
mod hang;
#[path = "support/ledger.rs"]
mod ledger;

use hang::finishes;

use ledger::{Ledger, Ticket};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use taskgroup::runtime::{Runtime, SmolRuntime, TokioRuntime};
use taskgroup::{
    CancellationToken, ErrGroup, GroupError, Latch, Semaphore, TryAcquireError, WaitGroup,
};

/// Joins `group` on a thread of its own with [`finishes`], so a hang fails.
fn join_all_elsewhere<T: Send + 'static, E: Send + 'static, R: Runtime>(
    group: ErrGroup<T, E, R>,
) -> Vec<Result<T, GroupError<E>>> {
    finishes("join_all", move || {
        futures::executor::block_on(group.join_all())
    })
}

/// The message of a caught panic (`&str` or `String` payload).
fn message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("<non-string payload>")
}

/// A value whose drop panics.
struct ExplodesOnDrop;

impl Drop for ExplodesOnDrop {
    fn drop(&mut self) {
        panic!("drop exploded");
    }
}

fn tokio_current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn tokio_multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------
// The runtime goes away under a group.
// ---------------------------------------------------------------------------

#[test]
fn tokio_runtime_shut_down_under_a_group_reports_lost_tasks_and_keeps_results() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let group = ErrGroup::<u32, (), _>::new(TokioRuntime::from_handle(runtime.handle().clone()));
    let finished = WaitGroup::new();
    let guard = finished.enter();
    group
        .spawn(async move {
            drop(guard);
            Ok(1)
        })
        .unwrap();
    group.spawn(std::future::pending()).unwrap();
    group
        .spawn(async {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            Ok(3)
        })
        .unwrap();
    finished.wait_blocking();
    drop(runtime); // drops every task the runtime still holds
    let outcomes = join_all_elsewhere(group);
    assert!(matches!(outcomes[0], Ok(1)), "the finished result is kept");
    assert!(matches!(outcomes[1], Err(GroupError::Lost)));
    assert!(matches!(outcomes[2], Err(GroupError::Lost)));
    assert_eq!(
        GroupError::<String>::Lost.to_string(),
        "task lost: the runtime dropped it before it finished"
    );
}

#[test]
fn runtime_shut_down_under_a_limited_group_reports_queued_tasks_too() {
    // Two workers hold the slots, three tasks wait in the group's queue:
    // when the runtime drops the workers, the queue is dropped with them.
    let runtime = tokio_current_thread();
    let group =
        ErrGroup::<u32, (), _>::builder(TokioRuntime::from_handle(runtime.handle().clone()))
            .limit(2)
            .build();
    let ledger = Arc::new(Ledger::default());
    let started = Latch::new(2);
    for _ in 0..5 {
        let (ticket, started) = (ledger.ticket(), started.clone());
        group
            .spawn(async move {
                started.count_down();
                std::future::pending::<()>().await;
                ticket.complete();
                Ok(0)
            })
            .unwrap();
    }
    // Let both workers start, then shut the runtime down under them.
    runtime.block_on(started.wait());
    drop(runtime);
    let outcomes = join_all_elsewhere(group);
    assert_eq!(outcomes.len(), 5);
    assert!(outcomes.iter().all(|o| matches!(o, Err(GroupError::Lost))));
    assert_eq!(
        ledger.settled(),
        (0, 5),
        "every future, queued or running, was dropped"
    );
}

#[test]
fn tokio_current_thread_shut_down_join_returns_lost_and_join_next_keeps_the_finished_value() {
    // `join`: the lost task turns the whole join into `Err(Lost)`.
    let runtime = tokio_current_thread();
    let group = ErrGroup::<u32, (), _>::new(TokioRuntime::from_handle(runtime.handle().clone()));
    let first_done = Latch::new(1);
    let signal = first_done.clone();
    group
        .spawn(async move {
            signal.count_down();
            Ok(1)
        })
        .unwrap();
    group.spawn(std::future::pending()).unwrap();
    runtime.block_on(first_done.wait());
    drop(runtime);
    let joined = finishes("join", move || futures::executor::block_on(group.join()));
    assert!(matches!(joined, Err(GroupError::Lost)), "{joined:?}");

    // `join_next`: the value taken before the shutdown, then the lost task,
    // then the end.
    let runtime = tokio_current_thread();
    let mut group =
        ErrGroup::<u32, (), _>::new(TokioRuntime::from_handle(runtime.handle().clone()));
    let finished = group.spawn(async { Ok(1) }).unwrap();
    let lost = group.spawn(std::future::pending()).unwrap();
    let (id, first) = runtime.block_on(group.join_next_with_id()).unwrap();
    assert_eq!((id, first.ok()), (finished, Some(1)));
    drop(runtime);
    let rest = finishes("join_next", move || {
        futures::executor::block_on(async move {
            let next = group.join_next_with_id().await;
            let end = group.join_next().await;
            (next, end.is_none())
        })
    });
    assert!(matches!(rest, (Some((id, Err(GroupError::Lost))), true) if id == lost));
}

#[test]
fn tokio_shut_down_under_a_task_whose_drop_panics_reports_it_lost_and_keeps_the_rest() {
    let runtime = tokio_current_thread();
    let group = ErrGroup::<u32, (), _>::new(TokioRuntime::from_handle(runtime.handle().clone()));
    let started = Latch::new(2);
    for _ in 0..2 {
        let started = started.clone();
        group
            .spawn(async move {
                let _bomb = ExplodesOnDrop;
                started.count_down();
                std::future::pending::<()>().await;
                Ok(0)
            })
            .unwrap();
    }
    group.spawn(async { Ok(3) }).unwrap();
    runtime.block_on(started.wait());
    // tokio catches a panic in a task's drop at shutdown: none reaches us.
    drop(runtime);
    let outcomes = join_all_elsewhere(group);
    assert!(matches!(
        outcomes[..],
        [Err(GroupError::Lost), Err(GroupError::Lost), Ok(3)]
    ));
}

#[test]
fn tokio_shut_down_under_nested_groups_reports_lost_and_drops_the_child_tasks() {
    // The child group lives in a task of the parent; the runtime drops that
    // task, which drops the child group, whose own tasks the runtime drops.
    let runtime = tokio_multi_thread();
    let parent = ErrGroup::<u32, (), _>::new(TokioRuntime::from_handle(runtime.handle().clone()));
    let ledger = Arc::new(Ledger::default());
    let child = parent.child::<u32, ()>();
    let started = Latch::new(3);
    for _ in 0..3 {
        let (ticket, started) = (ledger.ticket(), started.clone());
        child
            .spawn(async move {
                started.count_down();
                std::future::pending::<()>().await;
                ticket.complete();
                Ok(0)
            })
            .unwrap();
    }
    parent
        .spawn(async move {
            let values = child.join().await.map_err(drop)?;
            Ok(values.len() as u32)
        })
        .unwrap();
    parent.spawn(async { Ok(7) }).unwrap();
    started.wait_blocking();
    drop(runtime);
    let outcomes = join_all_elsewhere(parent);
    assert!(
        matches!(outcomes[..], [Err(GroupError::Lost), Ok(7)]),
        "{outcomes:?}"
    );
    assert_eq!(ledger.settled(), (0, 3));
}

/// An executor that drops every future it is given, unpolled (one that is
/// shutting down, say).
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
fn an_executor_that_drops_its_tasks_unpolled_gets_every_task_reported_lost() {
    for limit in [None, Some(1), Some(2)] {
        let ledger = Arc::new(Ledger::default());
        let builder = ErrGroup::<u32, (), _>::builder(DropsEverything);
        let group = match limit {
            Some(limit) => builder.limit(limit).build(),
            None => builder.build(),
        };
        for value in 0..5 {
            let ticket = ledger.ticket();
            group
                .spawn(async move {
                    ticket.complete();
                    Ok(value)
                })
                .unwrap();
        }
        let outcomes = join_all_elsewhere(group);
        assert_eq!(outcomes.len(), 5, "limit {limit:?}");
        assert!(
            outcomes.iter().all(|o| matches!(o, Err(GroupError::Lost))),
            "limit {limit:?}: {outcomes:?}"
        );
        assert_eq!(ledger.settled(), (0, 5), "limit {limit:?}");
    }
}

/// Runs `executor` on this thread until `latch` opens.
fn drive_until(executor: &smol::Executor<'static>, latch: &Latch) {
    smol::block_on(executor.run(latch.wait()));
}

#[test]
fn smol_executor_no_longer_driven_is_freed_with_its_group_and_drops_every_task() {
    // The group's `SmolRuntime` holds the executor weakly: once the user's
    // handle is gone, the executor goes too, and it drops the tasks it still
    // holds (each is recorded, and nothing leaks).
    let executor = Arc::new(smol::Executor::new());
    let weak_executor = Arc::downgrade(&executor);
    let ledger = Arc::new(Ledger::default());
    let group = ErrGroup::<Ticket, (), _>::new(SmolRuntime::with_executor(Arc::clone(&executor)));
    let first_done = Latch::new(1);
    let (ticket, signal) = (ledger.ticket(), first_done.clone());
    group
        .spawn(async move {
            signal.count_down();
            // The value stays in the group's bookkeeping, unjoined.
            Ok(ticket)
        })
        .unwrap();
    for _ in 0..3 {
        let ticket = ledger.ticket();
        group
            .spawn(async move {
                std::future::pending::<()>().await;
                ticket.complete();
                Ok(Ticket(None))
            })
            .unwrap();
    }
    drive_until(&executor, &first_done);
    drop(executor); // the user stops driving it, and drops it
    assert!(weak_executor.upgrade().is_none(), "the executor was freed");
    assert_eq!(
        ledger.counts(),
        (0, 3),
        "the executor dropped the unfinished futures with itself"
    );
    drop(group);
    assert_eq!(
        ledger.settled(),
        (0, 4),
        "the unfinished futures were dropped, and the unjoined value with the group"
    );
    assert_eq!(
        Arc::strong_count(&ledger),
        1,
        "nothing holds the ledger any more"
    );
}

#[test]
// Was a bug (fixed): SmolRuntime held the executor strongly, so a join on a dropped executor hung.
fn smol_executor_dropped_by_its_owner_gets_the_group_lost_instead_of_hanging() {
    let executor = Arc::new(smol::Executor::new());
    let group = ErrGroup::<u32, (), _>::new(SmolRuntime::with_executor(Arc::clone(&executor)));
    let first_done = Latch::new(1);
    let signal = first_done.clone();
    group
        .spawn(async move {
            signal.count_down();
            Ok(1)
        })
        .unwrap();
    group.spawn(std::future::pending()).unwrap();
    drive_until(&executor, &first_done);
    // The owner drops its executor and stops driving it, as it would drop a
    // tokio runtime. The group's runtime handle holds it only weakly.
    drop(executor);
    let outcomes = join_all_elsewhere(group);
    assert!(matches!(outcomes[..], [Ok(1), Err(GroupError::Lost)]));
}

const CHILD_PROCESS: &str = "TASKGROUP_FAULTS_CHILD_PROCESS";

#[test]
// Was a bug (fixed): a panic in a task future's Drop, when a smol executor dropped it, aborted the process.
fn smol_executor_dropping_a_task_whose_drop_panics_does_not_abort() {
    // An abort takes the whole test binary down: run the scenario in a child
    // process of this same binary, and look at how it ended.
    if std::env::var_os(CHILD_PROCESS).is_some() {
        let executor = Arc::new(smol::Executor::new());
        let group = ErrGroup::<u32, (), _>::new(SmolRuntime::with_executor(Arc::clone(&executor)));
        let started = Latch::new(1);
        let signal = started.clone();
        group
            .spawn(async move {
                let _bomb = ExplodesOnDrop;
                signal.count_down();
                std::future::pending::<()>().await;
                Ok(1)
            })
            .unwrap();
        drive_until(&executor, &started);
        drop(executor);
        // The last handle on the executor: it drops the task, and the bomb.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(group)));
        return;
    }
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "smol_executor_dropping_a_task_whose_drop_panics_does_not_abort",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_PROCESS, "1")
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "the child process ended with {}:\n{}",
        child.status,
        String::from_utf8_lossy(&child.stderr)
    );
}

// ---------------------------------------------------------------------------
// Hand-written wakers.
// ---------------------------------------------------------------------------

/// A waker whose `wake` panics.
struct Explodes;

impl Wake for Explodes {
    fn wake(self: Arc<Self>) {
        panic!("waker exploded");
    }
}

fn exploding_waker() -> Waker {
    Waker::from(Arc::new(Explodes))
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct Counts(AtomicUsize);

impl Counts {
    fn waker() -> (Arc<Self>, Waker) {
        let counts = Arc::new(Self::default());
        (Arc::clone(&counts), Waker::from(counts))
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for Counts {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that runs `action` when woken, then wakes the thread that made
/// it (for [`block_on_with`]).
struct Reenters {
    action: Box<dyn Fn() + Send + Sync>,
    wakes: AtomicUsize,
    /// Set after `action` ran: [`block_on_with`] polls again only then.
    woken: AtomicBool,
    thread: std::thread::Thread,
}

impl Reenters {
    fn waker(action: impl Fn() + Send + Sync + 'static) -> (Arc<Self>, Waker) {
        let reenters = Arc::new(Self {
            action: Box::new(action),
            wakes: AtomicUsize::new(0),
            woken: AtomicBool::new(false),
            thread: std::thread::current(),
        });
        (Arc::clone(&reenters), Waker::from(reenters))
    }

    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for Reenters {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        (self.action)();
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

fn poll<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

/// Polls `future` to the end on this thread (the one that made
/// `reenters`) with its waker, polling again only after a wake-up, once the
/// waker's action has run.
fn block_on_with<F: Future>(future: F, reenters: &Arc<Reenters>) -> F::Output {
    let waker = Waker::from(Arc::clone(reenters));
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return output;
        }
        while !reenters.woken.swap(false, Ordering::SeqCst) {
            std::thread::park();
        }
    }
}

// --- A waker that panics when woken ---

#[test]
fn a_panicking_waker_propagates_out_of_done_and_count_down_and_the_count_stays_consistent() {
    let wg = WaitGroup::new();
    wg.add(1);
    let mut doomed = ManuallyDrop::new(wg.wait());
    assert!(poll(&mut *doomed, &exploding_waker()).is_pending());
    let payload = catch_unwind(AssertUnwindSafe(|| wg.done())).unwrap_err();
    assert_eq!(
        message(&*payload),
        "waker exploded",
        "the caller of done() gets the panic"
    );
    assert_eq!(wg.count(), 0, "the decrement happened before the wake-up");
    assert!(
        poll(&mut wg.wait(), Waker::noop()).is_ready(),
        "a new waiter sees zero"
    );
    wg.add(2);
    wg.done();
    wg.done();
    assert_eq!(wg.count(), 0, "the group is reusable");
    // Dropping the doomed waiter panics today (see the ignored test
    // `the_waiter_whose_waker_panicked_can_be_dropped_and_the_group_still_wakes`).
    let _ = catch_unwind(AssertUnwindSafe(move || {
        drop(ManuallyDrop::into_inner(doomed))
    }));

    let latch = Latch::new(1);
    let mut doomed = ManuallyDrop::new(latch.wait());
    assert!(poll(&mut *doomed, &exploding_waker()).is_pending());
    let payload = catch_unwind(AssertUnwindSafe(|| latch.count_down())).unwrap_err();
    assert_eq!(message(&*payload), "waker exploded");
    assert_eq!(latch.count(), 0);
    assert!(latch.try_wait(), "the latch is open");
    assert!(poll(&mut latch.wait(), Waker::noop()).is_ready());
    let _ = catch_unwind(AssertUnwindSafe(move || {
        drop(ManuallyDrop::into_inner(doomed))
    }));
}

#[test]
#[ignore = "bug: event-listener 5.4 wakes listeners one by one under its lock; a panicking \
            waker ends Event::notify, so every waiter registered after it is never woken"]
fn waiters_behind_a_panicking_waker_are_still_woken() {
    let wg = WaitGroup::new();
    wg.add(1);
    let mut doomed = ManuallyDrop::new(wg.wait());
    assert!(poll(&mut *doomed, &exploding_waker()).is_pending());
    let (counts, waker) = Counts::waker();
    let mut others: Vec<_> = (0..3).map(|_| wg.wait()).collect();
    for other in &mut others {
        assert!(poll(other, &waker).is_pending());
    }
    let _ = catch_unwind(AssertUnwindSafe(|| wg.done()));
    assert_eq!(counts.get(), 3, "every other waiter is woken");
    for other in &mut others {
        assert!(poll(other, &waker).is_ready());
    }
    // Not dropped: its drop is the other bug.
}

#[test]
#[ignore = "bug: a panicking waker leaves event-listener's notified count one short: removing \
            that listener later underflows (debug: 'attempt to subtract with overflow'; release: \
            the count wraps and the Event never notifies again, so every later wait hangs)"]
fn the_waiter_whose_waker_panicked_can_be_dropped_and_the_group_still_wakes() {
    let wg = WaitGroup::new();
    wg.add(1);
    let mut doomed = ManuallyDrop::new(wg.wait());
    assert!(poll(&mut *doomed, &exploding_waker()).is_pending());
    let _ = catch_unwind(AssertUnwindSafe(|| wg.done()));
    drop(ManuallyDrop::into_inner(doomed));
    // The next rounds wake their waiters as usual.
    let (counts, waker) = Counts::waker();
    for round in 1..=3 {
        wg.add(1);
        let mut waiter = wg.wait();
        assert!(poll(&mut waiter, &waker).is_pending());
        wg.done();
        assert_eq!(counts.get(), round, "round {round}: the waiter is woken");
        assert!(poll(&mut waiter, &waker).is_ready());
    }
}

#[test]
fn a_panicking_waker_propagates_out_of_cancel_and_the_token_is_cancelled() {
    let token = CancellationToken::new();
    let mut doomed = ManuallyDrop::new(token.cancelled());
    assert!(poll(&mut *doomed, &exploding_waker()).is_pending());
    let payload = catch_unwind(AssertUnwindSafe(|| token.cancel())).unwrap_err();
    assert_eq!(message(&*payload), "waker exploded");
    assert!(token.is_cancelled());
    assert!(poll(&mut token.cancelled(), Waker::noop()).is_ready());
    assert!(
        token.child_token().is_cancelled(),
        "children made later are born cancelled"
    );
    let _ = catch_unwind(AssertUnwindSafe(move || {
        drop(ManuallyDrop::into_inner(doomed))
    }));
}

#[test]
// Was a bug (fixed): a panicking waker stopped cancel() before it reached the child tokens.
fn cancel_reaches_the_child_tokens_even_when_a_waiters_waker_panics() {
    let token = CancellationToken::new();
    let child = token.child_token();
    let mut doomed = ManuallyDrop::new(token.cancelled());
    assert!(poll(&mut *doomed, &exploding_waker()).is_pending());
    let (counts, waker) = Counts::waker();
    let mut child_waiter = child.cancelled();
    assert!(poll(&mut child_waiter, &waker).is_pending());
    let _ = catch_unwind(AssertUnwindSafe(|| token.cancel()));
    assert!(
        child.is_cancelled(),
        "the child is cancelled with its parent"
    );
    assert_eq!(counts.get(), 1, "the child's waiter is woken");
    // Not dropped: its drop is another bug.
}

#[test]
fn a_panicking_waker_propagates_out_of_a_permit_drop_and_no_permit_is_lost() {
    // Strict FIFO (a zero hand-off bound): the release hands the permit over.
    let sem = Semaphore::with_handoff_after(1, false, Duration::ZERO);
    let held = sem.try_acquire().unwrap();
    let mut doomed = ManuallyDrop::new(sem.acquire());
    assert!(poll(&mut *doomed, &exploding_waker()).is_pending());
    let (counts, waker) = Counts::waker();
    let mut next = sem.acquire();
    assert!(poll(&mut next, &waker).is_pending());
    // The release hands the permit to the doomed waiter, then wakes it.
    let payload = catch_unwind(AssertUnwindSafe(move || drop(held))).unwrap_err();
    assert_eq!(
        message(&*payload),
        "waker exploded",
        "Permit::drop panics with the waker's panic"
    );
    assert_eq!(
        sem.available_permits(),
        0,
        "the permit went to the doomed waiter"
    );
    assert_eq!(counts.get(), 0, "the waiter behind it waits its turn");
    // The doomed waiter gives its permit back when dropped (its drop may
    // panic in event-listener today: see the ignored tests above).
    let _ = catch_unwind(AssertUnwindSafe(move || {
        drop(ManuallyDrop::into_inner(doomed))
    }));
    assert_eq!(
        counts.get(),
        1,
        "the permit went on to the next waiter, who is woken"
    );
    let permit = match poll(&mut next, &waker) {
        Poll::Ready(Ok(permit)) => permit,
        other => panic!("the next waiter has its permit: {other:?}"),
    };
    drop(permit);
    assert_eq!(
        (sem.available_permits(), sem.capacity()),
        (1, 1),
        "no permit lost or made up"
    );
}

#[test]
#[ignore = "bug: a panicking waker among a group token's waiters stops the cancellation's \
            wake-ups (event-listener), so the group's tasks are never cancelled and join hangs"]
fn a_panicking_waker_on_the_group_token_does_not_hang_the_join() {
    let runtime = tokio_multi_thread();
    let group = ErrGroup::<(), &str, _>::new(TokioRuntime::from_handle(runtime.handle().clone()));
    let token = group.cancellation_token();
    let mut doomed = ManuallyDrop::new(token.cancelled());
    assert!(poll(&mut *doomed, &exploding_waker()).is_pending());
    let started = Latch::new(1);
    let signal = started.clone();
    group
        .spawn(async move {
            signal.count_down();
            std::future::pending().await
        })
        .unwrap();
    started.wait_blocking();
    group.spawn(async { Err("fail") }).unwrap();
    let joined = finishes("join", move || futures::executor::block_on(group.join()));
    assert!(matches!(joined, Err(GroupError::Task("fail"))));
    drop(runtime);
}

/// A task as [`ByHand`] keeps it.
type BoxedTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An executor run by hand: it keeps what it is given, and the test polls it.
#[derive(Clone, Default)]
struct ByHand(Arc<Mutex<Vec<BoxedTask>>>);

impl ByHand {
    /// Polls every task spawned so far once (with a no-op waker), keeping
    /// those still pending; returns the panics that came out of the polls.
    fn poll_all(&self) -> Vec<Box<dyn std::any::Any + Send>> {
        let tasks = std::mem::take(&mut *self.0.lock().unwrap());
        let mut panics = Vec::new();
        for mut task in tasks {
            let mut context = Context::from_waker(Waker::noop());
            match catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(&mut context))) {
                Ok(Poll::Pending) => self.0.lock().unwrap().push(task),
                Ok(Poll::Ready(())) => {}
                Err(payload) => panics.push(payload),
            }
        }
        panics
    }
}

impl Runtime for ByHand {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.0.lock().unwrap().push(Box::pin(future));
    }

    fn sleep(&self, _: Duration) -> impl Future<Output = ()> + Send + 'static {
        std::future::pending()
    }
}

#[test]
fn a_panicking_joiner_waker_panics_in_the_task_that_finishes_last_and_the_outcome_is_kept() {
    let executor = ByHand::default();
    let mut group = ErrGroup::<u32, (), _>::new(executor.clone());
    group.spawn(async { Ok(7) }).unwrap();
    let mut next = Box::pin(group.join_next());
    assert!(next
        .as_mut()
        .poll(&mut Context::from_waker(&exploding_waker()))
        .is_pending());
    // The task finishes and wakes the joiner: the waker's panic comes out of
    // the task's poll, in the executor, after the outcome was recorded.
    let panics = executor.poll_all();
    assert_eq!(panics.len(), 1);
    assert_eq!(message(&*panics[0]), "waker exploded");
    // Leave the poisoned listener alone (see the ignored test below): the
    // outcome is there for the next join.
    std::mem::forget(next);
    assert_eq!(
        group.len(),
        1,
        "the outcome is recorded, waiting for a join"
    );
    let mut again = Box::pin(group.join_next());
    match again.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Some(Ok(7))) => {}
        other => panic!("the value is kept: {other:?}"),
    }
}

#[test]
#[ignore = "bug: once the joiner's waker panicked (in the task that finished last, via \
            event-listener), polling that join again panics in event-listener \
            ('attempt to subtract with overflow') instead of returning the values"]
fn a_join_whose_waker_panicked_once_still_returns_the_values() {
    let executor = ByHand::default();
    let group = ErrGroup::<u32, (), _>::new(executor.clone());
    group.spawn(async { Ok(7) }).unwrap();
    let mut join = Box::pin(group.join());
    assert!(join
        .as_mut()
        .poll(&mut Context::from_waker(&exploding_waker()))
        .is_pending());
    assert_eq!(
        executor.poll_all().len(),
        1,
        "the waker's panic, in the task"
    );
    match join.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(values)) => assert_eq!(values, vec![7]),
        other => panic!("the join returns the values: {other:?}"),
    }
}

// --- A waker that re-enters the library from `wake()` ---

#[test]
fn a_waker_that_calls_add_and_done_from_wake_does_not_deadlock() {
    finishes("re-entrant done", || {
        let wg = WaitGroup::new();
        let downstream = WaitGroup::new();
        wg.add(1);
        downstream.add(2);
        let (from_wg, to_downstream) = (wg.clone(), downstream.clone());
        let (reentrant, waker) = Reenters::waker(move || {
            // The same group, through a whole round, and another group.
            from_wg.add(1);
            from_wg.done();
            to_downstream.done();
        });
        let mut first = wg.wait();
        let mut second = wg.wait();
        assert!(poll(&mut first, &waker).is_pending());
        assert!(poll(&mut second, &waker).is_pending());
        let (counts, counting) = Counts::waker();
        let mut last = downstream.wait();
        assert!(poll(&mut last, &counting).is_pending());
        wg.done();
        assert_eq!(reentrant.wakes(), 2, "both waiters woken once");
        assert!(poll(&mut first, &waker).is_ready());
        assert!(poll(&mut second, &waker).is_ready());
        assert_eq!((wg.count(), downstream.count()), (0, 0));
        assert_eq!(
            counts.get(),
            1,
            "the downstream waiter woken from inside wake()"
        );
        assert!(poll(&mut last, &counting).is_ready());
    });
}

#[test]
fn a_waker_that_counts_down_and_checks_latches_from_wake_does_not_deadlock() {
    finishes("re-entrant count_down", || {
        let latch = Latch::new(1);
        let downstream = Latch::new(1);
        let (same, next) = (latch.clone(), downstream.clone());
        let (reentrant, waker) = Reenters::waker(move || {
            same.count_down(); // a no-op on an open latch
            assert!(same.try_wait());
            assert!(poll(&mut same.wait(), Waker::noop()).is_ready());
            next.count_down();
        });
        let mut waiter = latch.wait();
        assert!(poll(&mut waiter, &waker).is_pending());
        latch.count_down();
        assert_eq!(reentrant.wakes(), 1);
        assert!(poll(&mut waiter, &waker).is_ready());
        assert!(downstream.try_wait());
    });
}

#[test]
fn a_waker_that_cancels_tokens_from_wake_does_not_deadlock() {
    finishes("re-entrant cancel", || {
        let token = CancellationToken::new();
        let child = token.child_token();
        let downstream = CancellationToken::new();
        let (same, other) = (token.clone(), downstream.clone());
        let (reentrant, waker) = Reenters::waker(move || {
            same.cancel(); // again: a no-op
            assert!(same.child_token().is_cancelled());
            other.cancel();
        });
        let mut waiter = token.cancelled();
        assert!(poll(&mut waiter, &waker).is_pending());
        let (counts, counting) = Counts::waker();
        let mut child_waiter = child.cancelled();
        let mut downstream_waiter = downstream.cancelled();
        assert!(poll(&mut child_waiter, &counting).is_pending());
        assert!(poll(&mut downstream_waiter, &counting).is_pending());
        token.cancel();
        assert_eq!(reentrant.wakes(), 1);
        assert!(poll(&mut waiter, &waker).is_ready());
        assert_eq!(
            counts.get(),
            2,
            "the child's and the other token's waiters are woken"
        );
        assert!(child.is_cancelled() && downstream.is_cancelled());
    });
}

#[test]
fn a_waker_that_acquires_and_releases_permits_from_wake_does_not_deadlock() {
    finishes("re-entrant release", || {
        // Strict FIFO (a zero hand-off bound): the release hands the permit
        // over, and a try while someone is queued is refused.
        let sem = Semaphore::with_handoff_after(2, false, Duration::ZERO);
        let first = sem.try_acquire().unwrap();
        let second = Arc::new(Mutex::new(Some(sem.try_acquire().unwrap())));
        let (same, to_release) = (sem.clone(), Arc::clone(&second));
        let refused = Arc::new(AtomicBool::new(false));
        let saw_refusal = Arc::clone(&refused);
        let (reentrant, waker) = Reenters::waker(move || {
            // The permit was handed to this waiter and the next one is
            // queued: a try is refused, and releasing serves the queue.
            if matches!(same.try_acquire(), Err(TryAcquireError::NoPermits)) {
                saw_refusal.store(true, Ordering::SeqCst);
            }
            drop(to_release.lock().unwrap().take());
        });
        let mut head = sem.acquire();
        assert!(poll(&mut head, &waker).is_pending());
        let (counts, counting) = Counts::waker();
        let mut behind = sem.acquire();
        assert!(poll(&mut behind, &counting).is_pending());
        drop(first);
        assert_eq!(reentrant.wakes(), 1);
        assert!(
            refused.load(Ordering::SeqCst),
            "try_acquire from wake() was refused, not stuck"
        );
        assert_eq!(
            counts.get(),
            1,
            "the permit released inside wake() went to the next waiter"
        );
        let (Poll::Ready(Ok(a)), Poll::Ready(Ok(b))) =
            (poll(&mut head, &waker), poll(&mut behind, &counting))
        else {
            panic!("both waiters hold a permit");
        };
        drop((a, b));
        assert_eq!(
            (sem.available_permits(), sem.capacity()),
            (2, 2),
            "no permit lost or made up"
        );
    });
}

#[test]
fn a_joiner_whose_waker_spawns_and_cancels_from_wake_does_not_deadlock() {
    let runtime = tokio_multi_thread();
    let handle = runtime.handle().clone();
    let joined = finishes("re-entrant spawn", move || {
        let group = ErrGroup::<u32, (), _>::new(TokioRuntime::from_handle(handle));
        let spawner = group.spawner();
        let token = group.cancellation_token();
        let spawned_from_wake = Arc::new(AtomicBool::new(false));
        let once = Arc::clone(&spawned_from_wake);
        let (reentrant, waker) = Reenters::waker(move || {
            if !once.swap(true, Ordering::SeqCst) {
                // The first wake-up comes from the first task's record:
                // spawn a task that can only end by cancellation, and cancel.
                assert!(spawner.spawn(std::future::pending()).is_ok());
                token.cancel();
            }
        });
        let gate = Latch::new(1);
        let opened = gate.clone();
        group
            .spawn(async move {
                opened.wait().await;
                Ok(1)
            })
            .unwrap();
        let mut join = pin!(group.join_all());
        assert!(join
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        gate.count_down();
        let outcomes = block_on_with(join, &reentrant);
        assert!(reentrant.wakes() >= 1);
        outcomes
    });
    assert!(
        matches!(joined[..], [Ok(1), Err(GroupError::Cancelled(_))]),
        "{joined:?}"
    );
}

#[test]
#[ignore = "bug: event-listener 5.4 calls Waker::wake while holding its list lock, so a waker \
            that registers on the same primitive from wake() (an executor that polls inline) \
            deadlocks on that lock"]
fn a_waker_that_waits_again_on_the_same_group_from_wake_does_not_deadlock() {
    finishes("re-entrant wait", || {
        let wg = WaitGroup::new();
        wg.add(1);
        let same = wg.clone();
        let (reentrant, waker) = Reenters::waker(move || {
            // Start the next round and wait on it, as an executor that
            // polls the woken task at once would.
            same.add(1);
            let _ = poll(&mut same.wait(), Waker::noop());
            same.done();
        });
        let mut waiter = wg.wait();
        assert!(poll(&mut waiter, &waker).is_pending());
        wg.done();
        assert_eq!(reentrant.wakes(), 1);
        assert!(poll(&mut waiter, &waker).is_ready());
    });
}
