//! The semaphore's shared state: the atomic word of free permits, the FIFO
//! queue of waiters behind a lock, and the hand-off from a release to the
//! waiters. Every change of the state goes through [`Inner`]'s methods; no
//! other file touches its fields.
//!
//! # The permits word
//!
//! ```text
//!  bit  usize::BITS-1 ...  2      1        0
//!      +--------------------+--------+--------+
//!      |     available      | CLOSED | QUEUED |
//!      +--------------------+--------+--------+
//! ```
//!
//! * `available` (bits 2 and up): the free permits, at most
//!   [`MAX_PERMITS`].
//! * `CLOSED` (bit 1): [`close`](Inner::close) was called; never cleared.
//! * `QUEUED` (bit 0): the queue is not empty.
//!
//! With neither flag set, a first attempt and a release are one CAS on this
//! word: no lock, no allocation. `QUEUED` and `CLOSED` send acquires to the
//! locked path, and `QUEUED` sends releases there too, so while anyone waits
//! every change of `available` happens under the lock. `QUEUED` is set and
//! cleared only under the lock; a fast-path CAS that raced with its setting
//! fails (the word changed) and retries into the locked path.
//!
//! # The capacity and the two kinds
//!
//! Beside the word, `Inner::capacity` counts free plus held permits. A
//! request is refused at once only when it exceeds the most the semaphore
//! can ever grant: `MAX_PERMITS` for a growable semaphore (`fixed` false),
//! the capacity for a fixed one. So only a fixed semaphore's shrink can make
//! a queued request impossible, and only there does a shrink touch the queue
//! (failing those requests as `TOO_LARGE`); a growable one's queue waits for
//! `add_permits`.
//!
//! # The hand-off
//!
//! A release grants permits to the waiters at the head of the queue under the
//! lock (each [`Waiter`]'s `state` goes from `WAITING` to `GRANTED`), then,
//! outside the lock, notifies each granted waiter's own `Event`. A waiter only
//! ever reads its own node, so a wake-up is never stolen by another waiter;
//! a granted waiter that is dropped before it saw its grant gives the permits
//! back through the same lock ([`Inner::abandon`]), which serves the next.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use event_listener::{Event, EventListener};

use super::AcquireError;
use crate::sync::{Arc, AtomicUsize, Mutex, MutexGuard, Ordering};

/// Someone waits in the queue: acquires and releases take the lock.
const QUEUED_FLAG: usize = 1 << 0;
/// The semaphore is closed: acquires take the locked path (and fail).
const CLOSED_FLAG: usize = 1 << 1;
/// `available` starts at bit 2.
const PERMIT_SHIFT: u32 = 2;
/// The most permits a semaphore can hold: what fits above the flags.
pub(super) const MAX_PERMITS: usize = usize::MAX >> PERMIT_SHIFT;

/// The atomic word of free permits and flags (see the module docs).
struct Permits(AtomicUsize);

impl Permits {
    #[inline]
    fn available(&self) -> usize {
        self.0.load(Ordering::Acquire) >> PERMIT_SHIFT
    }

    fn is_closed(&self) -> bool {
        self.0.load(Ordering::Acquire) & CLOSED_FLAG != 0
    }

    /// Takes `n` permits if they are free; with `flags_allowed` false, only
    /// when no flag is set (the lock-free fast path).
    #[inline]
    fn try_take(&self, n: usize, flags_allowed: bool) -> bool {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            if word >> PERMIT_SHIFT < n
                || (!flags_allowed && word & (QUEUED_FLAG | CLOSED_FLAG) != 0)
            {
                return false;
            }
            // Acquire: what the releaser did before releasing happens-before
            // the new holder's work.
            match self.0.compare_exchange_weak(
                word,
                word - (n << PERMIT_SHIFT),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => word = actual,
            }
        }
    }

    /// Returns `n` permits without the lock, unless someone is queued (then
    /// the caller must go through the lock and serve the queue).
    #[inline]
    fn try_give_back(&self, n: usize) -> bool {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            if word & QUEUED_FLAG != 0 {
                return false;
            }
            // Release: pairs with the Acquire of the next taker.
            match self.0.compare_exchange_weak(
                word,
                word + (n << PERMIT_SHIFT),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => word = actual,
            }
        }
    }

    /// Adds permits (under the lock).
    fn add(&self, n: usize) {
        self.0.fetch_add(n << PERMIT_SHIFT, Ordering::Release);
    }

    fn set_flag(&self, flag: usize, on: bool) {
        if on {
            self.0.fetch_or(flag, Ordering::AcqRel);
        } else {
            self.0.fetch_and(!flag, Ordering::AcqRel);
        }
    }
}

