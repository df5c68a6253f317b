//! `Latch` behaviour, on every runtime, on plain threads, and polled by hand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use taskgroup::runtime::Runtime;
use taskgroup::Latch;

use crate::common::{poll_once, runtime_tests, spawn_joinable, CountingWaker};

runtime_tests! {
    async fn open_latch_returns_at_once(rt) {
        let latch = Latch::new(0);
        assert!(latch.try_wait());
        latch.wait().await;
    }

    async fn counted_down_by_tasks_wakes_all_waiters(rt) {
        const COUNT: usize = 5;
        let latch = Latch::new(COUNT);
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let latch = latch.clone();
                spawn_joinable(&rt, async move {
                    latch.wait().await;
                    assert!(latch.try_wait());
                })
            })
            .collect();
        for _ in 0..COUNT {
            let latch = latch.clone();
            rt.spawn(async move { latch.count_down() });
        }
        for waiter in waiters {
            waiter.await;
        }
        assert_eq!(latch.count(), 0);
    }

    async fn count_down_publishes_the_work_before_it(rt) {
        let results = Arc::new(AtomicUsize::new(0));
        let latch = Latch::new(8);
        for i in 1..=8 {
            let (latch, results) = (latch.clone(), results.clone());
            rt.spawn(async move {
                results.fetch_add(i, Ordering::Relaxed);
                latch.count_down();
            });
        }
        latch.wait().await;
        assert_eq!(results.load(Ordering::Relaxed), 36);
    }

    async fn arrive_and_wait_is_a_meeting_point(rt) {
        const PARTIES: usize = 6;
        let meeting = Latch::new(PARTIES);
        let arrived = Arc::new(AtomicUsize::new(0));
        let parties: Vec<_> = (0..PARTIES - 1)
            .map(|_| {
                let (meeting, arrived) = (meeting.clone(), arrived.clone());
                spawn_joinable(&rt, async move {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    meeting.arrive_and_wait().await;
                    // Nobody leaves before everybody arrived.
                    assert_eq!(arrived.load(Ordering::SeqCst), PARTIES);
                })
            })
            .collect();
        arrived.fetch_add(1, Ordering::SeqCst);
        meeting.arrive_and_wait().await;
        for party in parties {
            party.await;
        }
    }

    async fn count_down_past_zero_is_a_no_op(rt) {
        let latch = Latch::new(1);
        for _ in 0..3 {
            let latch = latch.clone();
            rt.spawn(async move { latch.count_down() });
        }
        latch.wait().await;
        rt.sleep(Duration::from_millis(2)).await;
        assert_eq!(latch.count(), 0);
        latch.wait().await;
    }

    async fn stress_many_latches(rt) {
        const ROUNDS: usize = 2_000;
        for _ in 0..ROUNDS {
            let latch = Latch::new(3);
            let waiter = spawn_joinable(&rt, {
                let latch = latch.clone();
                async move { latch.wait().await }
            });
            for _ in 0..3 {
                let latch = latch.clone();
                rt.spawn(async move { latch.count_down() });
            }
            latch.wait().await;
            waiter.await;
        }
    }
}

mod threads {
    use super::*;

    #[test]
    fn callbacks_on_threads_open_the_latch() {
        let latch = Latch::new(4);
        for _ in 0..4 {
            let latch = latch.clone();
            std::thread::spawn(move || latch.count_down());
        }
        latch.wait_blocking();
        assert!(latch.try_wait());
    }

    #[test]
    fn wait_blocking_timeout_is_false_on_timeout_and_true_on_success() {
        let latch = Latch::new(1);
        assert!(!latch.wait_blocking_timeout(Duration::from_millis(20)));
        let opener = latch.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            opener.count_down();
        });
        assert!(latch.wait_blocking_timeout(Duration::from_secs(60)));
        thread.join().unwrap();
        assert!(latch.wait_blocking_timeout(Duration::ZERO));
    }

    #[test]
    #[should_panic(expected = "Latch::new: count too large")]
    fn too_large_count_panics() {
        let _ = Latch::new(usize::MAX);
    }

    #[test]
    fn debug_shows_the_count() {
        assert_eq!(format!("{:?}", Latch::new(2)), "Latch { count: 2 }");
    }
}

mod manual_poll {
    use super::*;

    #[test]
    fn pending_until_open_and_woken_once() {
        let latch = Latch::new(2);
        let (wakes, waker) = CountingWaker::new();
        let mut wait = latch.wait();
        assert!(poll_once(&mut wait, &waker).is_pending());
        latch.count_down();
        assert_eq!(wakes.wakes(), 0);
        assert!(poll_once(&mut wait, &waker).is_pending());
        latch.count_down();
        assert_eq!(wakes.wakes(), 1);
        assert_eq!(poll_once(&mut wait, &waker), Poll::Ready(()));
        latch.count_down();
        assert_eq!(wakes.wakes(), 1, "a no-op count-down wakes nobody");
    }

    #[test]
    fn arrive_and_wait_counts_down_at_call() {
        let latch = Latch::new(2);
        let mut first = latch.arrive_and_wait();
        assert_eq!(latch.count(), 1);
        assert!(poll_once(&mut first, Waker::noop()).is_pending());
        let mut second = latch.arrive_and_wait();
        assert_eq!(poll_once(&mut second, Waker::noop()), Poll::Ready(()));
        assert_eq!(poll_once(&mut first, Waker::noop()), Poll::Ready(()));
    }
}
