//! `ErrGroup` behaviour, on every runtime.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use taskgroup::runtime::Runtime;
use taskgroup::{CancelCause, ErrGroup, GroupError, Latch, PanicPolicy, WaitGroup};

use crate::common::{panic_message, runtime_tests};
use crate::ledger::Ledger;

/// A tiny deterministic generator for the stress test.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

runtime_tests! {
    async fn join_returns_results_in_spawn_order(rt) {
        let group = ErrGroup::new(rt.clone());
        for i in 0..20u64 {
            let sleeper = rt.clone();
            group.spawn(async move {
                // Later tasks finish first.
                sleeper.sleep(Duration::from_micros(20 * (20 - i))).await;
                Ok::<_, ()>(i)
            }).unwrap();
        }
        assert_eq!(group.len(), 20);
        assert_eq!(group.join().await.unwrap(), (0..20).collect::<Vec<_>>());
    }

    async fn join_and_join_all_return_spawn_order_whatever_order_tasks_finish(rt) {
        // Each task waits for its own gate; the gates open one at a time, in
        // an order far from spawn order, each after the previous task has
        // finished, so the outcomes are recorded in exactly that order.
        // `join_next` takes some first: the rest are dense but shuffled
        // (placed by index) or sparse (sorted), and both joins must still
        // return them in spawn order.
        const TASKS: usize = 40;
        async fn run_in_order(gates: &[(Latch, Latch)], order: impl IntoIterator<Item = usize>) {
            for i in order {
                gates[i].0.count_down();
                gates[i].1.wait().await;
            }
        }
        for (taken_first, join_all) in [
            ((10..20).collect::<Vec<usize>>(), false),
            ((0..TASKS).filter(|&i| i != 3 && i != 37).collect(), false),
            ((10..20).collect(), true),
            ((0..TASKS).filter(|&i| i != 3 && i != 37).collect(), true),
        ] {
            let gates: Vec<(Latch, Latch)> = (0..TASKS).map(|_| (Latch::new(1), Latch::new(1))).collect();
            let mut group = ErrGroup::new(rt.clone());
            for (i, (gate, finished)) in gates.iter().enumerate() {
                let (gate, finished) = (gate.clone(), finished.clone());
                group.spawn(async move {
                    gate.wait().await;
                    finished.count_down();
                    Ok::<_, ()>(i)
                }).unwrap();
            }
            // A permutation far from spawn order: 7 is coprime with 40.
            let shuffled = |keep: &dyn Fn(usize) -> bool| -> Vec<usize> {
                (0..TASKS).map(|k| (k * 7 + 5) % TASKS).filter(|&i| keep(i)).collect()
            };
            run_in_order(&gates, shuffled(&|i| taken_first.contains(&i))).await;
            let mut taken = Vec::new();
            for _ in 0..taken_first.len() {
                taken.push(group.join_next().await.unwrap().unwrap());
            }
            taken.sort_unstable();
            assert_eq!(taken, taken_first);
            run_in_order(&gates, shuffled(&|i| !taken_first.contains(&i))).await;
            let rest: Vec<usize> = (0..TASKS).filter(|i| !taken_first.contains(i)).collect();
            if join_all {
                let outcomes: Vec<usize> = group.join_all().await.into_iter().map(Result::unwrap).collect();
                assert_eq!(outcomes, rest);
            } else {
                assert_eq!(group.join().await.unwrap(), rest);
            }
        }
    }

    async fn a_task_handle_dropped_early_does_not_cancel_the_task(rt) {
        // What a group relies on when it drops kept handles before their
        // tasks are done (`join_next` drops one per outcome, whichever task
        // it belongs to).
        let (go, finished) = (Latch::new(1), Latch::new(1));
        let (wait_for_go, report) = (go.clone(), finished.clone());
        let handle = rt.spawn_with_handle(async move {
            wait_for_go.wait().await;
            report.count_down();
        });
        drop(handle);
        go.count_down();
        finished.wait().await;
    }

    async fn join_next_over_many_tasks_returns_each_once(rt) {
        // The kept handles are dropped one per outcome taken, then all of
        // them: every value still arrives once.
        let mut group = ErrGroup::new(rt.clone());
        for i in 0..500u64 {
            group.spawn(async move { Ok::<_, ()>(i) }).unwrap();
        }
        let mut seen = Vec::new();
        while let Some(value) = group.join_next().await {
            seen.push(value.unwrap());
            if seen.len() % 100 == 0 {
                group.spawn(async move { Ok(1_000) }).unwrap();
            }
        }
        seen.sort_unstable();
        let mut expected: Vec<u64> = (0..500).collect();
        expected.extend([1_000; 5]);
        assert_eq!(seen, expected);
        assert!(group.is_empty());
    }

    async fn empty_group_joins_at_once(rt) {
        let group = ErrGroup::<(), (), _>::new(rt.clone());
        assert!(group.is_empty());
        assert_eq!(group.join().await.unwrap(), Vec::<()>::new());
    }

    async fn first_error_is_returned_and_the_rest_cancelled(rt) {
        let ledger = Ledger::new();
        let group = ErrGroup::new(rt.clone());
        let all_started = Latch::new(10);
        for _ in 0..10 {
            let (ticket, started) = (ledger.ticket(), all_started.clone());
            group.spawn(async move {
                started.count_down();
                // Never finishes on its own: only the sibling's error stops it.
                std::future::pending::<()>().await;
                ticket.complete();
                Ok(0)
            }).unwrap();
        }
        let failing = ledger.ticket();
        let started = all_started.clone();
        group.spawn(async move {
            started.wait().await;
            failing.complete();
            Err("boom")
        }).unwrap();
        let token = group.cancellation_token();
        match group.join().await {
            Err(GroupError::Task(error)) => assert_eq!(error, "boom"),
            other => panic!("expected the task error, got {other:?}"),
        }
        assert!(token.is_cancelled());
        assert_eq!(ledger.completed(), 1, "only the failing task completed");
        assert_eq!(ledger.dropped(), 10, "every sibling's future was dropped");
        ledger.assert_balanced();
    }

    async fn cause_names_the_first_reason(rt) {
        let group = ErrGroup::<(), &str, _>::new(rt.clone());
        assert_eq!(group.cause(), None);
        // An observer outside the group (a task of the group is dropped when
        // the group cancels) sees the cause as soon as the token fires.
        let observer = crate::common::spawn_joinable(&rt, {
            let (token, spawner) = (group.cancellation_token(), group.spawner());
            async move {
                token.cancelled().await;
                spawner.cause()
            }
        });
        group.spawn(async { std::future::pending().await }).unwrap();
        group.spawn(async { Err("first") }).unwrap();
        assert_eq!(observer.await, Some(CancelCause::TaskFailed));
        group.cancel(); // a later cause does not replace the first
        assert_eq!(group.cause(), Some(CancelCause::TaskFailed));
        assert!(matches!(group.join().await, Err(GroupError::Task("first"))));
    }

    async fn explicit_cancel_reports_cancelled(rt) {
        let ledger = Ledger::new();
        let group = ErrGroup::<u8, (), _>::new(rt.clone());
        let ticket = ledger.ticket();
        group.spawn(async move {
            std::future::pending::<()>().await;
            ticket.complete();
            Ok(1)
        }).unwrap();
        group.cancel();
        assert_eq!(group.cause(), Some(CancelCause::Explicit));
        assert!(matches!(group.join().await, Err(GroupError::Cancelled(CancelCause::Explicit))));
        assert_eq!(ledger.dropped(), 1);
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn panic_is_resumed_in_the_joiner_with_its_payload(rt) {
        let ledger = Ledger::new();
        let group = ErrGroup::<u32, (), _>::new(rt.clone());
        let ticket = ledger.ticket();
        group.spawn(async move {
            std::future::pending::<()>().await;
            ticket.complete();
            Ok(1)
        }).unwrap();
        group.spawn(async { panic!("task exploded") }).unwrap();
        let payload = AssertUnwindSafe(group.join()).catch_unwind().await.unwrap_err();
        assert_eq!(panic_message(&*payload), "task exploded");
        assert_eq!(ledger.dropped(), 1, "the panic cancelled the sibling first");
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn panic_can_be_captured_as_an_error(rt) {
        let group = ErrGroup::<u32, String, _>::builder(rt.clone()).panic_policy(PanicPolicy::Capture).build();
        group.spawn(async { panic!("captured {}", 7) }).unwrap();
        let error = group.join().await.unwrap_err();
        assert_eq!(error.panic_message(), Some("captured 7"));
        assert_eq!(error.to_string(), "task panicked: captured 7");
    }

    async fn limit_bounds_the_futures_in_flight(rt) {
        const LIMIT: usize = 3;
        let in_flight = Arc::new(AtomicUsize::new(0));
        let high_water = Arc::new(AtomicUsize::new(0));
        let group = ErrGroup::builder(rt.clone()).limit(LIMIT).build();
        for i in 0..40 {
            let (in_flight, high_water, sleeper) = (in_flight.clone(), high_water.clone(), rt.clone());
            group.spawn(async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                high_water.fetch_max(now, Ordering::SeqCst);
                sleeper.sleep(Duration::from_micros(300)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, ()>(i)
            }).unwrap();
        }
        assert_eq!(group.join().await.unwrap(), (0..40).collect::<Vec<_>>());
        assert_eq!(high_water.load(Ordering::SeqCst), LIMIT, "exactly the limit under load");
    }

    async fn limited_group_runs_queued_tasks_in_fifo_order(rt) {
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let group = ErrGroup::builder(rt.clone()).limit(1).build();
        for i in 0..10 {
            let order = order.clone();
            group.spawn(async move {
                order.lock().unwrap().push(i);
                Ok::<_, ()>(())
            }).unwrap();
        }
        group.join().await.unwrap();
        assert_eq!(*order.lock().unwrap(), (0..10).collect::<Vec<_>>());
    }

    async fn try_spawn_refuses_when_full(rt) {
        let group = ErrGroup::builder(rt.clone()).limit(1).build();
        let release = Latch::new(1);
        let gate = release.clone();
        assert!(group.try_spawn(async move {
            gate.wait().await;
            Ok::<_, ()>(1)
        }).is_ok());
        let refused = group.try_spawn(async { Ok(2) });
        let handed_back = refused.expect_err("the only slot is busy");
        assert!(handed_back.is_full() && !handed_back.is_closed());
        release.count_down();
        // The handed-back future is intact and can be spawned normally.
        group.spawn(handed_back.into_inner()).unwrap();
        assert_eq!(group.join().await.unwrap(), vec![1, 2]);
    }

    async fn error_in_a_limited_group_cancels_queued_tasks(rt) {
        let ledger = Ledger::new();
        let group = ErrGroup::builder(rt.clone()).limit(2).build();
        group.spawn(async { Err::<(), _>("early") }).unwrap();
        for _ in 0..20 {
            let (ticket, sleeper) = (ledger.ticket(), rt.clone());
            group.spawn(async move {
                sleeper.sleep(Duration::from_millis(5)).await;
                ticket.complete();
                Ok(())
            }).unwrap();
        }
        assert!(matches!(group.join().await, Err(GroupError::Task("early"))));
        ledger.assert_balanced();
        assert!(ledger.dropped() >= 18, "queued tasks were dropped, not run: {}", ledger.dropped());
    }

    async fn dropping_the_group_cancels_its_tasks(rt) {
        let ledger = Ledger::new();
        let gone = WaitGroup::new();
        let group = ErrGroup::<(), (), _>::new(rt.clone());
        let token = group.cancellation_token();
        for _ in 0..5 {
            let (ticket, guard) = (ledger.ticket(), gone.enter());
            // Fields drop in order: the ticket is in before the guard's
            // `done`, however the future is dropped.
            let held = (ticket, guard);
            group.spawn(async move {
                let held = held;
                std::future::pending::<()>().await;
                held.0.complete();
                Ok(())
            }).unwrap();
        }
        drop(group);
        assert!(token.is_cancelled());
        gone.wait().await;
        assert_eq!(ledger.dropped(), 5);
        ledger.assert_balanced();
    }

    async fn join_next_streams_results_as_they_finish(rt) {
        let mut group = ErrGroup::new(rt.clone());
        for i in 0..10u64 {
            let sleeper = rt.clone();
            group.spawn(async move {
                sleeper.sleep(Duration::from_micros(50 * i)).await;
                if i == 4 { Err(i) } else { Ok(i) }
            }).unwrap();
        }
        let mut values = Vec::new();
        let mut errors = 0;
        while let Some(result) = group.join_next().await {
            match result {
                Ok(value) => values.push(value),
                Err(GroupError::Task(4)) => errors += 1,
                Err(GroupError::Cancelled(CancelCause::TaskFailed)) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(errors, 1);
        assert!(group.is_empty());
        values.sort_unstable();
        assert!(values.iter().all(|&v| v != 4));
    }

    async fn join_next_with_id_names_each_task(rt) {
        let mut group = ErrGroup::builder(rt.clone()).keep_going().build();
        let mut ids = Vec::new();
        for i in 0..5u32 {
            ids.push(group.spawn(async move { if i == 3 { Err(i) } else { Ok(i) } }).unwrap());
        }
        assert_eq!(ids.iter().map(|id| id.index()).collect::<Vec<_>>(), (0..5).collect::<Vec<_>>());
        let mut seen = Vec::new();
        while let Some((id, result)) = group.join_next_with_id().await {
            match result {
                Ok(value) => assert_eq!(value as usize, id.index()),
                Err(error) => assert_eq!((id, error.into_task_error()), (ids[3], Some(3))),
            }
            seen.push(id);
        }
        seen.sort();
        assert_eq!(seen, ids);
        assert_eq!(ids[3].to_string(), "task #3");
    }

    async fn keep_going_runs_everything_and_join_all_returns_every_outcome(rt) {
        let group = ErrGroup::builder(rt.clone()).keep_going().build();
        for i in 0..6u32 {
            group.spawn(async move { if i % 3 == 0 { Err(i) } else { Ok(i) } }).unwrap();
        }
        let outcomes = group.join_all().await;
        let summary: Vec<_> = outcomes
            .into_iter()
            .map(|outcome| outcome.map_err(|error| error.into_task_error().unwrap()))
            .collect();
        assert_eq!(summary, vec![Err(0), Ok(1), Ok(2), Err(3), Ok(4), Ok(5)]);
    }

    async fn deadline_cancels_what_is_left_and_keeps_what_completed(rt) {
        let group = ErrGroup::<u32, (), _>::builder(rt.clone()).deadline(Duration::from_millis(20)).build();
        group.spawn(async { Ok(1) }).unwrap();
        group.spawn(async { std::future::pending().await }).unwrap();
        let outcomes = group.join_all().await;
        assert!(matches!(outcomes[0], Ok(1)));
        assert!(matches!(outcomes[1], Err(GroupError::Cancelled(CancelCause::Deadline))));
    }

    async fn a_parent_join_waits_for_child_tasks_not_for_a_live_child_handle(rt) {
        let parent = ErrGroup::<u32, (), _>::new(rt.clone());
        let child = parent.child::<u32, ()>();
        let grandchild = child.child::<u32, ()>();
        let gate = Latch::new(1);
        let (opened, finished) = (gate.clone(), Arc::new(AtomicUsize::new(0)));
        let done = finished.clone();
        grandchild.spawn(async move {
            opened.wait().await;
            done.fetch_add(1, Ordering::SeqCst);
            Ok(7)
        }).unwrap();
        parent.spawn(async { Ok(1) }).unwrap();
        let release = rt.clone();
        rt.spawn(async move {
            release.sleep(Duration::from_millis(5)).await;
            gate.count_down();
        });
        // Both child handles are alive here: the join waits for the
        // grandchild's task, then returns.
        assert_eq!(parent.join().await.unwrap(), vec![1]);
        assert_eq!(finished.load(Ordering::SeqCst), 1, "the join waited for the grandchild's task");
        // The parent is joined: its children are closed for new tasks...
        assert!(child.spawn(async { Ok(2) }).unwrap_err().is_closed());
        assert!(grandchild.try_spawn(async { Ok(3) }).unwrap_err().is_closed());
        // ...and still hand over what their tasks produced.
        assert_eq!(grandchild.join().await.unwrap(), vec![7]);
        assert_eq!(child.join().await.unwrap(), Vec::<u32>::new());
    }

    async fn an_idle_child_never_hangs_its_parent(rt) {
        let parent = ErrGroup::<(), (), _>::new(rt.clone());
        let child = parent.child::<(), ()>();
        parent.spawn(async { Ok(()) }).unwrap();
        parent.join().await.unwrap();
        assert!(child.spawn(async { Ok(()) }).unwrap_err().is_closed());
        drop(child);
    }

    async fn poll_join_next_yields_each_outcome_then_none(rt) {
        let mut group = ErrGroup::<u32, (), _>::new(rt.clone());
        for n in 0..3 {
            group.spawn(async move { Ok(n) }).unwrap();
        }
        let mut seen = Vec::new();
        while let Some(result) = std::future::poll_fn(|cx| group.poll_join_next(cx)).await {
            seen.push(result.unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2]);
        let id = group.spawn(async { Err(()) }).unwrap();
        let next = std::future::poll_fn(|cx| group.poll_join_next_with_id(cx)).await;
        assert!(matches!(next, Some((finished, Err(GroupError::Task(())))) if finished == id));
    }

    async fn a_child_builder_limit_bounds_every_task_of_the_child(rt) {
        let parent = ErrGroup::<usize, GroupError<()>, _>::new(rt.clone());
        let child = parent.child_builder::<(), ()>().limit(2).build();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        for _ in 0..6 {
            let (running, most, sleeper) = (running.clone(), most.clone(), rt.clone());
            child.spawn(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                sleeper.sleep(Duration::from_millis(1)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }).unwrap();
        }
        parent.spawn(async move { Ok(child.join().await?.len()) }).unwrap();
        assert_eq!(parent.join().await.unwrap(), vec![6]);
        assert!(most.load(Ordering::SeqCst) <= 2, "the child's limit holds");
    }

    async fn join_all_timeout_drains_a_closed_group_and_cancels_the_rest(rt) {
        let group = ErrGroup::<u32, (), _>::new(rt.clone());
        group.spawn(async { Ok(1) }).unwrap();
        group.spawn(async { std::future::pending().await }).unwrap();
        group.close();
        let outcomes = group.join_all_timeout(Duration::from_millis(20)).await;
        assert!(matches!(outcomes[0], Ok(1)));
        assert!(matches!(outcomes[1], Err(GroupError::Cancelled(CancelCause::Deadline))));
    }

    async fn group_deadline_cancels_a_slow_join(rt) {
        let group = ErrGroup::<u32, (), _>::builder(rt.clone()).deadline(Duration::from_millis(10)).build();
        group.spawn(async { std::future::pending().await }).unwrap();
        assert!(matches!(group.join().await, Err(GroupError::Cancelled(CancelCause::Deadline))));
    }

    async fn tasks_spawn_more_tasks_through_a_spawner(rt) {
        // A crawler: each page spawns two links until depth 5 (63 pages).
        fn visit<R: Runtime>(spawner: taskgroup::Spawner<u32, (), R>, depth: u32) {
            let inner = spawner.clone();
            spawner
                .spawn(async move {
                    if depth < 5 {
                        visit(inner.clone(), depth + 1);
                        visit(inner, depth + 1);
                    }
                    Ok(depth)
                })
                .unwrap_or_else(|_| panic!("the group is alive"));
        }
        let group = ErrGroup::new(rt.clone());
        visit(group.spawner(), 0);
        let depths = group.join().await.unwrap();
        assert_eq!(depths.len(), 63);
        assert_eq!(depths.iter().filter(|&&d| d == 5).count(), 32);
    }

    async fn spawner_is_refused_after_the_group_is_joined(rt) {
        let group = ErrGroup::<(), (), _>::new(rt.clone());
        let spawner = group.spawner();
        group.join().await.unwrap();
        assert!(spawner.spawn(async { Ok(()) }).is_err());
    }

    async fn child_group_is_cancelled_by_the_parent_and_waited_for(rt) {
        let ledger = Ledger::new();
        let parent = ErrGroup::<(), &str, _>::new(rt.clone());
        let child = parent.child::<(), &str>();
        let child_started = Latch::new(3);
        for _ in 0..3 {
            let (ticket, started) = (ledger.ticket(), child_started.clone());
            child.spawn(async move {
                started.count_down();
                std::future::pending::<()>().await;
                ticket.complete();
                Ok(())
            }).unwrap();
        }
        // A parent task joins the child and returns its error upwards.
        parent.spawn(async move {
            match child.join().await {
                Ok(_) => Ok(()),
                Err(GroupError::Cancelled(cause)) => {
                    assert_eq!(cause, CancelCause::Parent);
                    Ok(())
                }
                Err(_) => Err("child failed"),
            }
        }).unwrap();
        child_started.wait().await;
        parent.spawn(async { Err("parent task failed") }).unwrap();
        assert!(matches!(parent.join().await, Err(GroupError::Task("parent task failed"))));
        assert_eq!(ledger.dropped(), 3, "the child's tasks were cancelled before the parent's join returned");
        ledger.assert_balanced();
    }

    async fn parent_join_waits_for_a_dropped_childs_tasks(rt) {
        let ledger = Ledger::new();
        let parent = ErrGroup::<(), (), _>::new(rt.clone());
        let child = parent.child::<(), ()>();
        let ticket = ledger.ticket();
        child.spawn(async move {
            std::future::pending::<()>().await;
            ticket.complete();
            Ok(())
        }).unwrap();
        drop(child); // cancels the child's task
        parent.join().await.unwrap();
        assert_eq!(ledger.dropped(), 1);
    }

    async fn child_error_does_not_cancel_the_parent_by_itself(rt) {
        let parent = ErrGroup::<u8, (), _>::new(rt.clone());
        let child = parent.child::<(), &str>();
        child.spawn(async { Err("child") }).unwrap();
        assert!(matches!(child.join().await, Err(GroupError::Task("child"))));
        assert_eq!(parent.cause(), None);
        parent.spawn(async { Ok(1) }).unwrap();
        assert_eq!(parent.join().await.unwrap(), vec![1]);
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn close_refuses_new_tasks_and_lets_running_ones_finish(rt) {
        let group = ErrGroup::<u8, (), _>::new(rt.clone());
        let spawner = group.spawner();
        let gate = Latch::new(1);
        let opened = gate.clone();
        group.spawn(async move {
            opened.wait().await;
            Ok(1)
        }).unwrap();
        group.close();
        assert!(group.is_closed());
        assert!(spawner.spawn(async { Ok(2) }).unwrap_err().is_closed());
        assert!(group.try_spawn(async { Ok(3) }).unwrap_err().is_closed());
        assert!(group.spawn(async { Ok(4) }).unwrap_err().is_closed());
        gate.count_down();
        assert_eq!(group.join().await.unwrap(), vec![1]);
    }

    async fn a_child_cancelled_by_its_parent_keeps_that_cause(rt) {
        let parent = ErrGroup::<(), (), _>::new(rt.clone());
        let child = parent.child::<(), ()>();
        let child_spawner = child.spawner();
        child.spawn(async { std::future::pending().await }).unwrap();
        parent.cancel();
        assert_eq!(child_spawner.cause(), Some(CancelCause::Parent));
        assert!(matches!(child.join().await, Err(GroupError::Cancelled(CancelCause::Parent))));
        assert_eq!(child_spawner.cause(), Some(CancelCause::Parent), "stable after the join");
        assert!(matches!(parent.join().await, Ok(values) if values.is_empty()));
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn a_panic_in_drop_during_cancellation_is_caught_and_reported(rt) {
        struct ExplodesOnDrop;
        impl Drop for ExplodesOnDrop {
            fn drop(&mut self) {
                panic!("drop exploded");
            }
        }
        let group = ErrGroup::<(), &str, _>::builder(rt.clone()).panic_policy(PanicPolicy::Capture).build();
        let started = Latch::new(1);
        let signal = started.clone();
        group.spawn(async move {
            let _bomb = ExplodesOnDrop;
            signal.count_down();
            std::future::pending::<()>().await;
            Ok(())
        }).unwrap();
        let gate = started.clone();
        group.spawn(async move {
            gate.wait().await;
            Err("fail")
        }).unwrap();
        let outcomes = group.join_all().await;
        assert_eq!(outcomes[0].as_ref().unwrap_err().panic_message(), Some("drop exploded"));
        assert!(matches!(outcomes[1], Err(GroupError::Task("fail"))));
    }

    async fn a_group_under_an_outside_token_is_cancelled_by_it_and_not_the_reverse(rt) {
        let shutdown = taskgroup::CancellationToken::new();
        let failing = ErrGroup::<(), &str, _>::builder(rt.clone()).parent_token(&shutdown).build();
        failing.spawn(async { Err("own failure") }).unwrap();
        assert!(matches!(failing.join().await, Err(GroupError::Task("own failure"))));
        assert!(!shutdown.is_cancelled(), "the group's failure leaves the outside token alone");
        let group = ErrGroup::<(), (), _>::builder(rt.clone()).parent_token(&shutdown).build();
        group.spawn(std::future::pending()).unwrap();
        shutdown.cancel();
        assert_eq!(group.cause(), Some(CancelCause::Parent));
        assert!(matches!(group.join().await, Err(GroupError::Cancelled(CancelCause::Parent))));
    }

    async fn ten_thousand_tasks_in_one_group(rt) {
        let group = ErrGroup::new(rt.clone());
        for i in 0..10_000u64 {
            group.spawn(async move { Ok::<_, ()>(i) }).unwrap();
        }
        let values = group.join().await.unwrap();
        assert_eq!(values.len(), 10_000);
        assert_eq!(values.iter().sum::<u64>(), 10_000 * 9_999 / 2);
    }

    async fn wait_group_spawn_counts_its_tasks(rt) {
        let wg = WaitGroup::new();
        let hits = Arc::new(AtomicUsize::new(0));
        for _ in 0..50 {
            let hits = hits.clone();
            rt.spawn(wg.track(async move {
                hits.fetch_add(1, Ordering::SeqCst);
            }));
        }
        wg.wait().await;
        assert_eq!(hits.load(Ordering::SeqCst), 50);
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn stress_groups_with_errors_panics_and_cancellations(rt) {
        // Many groups; each task randomly succeeds, fails, panics, or waits
        // forever; some groups are cancelled or dropped. Every future must be
        // accounted for exactly once when the join returns.
        let dropped_groups = Ledger::new();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for round in 0..300 {
            let mut builder = ErrGroup::<u32, u32, _>::builder(rt.clone()).panic_policy(PanicPolicy::Capture);
            if round % 3 == 0 {
                builder = builder.limit(1 + rng.below(3) as usize);
            }
            let group = builder.build();
            let ending = rng.below(4);
            // Dropped groups cancel asynchronously: their futures are counted
            // at the end; joined groups are checked right after the join.
            let ledger = if ending == 0 { dropped_groups.clone() } else { Ledger::new() };
            let tasks = 1 + rng.below(8);
            let mut any_pending = false;
            for t in 0..tasks {
                let ticket = ledger.ticket();
                let kind = rng.below(10);
                any_pending |= kind == 9;
                let sleeper = rt.clone();
                group.spawn(async move {
                    match kind {
                        0 => {
                            ticket.complete();
                            Err(t as u32)
                        }
                        1 => {
                            ticket.complete();
                            panic!("stress panic")
                        }
                        9 => {
                            std::future::pending::<()>().await;
                            ticket.complete();
                            Ok(0)
                        }
                        _ => {
                            if kind % 2 == 0 {
                                sleeper.sleep(Duration::from_micros(10)).await;
                            }
                            ticket.complete();
                            Ok(t as u32)
                        }
                    }
                }).unwrap();
            }
            match ending {
                0 => drop(group),
                1 => {
                    group.cancel();
                    assert_eq!(group.join_all().await.len(), tasks as usize);
                    ledger.assert_balanced();
                }
                _ => {
                    if any_pending {
                        group.cancel();
                    }
                    let _ = group.join().await;
                    ledger.assert_balanced();
                }
            }
        }
        let ledger = dropped_groups;
        // Dropped groups cancel asynchronously; wait until everything is in.
        while ledger.completed() + ledger.dropped() < ledger.issued() {
            rt.sleep(Duration::from_millis(1)).await;
        }
        ledger.assert_balanced();
    }
}

/// Misuse that needs no runtime.
mod misuse {
    use taskgroup::runtime::SmolRuntime;
    use taskgroup::ErrGroup;

    #[test]
    #[should_panic(expected = "ErrGroup::builder(..).limit(0)")]
    fn a_limit_of_zero_panics_with_a_clear_message() {
        let _ = ErrGroup::<(), (), _>::builder(SmolRuntime::global())
            .limit(0)
            .build();
    }

    #[test]
    fn every_spawning_method_refuses_a_closed_group_with_closed() {
        let group = ErrGroup::<(), (), _>::builder(SmolRuntime::global())
            .limit(1)
            .build();
        let spawner = group.spawner();
        group.close();
        assert!(group.spawn(async { Ok(()) }).unwrap_err().is_closed());
        assert!(group
            .spawn_named("late", async { Ok(()) })
            .unwrap_err()
            .is_closed());
        assert!(group.try_spawn(async { Ok(()) }).unwrap_err().is_closed());
        assert!(spawner.spawn(async { Ok(()) }).unwrap_err().is_closed());
        assert!(spawner
            .spawn_named("late", async { Ok(()) })
            .unwrap_err()
            .is_closed());
        assert!(spawner.try_spawn(async { Ok(()) }).unwrap_err().is_closed());
        assert!(group.is_closed());
    }

    #[test]
    fn a_full_group_and_a_closed_group_refuse_differently() {
        let group = ErrGroup::<(), (), _>::builder(SmolRuntime::global())
            .limit(1)
            .build();
        let spawner = group.spawner();
        group.spawn(std::future::pending()).unwrap(); // holds the only slot
        let full = group.try_spawn(async { Ok(()) }).unwrap_err();
        assert!(full.is_full() && !full.is_closed());
        assert!(spawner.try_spawn(async { Ok(()) }).unwrap_err().is_full());
        assert_eq!(format!("{full:?}"), "Full(..)");
        assert!(full.to_string().contains("full"));
        // `spawn` queues on a full group instead of refusing.
        assert!(group.spawn(async { Ok(()) }).is_ok());
        group.close();
        let closed = spawner.try_spawn(async { Ok(()) }).unwrap_err();
        assert!(closed.is_closed());
        assert!(closed.to_string().contains("closed"));
        group.cancel();
    }
}

/// Graceful stops, shields and discarding groups, on every runtime.
mod services {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use taskgroup::runtime::Runtime;
    use taskgroup::{CancelCause, ErrGroup, GroupError, Latch, PanicPolicy, StartError};

    use crate::common::runtime_tests;

    #[test]
    #[cfg(panic = "unwind")]
    fn start_reports_a_panic_before_ready_per_the_panic_policy() {
        let rt = taskgroup::runtime::SmolRuntime::global();
        let group = ErrGroup::<(), (), _>::builder(rt.clone())
            .panic_policy(PanicPolicy::Capture)
            .build();
        let captured =
            ::smol::block_on(group.start::<(), _, _>(|_ready| async { panic!("bind failed") }));
        assert!(
            matches!(&captured, Err(StartError::Failed(e)) if e.panic_message() == Some("bind failed"))
        );
        let group = ErrGroup::<(), (), _>::new(rt);
        let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ::smol::block_on(group.start::<(), _, _>(|_ready| async { panic!("bind failed") }))
        }));
        assert_eq!(
            crate::common::panic_message(&*resumed.unwrap_err()),
            "bind failed"
        );
    }

    runtime_tests! {
        async fn stop_grace_lets_a_slow_in_flight_task_finish_and_drops_one_that_overruns(rt) {
            let group = ErrGroup::<&str, (), _>::new(rt.clone());
            let started = Latch::new(2);
            let (token, sleeper, ready) = (group.cancellation_token(), rt.clone(), started.clone());
            let finishing = group.spawn(async move {
                ready.count_down();
                token.cancelled().await; // sees the stop...
                sleeper.sleep(Duration::from_millis(5)).await; // ...and finishes its reply
                Ok("reply sent")
            }).unwrap();
            let ready = started.clone();
            let stuck = group.spawn(async move {
                ready.count_down();
                std::future::pending().await
            }).unwrap();
            started.wait().await;
            let report = group.stop(Duration::from_millis(200)).await;
            assert_eq!(report.overran(), [stuck]);
            assert!(!report.is_clean());
            let outcomes = report.outcomes();
            assert!(matches!(outcomes[finishing.index()], Ok("reply sent")));
            assert!(matches!(
                outcomes[stuck.index()],
                Err(GroupError::Cancelled(CancelCause::Stopped))
            ));
        }

        async fn stop_refuses_new_tasks_and_drops_queued_ones_unstarted(rt) {
            let group = ErrGroup::<u32, (), _>::builder(rt.clone()).limit(1).build();
            let spawner = group.spawner();
            let started = Arc::new(AtomicUsize::new(0));
            let token = group.cancellation_token();
            let count = started.clone();
            group.spawn(async move {
                count.fetch_add(1, Ordering::SeqCst);
                token.cancelled().await;
                Ok(1)
            }).unwrap();
            for _ in 0..3 {
                let count = started.clone();
                group.spawn(async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    Ok(2)
                }).unwrap(); // queued behind the limit
            }
            let report = group.stop(Duration::from_secs(60)).await;
            assert!(spawner.spawn(async { Ok(3) }).unwrap_err().is_closed());
            assert!(report.is_clean(), "the running task finished in time");
            assert!(matches!(report.outcomes()[0], Ok(1)));
            for queued in &report.outcomes()[1..] {
                assert!(matches!(queued, Err(GroupError::Cancelled(CancelCause::Stopped))));
            }
            assert_eq!(started.load(Ordering::SeqCst), 1, "queued tasks never started");
        }

        async fn stop_with_a_zero_grace_drops_at_once_but_a_shielded_write_completes(rt) {
            let group = ErrGroup::<&str, (), _>::new(rt.clone());
            let written = Arc::new(AtomicBool::new(false));
            let started = Latch::new(1);
            let (spawner, done, signal, sleeper) =
                (group.spawner(), written.clone(), started.clone(), rt.clone());
            group.spawn(async move {
                spawner.shield(async {
                    signal.count_down();
                    sleeper.sleep(Duration::from_millis(10)).await;
                    done.store(true, Ordering::SeqCst);
                }).await;
                std::future::pending::<()>().await; // after the write: cut
                Ok("unreachable")
            }).unwrap();
            started.wait().await;
            let report = group.stop(Duration::ZERO).await;
            assert!(written.load(Ordering::SeqCst), "the shielded write completed");
            assert_eq!(report.overran().len(), 1, "dropped after its shield");
        }

        async fn nested_shields_are_one_section(rt) {
            let group = ErrGroup::<u32, (), _>::new(rt.clone());
            let started = Latch::new(1);
            let (spawner, signal, sleeper) = (group.spawner(), started.clone(), rt.clone());
            group.spawn(async move {
                let inner = spawner.shield(async move {
                    signal.count_down();
                    sleeper.sleep(Duration::from_millis(10)).await;
                    1
                });
                // The outer section ends with the inner one: both finish.
                Ok(spawner.shield(inner).await + 1)
            }).unwrap();
            started.wait().await;
            let report = group.stop(Duration::ZERO).await;
            assert!(report.is_clean());
            assert!(matches!(report.outcomes(), [Ok(2)]));
        }

        async fn a_forced_cancel_during_the_grace_period_drops_what_is_left(rt) {
            let group = ErrGroup::<(), (), _>::builder(rt.clone())
                .deadline(Duration::from_millis(10))
                .build();
            let started = Latch::new(1);
            let signal = started.clone();
            group.spawn(async move {
                signal.count_down();
                std::future::pending().await
            }).unwrap();
            started.wait().await;
            // A huge grace period; the deadline cuts it.
            let report = group.stop(Duration::from_secs(3600)).await;
            assert_eq!(report.outcomes().len(), 1);
            assert!(matches!(report.outcomes()[0], Err(GroupError::Cancelled(_))));
        }

        async fn stop_with_duration_max_waits_for_every_task(rt) {
            let group = ErrGroup::<u32, (), _>::new(rt.clone());
            let (token, sleeper) = (group.cancellation_token(), rt.clone());
            group.spawn(async move {
                token.cancelled().await;
                sleeper.sleep(Duration::from_millis(5)).await;
                Ok(9)
            }).unwrap();
            let report = group.stop(Duration::MAX).await;
            assert!(report.is_clean());
            assert!(matches!(report.outcomes(), [Ok(9)]));
        }

        async fn child_groups_follow_their_parents_stop(rt) {
            let parent = ErrGroup::<(), (), _>::new(rt.clone());
            let child = parent.child::<&str, ()>();
            let started = Latch::new(2);
            let (token, ready, sleeper) = (child.cancellation_token(), started.clone(), rt.clone());
            child.spawn(async move {
                ready.count_down();
                token.cancelled().await; // the parent's stop reaches the child
                sleeper.sleep(Duration::from_millis(5)).await;
                Ok("child finished cleanly")
            }).unwrap();
            let ready = started.clone();
            child.spawn(async move {
                ready.count_down();
                std::future::pending().await
            }).unwrap();
            started.wait().await;
            let report = parent.stop(Duration::from_millis(200)).await;
            assert!(report.outcomes().is_empty(), "the parent had no task of its own");
            let outcomes = child.join_all().await;
            assert!(matches!(outcomes[0], Ok("child finished cleanly")));
            assert!(matches!(outcomes[1], Err(GroupError::Cancelled(_))));
        }

        async fn start_returns_the_ready_value_and_the_task_goes_on_in_the_group(rt) {
            let group = ErrGroup::<&str, &str, _>::new(rt.clone());
            let gate = Latch::new(1);
            let opened = gate.clone();
            let (id, port) = group.start(|ready| async move {
                ready.ready(8080u16);
                opened.wait().await; // still running after `start` returned
                Ok("served")
            }).await.unwrap();
            assert_eq!(id.index(), 0);
            assert_eq!(port, 8080);
            assert_eq!(group.len(), 1);
            gate.count_down();
            assert_eq!(group.join().await.unwrap(), ["served"]);
        }

        async fn start_hands_an_early_failure_to_the_caller_and_never_hangs(rt) {
            let group = ErrGroup::<(), &str, _>::new(rt.clone());
            let failed = group.start::<u16, _, _>(|_ready| async { Err("port in use") }).await;
            assert!(matches!(failed, Err(StartError::Failed(GroupError::Task("port in use")))));
            let ended = group.start::<u16, _, _>(|_ready| async { Ok(()) }).await;
            assert!(matches!(ended, Err(StartError::EndedBeforeReady)));
            assert!(ended.unwrap_err().to_string().contains("without reporting"));
            // Ready and finished in one poll: the group still records it.
            let (_, v) = group.start(|ready| async move { ready.ready(1u8); Ok(()) }).await.unwrap();
            assert_eq!(v, 1);
            // The early failures never reached the group.
            assert_eq!(group.join().await.unwrap(), [()]);
        }

        async fn start_on_a_cancelled_or_closed_group_is_refused(rt) {
            let group = ErrGroup::<(), (), _>::new(rt.clone());
            let spawner = group.spawner();
            group.close();
            let closed = spawner.start(|ready| async move { ready.ready(()); std::future::pending().await }).await;
            assert!(matches!(closed, Err(StartError::Closed)));
            group.cancel();
            let cancelled = spawner.start::<(), _, _>(|_ready| std::future::pending()).await;
            assert!(matches!(cancelled, Err(StartError::Failed(GroupError::Cancelled(CancelCause::Explicit)))));
            assert!(group.join().await.is_ok());
        }

        async fn a_discarding_group_keeps_only_failures(rt) {
            let group = ErrGroup::builder(rt.clone()).discard_values().keep_going().build();
            for n in 0..200u32 {
                group.spawn(async move { if n % 50 == 7 { Err(n) } else { Ok(n) } }).unwrap();
            }
            let outcomes = group.join_all().await;
            let errors: Vec<_> = outcomes.into_iter().map(|o| o.unwrap_err().into_task_error()).collect();
            assert_eq!(errors, [Some(7), Some(57), Some(107), Some(157)]);

            let group = ErrGroup::<u32, (), _>::builder(rt.clone()).discard_values().build();
            for n in 0..10 {
                group.spawn(async move { Ok(n) }).unwrap();
            }
            assert_eq!(group.join().await.unwrap(), Vec::<u32>::new());
        }
    }
}