/// A waiter's `state`: `WAITING`, then exactly one of the others, written
/// once, under the lock.
const WAITING: usize = 0;
const GRANTED: usize = 1;
const CLOSED: usize = 2;
const TOO_LARGE: usize = 3;

/// One queued request. Its `state` is written once (from `WAITING`), under
/// the semaphore's lock, then its `event` notified outside the lock.
pub(super) struct Waiter {
    /// Permits asked for; never changes.
    wanted: usize,
    /// `WAITING`, `GRANTED`, `CLOSED` or `TOO_LARGE` (the last only on a
    /// fixed semaphore that shrank below the request).
    state: AtomicUsize,
    /// The fixed size when the request failed as `TOO_LARGE` (for the
    /// error); written before `state`.
    max_at_failure: AtomicUsize,
    /// Notified once, after `state` left `WAITING`.
    event: Event,
}

impl Waiter {
    /// A listener for this waiter's one notification.
    pub(super) fn listen(&self) -> EventListener {
        self.event.listen()
    }

    /// `None` while queued; then whether the permits were granted.
    pub(super) fn outcome(&self) -> Option<Result<(), AcquireError>> {
        // Acquire: pairs with the Release store under the lock that settled
        // us (for a grant: the permits' history happens-before our work).
        match self.state.load(Ordering::Acquire) {
            WAITING => None,
            GRANTED => Some(Ok(())),
            CLOSED => Some(Err(AcquireError::Closed)),
            _ => Some(Err(AcquireError::TooLarge {
                requested: self.wanted,
                // Relaxed: ordered by the Acquire load of `state` above.
                max: self.max_at_failure.load(Ordering::Relaxed),
            })),
        }
    }
}

/// What the lock guards.
struct State {
    /// Mirrors `CLOSED_FLAG`.
    closed: bool,
    /// The waiters, oldest first; `QUEUED_FLAG` is set exactly while this
    /// is not empty.
    queue: VecDeque<Arc<Waiter>>,
}

impl State {
    /// Hands permits to waiters at the head of the queue, in order, while
    /// they fit; clears `QUEUED` once the queue is empty. Returns whom to
    /// notify (after the lock is released).
    #[must_use]
    fn settle_queue(&mut self, permits: &Permits) -> Vec<Arc<Waiter>> {
        let mut settled = Vec::new();
        while let Some(head) = self.queue.front() {
            if !permits.try_take(head.wanted, true) {
                break;
            }
            head.state.store(GRANTED, Ordering::Release);
            settled.extend(self.queue.pop_front());
        }
        if self.queue.is_empty() {
            permits.set_flag(QUEUED_FLAG, false);
        }
        settled
    }

    /// After a fixed semaphore shrank to `size`: fails the queued requests
    /// that can never fit now (they would block everyone behind them
    /// forever), then serves the queue.
    #[must_use]
    fn settle_after_shrink(&mut self, size: usize, permits: &Permits) -> Vec<Arc<Waiter>> {
        let mut settled = Vec::new();
        self.queue.retain(|waiter| {
            let fits = waiter.wanted <= size;
            if !fits {
                waiter.max_at_failure.store(size, Ordering::Relaxed);
                waiter.state.store(TOO_LARGE, Ordering::Release);
                settled.push(Arc::clone(waiter));
            }
            fits
        });
        settled.extend(self.settle_queue(permits));
        settled
    }
}

/// Notifies settled waiters; called with the lock released.
fn notify(settled: Vec<Arc<Waiter>>) {
    for waiter in settled {
        trace_event!(trace, "semaphore: waking a queued waiter");
        waiter.event.notify(1);
    }
}

/// The result of a first attempt ([`Inner::try_take_now`]).
pub(super) enum Attempt<'a> {
    /// The permits are the caller's.
    Taken,
    /// The request fails at once.
    Refused(AcquireError),
    /// The caller would have to wait; it may queue while the lock is still
    /// held ([`Line::enqueue`]), or drop this and give up.
    MustWait(Line<'a>),
}

/// The lock, held after a first attempt that must wait.
pub(super) struct Line<'a> {
    inner: &'a Inner,
    state: MutexGuard<'a, State>,
}

