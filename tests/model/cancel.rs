//! `CancellationToken`: a tree of tokens (children, dropped handles, drop
//! guards) and `cancelled()` / `run_until_cancelled` futures against a tree
//! model and a waiter model per future.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use taskgroup::CancellationToken;

use crate::harness::{
    check_wakes, config, final_sweep, pick, poll_waiter, Tracked, Waiter, WaiterModel,
};

#[derive(Clone, Copy, Debug)]
enum CancelHow {
    Cancel,
    /// Drop a `drop_guard()`: cancels.
    DropGuard,
    /// `drop_guard().disarm()`: does not cancel.
    Disarm,
}

#[derive(Clone, Debug)]
enum CancelOp {
    /// A child of the token at this index (among live handles).
    ChildOf(Index),
    Cancel(Index, CancelHow),
    /// A `cancelled()` future, or `run_until_cancelled(pending())` when set.
    NewCancelled(Index, bool),
    Poll(Index),
    DropFuture(Index),
    /// Drops a token handle (never the root's); its node lives on while its
    /// parent, children or futures need it.
    DropToken(Index),
}

fn cancel_op() -> impl Strategy<Value = CancelOp> {
    let how = prop_oneof![
        3 => Just(CancelHow::Cancel),
        1 => Just(CancelHow::DropGuard),
        1 => Just(CancelHow::Disarm),
    ];
    prop_oneof![
        5 => any::<Index>().prop_map(CancelOp::ChildOf),
        2 => (any::<Index>(), how).prop_map(|(i, how)| CancelOp::Cancel(i, how)),
        4 => (any::<Index>(), any::<bool>()).prop_map(|(i, run)| CancelOp::NewCancelled(i, run)),
        4 => any::<Index>().prop_map(CancelOp::Poll),
        1 => any::<Index>().prop_map(CancelOp::DropFuture),
        2 => any::<Index>().prop_map(CancelOp::DropToken),
    ]
}

/// The model of the tree: each node's parent and whether it was cancelled
/// itself.
struct TreeModel {
    parent: Vec<Option<usize>>,
    cancelled_self: Vec<bool>,
}

impl TreeModel {
    /// Cancelled: the node itself or any ancestor was cancelled.
    fn is_cancelled(&self, mut node: usize) -> bool {
        loop {
            if self.cancelled_self[node] {
                return true;
            }
            match self.parent[node] {
                Some(parent) => node = parent,
                None => return false,
            }
        }
    }
}

fn run_cancel(ops: &[CancelOp]) -> Result<(), TestCaseError> {
    let mut tokens: Vec<Option<CancellationToken>> = vec![Some(CancellationToken::new())];
    let mut tree = TreeModel {
        parent: vec![None],
        cancelled_self: vec![false],
    };
    // Each future owns a clone of its token, so handles can be dropped under
    // it; the node each one waits on is kept beside it.
    let mut futures: Vec<Option<Waiter<'static>>> = Vec::new();
    let mut future_node: Vec<usize> = Vec::new();
    for op in ops {
        match op {
            CancelOp::ChildOf(index) => {
                let parent = pick(&tokens, index).expect("the root handle is never dropped");
                let child = tokens[parent].as_ref().unwrap().child_token();
                tokens.push(Some(child));
                tree.parent.push(Some(parent));
                tree.cancelled_self.push(false);
            }
            CancelOp::Cancel(index, how) => {
                let node = pick(&tokens, index).unwrap();
                let token = tokens[node].as_ref().unwrap();
                match how {
                    CancelHow::Cancel => token.cancel(),
                    CancelHow::DropGuard => drop(token.clone().drop_guard()),
                    CancelHow::Disarm => drop(token.clone().drop_guard().disarm()),
                }
                if !matches!(how, CancelHow::Disarm) {
                    tree.cancelled_self[node] = true;
                    for (slot, &on) in futures.iter_mut().zip(&future_node) {
                        if let Some((_, model)) = slot {
                            if tree.is_cancelled(on) {
                                model.release();
                            }
                        }
                    }
                }
            }
            CancelOp::NewCancelled(index, run) => {
                let node = pick(&tokens, index).unwrap();
                let token = tokens[node].clone().unwrap();
                let future = if *run {
                    Tracked::new(async move {
                        let output = token
                            .run_until_cancelled(std::future::pending::<()>())
                            .await;
                        assert!(output.is_none(), "pending() never finishes");
                    })
                } else {
                    Tracked::new(async move { token.cancelled().await })
                };
                futures.push(Some((
                    future,
                    WaiterModel::released(tree.is_cancelled(node)),
                )));
                future_node.push(node);
            }
            CancelOp::Poll(index) => {
                if let Some(i) = pick(&futures, index) {
                    poll_waiter(&mut futures[i], "CancellationToken::cancelled")?;
                }
            }
            CancelOp::DropFuture(index) => {
                if let Some(i) = pick(&futures, index) {
                    futures[i] = None;
                }
            }
            CancelOp::DropToken(index) => {
                // Never the root: without it the rest of the run could cancel
                // nothing above the first level.
                if let Some(i) = pick(&tokens[1..], index) {
                    tokens[i + 1] = None;
                }
            }
        }
        for (node, token) in tokens.iter().enumerate() {
            if let Some(token) = token {
                prop_assert_eq!(
                    token.is_cancelled(),
                    tree.is_cancelled(node),
                    "token #{} after {:?}",
                    node,
                    op
                );
            }
        }
        check_wakes(&mut futures, "CancellationToken::cancelled")?;
    }
    final_sweep(&mut futures, "CancellationToken::cancelled")
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn matches_model(ops in prop::collection::vec(cancel_op(), 1..60)) {
        run_cancel(&ops)?;
    }
}
