//! `Semaphore` behaviour, on every runtime, on plain threads, and polled by
//! hand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use taskgroup::runtime::Runtime;
use taskgroup::{AcquireError, Semaphore, TryAcquireError};

use crate::common::{fail_on_hang, poll_once, runtime_tests, spawn_joinable, CountingWaker};

/// Spawns `acquire_many(n)` on `rt` and returns once it is queued (polled
/// `Pending` once), with the task that finishes it: `Ok(permits)` or the
/// error.
async fn queued_acquire<R: Runtime>(
    rt: &R,
    sem: &Semaphore,
    n: usize,
) -> impl std::future::Future<Output = Result<usize, AcquireError>> {
    let queued = taskgroup::Latch::new(1);
    let (sem, signal) = (sem.clone(), queued.clone());
    let task = spawn_joinable(rt, async move {
        let acquire = sem.acquire_many(n);
        futures::pin_mut!(acquire);
        assert!(
            futures::poll!(acquire.as_mut()).is_pending(),
            "the request must queue"
        );
        signal.count_down();
        acquire.await.map(|permit| permit.num_permits())
    });
    queued.wait().await;
    task
}

/// A pool in the style tokio's docs teach: a permit per object, forgotten
/// while the object is out and added back when it returns.
struct Pool {
    objects: std::sync::Mutex<Vec<usize>>,
    free: Semaphore,
}

impl Pool {
    fn new(size: usize) -> Self {
        Self {
            objects: std::sync::Mutex::new((0..size).collect()),
            free: Semaphore::new(size),
        }
    }

    async fn check_out(&self) -> Result<usize, AcquireError> {
        self.free.acquire().await?.forget();
        Ok(self
            .objects
            .lock()
            .unwrap()
            .pop()
            .expect("a permit means an object"))
    }

