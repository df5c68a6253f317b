//! `scope` and `scope_local`: children that borrow, on every runtime and on
//! local executors, plus manual-poll tests of the wake-up path.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use taskgroup::runtime::Runtime;
use taskgroup::{
    scope, scope_local, CancelCause, CancellationToken, ErrGroup, GroupError, Latch, PanicPolicy,
    ScopeBuilder, SpawnError, TaskId,
};

use crate::common::{panic_message, poll_once, runtime_tests, spawn_joinable, CountingWaker};
use crate::ledger::Ledger;
use crate::yield_now::YieldNow;

runtime_tests! {
    async fn scope_children_borrow_mut_state_from_the_caller(rt) {
        let mut counters = vec![0u32; 8];
        let names = vec![String::from("a"), String::from("bb"), String::from("ccc")];
        let lengths = scope(async |s| {
            for (i, counter) in counters.iter_mut().enumerate() {
                s.spawn(async move {
                    YieldNow::default().await;
                    *counter += i as u32;
                    Ok::<_, ()>(i)
                }).unwrap();
            }
            for name in &names {
                s.spawn(async move { Ok(name.len()) }).unwrap();
            }
        })
        .await
        .unwrap();
        assert_eq!(lengths, [0, 1, 2, 3, 4, 5, 6, 7, 1, 2, 3]);
        assert_eq!(counters, (0..8).collect::<Vec<u32>>());
    }

    async fn scope_returns_values_in_spawn_order_whatever_order_children_finish(rt) {
        const CHILDREN: usize = 20;
        let gates: Vec<Latch> = (0..CHILDREN).map(|_| Latch::new(1)).collect();
        let order = Rc::new(RefCell::new(Vec::new()));
        let values = scope_local(async |s| {
            for (i, gate) in gates.iter().enumerate() {
                let order = Rc::clone(&order);
                s.spawn(async move {
                    gate.wait().await;
                    order.borrow_mut().push(i);
                    Ok::<_, ()>(i * 10)
                }).unwrap();
            }
            // Open the gates last to first, one a poll.
            for gate in gates.iter().rev() {
                gate.count_down();
                YieldNow::default().await;
            }
        })
        .await
        .unwrap();
        assert_eq!(values, (0..CHILDREN).map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(*order.borrow(), (0..CHILDREN).rev().collect::<Vec<_>>(), "finished in reverse");
    }

    async fn scope_first_error_cancels_the_rest_and_drops_them_at_once(rt) {
        let ledger = Ledger::new();
        let started = AtomicUsize::new(0);
        let result = scope(async |s| {
            for _ in 0..5 {
                let ticket = ledger.ticket();
                let started = &started;
                s.spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<()>().await;
                    ticket.complete();
                    Ok(0)
                }).unwrap();
            }
            s.spawn(async {
                YieldNow::default().await;
                Err("disk full")
            }).unwrap();
            // The body is cancelled with the children.
            let ticket = ledger.ticket();
            std::future::pending::<()>().await;
            ticket.complete();
        })
        .await;
        assert!(matches!(result, Err(GroupError::Task("disk full"))));
        assert_eq!(started.load(Ordering::SeqCst), 5);
        assert_eq!(ledger.settled(), (0, 6), "five children and the body dropped, once each");
    }

    async fn scope_body_error_cancels_the_children_and_is_returned(rt) {
        let ledger = Ledger::new();
        let result = scope(async |s| {
            let ticket = ledger.ticket();
            s.spawn(async move {
                std::future::pending::<()>().await;
                ticket.complete();
                Ok::<u32, &str>(1)
            }).unwrap();
            YieldNow::default().await;
            Err("bad input")
        })
        .await;
        assert!(matches!(result, Err(GroupError::Task("bad input"))));
        assert_eq!(ledger.settled(), (0, 1));
    }

    async fn scope_keep_going_runs_every_child_and_returns_the_first_error(rt) {
        let ledger = Ledger::new();
        let result = ScopeBuilder::new()
            .keep_going()
            .run(async |s| {
                for i in 0..6u32 {
                    let ticket = ledger.ticket();
                    s.spawn(async move {
                        for _ in 0..i {
                            YieldNow::default().await;
                        }
                        ticket.complete();
                        if i % 2 == 1 { Err(i) } else { Ok(i) }
                    }).unwrap();
                }
            })
            .await;
        assert!(matches!(result, Err(GroupError::Task(1))), "{result:?}");
        assert_eq!(ledger.settled(), (6, 0), "nothing was cancelled");
    }

    async fn scope_keep_going_hands_every_outcome_to_join_next(rt) {
        let mut outcomes = Vec::new();
        let result = ScopeBuilder::new()
            .keep_going()
            .run(async |s| {
                for i in 0..4u32 {
                    s.spawn(async move { if i == 2 { Err("two") } else { Ok(i) } }).unwrap();
                }
                while let Some(outcome) = s.join_next().await {
                    outcomes.push(outcome.map_err(GroupError::into_task_error));
                }
            })
            .await;
        assert_eq!(result.unwrap(), Vec::<u32>::new());
        outcomes.sort_by_key(|outcome| match outcome {
            Ok(i) => *i,
            Err(_) => 2,
        });
        assert_eq!(outcomes, [Ok(0), Ok(1), Err(Some("two")), Ok(3)]);
    }

    async fn scope_join_next_yields_outcomes_in_completion_order(rt) {
        let gates: Vec<Latch> = (0..4).map(|_| Latch::new(1)).collect();
        let mut seen = Vec::new();
        let rest = scope(async |s| {
            for (i, gate) in gates.iter().enumerate() {
                s.spawn(async move {
                    gate.wait().await;
                    Ok::<_, ()>(i)
                }).unwrap();
            }
            for i in [2, 0, 3] {
                gates[i].count_down();
                seen.push(s.join_next().await.unwrap().unwrap());
            }
            gates[1].count_down();
        })
        .await
        .unwrap();
        assert_eq!(seen, [2, 0, 3]);
        assert_eq!(rest, [1], "the outcome nobody took is the scope's result");
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn scope_panic_is_resumed_after_the_rest_are_cancelled(rt) {
        let ledger = Ledger::new();
        let scoped = scope(async |s| {
            let ticket = ledger.ticket();
            s.spawn(async move {
                std::future::pending::<()>().await;
                ticket.complete();
                Ok::<_, ()>(1)
            }).unwrap();
            s.spawn(async {
                YieldNow::default().await;
                panic!("child exploded")
            }).unwrap();
        });
        let payload = AssertUnwindSafe(scoped).catch_unwind().await.unwrap_err();
        assert_eq!(panic_message(&*payload), "child exploded");
        assert_eq!(ledger.settled(), (0, 1), "the panic cancelled the sibling first");
    }

    // Catches a panic: needs unwinding.
    #[cfg(panic = "unwind")]
    async fn scope_panic_is_captured_as_an_error(rt) {
        let result = ScopeBuilder::new()
            .panic_policy(PanicPolicy::Capture)
            .run(|s| async move {
                s.spawn(async { Ok::<u32, ()>(1) }).unwrap();
                s.spawn(async {
                    YieldNow::default().await;
                    panic!("captured {}", 7)
                }).unwrap();
            })
            .await;
        let error = result.unwrap_err();
        assert_eq!(error.panic_message(), Some("captured 7"));
    }

    async fn scope_limit_bounds_running_children_and_try_spawn_is_full(rt) {
        const LIMIT: usize = 3;
        let in_flight = AtomicUsize::new(0);
        let high_water = AtomicUsize::new(0);
        let values = ScopeBuilder::new()
            .limit(LIMIT)
            .run(async |s| {
                for i in 0..20usize {
                    let (in_flight, high_water) = (&in_flight, &high_water);
                    s.spawn(async move {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        high_water.fetch_max(now, Ordering::SeqCst);
                        YieldNow::default().await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, ()>(i)
                    }).unwrap();
                }
                // The limit is taken (by queued children too): refused, with
                // the future handed back.
                let refused = s.try_spawn(async { Ok(99) });
                let Err(SpawnError::Full(future)) = refused else {
                    panic!("try_spawn with the limit reached must be refused as Full");
                };
                assert_eq!(future.await, Ok(99));
                // Once every child is done there is room again.
                while s.join_next().await.is_some() {}
                assert_eq!(s.try_spawn(async { Ok(100) }).map(TaskId::index).ok(), Some(20));
            })
            .await
            .unwrap();
        assert_eq!(values, [100]);
        assert_eq!(high_water.load(Ordering::SeqCst), LIMIT);
    }

    async fn scope_children_spawn_children(rt) {
        let total = AtomicUsize::new(0);
        let values = scope(async |s| {
            let total = &total;
            for depth in 0..3usize {
                let spawner = s.clone();
                s.spawn(async move {
                    let inner = spawner.clone();
                    spawner.spawn(async move {
                        inner.spawn(async move {
                            total.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, ()>(depth * 100 + 2)
                        }).unwrap();
                        YieldNow::default().await;
                        total.fetch_add(1, Ordering::SeqCst);
                        Ok(depth * 100 + 1)
                    }).unwrap();
                    total.fetch_add(1, Ordering::SeqCst);
                    Ok(depth * 100)
                }).unwrap();
            }
        })
        .await
        .unwrap();
        assert_eq!(total.load(Ordering::SeqCst), 9);
        let mut sorted = values.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 100, 101, 102, 200, 201, 202]);
        assert_eq!(&values[..3], [0, 100, 200], "the body's children come first: spawn order");
    }

    async fn nested_scopes_borrow_from_every_level(rt) {
        let outer_data = [1u32, 2, 3];
        let mut sums = vec![0u32; 3];
        let values = scope(async |s| {
            for (row, sum) in outer_data.iter().zip(sums.iter_mut()) {
                s.spawn(async move {
                    let inner_data: Vec<u32> = (0..*row).collect();
                    let parts = scope(async |inner| {
                        for value in &inner_data {
                            inner.spawn(async move {
                                YieldNow::default().await;
                                Ok::<_, ()>(*value + *row)
                            }).unwrap();
                        }
                    })
                    .await?;
                    *sum = parts.iter().sum();
                    Ok::<_, GroupError<()>>(parts.len())
                }).unwrap();
            }
        })
        .await
        .unwrap();
        assert_eq!(values, [1, 2, 3]);
        assert_eq!(sums, [1, 5, 12]);
    }

    async fn scope_inside_an_err_group_task(rt) {
        let group = ErrGroup::new(rt.clone());
        for chunk in [vec![1u64, 2, 3], vec![4, 5], vec![6]] {
            // The task owns its chunk; the scope inside borrows from it.
            group.spawn(async move {
                let doubled = scope(async |s| {
                    for value in &chunk {
                        s.spawn(async move {
                            YieldNow::default().await;
                            Ok::<_, GroupError<()>>(value * 2)
                        }).unwrap();
                    }
                })
                .await
                .map_err(|_| "scope failed")?;
                Ok::<_, &str>(doubled.iter().sum::<u64>())
            })
            .unwrap();
        }
        assert_eq!(group.join().await.unwrap(), [12, 18, 12]);
    }

    async fn err_group_inside_a_scope(rt) {
        // Parallelism for the CPU-bound part: an ErrGroup over owned chunks,
        // awaited from a scope child that borrows the caller's totals.
        let mut total = 0u64;
        let values = scope(async |s| {
            let total = &mut total;
            let runtime = rt.clone();
            s.spawn(async move {
                let group = ErrGroup::new(runtime);
                for chunk in (0..4u64).map(|i| (i * 100..(i + 1) * 100).collect::<Vec<_>>()) {
                    group.spawn(async move { Ok::<_, ()>(chunk.iter().sum::<u64>()) }).unwrap();
                }
                let sums = group.join().await.map_err(|_| ())?;
                *total = sums.iter().sum();
                Ok::<_, ()>(sums.len())
            }).unwrap();
        })
        .await
        .unwrap();
        assert_eq!(values, [4]);
        assert_eq!(total, (0..400).sum::<u64>());
    }

    async fn scope_future_is_send_and_runs_as_a_spawned_task(rt) {
        let joined = spawn_joinable(&rt, async {
            let data: Vec<u32> = (1..=10).collect();
            scope(async |s| {
                for value in &data {
                    s.spawn(async move {
                        YieldNow::default().await;
                        Ok::<_, ()>(*value)
                    }).unwrap();
                }
            })
            .await
            .unwrap()
            .iter()
            .sum::<u32>()
        });
        assert_eq!(joined.await, 55);
    }

    async fn scope_token_cancelled_from_outside_drops_body_and_children(rt) {
        let ledger = Ledger::new();
        let token = CancellationToken::new();
        let canceller = {
            let token = token.clone();
            let sleeper = rt.clone();
            spawn_joinable(&rt, async move {
                sleeper.sleep(Duration::from_millis(5)).await;
                token.cancel();
            })
        };
        let result = ScopeBuilder::new()
            .parent_token(&token)
            .run(async |s| {
                let observed = s.cancellation_token();
                let ticket = ledger.ticket();
                s.spawn(async move {
                    std::future::pending::<()>().await;
                    ticket.complete();
                    Ok::<(), ()>(())
                }).unwrap();
                let ticket = ledger.ticket();
                observed.cancelled().await; // the body observes it, then is dropped
                std::future::pending::<()>().await;
                ticket.complete();
            })
            .await;
        canceller.await;
        assert!(matches!(result, Err(GroupError::Cancelled(CancelCause::Parent))), "{result:?}");
        assert_eq!(ledger.settled(), (0, 2));
    }

    async fn scope_child_cancelling_the_token_cancels_the_scope(rt) {
        let ledger = Ledger::new();
        let result = scope(async |s| {
            let ticket = ledger.ticket();
            s.spawn(async move {
                std::future::pending::<()>().await;
                ticket.complete();
                Ok::<(), ()>(())
            }).unwrap();
            let token = s.cancellation_token();
            s.spawn(async move {
                YieldNow::default().await;
                token.cancel();
                Ok(())
            }).unwrap();
        })
        .await;
        assert!(matches!(result, Err(GroupError::Cancelled(CancelCause::Explicit))));
        assert_eq!(ledger.settled(), (0, 1));
    }

    async fn scope_cancelled_by_the_body_never_starts_its_new_children(rt) {
        let ledger = Ledger::new();
        let started = AtomicUsize::new(0);
        let result = scope(async |s| {
            for _ in 0..3 {
                let (ticket, started) = (ledger.ticket(), &started);
                s.spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    ticket.complete();
                    Ok::<(), ()>(())
                }).unwrap();
            }
            s.cancel();
            assert_eq!(s.cause(), Some(CancelCause::Explicit));
        })
        .await;
        assert!(matches!(result, Err(GroupError::Cancelled(CancelCause::Explicit))));
        assert_eq!(started.load(Ordering::SeqCst), 0);
        assert_eq!(ledger.settled(), (0, 3));
    }

    async fn dropping_a_scope_future_drops_every_child_exactly_once(rt) {
        let ledger = Ledger::new();
        let token_seen = {
            let mut scoped = Box::pin(
                ScopeBuilder::new().limit(4).run(async |s| {
                    for _ in 0..10 {
                        // Running (4), queued behind the limit (6).
                        let ticket = ledger.ticket();
                        let spawner = s.clone(); // a child holding the handle: a cycle to break
                        s.spawn(async move {
                            let ticket2 = ticket;
                            YieldNow::default().await;
                            std::future::pending::<()>().await;
                            drop(spawner);
                            ticket2.complete();
                            Ok::<(), ()>(())
                        }).unwrap();
                    }
                    // Spawned after the first poll: still in the shared state.
                    YieldNow::default().await;
                    let ticket = ledger.ticket();
                    s.spawn(async move {
                        std::future::pending::<()>().await;
                        ticket.complete();
                        Ok(())
                    }).unwrap();
                    let ticket = ledger.ticket();
                    std::future::pending::<()>().await;
                    ticket.complete();
                    Ok(())
                }),
            );
            let waker = std::task::Waker::noop();
            for _ in 0..3 {
                assert!(scoped.as_mut().poll(&mut Context::from_waker(waker)).is_pending());
            }
            let token_seen = ledger.issued();
            drop(scoped);
            token_seen
        };
        assert_eq!(token_seen, 12);
        assert_eq!(ledger.settled(), (0, 12), "every child and the body dropped, once each");
    }
}

