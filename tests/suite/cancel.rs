//! `CancellationToken` behaviour, on every runtime, on plain threads, and
//! polled by hand.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use taskgroup::runtime::Runtime;
use taskgroup::{CancellationToken, Latch};

use crate::common::{poll_once, runtime_tests, spawn_joinable, CountingWaker};

runtime_tests! {
    async fn cancelled_owned_is_static_and_completes_on_cancel(rt) {
        let token = CancellationToken::new();
        let owned = token.clone().cancelled_owned();
        let (tx, rx) = futures::channel::oneshot::channel();
        rt.spawn(async move {
            owned.await; // moved into a 'static task: no borrow of the token
            let _ = tx.send(());
        });
        token.cancel();
        assert_eq!(rx.await, Ok(()));
        token.cancelled_owned().await; // already cancelled: at once
    }

    async fn cancel_wakes_all_waiters(rt) {
        let token = CancellationToken::new();
        let started = Latch::new(8);
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let (token, started) = (token.clone(), started.clone());
                spawn_joinable(&rt, async move {
                    let cancelled = token.cancelled();
                    started.count_down();
                    cancelled.await;
                    assert!(token.is_cancelled());
                })
            })
            .collect();
        started.wait().await;
        token.cancel();
        for waiter in waiters {
            waiter.await;
        }
    }

    async fn cancelled_token_completes_at_once(rt) {
        let token = CancellationToken::new();
        token.cancel();
        token.cancelled().await;
        token.child_token().cancelled().await;
    }

    async fn parent_cancels_children_and_grandchildren(rt) {
        let parent = CancellationToken::new();
        let child = parent.child_token();
        let grandchild = child.child_token();
        let sibling = parent.child_token();
        let waiters: Vec<_> = [child.clone(), grandchild.clone(), sibling.clone()]
            .into_iter()
            .map(|token| spawn_joinable(&rt, async move { token.cancelled().await }))
            .collect();
        rt.sleep(Duration::from_millis(1)).await;
        parent.cancel();
        for waiter in waiters {
            waiter.await;
        }
        assert!(child.is_cancelled() && grandchild.is_cancelled() && sibling.is_cancelled());
    }

    async fn child_cancel_leaves_parent_and_siblings(rt) {
        let parent = CancellationToken::new();
        let child = parent.child_token();
        let sibling = parent.child_token();
        let grandchild = child.child_token();
        let canceller = child.clone();
        rt.spawn(async move { canceller.cancel() });
        child.cancelled().await;
        grandchild.cancelled().await;
        assert!(!parent.is_cancelled());
        assert!(!sibling.is_cancelled());
    }

    async fn run_until_cancelled_returns_the_output(rt) {
        let token = CancellationToken::new();
        let sleeper = rt.clone();
        let output = token
            .run_until_cancelled(async move {
                sleeper.sleep(Duration::from_millis(1)).await;
                42
            })
            .await;
        assert_eq!(output, Some(42));
    }

    async fn run_until_cancelled_stops_the_work(rt) {
        let token = CancellationToken::new();
        let dropped = Arc::new(AtomicUsize::new(0));
        struct CountDrop(Arc<AtomicUsize>);
        impl Drop for CountDrop {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let canceller = token.clone();
        let sleeper = rt.clone();
        rt.spawn(async move {
            sleeper.sleep(Duration::from_millis(2)).await;
            canceller.cancel();
        });
        let marker = CountDrop(dropped.clone());
        let output = token
            .run_until_cancelled(async move {
                let _marker = marker;
                std::future::pending::<u32>().await
            })
            .await;
        assert_eq!(output, None);
        assert_eq!(dropped.load(Ordering::SeqCst), 1, "the work was dropped once");
    }

    async fn drop_guard_cancels_from_a_task(rt) {
        let token = CancellationToken::new();
        let guard = token.clone().drop_guard();
        rt.spawn(async move { drop(guard) });
        token.cancelled().await;
    }

    async fn stress_cancel_against_waiters(rt) {
        for _ in 0..1_000 {
            let parent = CancellationToken::new();
            let child = parent.child_token();
            let waiter = spawn_joinable(&rt, async move { child.cancelled().await });
            let canceller = parent.clone();
            rt.spawn(async move { canceller.cancel() });
            waiter.await;
        }
    }
}

mod threads {
    use super::*;

