//! The counter behind [`WaitGroup`](crate::WaitGroup) and [`Latch`](crate::Latch):
//! a count that waiters watch for reaching zero.
//!
//! # State word
//!
//! Everything lives in one `AtomicUsize`. On a 64-bit target
//! (`FLAGS_SHIFT` = 32; elsewhere `usize::BITS - 8`):
//!
//! ```text
//!  63 .......... 34   33   32      31      30 ......... 1    0
//! +----------------+----+----+----------+---------------+---+
//! |   generation   | K  | S  | overflow |     count     | W |
//! +----------------+----+----+----------+---------------+---+
//!   GEN_SHIFT = FLAGS_SHIFT + 2         COUNT_SHIFT = 1
//! ```
//!
//! * `W` (`WAITING`): at least one waiter has registered a listener on `event`
//!   and expects a notification when the count next reaches zero. Only the
//!   decrement that takes the count to zero looks at it, and clears it in the
//!   same CAS: with nobody waiting, `add`/`done` never touch the `Event` (whose
//!   `notify` costs a lock and a fence even with no listener).
//! * `S` (`SLOT`) and `K` (`SLOT_WOKEN`): the single-waiter fast path. The
//!   first async waiter of a generation claims `S` and keeps its waker in
//!   `slot` (an `AtomicWaker`: no allocation, no list lock), where
//!   event-listener would allocate a listener and lock its list; any other
//!   waiter uses the `Event`. `S` belongs to the waiter that claimed it until
//!   *that waiter* clears it (when it finishes or is dropped), so only the
//!   owner ever registers a waker in the slot: no waiter of a later
//!   generation can be overwritten by a late re-registration. The decrement
//!   to zero that finds `S` set and `K` clear sets `K` in the same CAS and
//!   wakes the slot; a later generation's decrement that finds `K` set
//!   leaves it (the owner was woken already). A waiter that never finishes
//!   and is never dropped keeps the slot: later waiters use the `Event`.
//! * `count`: the outstanding count, at most [`MAX_COUNT`].
//! * `overflow`: a guard bit above the count. `add` is a plain `fetch_add`;
//!   an `add` past `MAX_COUNT` carries into this bit, never into the
//!   generation, and is then taken back (and panics). While it is set, the
//!   count reads as above `MAX_COUNT`, so nobody mistakes it for zero.
//! * `generation`: bumped (wrapping) every time the count reaches zero. A
//!   waiter remembers the generation it started in, so a group that reaches
//!   zero and is `add`ed again before the waiter runs still lets that waiter
//!   finish, and a notification meant for an earlier round never finishes a
//!   waiter of a later one.
//!
//! # Wake-up argument
//!
//! A waiter (1) reads the state, (2) registers a listener, (3) sets `W` with a
//! CAS that fails if the count reached zero or the generation moved, and only
//! then (4) parks. The decrement to zero is a CAS on the same word that reads
//! `W` and then calls `notify`. Both are read-modify-writes of one location,
//! so they are totally ordered: either the waiter's CAS comes first (the
//! decrement then sees `W`, and the listener registered before it is
//! notified), or the decrement comes first (the waiter's CAS then sees the new
//! generation and the waiter finishes without parking). Listen, then re-check:
//! no notification can fall between the check and the listen.
//!
//! The slot waiter is the same argument with the claim CAS in place of the
//! `W` CAS: either the claim comes first (the decrement then sees `S` and
//! wakes the slot) or the decrement does (the claim fails on the new
//! generation). The waker is registered after the claim, so the wake may
//! come first: `AtomicWaker` then hands it nothing, and the waiter's
//! re-check after registering sees the new generation (the decrement's CAS
//! precedes its wake, and the wake and the register are RMWs of one word).
//! A re-poll checks first (the end of the round is what usually wakes it),
//! then re-registers and re-checks the same way. The owner frees the
//! slot by taking its waker out and then clearing `S` and `K` (release); the
//! next claimer's CAS (acquire) therefore registers after that take.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
#[cfg(feature = "std")]
use std::time::{Duration, Instant};

use event_listener::{Event, EventListener, Listener};

use crate::sync::{AtomicUsize, AtomicWaker, Ordering};