#[test]
fn scope_spawn_after_the_scope_is_over_is_refused() {
    let mut kept = None;
    let values = futures::executor::block_on(scope(async |s| {
        s.spawn(async { Ok::<_, ()>(1) }).unwrap();
        kept = Some(s);
    }))
    .unwrap();
    assert_eq!(values, [1]);
    let kept = kept.unwrap();
    let refused = kept.try_spawn(async { Ok(2) });
    assert!(matches!(refused, Err(SpawnError::Closed(_))));
    // `spawn` has the same contract: refused as closed, the future handed back.
    let refused = kept.spawn(async { Ok(3) }).unwrap_err();
    assert!(refused.is_closed());
}

#[test]
#[should_panic(expected = "a limit of zero")]
fn scope_limit_of_zero_panics_with_a_clear_message() {
    let _ = ScopeBuilder::new().limit(0);
}

/// A child that counts its polls and stays pending until its latch opens.
async fn counted(polls: &AtomicUsize, gate: &Latch) -> Result<(), ()> {
    let mut wait = pin!(gate.wait());
    std::future::poll_fn(|cx| {
        polls.fetch_add(1, Ordering::SeqCst);
        wait.as_mut().poll(cx)
    })
    .await;
    Ok(())
}

#[test]
fn scope_wake_polls_only_the_woken_child() {
    const CHILDREN: usize = 50;
    let polls: Vec<AtomicUsize> = (0..CHILDREN).map(|_| AtomicUsize::new(0)).collect();
    let gates: Vec<Latch> = (0..CHILDREN).map(|_| Latch::new(1)).collect();
    let (wakes, waker) = CountingWaker::new();
    let mut scoped = Box::pin(scope(async |s| {
        for (polls, gate) in polls.iter().zip(&gates) {
            s.spawn(counted(polls, gate)).unwrap();
        }
    }));
    assert!(poll_once(&mut scoped, &waker).is_pending());
    assert!(
        polls.iter().all(|p| p.load(Ordering::SeqCst) == 1),
        "each child polled once"
    );
    assert_eq!(wakes.wakes(), 0, "nothing woke the scope");
    // A spurious poll of the scope polls no child.
    assert!(poll_once(&mut scoped, &waker).is_pending());
    assert!(polls.iter().all(|p| p.load(Ordering::SeqCst) == 1));
    // One child woken: the scope is woken, and polls that child only.
    gates[17].count_down();
    assert_eq!(wakes.wakes(), 1);
    assert!(poll_once(&mut scoped, &waker).is_pending());
    for (i, p) in polls.iter().enumerate() {
        let expected = if i == 17 { 2 } else { 1 };
        assert_eq!(p.load(Ordering::SeqCst), expected, "child {i}");
    }
    for gate in &gates {
        gate.count_down();
    }
    assert!(
        matches!(poll_once(&mut scoped, &waker), Poll::Ready(Ok(values)) if values.len() == CHILDREN)
    );
}

