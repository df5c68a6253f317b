//! The semaphore's shared state: the atomic word of free permits, the queue
//! of waiters behind a lock, and the hand-off from a release to the waiters.
//! Every change of the state goes through [`Inner`]'s methods; no other file
//! touches its fields.
//!
//! # The permits word
//!
//! ```text
//!  bit  usize::BITS-1 ...  4      3         2        1        0
//!      +--------------------+-------+---------+--------+--------+
//!      |     available      | WOKEN | HANDOFF | CLOSED | QUEUED |
//!      +--------------------+-------+---------+--------+--------+
//! ```
//!
//! * `available` (bits 4 and up): the free permits, at most
//!   [`MAX_PERMITS`].
//! * `QUEUED` (bit 0): the queue is not empty. Set and cleared only under
//!   the lock.
//! * `CLOSED` (bit 1): [`close`](Inner::close) was called; never cleared.
//! * `HANDOFF` (bit 2): strict FIFO hand-off is on (see below). Set and
//!   cleared only under the lock.
//! * `WOKEN` (bit 3): one waiter has been (or is being) taken off the queue
//!   and told to try again; no release wakes another until it has tried.
//!
//! # Two modes
//!
//! **Barging** (no `HANDOFF`): acquires take free permits with one CAS even
//! while others are queued, and a release puts its permits back in the word
//! with one CAS. A release that finds `QUEUED` set and `WOKEN` clear sets
//! `WOKEN` in the same CAS, then (under the lock) takes the head waiter off
//! the queue and notifies it. The woken waiter tries again under the lock:
//! with one CAS it either takes its permits (clearing `WOKEN`), or clears
//! `WOKEN` and goes back to the **front** of the queue, keeping its arrival
//! time. Because taking and giving up are decided on the same word as the
//! releases' "is someone woken?", a release is never lost between them.
//!
//! **Hand-off** (`HANDOFF`): a woken waiter that failed and has waited at
//! least the bound ([`Inner::handoff_after`]) sets `HANDOFF` in the same
//! CAS (with a zero bound, every enqueue sets it: strict FIFO). From then
//! acquires do not barge (they queue behind) and releases go through the
//! lock, which grants permits to the waiters at the head in
//! order (`state` from `WAITING` to `GRANTED`), as a strict FIFO semaphore
//! does. The mode ends when the queue empties or a waiter is granted
//! permits after waiting less than the bound.
//!
//! With no flag set, a first attempt and a release are one CAS on this word:
//! no lock, no allocation.
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
//! # Notifications
//!
//! A waiter's `state` is written under the lock; its own `Event` is then
//! notified outside the lock. A waiter only ever reads its own node, so a
//! wake-up is never stolen by another waiter. A waiter dropped while woken or
//! granted passes on what it was given through the same lock
//! ([`Inner::abandon`]).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use event_listener::{Event, EventListener};

use super::AcquireError;
use crate::sync::{Arc, AtomicUsize, Mutex, MutexGuard, Ordering};

/// Someone waits in the queue.
const QUEUED_FLAG: usize = 1 << 0;
/// The semaphore is closed: acquires take the locked path (and fail).
const CLOSED_FLAG: usize = 1 << 1;
/// Strict FIFO hand-off: acquires and releases take the lock.
const HANDOFF_FLAG: usize = 1 << 2;
/// A waiter was told to try again and has not yet.
const WOKEN_FLAG: usize = 1 << 3;
/// `available` starts at bit 4.
const PERMIT_SHIFT: u32 = 4;
/// The most permits a semaphore can hold: what fits above the flags.
pub(super) const MAX_PERMITS: usize = usize::MAX >> PERMIT_SHIFT;

/// The atomic word of free permits and flags (see the module docs).
struct Permits(AtomicUsize);

/// What a release must do after its CAS ([`Permits::give_back`]).
enum GiveBack {
    /// The permits are back; nobody needs waking.
    Done,
    /// The permits are back and this release set `WOKEN`: it must wake the
    /// head of the queue.
    WakeHead,
    /// Hand-off mode: nothing changed; the release goes through the lock.
    Locked,
}