/// Some waiter expects a notification when the count next reaches zero.
const WAITING: usize = 1;
/// The count starts at bit 1.
const COUNT_SHIFT: u32 = 1;
/// The two slot flags and the generation take the high half of the word on
/// 64-bit targets (and the top 8 bits elsewhere); the bit below them is the
/// overflow guard.
const FLAGS_SHIFT: u32 = if usize::BITS >= 64 {
    32
} else {
    usize::BITS - 8
};
/// An async waiter's waker is in `slot` (see the module docs).
const SLOT: usize = 1 << FLAGS_SHIFT;
/// The generation of the slot's owner ended, and its waker was woken.
const SLOT_WOKEN: usize = 1 << (FLAGS_SHIFT + 1);
/// The generation starts above the slot flags.
const GEN_SHIFT: u32 = FLAGS_SHIFT + 2;
/// One unit of generation.
const GEN_ONE: usize = 1 << GEN_SHIFT;
/// The bits of the generation.
const GEN_MASK: usize = !(GEN_ONE - 1);
/// The count and its overflow guard bit, shifted down.
const COUNT_FIELD: usize = (1 << (FLAGS_SHIFT - COUNT_SHIFT)) - 1;
/// The largest count (2^30 - 1 on 64-bit targets): one bit below the guard.
pub(crate) const MAX_COUNT: usize = COUNT_FIELD >> 1;

#[inline]
fn count_of(state: usize) -> usize {
    (state >> COUNT_SHIFT) & COUNT_FIELD
}

#[inline]
fn generation_of(state: usize) -> usize {
    state & GEN_MASK
}

/// What a decrement of a zero count does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtZero {
    /// Nothing: a latch that is already open stays open.
    Ignore,
    /// Panic with this message: `done()` without a matching `add()`.
    Panic(&'static str),
}

/// A count whose waiters are woken when it reaches zero.
pub(crate) struct ZeroCounter {
    state: AtomicUsize,
    /// The waker of the waiter holding `SLOT`.
    slot: AtomicWaker,
    event: Event,
}

impl ZeroCounter {
    pub(crate) fn new(count: usize, overflow_message: &'static str) -> Self {
        assert!(count <= MAX_COUNT, "{}", overflow_message);
        Self {
            state: AtomicUsize::new(count << COUNT_SHIFT),
            slot: AtomicWaker::new(),
            event: Event::new(),
        }
    }