#[test]
fn scope_with_nothing_to_do_is_ready_at_once_and_sleeps_without_busy_waiting() {
    let (wakes, waker) = CountingWaker::new();
    let mut empty = Box::pin(scope(|_s| async { Ok::<(), ()>(()) }));
    assert!(matches!(poll_once(&mut empty, &waker), Poll::Ready(Ok(v)) if Vec::<()>::is_empty(&v)));
    let gate = Latch::new(1);
    let mut waiting = Box::pin(scope(async |s| {
        s.spawn(async {
            gate.wait().await;
            Ok::<_, ()>(1)
        })
        .unwrap();
    }));
    for _ in 0..3 {
        assert!(poll_once(&mut waiting, &waker).is_pending());
    }
    assert_eq!(wakes.wakes(), 0, "a pending scope does not wake itself");
    gate.count_down();
    assert_eq!(wakes.wakes(), 1);
    assert!(matches!(poll_once(&mut waiting, &waker), Poll::Ready(Ok(v)) if v == [1]));
}

#[test]
fn scope_local_rc_and_refcell_children_on_a_futures_local_pool() {
    let mut pool = futures::executor::LocalPool::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let cell = Cell::new(0);
    let values = pool.run_until(scope_local(async |s| {
        for i in 0..5 {
            let log = Rc::clone(&log);
            let cell = &cell;
            s.spawn(async move {
                YieldNow::default().await;
                log.borrow_mut().push(i);
                cell.set(cell.get() + i);
                Ok::<_, ()>(Rc::new(i))
            })
            .unwrap();
        }
    }));
    let values: Vec<i32> = values.unwrap().into_iter().map(|v| *v).collect();
    assert_eq!(values, [0, 1, 2, 3, 4]);
    assert_eq!(log.borrow().len(), 5);
    assert_eq!(cell.get(), 10);
}

