//! The harness the models share: futures polled by hand with wakers that
//! count their wakes, the model of a waiter, and quiet `catch_unwind`.

use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::task::{Context, Poll, Wake, Waker};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

/// `cases` cases a property (`PROPTEST_CASES` overrides it: the `proptest!`
/// macro applies the environment on top of this), and no regression files
/// written into the source tree.
pub(crate) fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    }
}

/// Ticks once for every wake of any [`CountingWaker`], so the order of the
/// wakes within one test (one thread) can be read back.
static WAKE_CLOCK: AtomicUsize = AtomicUsize::new(0);

/// A waker that counts how often it is woken, and when it last was.
#[derive(Default)]
struct CountingWaker {
    wakes: AtomicUsize,
    last_wake: AtomicUsize,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.last_wake
            .store(WAKE_CLOCK.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future under test, with its own counting waker.
pub(crate) struct Tracked<'a, T> {
    future: Pin<Box<dyn Future<Output = T> + 'a>>,
    counter: Arc<CountingWaker>,
    waker: Waker,
    /// Wakes already accounted for by [`Tracked::new_wakes`].
    seen: usize,
}

impl<'a, T> Tracked<'a, T> {
    pub(crate) fn new(future: impl Future<Output = T> + 'a) -> Self {
        let counter = Arc::new(CountingWaker::default());
        Self {
            future: Box::pin(future),
            waker: Waker::from(Arc::clone(&counter)),
            counter,
            seen: 0,
        }
    }

    pub(crate) fn poll(&mut self) -> Poll<T> {
        self.future
            .as_mut()
            .poll(&mut Context::from_waker(&self.waker))
    }

    /// The [`WAKE_CLOCK`] tick of the last wake.
    pub(crate) fn last_wake(&self) -> usize {
        self.counter.last_wake.load(Ordering::SeqCst)
    }

    /// Wakes since the last call.
    pub(crate) fn new_wakes(&mut self) -> usize {
        let wakes = self.counter.wakes.load(Ordering::SeqCst);
        let new = wakes - self.seen;
        self.seen = wakes;
        new
    }
}

/// The model of one future that waits for a condition (zero count, open
/// latch, cancelled token).
#[derive(Debug, Default)]
pub(crate) struct WaiterModel {
    /// The condition has held since the future was created.
    pub(crate) released: bool,
    /// The future has been polled `Pending`, so it has a waker to wake.
    registered: bool,
    /// The last operation released it while it was registered: its waker
    /// must have been woken exactly once by that operation.
    wake_due: bool,
}

impl WaiterModel {
    pub(crate) fn released(released: bool) -> Self {
        Self {
            released,
            ..Self::default()
        }
    }

    /// The condition now holds. A registered waiter is due exactly one wake,
    /// from this operation; once released, nothing wakes it again.
    pub(crate) fn release(&mut self) {
        if !self.released {
            self.released = true;
            self.wake_due = self.registered;
        }
    }
}

/// A waiting future and its model.
pub(crate) type Waiter<'a> = (Tracked<'a, ()>, WaiterModel);

/// The position of a live slot chosen by `index`, if any slot is live.
pub(crate) fn pick<T>(slots: &[Option<T>], index: &Index) -> Option<usize> {
    pick_where(slots.len(), index, |i| slots[i].is_some())
}

/// The position among `0..len` satisfying `live`, chosen by `index`.
pub(crate) fn pick_where(len: usize, index: &Index, live: impl Fn(usize) -> bool) -> Option<usize> {
    let live: Vec<usize> = (0..len).filter(|&i| live(i)).collect();
    (!live.is_empty()).then(|| live[index.index(live.len())])
}

/// Polls a waiter: `Ready` exactly when the model has released it (then the
/// slot is emptied), `Pending` otherwise. So a waiter that was woken (only a
/// release wakes one) is `Ready` at its next poll.
pub(crate) fn poll_waiter(slot: &mut Option<Waiter<'_>>, what: &str) -> Result<(), TestCaseError> {
    let (future, model) = slot.as_mut().expect("a live slot");
    match future.poll() {
        Poll::Ready(()) => {
            prop_assert!(model.released, "{what}: Ready before its condition held");
            *slot = None;
        }
        Poll::Pending => {
            prop_assert!(!model.released, "{what}: Pending though its condition held");
            model.registered = true;
        }
    }
    Ok(())
}

/// Each live waiter was woken exactly as often as the model says it was due
/// (0 or 1) since the last check: once by the operation that released it if
/// it had registered (no lost wake-up), and never otherwise — not by an
/// operation that left its condition unchanged, not by its own `Pending`
/// poll, not twice (no busy-wait).
pub(crate) fn check_wakes(
    slots: &mut [Option<Waiter<'_>>],
    what: &str,
) -> Result<(), TestCaseError> {
    for (i, slot) in slots.iter_mut().enumerate() {
        if let Some((future, model)) = slot {
            let wakes = future.new_wakes();
            let due = usize::from(model.wake_due);
            model.wake_due = false;
            prop_assert_eq!(
                wakes,
                due,
                "{} #{}: woken {} times by this step; the model says {} (released: {})",
                what,
                i,
                wakes,
                due,
                model.released
            );
        }
    }
    Ok(())
}

/// Polls every live waiter a last time.
pub(crate) fn final_sweep(
    slots: &mut [Option<Waiter<'_>>],
    what: &str,
) -> Result<(), TestCaseError> {
    for slot in slots.iter_mut().filter(|slot| slot.is_some()) {
        poll_waiter(slot, what)?;
    }
    check_wakes(slots, what)
}

thread_local! {
    /// Set while [`catch_unwind_quietly`] runs code that may panic.
    static PANIC_EXPECTED: Cell<bool> = const { Cell::new(false) };
}

/// Keeps the panics provoked on purpose (and caught) out of the test output;
/// every other panic goes to the default hook.
fn quiet_expected_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !PANIC_EXPECTED.with(Cell::get) {
                default(info);
            }
        }));
    });
}

/// Runs `f`, which may panic (also inside code that catches the panic
/// itself, such as a group's task): `Err(payload)` if it did.
pub(crate) fn catch_unwind_quietly<T>(
    f: impl FnOnce() -> T,
) -> Result<T, Box<dyn std::any::Any + Send>> {
    quiet_expected_panics();
    let before = PANIC_EXPECTED.with(|expected| expected.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    PANIC_EXPECTED.with(|expected| expected.set(before));
    result
}

/// Runs `f`, which may panic; returns whether it did.
pub(crate) fn panics(f: impl FnOnce()) -> bool {
    catch_unwind_quietly(f).is_err()
}

/// The message of a panic payload made by `panic!("...")`.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&'static str>().copied())
}