impl Line<'_> {
    /// Queues a request for `wanted` permits at the tail; returns its node
    /// and a listener registered before the node became visible (so a grant
    /// right after the unlock is not missed).
    pub(super) fn enqueue(mut self, wanted: usize) -> (Arc<Waiter>, EventListener) {
        let waiter = Arc::new(Waiter {
            wanted,
            state: AtomicUsize::new(WAITING),
            max_at_failure: AtomicUsize::new(0),
            event: Event::new(),
        });
        let listener = waiter.listen();
        self.state.queue.push_back(Arc::clone(&waiter));
        // From here releases take the lock. One that slipped in before the
        // flag was set is seen by settling now (which may grant us at once:
        // the caller reads the outcome before it waits).
        let permits = &self.inner.permits;
        permits.set_flag(QUEUED_FLAG, true);
        let settled = self.state.settle_queue(permits);
        drop(self.state);
        notify(settled);
        (waiter, listener)
    }
}

/// The shared state behind every [`Semaphore`](super::Semaphore) handle and
/// [`Permit`](super::Permit).
pub(super) struct Inner {
    /// Free permits and flags (see the module docs).
    permits: Permits,
    /// Free plus held permits (plus those granted to waiters that have not
    /// taken them yet): never below `available`, at most `MAX_PERMITS`. On a
    /// fixed semaphore it bounds requests and changes only under the lock
    /// (it only shrinks); on a growable one it bounds nothing and changes
    /// without the lock (`add_permits` raises it before the permits are
    /// released, a forgotten permit lowers it).
    capacity: AtomicUsize,
    /// Made by `Semaphore::fixed`: the size never grows and bounds requests.
    fixed: bool,
    state: Mutex<State>,
}

impl Inner {
    pub(super) fn new(permits: usize, fixed: bool) -> Self {
        Self {
            permits: Permits(AtomicUsize::new(permits << PERMIT_SHIFT)),
            capacity: AtomicUsize::new(permits),
            fixed,
            state: Mutex::new(State {
                closed: false,
                queue: VecDeque::new(),
            }),
        }
    }

    /// The immediate failure for a request of `wanted`, if any: the
    /// semaphore is closed, or the request exceeds the most it can ever
    /// grant (a fixed semaphore's size, else `MAX_PERMITS`). Called under the
    /// lock (`state`).
    fn refusal(&self, state: &State, wanted: usize) -> Option<AcquireError> {
        let max = if self.fixed {
            // Relaxed: a fixed semaphore's capacity changes only under the
            // lock we hold.
            self.capacity.load(Ordering::Relaxed)
        } else {
            MAX_PERMITS
        };
        if state.closed {
            Some(AcquireError::Closed)
        } else if wanted > max {
            Some(AcquireError::TooLarge {
                requested: wanted,
                max,
            })
        } else {
            None
        }
    }