#[test]
fn scope_local_on_a_tokio_local_set() {
    crate::common::fail_on_hang("scope_local_on_a_tokio_local_set", || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        let total = local.block_on(&rt, async {
            // A `!Send` scope as a local task.
            let handle = tokio::task::spawn_local(async {
                let shared = Rc::new(RefCell::new(0));
                scope_local(async |s| {
                    for i in 1..=4 {
                        let shared = Rc::clone(&shared);
                        s.spawn(async move {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            *shared.borrow_mut() += i;
                            Ok::<_, ()>(())
                        })
                        .unwrap();
                    }
                })
                .await
                .unwrap();
                let total = *shared.borrow();
                total
            });
            handle.await.unwrap()
        });
        assert_eq!(total, 10);
    });
}

#[test]
fn scope_local_on_a_smol_local_executor() {
    crate::common::fail_on_hang("scope_local_on_a_smol_local_executor", || {
        let executor = ::smol::LocalExecutor::new();
        let total = ::smol::block_on(executor.run(async {
            let task = executor.spawn(async {
                let shared = Rc::new(Cell::new(0));
                let values = scope_local(async |s| {
                    for i in 1..=4 {
                        let shared = Rc::clone(&shared);
                        s.spawn(async move {
                            ::smol::Timer::after(Duration::from_millis(1)).await;
                            shared.set(shared.get() + i);
                            Ok::<_, ()>(i)
                        })
                        .unwrap();
                    }
                })
                .await
                .unwrap();
                (values, shared.get())
            });
            task.await
        }));
        assert_eq!(total, (vec![1, 2, 3, 4], 10));
    });
}