    #[test]
    fn cancel_from_another_thread_wakes_a_blocked_waiter() {
        let token = CancellationToken::new();
        let waiter = {
            let token = token.clone();
            std::thread::spawn(move || futures::executor::block_on(token.cancelled()))
        };
        std::thread::sleep(Duration::from_millis(5));
        token.cancel();
        waiter.join().unwrap();
    }

    #[test]
    fn disarmed_guard_does_not_cancel() {
        let token = CancellationToken::new();
        let guard = token.clone().drop_guard();
        let back = guard.disarm();
        drop(back);
        assert!(!token.is_cancelled());
    }

    #[test]
    #[cfg(panic = "unwind")]
    fn drop_guard_ref_cancels_on_drop_unless_disarmed_and_leaves_the_token_usable() {
        let token = CancellationToken::new();
        let guard = token.drop_guard_ref();
        assert!(!token.is_cancelled());
        assert!(!guard.disarm().is_cancelled());
        assert!(!token.is_cancelled());
        let result = std::panic::catch_unwind(|| {
            let _guard = token.drop_guard_ref();
            panic!("the work failed halfway");
        });
        assert!(result.is_err());
        assert!(token.is_cancelled(), "the guard cancels on unwind too");
    }

    #[test]
    fn many_short_lived_children_do_not_accumulate() {
        // A long-lived parent with a child per request: dropped children are
        // pruned, so cancelling the parent later reaches only the live ones.
        let parent = CancellationToken::new();
        let kept: Vec<_> = (0..10).map(|_| parent.child_token()).collect();
        for _ in 0..100_000 {
            drop(parent.child_token());
        }
        parent.cancel();
        assert!(kept.iter().all(CancellationToken::is_cancelled));
    }

    #[test]
    fn a_grandchild_stays_reachable_when_the_child_handle_is_dropped() {
        let parent = CancellationToken::new();
        let grandchild = parent.child_token().child_token();
        // Force pruning passes over the (handle-less) child.
        for _ in 0..1_000 {
            drop(parent.child_token());
        }
        parent.cancel();
        assert!(grandchild.is_cancelled());
    }

    #[test]
    fn debug_shows_the_state() {
        let token = CancellationToken::new();
        assert_eq!(
            format!("{token:?}"),
            "CancellationToken { is_cancelled: false }"
        );
        token.cancel();
        assert_eq!(
            format!("{token:?}"),
            "CancellationToken { is_cancelled: true }"
        );
    }
}

mod manual_poll {
    use super::*;

    #[test]
    fn pending_until_cancelled_and_woken_once() {
        let token = CancellationToken::new();
        let (wakes, waker) = CountingWaker::new();
        let mut cancelled = token.cancelled();
        assert!(poll_once(&mut cancelled, &waker).is_pending());
        assert!(poll_once(&mut cancelled, &waker).is_pending());
        let _unrelated_child = token.child_token();
        assert_eq!(wakes.wakes(), 0);
        token.cancel();
        assert_eq!(wakes.wakes(), 1);
        assert_eq!(poll_once(&mut cancelled, &waker), Poll::Ready(()));
        token.cancel();
        assert_eq!(wakes.wakes(), 1, "cancelling again wakes nobody");
    }

    #[test]
    fn run_until_cancelled_never_polls_work_on_a_cancelled_token() {
        let token = CancellationToken::new();
        token.cancel();
        let polled = AtomicUsize::new(0);
        let mut run = Box::pin(token.run_until_cancelled(futures::future::poll_fn(|_| {
            polled.fetch_add(1, Ordering::SeqCst);
            Poll::Ready(())
        })));
        assert_eq!(
            run.as_mut()
                .poll(&mut std::task::Context::from_waker(Waker::noop())),
            Poll::Ready(None)
        );
        assert_eq!(polled.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn dropping_a_registered_waiter_leaves_others_woken() {
        let token = CancellationToken::new();
        let (wakes, waker) = CountingWaker::new();
        let mut kept = token.cancelled();
        let mut dropped = token.cancelled();
        assert!(poll_once(&mut dropped, Waker::noop()).is_pending());
        assert!(poll_once(&mut kept, &waker).is_pending());
        drop(dropped);
        token.cancel();
        assert_eq!(wakes.wakes(), 1);
        assert_eq!(poll_once(&mut kept, &waker), Poll::Ready(()));
    }
}