    /// Locks the queue (no user code runs under this lock).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The first attempt of every acquire — `try_acquire_many`, the
    /// `acquire_many` future's first poll, the blocking acquires: the
    /// lock-free CAS when no flag is set, else the locked path, which
    /// refuses an impossible request, takes the permits if nobody is
    /// queued ahead, or says the caller must wait.
    #[inline]
    pub(super) fn try_take_now(&self, wanted: usize) -> Attempt<'_> {
        if self.permits.try_take(wanted, false) {
            return Attempt::Taken;
        }
        self.try_take_locked(wanted)
    }

    #[inline(never)]
    fn try_take_locked(&self, wanted: usize) -> Attempt<'_> {
        let state = self.lock();
        if let Some(error) = self.refusal(&state, wanted) {
            return Attempt::Refused(error);
        }
        if state.queue.is_empty() && self.permits.try_take(wanted, true) {
            return Attempt::Taken;
        }
        Attempt::MustWait(Line { inner: self, state })
    }

    /// A waiter gives up (its future was dropped): if still queued it leaves
    /// the queue, and the waiters behind it are served if they now fit; if
    /// granted but never handed out, its permits go back.
    pub(super) fn abandon(&self, waiter: &Arc<Waiter>) {
        let settled = {
            let mut state = self.lock();
            // Acquire: as in `Waiter::outcome`; `state` is only written under
            // this lock, so what we read stays true while we hold it.
            match waiter.state.load(Ordering::Acquire) {
                WAITING => {
                    state.queue.retain(|queued| !Arc::ptr_eq(queued, waiter));
                    state.settle_queue(&self.permits)
                }
                GRANTED => {
                    self.permits.add(waiter.wanted);
                    state.settle_queue(&self.permits)
                }
                _ => Vec::new(),
            }
        };
        notify(settled);
    }

    /// Returns permits: one CAS when nobody waits (inlined into `Permit`'s
    /// drop), else through the lock.
    #[inline]
    pub(super) fn release(&self, permits: usize) {
        if permits != 0 && !self.permits.try_give_back(permits) {
            self.release_to_queue(permits);
        }
    }

    #[inline(never)]
    fn release_to_queue(&self, permits: usize) {
        let settled = {
            let mut state = self.lock();
            self.permits.add(permits);
            state.settle_queue(&self.permits)
        };
        notify(settled);
    }

    /// Adds `n` permits and as much capacity, then hands the permits out
    /// as a release does: one CAS when nobody waits, else through the lock,
    /// serving the queue.
    #[track_caller]
    pub(super) fn add_permits(&self, n: usize) {
        assert!(
            !self.fixed,
            "Semaphore::add_permits on a fixed-size semaphore (Semaphore::fixed): its size \
             never grows; use Semaphore::new for one that does"
        );
        // Capacity first, so it never drops below `available`; bounding it
        // by MAX_PERMITS bounds `available` too, so the word cannot
        // overflow. Relaxed: the capacity orders nothing else (the permits
        // word does).
        let mut capacity = self.capacity.load(Ordering::Relaxed);
        loop {
            assert!(
                n <= MAX_PERMITS - capacity,
                "Semaphore::add_permits: {n} more permits would exceed Semaphore::MAX_PERMITS"
            );
            match self.capacity.compare_exchange_weak(
                capacity,
                capacity + n,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => capacity = actual,
            }
        }
        self.release(n);
    }

    /// Removes up to `n` free permits and as much capacity; returns how many.
    pub(super) fn forget_free(&self, n: usize) -> usize {
        let (removed, settled) = {
            let mut state = self.lock();
            // Fast-path acquirers may race us (when nobody is queued): take
            // what is free with the same CAS they use.
            let mut removed = n.min(self.permits.available());
            while removed > 0 && !self.permits.try_take(removed, true) {
                removed = n.min(self.permits.available());
            }
            let settled = self.shrink(&mut state, removed);
            (removed, settled)
        };
        notify(settled);
        removed
    }

    /// Held permits that will not come back: the capacity shrinks by `n`.
    /// On a growable semaphore that is one atomic subtraction: fewer
    /// permits in total make no queued request impossible, and no free
    /// permit changed.
    pub(super) fn forget_held(&self, n: usize) {
        if !self.fixed {
            self.capacity.fetch_sub(n, Ordering::Relaxed);
            return;
        }
        let settled = {
            let mut state = self.lock();
            self.shrink(&mut state, n)
        };
        notify(settled);
    }

    /// Lowers the capacity by `n` (under the lock); on a fixed semaphore,
    /// fails the queued requests above the new size. Returns whom to notify.
    #[must_use]
    fn shrink(&self, state: &mut State, n: usize) -> Vec<Arc<Waiter>> {
        let size = self.capacity.fetch_sub(n, Ordering::Relaxed) - n;
        if self.fixed {
            state.settle_after_shrink(size, &self.permits)
        } else {
            Vec::new()
        }
    }

    /// Closes: fails every queued waiter, and every later acquire.
    pub(super) fn close(&self) {
        let failed: Vec<_> = {
            let mut state = self.lock();
            state.closed = true;
            self.permits.set_flag(CLOSED_FLAG, true);
            self.permits.set_flag(QUEUED_FLAG, false);
            state
                .queue
                .drain(..)
                .inspect(|waiter| waiter.state.store(CLOSED, Ordering::Release))
                .collect()
        };
        notify(failed);
    }

    pub(super) fn available(&self) -> usize {
        self.permits.available()
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed)
    }

    pub(super) fn is_fixed(&self) -> bool {
        self.fixed
    }

    pub(super) fn is_closed(&self) -> bool {
        self.permits.is_closed()
    }

    /// `(available, capacity, queued, closed)` from atomic loads, for
    /// `Debug` (which must never block): `queued` is whether anyone waits.
    pub(super) fn snapshot(&self) -> (usize, usize, bool, bool) {
        let word = self.permits.0.load(Ordering::Acquire);
        (
            word >> PERMIT_SHIFT,
            self.capacity.load(Ordering::Relaxed),
            word & QUEUED_FLAG != 0,
            word & CLOSED_FLAG != 0,
        )
    }
}