#[test]
fn scope_handles_and_futures_are_send_for_send_children() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>() {}
    send_sync::<taskgroup::Scope<'static, u32, (), taskgroup::scope::SendChildren>>();
    let data = [1u32];
    let scoped = scope(async |s| {
        for value in &data {
            s.spawn(async move { Ok::<_, ()>(*value) }).unwrap();
        }
    });
    send(&scoped);
    assert_eq!(futures::executor::block_on(scoped).unwrap(), [1]);
}

#[test]
fn scope_many_children_complete_without_growing_the_slab() {
    // 10,000 children that finish at their first poll reuse one slot; the
    // scope still returns every value in order.
    let values = futures::executor::block_on(scope(|s| async move {
        for i in 0..10_000u32 {
            s.spawn(async move { Ok::<_, ()>(i) }).unwrap();
        }
    }))
    .unwrap();
    assert_eq!(values.len(), 10_000);
    assert!(values.iter().enumerate().all(|(i, v)| *v == i as u32));
}

#[test]
fn scope_children_woken_from_other_threads_all_finish() {
    let results = futures::executor::block_on(scope(|s| async move {
        for i in 0..64u64 {
            s.spawn(async move {
                let (send, receive) = futures::channel::oneshot::channel();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_micros(i * 10));
                    let _ = send.send(i);
                });
                receive.await.map_err(|_| ())
            })
            .unwrap();
        }
    }))
    .unwrap();
    assert_eq!(results, (0..64).collect::<Vec<_>>());
    let _ = Arc::new(()); // keep the import used under every cfg
}
