//! `Semaphore` behaviour, on every runtime, on plain threads, and polled by
//! hand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use taskgroup::runtime::Runtime;
use taskgroup::{AcquireError, Semaphore, TryAcquireError};

use crate::common::{poll_once, runtime_tests, spawn_joinable, CountingWaker};

fn too_large(requested: usize, max: usize) -> AcquireError {
    AcquireError::TooLarge { requested, max }
}

runtime_tests! {
    async fn acquire_and_release_round_trip(rt) {
        let sem = Semaphore::new(3);
        let one = sem.acquire().await.unwrap();
        let two = sem.acquire_many(2).await.unwrap();
        assert_eq!((one.num_permits(), two.num_permits(), sem.available_permits()), (1, 2, 0));
        drop(two);
        assert_eq!(sem.available_permits(), 2);
        drop(one);
        assert_eq!(sem.available_permits(), 3);
    }

    async fn waiters_run_as_permits_free_up(rt) {
        const PERMITS: usize = 2;
        let sem = Semaphore::new(PERMITS);
        let (in_use, high_water) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (sem, in_use, high_water, sleeper) = (sem.clone(), in_use.clone(), high_water.clone(), rt.clone());
                spawn_joinable(&rt, async move {
                    let _permit = sem.acquire().await.unwrap();
                    let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                    high_water.fetch_max(now, Ordering::SeqCst);
                    sleeper.sleep(Duration::from_micros(200)).await;
                    in_use.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        assert_eq!(high_water.load(Ordering::SeqCst), PERMITS);
        assert_eq!(sem.available_permits(), PERMITS);
    }

    async fn too_large_request_on_a_fixed_semaphore_fails_at_once(rt) {
        let sem = Semaphore::fixed(30);
        assert_eq!(sem.acquire_many(31).await.unwrap_err(), too_large(31, 30));
        assert_eq!(
            sem.try_acquire_many(31).unwrap_err(),
            TryAcquireError::TooLarge { requested: 31, max: 30 }
        );
        assert_eq!(sem.available_permits(), 30, "a refused request takes nothing");
    }

    async fn close_fails_queued_and_later_acquires(rt) {
        let sem = Semaphore::new(1);
        let held = sem.acquire().await.unwrap();
        let waiter = spawn_joinable(&rt, {
            let sem = sem.clone();
            async move { sem.acquire().await.map(|p| p.num_permits()) }
        });
        rt.sleep(Duration::from_millis(2)).await;
        sem.close();
        assert_eq!(waiter.await, Err(AcquireError::Closed));
        assert_eq!(sem.acquire().await.unwrap_err(), AcquireError::Closed);
        drop(held); // permits held across a close still return
        assert_eq!(sem.available_permits(), 1);
    }

    async fn waiters_are_served_in_fifo_order(rt) {
        let sem = Semaphore::new(2);
        let held = sem.acquire_many(2).await.unwrap();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for i in 0..5 {
            let (sem, order) = (sem.clone(), order.clone());
            let queued = taskgroup::Latch::new(1);
            let signal = queued.clone();
            waiters.push(spawn_joinable(&rt, async move {
                let acquire = sem.acquire_many(1 + i % 2);
                futures::pin_mut!(acquire);
                // Poll once to take a place in the queue, then say so.
                let first = futures::poll!(acquire.as_mut());
                assert!(first.is_pending());
                signal.count_down();
                let _permit = acquire.await.unwrap();
                order.lock().unwrap().push(i);
            }));
            queued.wait().await; // the next waiter queues behind this one
        }
        drop(held);
        for waiter in waiters {
            waiter.await;
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    }

    async fn blocking_and_async_waiters_mixed(rt) {
        let sem = Semaphore::new(2);
        let in_use = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (sem, in_use) = (sem.clone(), in_use.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let _permit = sem.acquire_blocking().unwrap();
                        assert!(in_use.fetch_add(1, Ordering::SeqCst) < 2);
                        in_use.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (sem, in_use) = (sem.clone(), in_use.clone());
                spawn_joinable(&rt, async move {
                    for _ in 0..50 {
                        let _permit = sem.acquire().await.unwrap();
                        assert!(in_use.fetch_add(1, Ordering::SeqCst) < 2);
                        in_use.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(sem.available_permits(), 2);
    }

    async fn weighted_stress_conserves_permits(rt) {
        // Tasks take random weights; some give up waiting (a dropped acquire
        // future). Permits in use never exceed the capacity, and all of them
        // are back at the end.
        const CAPACITY: usize = 10;
        let sem = Semaphore::new(CAPACITY);
        let in_use = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..300usize)
            .map(|i| {
                let (sem, in_use, sleeper) = (sem.clone(), in_use.clone(), rt.clone());
                spawn_joinable(&rt, async move {
                    let weight = 1 + i % 4;
                    let acquire = sem.acquire_many(weight);
                    let permit = if i % 7 == 0 {
                        let nap = sleeper.sleep(Duration::from_micros(30));
                        futures::pin_mut!(nap);
                        match futures::future::select(acquire, nap).await {
                            futures::future::Either::Left((permit, _)) => permit.unwrap(),
                            futures::future::Either::Right(_) => return,
                        }
                    } else {
                        acquire.await.unwrap()
                    };
                    let now = in_use.fetch_add(weight, Ordering::SeqCst) + weight;
                    assert!(now <= CAPACITY, "{now} permits in use");
                    if i % 3 == 0 {
                        sleeper.sleep(Duration::from_micros(10)).await;
                    }
                    in_use.fetch_sub(weight, Ordering::SeqCst);
                    drop(permit);
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        assert_eq!(sem.available_permits(), CAPACITY);
        assert_eq!(sem.capacity(), CAPACITY);
    }
}

mod threads {
    use super::*;

    #[test]
    fn blocking_acquire_waits_for_a_release() {
        let sem = Semaphore::new(1);
        let held = sem.acquire_blocking().unwrap();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let sem = sem.clone();
                std::thread::spawn(move || {
                    let permit = sem.acquire_blocking().unwrap();
                    std::thread::sleep(Duration::from_millis(1));
                    drop(permit);
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(5));
        drop(held);
        for waiter in waiters {
            waiter.join().unwrap();
        }
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn blocking_errors_are_immediate() {
        let sem = Semaphore::fixed(2);
        assert_eq!(sem.acquire_many_blocking(3).unwrap_err(), too_large(3, 2));
        sem.close();
        assert_eq!(sem.acquire_blocking().unwrap_err(), AcquireError::Closed);
    }

    #[test]
    fn errors_explain_themselves() {
        assert_eq!(
            too_large(31, 30).to_string(),
            "requested 31 permits from a semaphore that can never grant more than 30"
        );
        assert_eq!(AcquireError::Closed.to_string(), "semaphore closed");
        assert_eq!(TryAcquireError::Closed.to_string(), "semaphore closed");
        assert_eq!(
            TryAcquireError::NoPermits.to_string(),
            "no permits available now"
        );
        assert_eq!(
            TryAcquireError::TooLarge {
                requested: 3,
                max: 2
            }
            .to_string(),
            too_large(3, 2).to_string()
        );
        assert_eq!(
            format!("{:?}", Semaphore::new(2)),
            "Semaphore { available: 2, capacity: 2, fixed: false, queued: 0, closed: false }"
        );
    }
}

mod manual_poll {
    use super::*;

    #[test]
    fn a_large_waiter_is_not_starved_by_small_ones() {
        let sem = Semaphore::new(10);
        let half = sem.try_acquire_many(5).unwrap();
        let mut large = sem.acquire_many(10);
        assert!(poll_once(&mut large, Waker::noop()).is_pending());
        // 5 are free, but the small request queues behind the large one.
        let mut small = sem.acquire();
        assert!(poll_once(&mut small, Waker::noop()).is_pending());
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        drop(half);
        let Poll::Ready(Ok(all)) = poll_once(&mut large, Waker::noop()) else {
            panic!("the large request is served first");
        };
        assert!(poll_once(&mut small, Waker::noop()).is_pending());
        drop(all);
        assert!(matches!(
            poll_once(&mut small, Waker::noop()),
            Poll::Ready(Ok(_))
        ));
    }

    #[test]
    fn a_dropped_queued_waiter_does_not_block_the_queue() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let mut first = sem.acquire();
        let mut second = sem.acquire();
        assert!(poll_once(&mut first, Waker::noop()).is_pending());
        assert!(poll_once(&mut second, Waker::noop()).is_pending());
        drop(first);
        drop(held);
        assert!(matches!(
            poll_once(&mut second, Waker::noop()),
            Poll::Ready(Ok(_))
        ));
    }

    #[test]
    fn dropping_the_head_lets_the_waiters_behind_it_through() {
        let sem = Semaphore::new(5);
        let _held = sem.try_acquire_many(3).unwrap();
        let mut large = sem.acquire_many(5);
        assert!(poll_once(&mut large, Waker::noop()).is_pending());
        let (wakes, waker) = CountingWaker::new();
        let mut small = sem.acquire_many(2);
        assert!(poll_once(&mut small, &waker).is_pending());
        drop(large);
        assert_eq!(wakes.wakes(), 1, "the small waiter is woken");
        assert!(matches!(poll_once(&mut small, &waker), Poll::Ready(Ok(_))));
    }

    #[test]
    fn granted_but_dropped_returns_the_permits() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let mut waiter = sem.acquire();
        assert!(poll_once(&mut waiter, Waker::noop()).is_pending());
        drop(held); // granted to the waiter, which never sees it
        assert_eq!(sem.available_permits(), 0);
        drop(waiter);
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn a_waiter_is_not_woken_until_it_fits() {
        let sem = Semaphore::new(2);
        let one = sem.try_acquire().unwrap();
        let two = sem.try_acquire().unwrap();
        let (wakes, waker) = CountingWaker::new();
        let mut both = sem.acquire_many(2);
        assert!(poll_once(&mut both, &waker).is_pending());
        drop(one);
        assert_eq!(wakes.wakes(), 0, "one permit is not enough: no wake");
        assert!(poll_once(&mut both, &waker).is_pending());
        drop(two);
        assert_eq!(wakes.wakes(), 1);
        assert!(matches!(poll_once(&mut both, &waker), Poll::Ready(Ok(_))));
    }

    #[test]
    fn add_permits_serves_the_queue() {
        let sem = Semaphore::new(1);
        let _held = sem.try_acquire().unwrap();
        let mut waiter = sem.acquire();
        assert!(poll_once(&mut waiter, Waker::noop()).is_pending());
        sem.add_permits(1);
        assert!(matches!(
            poll_once(&mut waiter, Waker::noop()),
            Poll::Ready(Ok(_))
        ));
        assert_eq!(sem.capacity(), 2);
    }

    #[test]
    fn shrinking_a_fixed_semaphore_below_a_queued_request_fails_it() {
        let sem = Semaphore::fixed(4);
        let held = sem.try_acquire_many(2).unwrap();
        let mut big = sem.acquire_many(4);
        assert!(poll_once(&mut big, Waker::noop()).is_pending());
        assert_eq!(sem.forget_permits(1), 1);
        assert_eq!(
            poll_once(&mut big, Waker::noop()).map(|r| r.map(|p| p.num_permits())),
            Poll::Ready(Err(too_large(4, 3)))
        );
        held.forget();
        assert_eq!((sem.available_permits(), sem.capacity()), (1, 1));
    }
}