    fn check_in(&self, object: usize) {
        self.objects.lock().unwrap().push(object);
        self.free.add_permits(1);
    }
}

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

    // The regression table: a growable semaphore waits while a request could
    // still be granted.

    async fn an_empty_semaphore_filled_later_serves_the_waiter(rt) {
        let sem = Semaphore::new(0);
        let waiter = queued_acquire(&rt, &sem, 1).await;
        sem.add_permits(1);
        assert_eq!(waiter.await, Ok(1));
        assert_eq!(sem.available_permits(), 1);
    }

    async fn a_forgotten_permit_added_back_serves_the_queued_waiter(rt) {
        let sem = Semaphore::new(1);
        let held = sem.acquire().await.unwrap();
        let waiter = queued_acquire(&rt, &sem, 1).await;
        held.forget(); // capacity 0: the waiter keeps waiting
        assert_eq!(sem.capacity(), 0);
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        sem.add_permits(1);
        assert_eq!(waiter.await, Ok(1));
        assert_eq!((sem.available_permits(), sem.capacity()), (1, 1));
    }

    async fn try_acquire_after_forget_finds_no_permits(rt) {
        let sem = Semaphore::new(1);
        sem.try_acquire().unwrap().forget();
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        assert_eq!(sem.try_acquire_many(2).unwrap_err(), TryAcquireError::NoPermits);
        sem.add_permits(1);
        assert_eq!(sem.try_acquire().unwrap().num_permits(), 1);
    }

    async fn a_request_above_max_permits_fails_at_once(rt) {
        let sem = Semaphore::new(0);
        let requested = Semaphore::MAX_PERMITS + 1;
        let max = Semaphore::MAX_PERMITS;
        assert_eq!(sem.acquire_many(requested).await.unwrap_err(), too_large(requested, max));
        assert_eq!(
            sem.try_acquire_many(requested).unwrap_err(),
            TryAcquireError::TooLarge { requested, max }
        );
        // MAX_PERMITS itself may still be granted, once added: it waits.
        let waiter = queued_acquire(&rt, &sem, max).await;
        sem.add_permits(max);
        assert_eq!(waiter.await, Ok(max));
    }

    // tokio's semaphore behaviours that users build on.

    async fn a_pool_that_forgets_and_adds_back_never_fails(rt) {
        const OBJECTS: usize = 2;
        let pool = Arc::new(Pool::new(OBJECTS));
        let (out, high_water) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (pool, out, high_water, sleeper) =
                    (pool.clone(), out.clone(), high_water.clone(), rt.clone());
                spawn_joinable(&rt, async move {
                    for _ in 0..5 {
                        let object = pool.check_out().await?;
                        high_water.fetch_max(out.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                        sleeper.sleep(Duration::from_micros(50)).await;
                        out.fetch_sub(1, Ordering::SeqCst);
                        pool.check_in(object);
                    }
                    Ok::<_, AcquireError>(())
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await, Ok(()), "every checkout waits for an object");
        }
        assert_eq!(high_water.load(Ordering::SeqCst), OBJECTS);
        assert_eq!(pool.objects.lock().unwrap().len(), OBJECTS);
        assert_eq!((pool.free.available_permits(), pool.free.capacity()), (OBJECTS, OBJECTS));
    }

    async fn a_token_bucket_refilled_by_a_task_serves_every_request(rt) {
        // tokio's token bucket: a refill task adds a token at each tick while
        // the bucket is below its capacity; each request takes a token and
        // forgets it.
        const CAPACITY: usize = 3;
        const REQUESTS: usize = 12;
        let bucket = Semaphore::new(0);
        let served = Arc::new(AtomicUsize::new(0));
        let refill = spawn_joinable(&rt, {
            let (bucket, served, sleeper) = (bucket.clone(), served.clone(), rt.clone());
            async move {
                let mut most = 0;
                while served.load(Ordering::SeqCst) < REQUESTS {
                    sleeper.sleep(Duration::from_micros(100)).await;
                    if bucket.available_permits() < CAPACITY {
                        bucket.add_permits(1);
                    }
                    most = most.max(bucket.available_permits());
                }
                most
            }
        });
        let requests: Vec<_> = (0..REQUESTS)
            .map(|_| {
                let (bucket, served) = (bucket.clone(), served.clone());
                spawn_joinable(&rt, async move {
                    bucket.acquire().await?.forget();
                    served.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, AcquireError>(())
                })
            })
            .collect();
        for request in requests {
            assert_eq!(request.await, Ok(()));
        }
        assert!(refill.await <= CAPACITY, "the bucket never holds more than its capacity");
        assert_eq!(served.load(Ordering::SeqCst), REQUESTS);
    }

    async fn close_fails_every_queued_waiter(rt) {
        let sem = Semaphore::new(0);
        let one = queued_acquire(&rt, &sem, 1).await;
        let many = queued_acquire(&rt, &sem, 3).await;
        sem.close();
        assert_eq!(one.await, Err(AcquireError::Closed));
        assert_eq!(many.await, Err(AcquireError::Closed));
        sem.add_permits(5); // a closed semaphore stays closed
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
        assert_eq!(sem.acquire().await.unwrap_err(), AcquireError::Closed);
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
    fn a_blocking_acquire_on_an_empty_semaphore_waits_for_add_permits() {
        fail_on_hang(
            "a_blocking_acquire_on_an_empty_semaphore_waits_for_add_permits",
            || {
                let sem = Semaphore::new(0);
                let waiter = std::thread::spawn({
                    let sem = sem.clone();
                    move || sem.acquire_many_blocking(2).map(|p| p.num_permits())
                });
                sem.add_permits(1);
                sem.add_permits(1);
                assert_eq!(waiter.join().unwrap(), Ok(2));
            },
        );
    }

    #[cfg(panic = "unwind")]
    #[test]
    #[should_panic(expected = "add_permits on a fixed-size semaphore")]
    fn add_permits_on_a_fixed_semaphore_panics() {
        Semaphore::fixed(1).add_permits(1);
    }

    #[cfg(panic = "unwind")]
    #[test]
    #[should_panic(expected = "would exceed Semaphore::MAX_PERMITS")]
    fn add_permits_beyond_max_permits_panics() {
        let sem = Semaphore::new(Semaphore::MAX_PERMITS - 1);
        sem.add_permits(1); // exactly MAX_PERMITS: fine
        sem.add_permits(1);
    }

    #[cfg(panic = "unwind")]
    #[test]
    #[should_panic(expected = "different semaphores")]
    fn merging_permits_of_two_semaphores_panics() {
        let (a, b) = (Semaphore::new(1), Semaphore::new(1));
        let mut permit = a.try_acquire().unwrap();
        permit.merge(b.try_acquire().unwrap());
    }

    #[test]
    fn split_and_merged_permits_return_exactly_what_they_hold() {
        let sem = Semaphore::new(5);
        let mut four = sem.try_acquire_many(4).unwrap();
        let one = four.split(1).unwrap();
        assert!(
            four.split(4).is_none(),
            "three left: a split of four is refused"
        );
        drop(one);
        assert_eq!(sem.available_permits(), 2);
        four.merge(sem.try_acquire().unwrap());
        assert_eq!(four.num_permits(), 4);
        four.forget();
        assert_eq!((sem.available_permits(), sem.capacity()), (1, 1));
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
            "Semaphore { available: 2, capacity: 2, fixed: false, queued: false, closed: false }"
        );
    }
}