impl Permits {
    #[inline]
    fn load(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    #[inline]
    fn available(&self) -> usize {
        self.load() >> PERMIT_SHIFT
    }

    fn is_closed(&self) -> bool {
        self.load() & CLOSED_FLAG != 0
    }

    fn has(&self, flag: usize) -> bool {
        self.load() & flag != 0
    }

    /// Takes `n` permits if they are free; with `flags_allowed` false, only
    /// when neither `HANDOFF` nor `CLOSED` is set (the lock-free fast path,
    /// which barges past queued waiters).
    #[inline]
    fn try_take(&self, n: usize, flags_allowed: bool) -> bool {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            if word >> PERMIT_SHIFT < n
                || (!flags_allowed && word & (HANDOFF_FLAG | CLOSED_FLAG) != 0)
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

    /// Returns `n` permits without the lock unless hand-off is on; claims
    /// the wake-up of the queue's head when someone is queued and nobody
    /// is woken yet.
    #[inline]
    fn give_back(&self, n: usize) -> GiveBack {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            if word & HANDOFF_FLAG != 0 {
                return GiveBack::Locked;
            }
            let wake = word & (QUEUED_FLAG | WOKEN_FLAG) == QUEUED_FLAG;
            let new = (word + (n << PERMIT_SHIFT)) | if wake { WOKEN_FLAG } else { 0 };
            // Release: pairs with the Acquire of the next taker.
            match self
                .0
                .compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) if wake => return GiveBack::WakeHead,
                Ok(_) => return GiveBack::Done,
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

    /// Sets `WOKEN` if someone is queued, nobody is woken, hand-off is off
    /// and the head's `need` is free; whether it did (the caller then wakes
    /// the head). Under the lock. (A release that finds too few for the
    /// head wakes it anyway, with its lock-free CAS: the head then checks
    /// how long it has waited.)
    fn claim_wake(&self, need: usize) -> bool {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            if word & (QUEUED_FLAG | WOKEN_FLAG | HANDOFF_FLAG) != QUEUED_FLAG
                || word >> PERMIT_SHIFT < need
            {
                return false;
            }
            match self.0.compare_exchange_weak(
                word,
                word | WOKEN_FLAG,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => word = actual,
            }
        }
    }

    /// A woken waiter's try (under the lock, holding `WOKEN`): in one CAS,
    /// either takes `n` permits, or marks it queued again (and hand-off on
    /// if `starving`); `WOKEN` is cleared either way.
    fn retry(&self, n: usize, starving: bool) -> bool {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            let taken = word >> PERMIT_SHIFT >= n;
            let new = if taken {
                (word - (n << PERMIT_SHIFT)) & !WOKEN_FLAG
            } else {
                (word & !WOKEN_FLAG) | QUEUED_FLAG | if starving { HANDOFF_FLAG } else { 0 }
            };
            match self
                .0
                .compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return taken,
                Err(actual) => word = actual,
            }
        }
    }
}

/// A waiter's `state`, written under the lock: `WAITING` while queued;
/// `WOKEN` when taken off the queue to try again (then `WAITING` again if
/// it lost); or, once, one of the final ones.
const WAITING: usize = 0;
const WOKEN: usize = 1;
const GRANTED: usize = 2;
const CLOSED: usize = 3;
const TOO_LARGE: usize = 4;

/// One queued request. Its `state` is written under the semaphore's lock,
/// then its `event` notified outside the lock.
pub(super) struct Waiter {
    /// Permits asked for; never changes.
    wanted: usize,
    /// When it was first queued (kept when it goes back to the front);
    /// `None` when the bound needs no clock (zero or unbounded).
    #[cfg(feature = "std")]
    since: Option<std::time::Instant>,
    /// See the constants above.
    state: AtomicUsize,
    /// The fixed size when the request failed as `TOO_LARGE` (for the
    /// error); written before `state`.
    max_at_failure: AtomicUsize,
    /// Notified after each change of `state` away from `WAITING`.
    event: Event,
}

/// Where a queued request stands ([`Waiter::outcome`]).
pub(super) enum Outcome {
    /// Still queued.
    Waiting,
    /// Told to try again: call [`Inner::retry`].
    Woken,
    /// Finished: granted, or failed.
    Done(Result<(), AcquireError>),
}

impl Waiter {
    /// A listener for this waiter's next notification.
    pub(super) fn listen(&self) -> EventListener {
        self.event.listen()
    }

    pub(super) fn outcome(&self) -> Outcome {
        // Acquire: pairs with the Release store under the lock that settled
        // us (for a grant: the permits' history happens-before our work).
        match self.state.load(Ordering::Acquire) {
            WAITING => Outcome::Waiting,
            WOKEN => Outcome::Woken,
            GRANTED => Outcome::Done(Ok(())),
            CLOSED => Outcome::Done(Err(AcquireError::Closed)),
            _ => Outcome::Done(Err(AcquireError::TooLarge {
                requested: self.wanted,
                // Relaxed: ordered by the Acquire load of `state` above.
                max: self.max_at_failure.load(Ordering::Relaxed),
            })),
        }
    }

    /// Whether it has waited at least `bound` since it was first queued.
    fn starving(&self, bound: Duration) -> bool {
        if bound.is_zero() {
            return true;
        }
        #[cfg(feature = "std")]
        if let Some(since) = self.since {
            return since.elapsed() >= bound;
        }
        false
    }
}

