//! The counting-group contenders shared by `benches/wait_group.rs`
//! (`add_done`) and `benches/wake.rs` (the ping-pongs), included by both with
//! `#[path]`: taskgroup's `WaitGroup`, and the two usual hand-rolled async
//! wait groups — an `AtomicUsize` with tokio's `Notify`, and one with a raw
//! event-listener `Event` — each notifying at every transition to zero.

// Each bench file uses only part of the trait.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use event_listener::{Event, Listener};
use taskgroup::WaitGroup;

/// The operations every counting-group contender offers.
pub trait Group: Send + Sync + 'static {
    const NAME: &'static str;
    fn with_count(count: usize) -> Self;
    fn add1(&self);
    fn done(&self);
    /// Waits for zero, blocking the thread.
    fn wait_blocking(&self);
    /// Waits for zero, as a future.
    fn wait(&self) -> impl Future<Output = ()> + Send + '_;
}

impl Group for WaitGroup {
    const NAME: &'static str = "taskgroup";
    fn with_count(count: usize) -> Self {
        let wg = WaitGroup::new();
        wg.add(count);
        wg
    }
    fn add1(&self) {
        self.add(1);
    }
    fn done(&self) {
        WaitGroup::done(self);
    }
    fn wait_blocking(&self) {
        WaitGroup::wait_blocking(self);
    }
    fn wait(&self) -> impl Future<Output = ()> + Send + '_ {
        WaitGroup::wait(self)
    }
}

/// The usual hand-rolled async wait group on tokio: a counter and a `Notify`
/// that is told at every transition to zero.
pub struct TokioGroup {
    count: AtomicUsize,
    notify: tokio::sync::Notify,
}

impl Group for TokioGroup {
    const NAME: &'static str = "tokio_notify_group";
    fn with_count(count: usize) -> Self {
        Self {
            count: AtomicUsize::new(count),
            notify: tokio::sync::Notify::new(),
        }
    }
    fn add1(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.notify.notify_waiters();
        }
    }
    fn wait_blocking(&self) {
        futures::executor::block_on(Group::wait(self));
    }
    async fn wait(&self) {
        // Enable the `Notified` (register), then re-check the count: a
        // `notify_waiters` between the check and the registration is not lost.
        // (A group raised again before the waiter runs would make this wait
        // for the next zero; the ping-pong never does that.)
        loop {
            let mut notified = pin!(self.notify.notified());
            notified.as_mut().enable();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// The same group on a raw event-listener `Event`: notify (everyone) at every
/// transition to zero; wait = check, `listen()`, re-check, park.
pub struct EventGroup {
    count: AtomicUsize,
    event: Event,
}

impl Group for EventGroup {
    const NAME: &'static str = "event_listener_group";
    fn with_count(count: usize) -> Self {
        Self {
            count: AtomicUsize::new(count),
            event: Event::new(),
        }
    }
    fn add1(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.event.notify(usize::MAX);
        }
    }
    fn wait_blocking(&self) {
        while self.count.load(Ordering::Acquire) != 0 {
            let listener = self.event.listen();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            listener.wait();
        }
    }
    async fn wait(&self) {
        while self.count.load(Ordering::Acquire) != 0 {
            let listener = self.event.listen();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            listener.await;
        }
    }
}
