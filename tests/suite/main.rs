//! The behaviour suite: every test in `wait_group`, `latch` and `cancel` runs
//! once per runtime (see `common::runtime_tests!`), plus plain-thread and
//! manual-poll tests that need no runtime.
//!
//! Run it with `cargo test --all-features`.

// Under `panic = "abort"` (the CI pass) the tests that catch panics are
// compiled out, leaving some helpers unused.
#![cfg_attr(panic = "abort", allow(dead_code, unused_imports))]

mod common;
#[path = "../support/hang.rs"]
mod hang;
#[path = "../support/ledger.rs"]
mod ledger;
#[path = "../support/yield_now.rs"]
mod yield_now;

mod cancel;
#[cfg(feature = "diagnostics")]
mod diagnostics;
mod err_group;
mod faults;
mod latch;
mod patterns;
mod scope;
mod semaphore;
mod wait_group;

/// Compile-time promises: every public type is `Send + Sync + 'static` where
/// it owns its state, futures are `Send` (and `Unpin` where they hold no
/// user future), so they can cross `spawn` and be used in `select!`.
mod static_assertions {
    use taskgroup::futures::{
        Acquire, Cancelled, CancelledOwned, RunUntilCancelled, Tracked, Wait,
    };
    use taskgroup::{CancellationToken, DropGuard, Latch, Permit, Semaphore, WaitGroup, WaitGuard};

    fn send_sync_static<T: Send + Sync + 'static>() {}
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    fn send<T: Send>() {}

    #[test]
    fn handles_are_send_sync_static() {
        send_sync_static::<WaitGroup>();
        send_sync_static::<WaitGuard>();
        send_sync_static::<Latch>();
        send_sync_static::<CancellationToken>();
        send_sync_static::<DropGuard>();
        send_sync_static::<Semaphore>();
        send_sync_static::<Permit>();
        send_sync_static::<taskgroup::runtime::TokioRuntime>();
        send_sync_static::<taskgroup::runtime::SmolRuntime>();
        send_sync_static::<taskgroup::runtime::AsyncStdRuntime>();
        send_sync_static::<taskgroup::runtime::TaskHandle>();
    }

    #[test]
    fn errors_are_send_sync_static_for_anyhow_and_box_dyn_error() {
        send_sync_static::<taskgroup::GroupError<std::io::Error>>();
        send_sync_static::<taskgroup::patterns::AllFailed<std::io::Error>>();
        let boxed: Box<dyn std::error::Error + Send + Sync> =
            Box::new(taskgroup::GroupError::<std::io::Error>::Lost);
        assert!(boxed.to_string().starts_with("task lost"));
    }

    #[test]
    fn futures_are_send_sync_unpin() {
        send_sync_unpin::<Wait<'static>>();
        send_sync_unpin::<Cancelled<'static>>();
        send_sync_unpin::<Acquire<'static>>();
        send::<RunUntilCancelled<'static, std::future::Ready<()>>>();
        send_sync_static::<CancelledOwned>();
        send_sync_static::<Tracked<std::future::Ready<u8>>>();
        send_sync_static::<taskgroup::SpawnError<std::future::Ready<u8>>>();
        send_sync_static::<taskgroup::TaskId>();
    }

    #[test]
    fn handles_are_one_pointer() {
        use std::mem::size_of;
        // The `diagnostics` feature adds a registry handle (not zero-cost by
        // design); without it a group and a guard are one pointer.
        #[cfg(not(feature = "diagnostics"))]
        assert_eq!(size_of::<WaitGroup>(), size_of::<usize>());
        assert_eq!(size_of::<Latch>(), size_of::<usize>());
        assert_eq!(size_of::<CancellationToken>(), size_of::<usize>());
        #[cfg(not(feature = "diagnostics"))]
        assert_eq!(size_of::<WaitGuard>(), size_of::<usize>());
        assert_eq!(size_of::<Semaphore>(), size_of::<usize>());
    }
}