mod manual_poll {
    use super::*;

    /// A semaphore that never switches to hand-off: newcomers always barge.
    fn barging(permits: usize) -> Semaphore {
        Semaphore::with_handoff_after(permits, false, Duration::MAX)
    }

    /// A semaphore whose bound is 1 ns: a head that loses a race after the
    /// test slept ([`past_the_bound`]) switches it to hand-off.
    fn handing_off(permits: usize) -> Semaphore {
        Semaphore::with_handoff_after(permits, false, Duration::from_nanos(1))
    }

    /// Lets the queued waiters' wait pass `handing_off`'s bound (any sleep
    /// does; the clock is monotonic).
    fn past_the_bound() {
        std::thread::sleep(Duration::from_millis(1));
    }

    /// A zero bound: strict FIFO, newcomers never pass a queued waiter.
    fn strict_fifo(permits: usize) -> Semaphore {
        Semaphore::with_handoff_after(permits, false, Duration::ZERO)
    }

    #[test]
    fn with_a_zero_bound_small_requests_queue_behind_a_large_one() {
        let sem = strict_fifo(10);
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
        assert!(
            sem.try_acquire().is_ok(),
            "nobody queued: free permits are taken"
        );
    }

    #[test]
    fn a_newcomer_takes_a_released_permit_before_the_woken_waiter() {
        let sem = barging(1);
        let held = sem.try_acquire().unwrap();
        let (wakes, waker) = CountingWaker::new();
        let mut waiter = sem.acquire();
        assert!(poll_once(&mut waiter, &waker).is_pending());
        drop(held);
        assert_eq!(wakes.wakes(), 1, "the release wakes the head");
        assert_eq!(
            sem.available_permits(),
            1,
            "but does not hand it the permit"
        );
        let barger = sem.try_acquire().unwrap();
        assert!(
            poll_once(&mut waiter, &waker).is_pending(),
            "the woken waiter lost the race and waits again"
        );
        // It went back to the front: a later request queues behind it.
        let mut later = sem.acquire();
        assert!(poll_once(&mut later, Waker::noop()).is_pending());
        drop(barger);
        assert_eq!(wakes.wakes(), 2);
        let Poll::Ready(Ok(first)) = poll_once(&mut waiter, &waker) else {
            panic!("the woken waiter takes the permit");
        };
        assert!(poll_once(&mut later, Waker::noop()).is_pending());
        drop(first);
        assert!(matches!(
            poll_once(&mut later, Waker::noop()),
            Poll::Ready(Ok(_))
        ));
    }

    #[test]
    fn a_waiter_passed_over_past_the_bound_is_handed_the_permits_in_order() {
        let sem = handing_off(1);
        let held = sem.try_acquire().unwrap();
        let (wakes, waker) = CountingWaker::new();
        let mut waiter = sem.acquire();
        assert!(poll_once(&mut waiter, &waker).is_pending());
        drop(held);
        let barger = sem.try_acquire().unwrap();
        past_the_bound();
        // Lost once, past the bound: hand-off from now on.
        assert!(poll_once(&mut waiter, &waker).is_pending());
        let mut newcomer = sem.acquire();
        assert!(poll_once(&mut newcomer, Waker::noop()).is_pending());
        drop(barger);
        assert_eq!(sem.available_permits(), 0, "granted to the head, not freed");
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        assert_eq!(wakes.wakes(), 2);
        let Poll::Ready(Ok(first)) = poll_once(&mut waiter, &waker) else {
            panic!("the head is served first");
        };
        assert!(poll_once(&mut newcomer, Waker::noop()).is_pending());
        drop(first);
        let Poll::Ready(Ok(second)) = poll_once(&mut newcomer, Waker::noop()) else {
            panic!("then the newcomer, in order");
        };
        drop(second);
        // The queue drained: barging again.
        assert!(sem.try_acquire().is_ok());
    }

