//! `WaitGroup`: `add`/`done`/guards and `wait` futures against a count and a
//! waiter model per future.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use taskgroup::{WaitGroup, WaitGuard};

use crate::harness::{
    catch_unwind_quietly, check_wakes, config, final_sweep, panics, pick, poll_waiter, Tracked,
    Waiter, WaiterModel,
};

/// `add(MAX_COUNT)`: overflows (and panics) unless the count is zero.
#[cfg(target_pointer_width = "64")]
const MAX_COUNT: usize = (1 << 30) - 1;
#[cfg(not(target_pointer_width = "64"))]
const MAX_COUNT: usize = (1 << (usize::BITS - 10)) - 1;

#[derive(Clone, Debug)]
enum WgOp {
    Add(usize),
    /// `add(MAX_COUNT)`: overflows (and panics) unless the count is zero.
    AddHuge,
    /// `done()`; at zero it must panic and leave the count at zero.
    Done,
    Enter,
    /// Ends a guard: dropped, or by `WaitGuard::done` when the flag is set.
    EndGuard(Index, bool),
    NewWait,
    PollWait(Index),
    DropWait(Index),
}

fn wg_op() -> impl Strategy<Value = WgOp> {
    prop_oneof![
        3 => (0usize..4).prop_map(WgOp::Add),
        1 => Just(WgOp::AddHuge),
        4 => Just(WgOp::Done),
        3 => Just(WgOp::Enter),
        3 => (any::<Index>(), any::<bool>()).prop_map(|(i, explicit)| WgOp::EndGuard(i, explicit)),
        4 => Just(WgOp::NewWait),
        5 => any::<Index>().prop_map(WgOp::PollWait),
        2 => any::<Index>().prop_map(WgOp::DropWait),
    ]
}

/// `add(n)`, which must panic (and leave the count alone) exactly when the
/// count would pass `MAX_COUNT`.
fn model_add(wg: &WaitGroup, count: &mut usize, n: usize) -> Result<(), TestCaseError> {
    let overflows = *count + n > MAX_COUNT;
    let panicked = panics(|| wg.add(n));
    prop_assert_eq!(panicked, overflows, "add({}) at count {}", n, *count);
    if !overflows {
        *count += n;
    }
    Ok(())
}

/// One decrement in the model: `false` (and nothing changes) at zero, where
/// the real one must panic; at the edge to zero every waiter is released.
fn model_decrement(count: &mut usize, waits: &mut [Option<Waiter<'_>>]) -> bool {
    if *count == 0 {
        return false;
    }
    *count -= 1;
    if *count == 0 {
        for (_, model) in waits.iter_mut().flatten() {
            model.release();
        }
    }
    true
}

fn run_wait_group(ops: &[WgOp]) -> Result<(), TestCaseError> {
    let wg = WaitGroup::new();
    let mut count = 0usize;
    let mut guards = Guards(Vec::new());
    let mut waits: Vec<Option<Waiter<'_>>> = Vec::new();
    for op in ops {
        match op {
            WgOp::Add(n) => model_add(&wg, &mut count, *n)?,
            WgOp::AddHuge => model_add(&wg, &mut count, MAX_COUNT)?,
            WgOp::Done => {
                let expected_ok = model_decrement(&mut count, &mut waits);
                let panicked = panics(|| wg.done());
                prop_assert_eq!(panicked, !expected_ok, "done() panics exactly at zero");
            }
            WgOp::Enter => {
                let overflows = count + 1 > MAX_COUNT;
                match catch_unwind_quietly(|| wg.enter()) {
                    Ok(guard) => {
                        prop_assert!(!overflows, "enter() at count {} did not panic", count);
                        guards.0.push(guard);
                        count += 1;
                    }
                    Err(_) => prop_assert!(overflows, "enter() at count {} panicked", count),
                }
            }
            WgOp::EndGuard(index, explicit) => {
                if !guards.0.is_empty() {
                    let guard = guards.0.swap_remove(index.index(guards.0.len()));
                    let expected_ok = model_decrement(&mut count, &mut waits);
                    let panicked = panics(|| {
                        if *explicit {
                            guard.done();
                        } else {
                            drop(guard);
                        }
                    });
                    prop_assert_eq!(
                        panicked,
                        !expected_ok,
                        "a guard's done panics exactly at zero"
                    );
                }
            }
            WgOp::NewWait => {
                waits.push(Some((
                    Tracked::new(wg.wait()),
                    WaiterModel::released(count == 0),
                )));
            }
            WgOp::PollWait(index) => {
                if let Some(i) = pick(&waits, index) {
                    poll_waiter(&mut waits[i], "WaitGroup::wait")?;
                }
            }
            WgOp::DropWait(index) => {
                // Dropping a wait, even one woken and not polled since,
                // changes nothing for the others: no wake passed on.
                if let Some(i) = pick(&waits, index) {
                    waits[i] = None;
                }
            }
        }
        prop_assert_eq!(wg.count(), count, "count after {:?}", op);
        check_wakes(&mut waits, "WaitGroup::wait")?;
    }
    final_sweep(&mut waits, "WaitGroup::wait")?;
    // Each guard still held takes one off the count when dropped; with more
    // guards than count (a `done()` took a guard's unit), the extra drops
    // would underflow and panic: those are left to `Guards`.
    let keep = guards.0.len().saturating_sub(count);
    let ended = guards.0.split_off(keep);
    let left = count - ended.len();
    drop(ended);
    prop_assert_eq!(wg.count(), left);
    Ok(())
}

/// The guards a run holds. Dropped early (a failed check returns at once,
/// with the model's count not balanced), their `done()`s could underflow and
/// panic over the failure being reported: forget them instead.
struct Guards(Vec<WaitGuard>);

impl Drop for Guards {
    fn drop(&mut self) {
        self.0.drain(..).for_each(std::mem::forget);
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn matches_model(ops in prop::collection::vec(wg_op(), 1..60)) {
        run_wait_group(&ops)?;
    }
}

/// A wait woken at the end of round 1 and dropped without being polled again
/// must not wake a waiter of round 2, whose count is still 1.
///
/// The bug (fixed, found by this model): `Wait` had no `Drop` of its own, so
/// its `EventListener`, which holds the unused notification, was dropped
/// plainly, and event-listener passed the notification on to another
/// listener of the same `Event`: a waiter of a later round, woken while its
/// count is not zero.
#[test]
fn dropping_a_woken_wait_wakes_no_later_waiter() {
    let wg = WaitGroup::new();
    wg.add(1);
    let mut first = Tracked::new(wg.wait());
    assert!(first.poll().is_pending());
    wg.done(); // round 1 ends: `first` is woken
    assert_eq!(first.new_wakes(), 1);
    wg.add(1); // round 2
    let mut second = Tracked::new(wg.wait());
    assert!(second.poll().is_pending());
    drop(first); // woken, never polled again
    assert_eq!(wg.count(), 1);
    assert_eq!(
        second.new_wakes(),
        0,
        "a waiter of round 2 was woken while the count is 1"
    );
    assert!(second.poll().is_pending());
}
