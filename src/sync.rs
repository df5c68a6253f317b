//! The one place that picks between std's and loom's synchronization types.
//!
//! Every primitive imports its atomics, `Arc` and `Mutex` from here, so that
//! `RUSTFLAGS="--cfg loom"` swaps all of them at once for the loom models in
//! `tests/loom.rs`.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};