    /// The current count. Acquire: a caller that sees zero also sees every
    /// write made before the decrements that got it there.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        count_of(self.state.load(Ordering::Acquire))
    }

    /// Adds `n` to the count.
    #[inline]
    #[track_caller]
    pub(crate) fn add(&self, n: usize, overflow_message: &'static str) {
        if n > MAX_COUNT {
            panic!("{}", overflow_message);
        }
        // Relaxed: raising the count publishes nothing; waiters only
        // synchronize with the decrements (as `Arc::clone` does). With
        // `n <= MAX_COUNT` and a count `<= MAX_COUNT`, the sum fits below the
        // generation (the guard bit catches the carry).
        // (Two overflowing `add`s racing each other could carry past the
        // guard bit for the moment before both are taken back: a misuse at
        // 2^30 outstanding, accepted for a one-instruction `add`.)
        let previous = self.state.fetch_add(n << COUNT_SHIFT, Ordering::Relaxed);
        if count_of(previous) + n > MAX_COUNT {
            self.add_overflowed(n, overflow_message);
        }
    }

    /// Takes back an `add` that went past `MAX_COUNT`, then panics. Meanwhile
    /// the count read above `MAX_COUNT`, never zero; taking it back goes
    /// through `sub`, so a count that other `done`s brought to zero meanwhile
    /// still ends its generation and wakes its waiters.
    #[cold]
    #[track_caller]
    fn add_overflowed(&self, n: usize, overflow_message: &'static str) -> ! {
        self.sub(n, AtZero::Ignore);
        panic!("{}", overflow_message);
    }

    /// Takes one off the count, waking every waiter if it reaches zero.
    #[inline]
    #[track_caller]
    pub(crate) fn decrement(&self, at_zero: AtZero) {
        self.sub(1, at_zero);
    }

    /// Takes `n` off the count, waking every waiter if it reaches zero. A
    /// count below `n` is left alone and handled as `at_zero` says.
    #[inline]
    #[track_caller]
    fn sub(&self, n: usize, at_zero: AtZero) {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let count = count_of(state);
            let new = if count < n {
                match at_zero {
                    AtZero::Ignore => return,
                    AtZero::Panic(message) => panic!("{}", message),
                }
            } else if count == n {
                // To zero: next generation, count 0, `WAITING` cleared; a
                // claimed slot stays its owner's, and is ours to wake (set
                // `SLOT_WOKEN`) if its owner was not woken yet. Branch-free:
                // this is the hot path of every `add(1)` + `done()` pair.
                (state & (GEN_MASK | SLOT | SLOT_WOKEN)).wrapping_add(GEN_ONE)
                    | ((state & SLOT) << 1)
            } else {
                state - (n << COUNT_SHIFT)
            };
            // Release: the work before this decrement happens-before a waiter
            // that reads zero (all writers are RMWs, so the release sequences
            // chain). Acquire: reading `WAITING` set by a waiter's Release CAS
            // makes its listener registration visible to our `notify`.
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if count == n && state & (WAITING | SLOT) != 0 {
                        self.wake_waiters(state);
                    }
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }

    /// The count reached zero from `state`: notifies the `Event`'s waiters
    /// and wakes the slot's owner (if it was not woken yet). Out of line, so
    /// that `add`/`done` with nobody waiting stay small.
    #[cold]
    #[inline(never)]
    fn wake_waiters(&self, state: usize) {
        if state & WAITING != 0 {
            trace_event!(trace, "count reached zero: waking its waiters");
            self.event.notify(usize::MAX);
        }
        if state & (SLOT | SLOT_WOKEN) == SLOT {
            trace_event!(trace, "count reached zero: waking its slot waiter");
            self.slot.wake();
        }
    }

    /// Claims the waker slot for `generation` and registers `waker` in it.
    fn claim_slot(&self, generation: usize, waker: &Waker) -> Claim {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if count_of(state) == 0 || generation_of(state) != generation {
                return Claim::Ended;
            }
            if state & SLOT != 0 {
                return Claim::Taken;
            }
            match self.state.compare_exchange_weak(
                state,
                state | SLOT,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        self.slot.register(waker);
        Claim::Claimed
    }

    /// The slot's owner is done (finished or dropped): takes its waker out,
    /// then frees the slot. Release: the next claimer (an acquire CAS)
    /// registers after the take.
    fn release_slot(&self) {
        drop(self.slot.take());
        self.state
            .fetch_and(!(SLOT | SLOT_WOKEN), Ordering::Release);
    }

    /// The generation to wait on, or `None` when the count is zero already.
    #[inline]
    pub(crate) fn waiting_generation(&self) -> Option<usize> {
        let state = self.state.load(Ordering::Acquire);
        (count_of(state) != 0).then(|| generation_of(state))
    }

    /// True once the count has been zero since `generation` began.
    fn reached_zero(&self, generation: usize) -> bool {
        let state = self.state.load(Ordering::Acquire);
        count_of(state) == 0 || generation_of(state) != generation
    }

    /// Registers a listener for the end of `generation`, or returns `None`
    /// if it has ended already (then nothing is registered).
    fn register(&self, generation: usize) -> Option<EventListener> {
        // Listen first, then publish `WAITING`: see the module's wake-up
        // argument.
        let listener = self.event.listen();
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if count_of(state) == 0 || generation_of(state) != generation {
                return None;
            }
            // Always write, even when `WAITING` is set already: then our RMW
            // is ordered against the decrement's RMW on this word, and the
            // argument does not lean on event-listener's internal lock.
            // (Loom finds the deadlock when the listener is registered after
            // this CAS instead of before it.)
            match self.state.compare_exchange_weak(
                state,
                state | WAITING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(listener),
                Err(actual) => state = actual,
            }
        }
    }

    #[cfg(feature = "std")]
    /// Blocks the thread until the count reaches zero or `timeout` passes.
    /// Returns true when it reached zero.
    pub(crate) fn wait_blocking(&self, timeout: Option<Duration>) -> bool {
        let Some(generation) = self.waiting_generation() else {
            return true;
        };
        // A timeout too large for an `Instant` is no timeout at all.
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        loop {
            let Some(listener) = self.register(generation) else {
                return true;
            };
            let notified = match deadline {
                None => {
                    listener.wait();
                    true
                }
                Some(deadline) => listener.wait_deadline(deadline).is_some(),
            };
            // A notification may come from the end of an earlier generation
            // (sent after our first check); re-check and listen again if so.
            if self.reached_zero(generation) {
                return true;
            }
            if !notified {
                return false;
            }
        }
    }
}

impl fmt::Debug for ZeroCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZeroCounter")
            .field("count", &self.count())
            .finish()
    }
}

