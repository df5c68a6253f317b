//! The one place that picks the synchronization types: std's, loom's, or (with
//! the `std` feature off) `core`'s atomics and a spin lock.
//!
//! Every primitive imports its atomics, `Arc` and `Mutex` from here, so that
//! `RUSTFLAGS="--cfg loom"` swaps all of them at once for the loom models in
//! `tests/loom.rs`, and a `no_std` build swaps the lock.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicBool, AtomicUsize, Ordering},
    Arc,
};

#[cfg(not(loom))]
pub(crate) use alloc::sync::Arc;
#[cfg(all(not(loom), feature = "std"))]
pub(crate) use core::sync::atomic::AtomicBool;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicUsize, Ordering};

/// One waker, registered and woken without a lock: `atomic-waker`'s, or
/// loom's model of the same type under loom.
pub(crate) struct AtomicWaker {
    #[cfg(not(loom))]
    inner: atomic_waker::AtomicWaker,
    #[cfg(loom)]
    inner: loom::future::AtomicWaker,
}

// A panic leaves the slot consistent (every operation is a CAS on its state
// word; a waker is woken outside the critical section), as event-listener's
// `Event` does: keep `WaitGroup` and `Latch` unwind-safe, as they were.
impl core::panic::UnwindSafe for AtomicWaker {}
impl core::panic::RefUnwindSafe for AtomicWaker {}

impl AtomicWaker {
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(not(loom))]
            inner: atomic_waker::AtomicWaker::new(),
            #[cfg(loom)]
            inner: loom::future::AtomicWaker::new(),
        }
    }

    #[inline]
    pub(crate) fn register(&self, waker: &core::task::Waker) {
        #[cfg(not(loom))]
        self.inner.register(waker);
        #[cfg(loom)]
        self.inner.register_by_ref(waker);
    }

    #[inline]
    pub(crate) fn wake(&self) {
        self.inner.wake();
    }

    #[inline]
    pub(crate) fn take(&self) -> Option<core::task::Waker> {
        #[cfg(not(loom))]
        {
            self.inner.take()
        }
        #[cfg(loom)]
        {
            self.inner.take_waker()
        }
    }
}

// Without `std` the lock is `spin`'s, behind the `spin` feature: Cargo cannot
// pull a dependency in only when a feature is *off*, so a `no_std` user turns
// it on, and a default build compiles no lock crate it does not use.
#[cfg(all(not(feature = "std"), not(feature = "spin")))]
compile_error!(
    "taskgroup without its `std` feature needs a lock for `no_std`: enable its `spin` feature \
     (`taskgroup = { version = \"0.1\", default-features = false, features = [\"spin\"] }`)"
);

#[cfg(loom)]
use loom::sync as lock_impl;
#[cfg(all(not(loom), feature = "std"))]
use std::sync as lock_impl;

/// The guard [`Mutex::lock`] returns.
#[cfg(any(loom, feature = "std"))]
pub(crate) type MutexGuard<'a, T> = lock_impl::MutexGuard<'a, T>;
/// The guard [`Mutex::lock`] returns.
#[cfg(all(not(loom), not(feature = "std")))]
pub(crate) type MutexGuard<'a, T> = spin::MutexGuard<'a, T>;

/// A lock that no user code ever runs under.
///
/// That is the rule for every lock in this crate (user code — wakers, drops of
/// user values, task futures — runs only after the guard is gone), so a
/// poisoned std lock still guards consistent state: `lock` takes it either
/// way, and callers never see poisoning. Without `std`, a spin lock: it is
/// held only for a few instructions of bookkeeping.
#[derive(Default)]
pub(crate) struct Mutex<T> {
    #[cfg(any(loom, feature = "std"))]
    inner: lock_impl::Mutex<T>,
    #[cfg(all(not(loom), not(feature = "std")))]
    inner: spin::Mutex<T>,
}

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            #[cfg(any(loom, feature = "std"))]
            inner: lock_impl::Mutex::new(value),
            #[cfg(all(not(loom), not(feature = "std")))]
            inner: spin::Mutex::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(any(loom, feature = "std"))]
        {
            self.inner
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
        #[cfg(all(not(loom), not(feature = "std")))]
        {
            self.inner.lock()
        }
    }
}

/// An unbounded multi-producer multi-consumer FIFO queue: a `VecDeque`
/// behind a lock of its own, held only to push one item or to take items
/// in one step (nothing else is locked under it, and no user value is
/// dropped under it).
///
/// A lock, not a lock-free queue: a push here is one lock and an amortized
/// `Vec` write, where a lock-free unbounded queue costs as many atomic
/// operations per push and again per pop, plus a block allocation every few
/// dozen items; and a join takes every outcome in one step instead of one
/// pop each (`benches/fan_out.rs` measures the group's fan-out).
///
/// Always a *std* lock, also under loom: loom runs one thread at a time and
/// never switches inside it, so each push and take is one indivisible step,
/// as it is with the real lock. The models explore this crate's protocol
/// around the queue (what is pushed before a count is lowered, what a reader
/// sees after it); with a loom lock here a two-task ErrGroup model ran 12
/// minutes instead of seconds.
#[cfg(feature = "std")]
pub(crate) struct Queue<T> {
    inner: std::sync::Mutex<std::collections::VecDeque<T>>,
}

#[cfg(feature = "std")]
impl<T> Queue<T> {
    pub(crate) fn new() -> Self {
        Self {
            inner: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    pub(crate) fn push(&self, value: T) {
        self.locked().push_back(value);
    }

    pub(crate) fn len(&self) -> usize {
        self.locked().len()
    }

    /// Takes everything queued, in order.
    pub(crate) fn take_all(&self) -> Vec<T> {
        let all = core::mem::take(&mut *self.locked());
        all.into()
    }

    /// Moves everything queued, in order, into `empty` (an empty queue of
    /// the caller's): one lock for the whole batch, and no copy (the two
    /// swap their buffers). Returns how many it moved.
    pub(crate) fn take_into(&self, empty: &mut std::collections::VecDeque<T>) -> usize {
        debug_assert!(empty.is_empty());
        core::mem::swap(&mut *self.locked(), empty);
        empty.len()
    }

    /// Takes up to `count` items from the front (to drop outside the lock).
    pub(crate) fn take_front(&self, count: usize) -> Vec<T> {
        let mut queue = self.locked();
        let count = count.min(queue.len());
        queue.drain(..count).collect()
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<T>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
