//! `Latch`: `count_down`, `wait` and `arrive_and_wait` futures against a
//! count and a waiter model per future.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use taskgroup::Latch;

use crate::harness::{
    check_wakes, config, final_sweep, pick, poll_waiter, Tracked, Waiter, WaiterModel,
};

#[derive(Clone, Debug)]
enum LatchOp {
    CountDown,
    NewWait,
    ArriveAndWait,
    PollWait(Index),
    DropWait(Index),
}

fn latch_op() -> impl Strategy<Value = LatchOp> {
    prop_oneof![
        3 => Just(LatchOp::CountDown),
        3 => Just(LatchOp::NewWait),
        2 => Just(LatchOp::ArriveAndWait),
        5 => any::<Index>().prop_map(LatchOp::PollWait),
        2 => any::<Index>().prop_map(LatchOp::DropWait),
    ]
}

/// `count_down` in the model: nothing at zero; at the edge to zero every
/// waiter is released.
fn model_count_down(count: &mut usize, waits: &mut [Option<Waiter<'_>>]) {
    if *count > 0 {
        *count -= 1;
        if *count == 0 {
            for (_, model) in waits.iter_mut().flatten() {
                model.release();
            }
        }
    }
}

fn run_latch(initial: usize, ops: &[LatchOp]) -> Result<(), TestCaseError> {
    let latch = Latch::new(initial);
    let mut count = initial;
    let mut waits: Vec<Option<Waiter<'_>>> = Vec::new();
    for op in ops {
        match op {
            LatchOp::CountDown => {
                latch.count_down();
                model_count_down(&mut count, &mut waits);
            }
            LatchOp::NewWait => {
                waits.push(Some((
                    Tracked::new(latch.wait()),
                    WaiterModel::released(count == 0),
                )));
            }
            LatchOp::ArriveAndWait => {
                let wait = latch.arrive_and_wait();
                model_count_down(&mut count, &mut waits);
                waits.push(Some((
                    Tracked::new(wait),
                    WaiterModel::released(count == 0),
                )));
            }
            LatchOp::PollWait(index) => {
                if let Some(i) = pick(&waits, index) {
                    poll_waiter(&mut waits[i], "Latch::wait")?;
                }
            }
            LatchOp::DropWait(index) => {
                if let Some(i) = pick(&waits, index) {
                    waits[i] = None;
                }
            }
        }
        prop_assert_eq!(latch.count(), count, "count after {:?}", op);
        prop_assert_eq!(latch.try_wait(), count == 0, "try_wait after {:?}", op);
        check_wakes(&mut waits, "Latch::wait")?;
    }
    final_sweep(&mut waits, "Latch::wait")
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn matches_model(
        initial in 0usize..6,
        ops in prop::collection::vec(latch_op(), 1..60),
    ) {
        run_latch(initial, &ops)?;
    }
}