/// What the lock guards.
struct State {
    /// Mirrors `CLOSED_FLAG`.
    closed: bool,
    /// The waiters, oldest first (a woken waiter that lost goes back to the
    /// front); `QUEUED_FLAG` is set exactly while this is not empty.
    queue: VecDeque<Arc<Waiter>>,
}

impl State {
    /// Restores the invariants after any change, and collects whom to
    /// notify (after the lock is released): in hand-off mode grants permits
    /// to the waiters at the head, in order, while they fit, and leaves the
    /// mode when the queue empties or a granted waiter waited less than
    /// `bound`; clears `QUEUED` once the queue is empty; in barging mode
    /// wakes the head if a permit is free and nobody is woken.
    fn settle(&mut self, permits: &Permits, bound: Duration, settled: &mut Vec<Arc<Waiter>>) {
        if permits.has(HANDOFF_FLAG) {
            let mut leave = false;
            while let Some(head) = self.queue.front() {
                if !permits.try_take(head.wanted, true) {
                    break;
                }
                leave |= !head.starving(bound);
                head.state.store(GRANTED, Ordering::Release);
                settled.extend(self.queue.pop_front());
            }
            if leave || self.queue.is_empty() {
                permits.set_flag(HANDOFF_FLAG, false);
            }
        }
        match self.queue.front() {
            None => permits.set_flag(QUEUED_FLAG | HANDOFF_FLAG, false),
            Some(head) => {
                if permits.claim_wake(head.wanted) {
                    self.wake_head(permits, settled);
                }
            }
        }
    }

    /// With `WOKEN` claimed: takes the head off the queue and marks it
    /// woken (the caller notifies it); with the queue empty, gives `WOKEN`
    /// up (an enqueue after this finds it clear and settles).
    fn wake_head(&mut self, permits: &Permits, settled: &mut Vec<Arc<Waiter>>) {
        match self.queue.pop_front() {
            Some(head) => {
                head.state.store(WOKEN, Ordering::Release);
                settled.push(head);
                if self.queue.is_empty() {
                    permits.set_flag(QUEUED_FLAG, false);
                }
            }
            None => permits.set_flag(WOKEN_FLAG, false),
        }
    }