/// Future returned by [`WaitGroup::wait`](crate::WaitGroup::wait),
/// [`Latch::wait`](crate::Latch::wait) and
/// [`Latch::arrive_and_wait`](crate::Latch::arrive_and_wait).
///
/// It completes once the count has been zero at some moment after the future
/// was created; a count that reaches zero and is raised again before the
/// future is polled still completes it.
///
/// # Cancel safety
///
/// Dropping it at any point is safe: waiters are woken all at once, so a
/// dropped waiter takes no notification away from the others.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Wait<'a> {
    counter: &'a ZeroCounter,
    stage: Stage,
    /// Registered on a `Pending` poll when the waker slot is taken, never
    /// before: waiting on a group that is already at zero allocates nothing,
    /// and neither does the first waiter of a generation (it takes the slot).
    listener: Option<EventListener>,
}

/// Where a [`Wait`] is.
#[derive(Clone, Copy)]
enum Stage {
    /// Finished (or created on a count at zero).
    Done,
    /// Waiting for the end of this generation, through the `Event` once it
    /// has a listener.
    Waiting(usize),
    /// Waiting for the end of this generation with its waker in the slot.
    InSlot(usize),
}

/// What [`ZeroCounter::claim_slot`] found.
enum Claim {
    Claimed,
    Taken,
    Ended,
}

impl<'a> Wait<'a> {
    #[inline]
    pub(crate) fn new(counter: &'a ZeroCounter) -> Self {
        Self {
            counter,
            stage: match counter.waiting_generation() {
                Some(generation) => Stage::Waiting(generation),
                None => Stage::Done,
            },
            listener: None,
        }
    }
}

impl Future for Wait<'_> {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Fast path, inlined into the caller: a group that was at zero when
        // `wait` was called is ready without touching anything else.
        match self.stage {
            Stage::Done => Poll::Ready(()),
            Stage::Waiting(generation) => self.poll_waiting(generation, cx),
            Stage::InSlot(generation) => self.poll_in_slot(generation, cx),
        }
    }
}

impl Wait<'_> {
    fn poll_waiting(&mut self, generation: usize, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some(listener) = self.listener.as_mut() {
                if Pin::new(listener).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                trace_event!(trace, "count waiter woken");
                self.listener = None;
                // A late notification for an earlier generation: re-check,
                // and register again if our generation is still running.
            } else {
                // Not registered yet: the waker slot first.
                match self.counter.claim_slot(generation, cx.waker()) {
                    Claim::Claimed => {
                        // `claim_slot` registered the waker: re-check only.
                        self.stage = Stage::InSlot(generation);
                        return self.check_in_slot(generation);
                    }
                    Claim::Ended => break,
                    Claim::Taken => {}
                }
            }
            if self.counter.reached_zero(generation) {
                break;
            }
            match self.counter.register(generation) {
                Some(listener) => self.listener = Some(listener),
                None => break,
            }
        }
        self.stage = Stage::Done;
        Poll::Ready(())
    }

    /// Holding the slot, polled again: finished if the round is over (the
    /// usual reason for the poll: its end woke us; nothing to register),
    /// else re-register the waker and re-check (see the module's wake-up
    /// argument).
    fn poll_in_slot(&mut self, generation: usize, cx: &mut Context<'_>) -> Poll<()> {
        if self.check_in_slot(generation).is_ready() {
            return Poll::Ready(());
        }
        self.counter.slot.register(cx.waker());
        self.check_in_slot(generation)
    }

    /// Holding the slot with a waker registered: finished (the slot freed)
    /// if the round is over.
    fn check_in_slot(&mut self, generation: usize) -> Poll<()> {
        if self.counter.reached_zero(generation) {
            trace_event!(trace, "count waiter woken");
            self.stage = Stage::Done;
            self.counter.release_slot();
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    // Inlined: a wait that never parked (the common, open-group case) only
    // tests its fields; giving up a registration is out of line.
    #[inline]
    fn drop(&mut self) {
        // A listener that was notified but never polled again would pass its
        // notification on to another listener when dropped (event-listener
        // keeps the notified count), waking a waiter of a later round for
        // nothing. Discard it instead: every waiter of this round was
        // notified already.
        if let Some(listener) = self.listener.take() {
            discard(listener);
        }
        if let Stage::InSlot(_) = self.stage {
            self.counter.release_slot();
        }
    }
}

#[inline(never)]
fn discard(listener: EventListener) {
    listener.discard();
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("count", &self.counter.count())
            .field("finished", &matches!(self.stage, Stage::Done))
            .finish()
    }
}