    #[test]
    fn a_large_waiter_is_not_starved_by_small_ones() {
        let sem = handing_off(10);
        let half = sem.try_acquire_many(5).unwrap();
        let mut large = sem.acquire_many(10);
        assert!(poll_once(&mut large, Waker::noop()).is_pending());
        // Until the large request has lost a race, small ones may barge.
        drop(sem.try_acquire().unwrap()); // the release wakes the head
        let barger = sem.try_acquire().unwrap();
        past_the_bound();
        assert!(poll_once(&mut large, Waker::noop()).is_pending());
        // Now hand-off: 4 are free, but the small request queues behind.
        assert_eq!(sem.available_permits(), 4);
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        let mut small = sem.acquire();
        assert!(poll_once(&mut small, Waker::noop()).is_pending());
        drop(barger);
        drop(half);
        let Poll::Ready(Ok(all)) = poll_once(&mut large, Waker::noop()) else {
            panic!("the large request is served first");
        };
        assert_eq!(all.num_permits(), 10);
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
        let mut held = sem.try_acquire_many(4).unwrap();
        let mut large = sem.acquire_many(5);
        assert!(poll_once(&mut large, Waker::noop()).is_pending());
        let (wakes, waker) = CountingWaker::new();
        let mut small = sem.acquire_many(2);
        assert!(
            poll_once(&mut small, &waker).is_pending(),
            "one free: it queues"
        );
        drop(large);
        drop(held.split(1).unwrap());
        assert_eq!(wakes.wakes(), 1, "the small waiter, now the head, is woken");
        assert!(matches!(poll_once(&mut small, &waker), Poll::Ready(Ok(_))));
    }

    #[test]
    fn a_woken_waiter_dropped_passes_the_wake_up_on() {
        let sem = barging(1);
        let held = sem.try_acquire().unwrap();
        let mut first = sem.acquire();
        assert!(poll_once(&mut first, Waker::noop()).is_pending());
        let (wakes, waker) = CountingWaker::new();
        let mut second = sem.acquire();
        assert!(poll_once(&mut second, &waker).is_pending());
        drop(held); // wakes `first`, which never looks
        assert_eq!(wakes.wakes(), 0);
        drop(first);
        assert_eq!(wakes.wakes(), 1, "the wake-up passed to the next waiter");
        assert!(matches!(poll_once(&mut second, &waker), Poll::Ready(Ok(_))));
    }

    #[test]
    fn granted_but_dropped_returns_the_permits() {
        let sem = handing_off(1);
        let held = sem.try_acquire().unwrap();
        let mut waiter = sem.acquire();
        assert!(poll_once(&mut waiter, Waker::noop()).is_pending());
        drop(held);
        let barger = sem.try_acquire().unwrap();
        past_the_bound();
        assert!(poll_once(&mut waiter, Waker::noop()).is_pending()); // hand-off on
        drop(barger); // granted to the waiter, which never sees it
        assert_eq!(sem.available_permits(), 0);
        drop(waiter);
        assert_eq!(sem.available_permits(), 1);
        assert!(
            sem.try_acquire().is_ok(),
            "the queue is empty: hand-off is off"
        );
    }

    #[test]
    fn a_waiter_that_does_not_fit_waits_on_until_it_does() {
        let sem = barging(2);
        let one = sem.try_acquire().unwrap();
        let two = sem.try_acquire().unwrap();
        let (wakes, waker) = CountingWaker::new();
        let mut both = sem.acquire_many(2);
        assert!(poll_once(&mut both, &waker).is_pending());
        drop(one);
        assert!(
            poll_once(&mut both, &waker).is_pending(),
            "one of two: waits"
        );
        drop(two);
        assert_eq!(wakes.wakes(), 2, "each release woke it to try");
        assert!(matches!(poll_once(&mut both, &waker), Poll::Ready(Ok(_))));
    }

    #[test]
    fn shrinking_a_growable_semaphore_leaves_the_queue_waiting() {
        let sem = barging(4);
        let held = sem.try_acquire_many(2).unwrap();
        let (wakes, waker) = CountingWaker::new();
        let mut big = sem.acquire_many(4);
        assert!(poll_once(&mut big, &waker).is_pending());
        assert_eq!(sem.forget_permits(5), 2, "only the free ones");
        held.forget();
        assert_eq!(sem.capacity(), 0);
        assert_eq!(wakes.wakes(), 0, "a shrink fails nobody and wakes nobody");
        assert!(poll_once(&mut big, &waker).is_pending());
        sem.add_permits(3);
        assert!(poll_once(&mut big, &waker).is_pending(), "three of four");
        sem.add_permits(1);
        assert!(matches!(poll_once(&mut big, &waker), Poll::Ready(Ok(p)) if p.num_permits() == 4));
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