    /// After a fixed semaphore shrank to `size`: fails the queued requests
    /// that can never fit now (they would block everyone behind them
    /// forever), then settles.
    fn settle_after_shrink(
        &mut self,
        size: usize,
        permits: &Permits,
        bound: Duration,
        settled: &mut Vec<Arc<Waiter>>,
    ) {
        self.queue.retain(|waiter| {
            let fits = waiter.wanted <= size;
            if !fits {
                waiter.max_at_failure.store(size, Ordering::Relaxed);
                waiter.state.store(TOO_LARGE, Ordering::Release);
                settled.push(Arc::clone(waiter));
            }
            fits
        });
        self.settle(permits, bound, settled);
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
    /// and a listener registered before the node became visible (so a
    /// notification right after the unlock is not missed).
    pub(super) fn enqueue(mut self, wanted: usize) -> (Arc<Waiter>, EventListener) {
        let inner = self.inner;
        let waiter = Arc::new(Waiter {
            wanted,
            #[cfg(feature = "std")]
            since: (!inner.handoff_after.is_zero() && inner.handoff_after != Duration::MAX)
                .then(std::time::Instant::now),
            state: AtomicUsize::new(WAITING),
            max_at_failure: AtomicUsize::new(0),
            event: Event::new(),
        });
        let listener = waiter.listen();
        self.state.queue.push_back(Arc::clone(&waiter));
        // From here a release wakes the head. One that slipped in before
        // the flag was set is seen by settling now (which may wake or grant
        // us at once: the caller reads the outcome before it waits).
        // A zero bound is strict FIFO: hand-off whenever anyone waits.
        let permits = &inner.permits;
        let handoff = if inner.handoff_after.is_zero() {
            HANDOFF_FLAG
        } else {
            0
        };
        permits.set_flag(QUEUED_FLAG | handoff, true);
        let mut settled = Vec::new();
        self.state
            .settle(permits, inner.handoff_after, &mut settled);
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
    /// How long the head of the queue may be passed over by barging
    /// acquires before hand-off mode starts (zero: hand-off whenever anyone
    /// is queued, strict FIFO; `Duration::MAX`: never).
    handoff_after: Duration,
    state: Mutex<State>,
}

impl Inner {
    pub(super) fn new(permits: usize, fixed: bool, handoff_after: Duration) -> Self {
        Self {
            permits: Permits(AtomicUsize::new(permits << PERMIT_SHIFT)),
            capacity: AtomicUsize::new(permits),
            fixed,
            handoff_after,
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
    /// lock-free CAS unless hand-off is on or the semaphore is closed (it
    /// barges past queued waiters), else the locked path, which refuses an
    /// impossible request, takes free permits unless hand-off is on, or
    /// says the caller must wait.
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
        if !self.permits.has(HANDOFF_FLAG) && self.permits.try_take(wanted, true) {
            return Attempt::Taken;
        }
        Attempt::MustWait(Line { inner: self, state })
    }

    /// A woken waiter tries again (under the lock): takes its permits, or
    /// goes back to the front of the queue (`None`: wait for the next
    /// notification), turning hand-off on if it has waited at least the
    /// bound. A closed semaphore, or a fixed one shrunk below the request,
    /// fails it.
    pub(super) fn retry(&self, waiter: &Arc<Waiter>) -> Option<Result<(), AcquireError>> {
        let mut settled = Vec::new();
        let result = {
            let mut state = self.lock();
            if let Some(error) = self.refusal(&state, waiter.wanted) {
                self.permits.set_flag(WOKEN_FLAG, false);
                state.settle(&self.permits, self.handoff_after, &mut settled);
                Some(Err(error))
            } else if self
                .permits
                .retry(waiter.wanted, waiter.starving(self.handoff_after))
            {
                // Permits may be left over for the next waiter.
                state.settle(&self.permits, self.handoff_after, &mut settled);
                Some(Ok(()))
            } else {
                // Lost to a barger: back to the front, still the oldest.
                waiter.state.store(WAITING, Ordering::Release);
                state.queue.push_front(Arc::clone(waiter));
                state.settle(&self.permits, self.handoff_after, &mut settled);
                None
            }
        };
        notify(settled);
        result
    }

    /// A waiter gives up (its future was dropped): if still queued it leaves
    /// the queue; if woken, the wake-up passes to the next waiter; if granted
    /// but never handed out, its permits go back. Then the queue is settled.
    pub(super) fn abandon(&self, waiter: &Arc<Waiter>) {
        let mut settled = Vec::new();
        {
            let mut state = self.lock();
            // Acquire: as in `Waiter::outcome`; `state` is only written under
            // this lock, so what we read stays true while we hold it.
            match waiter.state.load(Ordering::Acquire) {
                WAITING => state.queue.retain(|queued| !Arc::ptr_eq(queued, waiter)),
                WOKEN => self.permits.set_flag(WOKEN_FLAG, false),
                GRANTED => self.permits.add(waiter.wanted),
                _ => return,
            }
            state.settle(&self.permits, self.handoff_after, &mut settled);
        }
        notify(settled);
    }

    /// Returns permits: one CAS unless hand-off is on (inlined into
    /// `Permit`'s drop); a release that must wake the queue's head, or hand
    /// the permits over in order, takes the lock.
    #[inline]
    pub(super) fn release(&self, permits: usize) {
        if permits == 0 {
            return;
        }
        match self.permits.give_back(permits) {
            GiveBack::Done => {}
            GiveBack::WakeHead => self.wake_head(),
            GiveBack::Locked => self.release_to_queue(permits),
        }
    }

    #[inline(never)]
    fn wake_head(&self) {
        let mut settled = Vec::new();
        self.lock().wake_head(&self.permits, &mut settled);
        notify(settled);
    }

    #[inline(never)]
    fn release_to_queue(&self, permits: usize) {
        let mut settled = Vec::new();
        {
            let mut state = self.lock();
            self.permits.add(permits);
            state.settle(&self.permits, self.handoff_after, &mut settled);
        }
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
            let mut settled = Vec::new();
            self.shrink(&mut state, removed, &mut settled);
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
        let mut settled = Vec::new();
        {
            let mut state = self.lock();
            self.shrink(&mut state, n, &mut settled);
        }
        notify(settled);
    }

    /// Lowers the capacity by `n` (under the lock); on a fixed semaphore,
    /// fails the queued requests above the new size. Collects whom to
    /// notify.
    fn shrink(&self, state: &mut State, n: usize, settled: &mut Vec<Arc<Waiter>>) {
        let size = self.capacity.fetch_sub(n, Ordering::Relaxed) - n;
        if self.fixed {
            state.settle_after_shrink(size, &self.permits, self.handoff_after, settled);
        }
    }

    /// Closes: fails every queued waiter, and every later acquire (a woken
    /// waiter fails when it tries again).
    pub(super) fn close(&self) {
        let failed: Vec<_> = {
            let mut state = self.lock();
            state.closed = true;
            self.permits.set_flag(CLOSED_FLAG, true);
            self.permits.set_flag(QUEUED_FLAG | HANDOFF_FLAG, false);
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
            word & (QUEUED_FLAG | WOKEN_FLAG) != 0,
            word & CLOSED_FLAG != 0,
        )
    }
}
