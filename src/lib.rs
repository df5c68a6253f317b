//! Structured-concurrency building blocks that work under any async runtime.
//!
//! `taskgroup` gives Rust what Go's `sync.WaitGroup`, Java's
//! `CountDownLatch` and Go's `context` cancellation give their users — as
//! cancel-safe futures (with blocking variants for plain threads) built on
//! [`event-listener`](https://docs.rs/event-listener), so the same types work
//! unchanged under tokio, smol, async-std, the `futures` executor, plain
//! threads, or an executor of your own.
//!
//! | type | what it is | like |
//! |------|------------|------|
//! | [`WaitGroup`] | counter of outstanding work; `wait()` for zero; reusable; `enter()` guards | Go `sync.WaitGroup`, crossbeam `WaitGroup` |
//! | [`Latch`] | fixed count-down gate that stays open; `arrive_and_wait()` | Java `CountDownLatch`, C++ `std::latch` |
//! | [`CancellationToken`] | tree of cancellation signals; `run_until_cancelled`, `drop_guard` | Go `context.WithCancel`, tokio-util `CancellationToken` |
//! | [`Semaphore`] | weighted permits, fast under contention with a bounded wait (newcomers may barge for at most 1 ms, then strict FIFO hand-off); [`new`](Semaphore::new) grows and shrinks (`add_permits`, `forget`) and a request waits while it could be granted; [`fixed`](Semaphore::fixed) fails an impossible request at once | tokio `Semaphore`, Go `semaphore.Weighted` |
//! | [`ErrGroup`] | spawn fallible tasks on any runtime; `join` (results in spawn order, or the first error with the rest cancelled), `join_next`, limits, child groups, deadlines, panic policy; for services: `discard_values` (flat memory), `stop(grace)`, `shield`, `start` | Go `errgroup`, Python `asyncio.TaskGroup`, Java `StructuredTaskScope` |
//! | [`scope()`] | children that borrow from the caller, need not be `Send` or `'static`, and run inside the scope's own future (no runtime, `no_std` too); first error cancels the rest, results in spawn order, `join_next`, limits, panic policy | `moro`, `async-scoped`, `FuturesUnordered` + `try_join_all` |
//! | [`runtime::Runtime`] | `spawn` + `sleep`, one adapter per runtime | — |
//!
//! # Quick start
//!
//! ```
//! use taskgroup::WaitGroup;
//!
//! let wg = WaitGroup::new();
//! for id in 0..3 {
//!     let guard = wg.enter(); // add(1); `done()` when the guard drops
//!     std::thread::spawn(move || {
//!         let _guard = guard;
//!         println!("job {id} done");
//!     });
//! }
//! futures::executor::block_on(wg.wait()); // or wg.wait_blocking()
//! ```
//!
//! Spawning fallible work on a runtime, with first-error cancellation:
//!
//! ```
//! use taskgroup::{runtime::SmolRuntime, ErrGroup};
//!
//! smol::block_on(async {
//!     let group = ErrGroup::builder(SmolRuntime::global()).limit(8).build();
//!     for url in ["a", "b", "c"] {
//!         group.spawn(async move { Ok::<_, std::io::Error>(url.len()) }).unwrap();
//!     }
//!     let sizes = group.join().await?; // in spawn order, or the first error
//!     assert_eq!(sizes, vec![1, 1, 1]);
//!     Ok::<_, taskgroup::GroupError<std::io::Error>>(())
//! })
//! .unwrap();
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `std` | yes | the blocking waits (`wait_blocking`, `acquire_blocking`, …), [`ErrGroup`], the [`runtime`] trait and [`patterns`]; without it the primitives are `#![no_std]` + `alloc` |
//! | `tokio` | no | [`runtime::TokioRuntime`] |
//! | `smol` | no | [`runtime::SmolRuntime`] (the global executor or your own `Executor`) |
//! | `async-std` | no | [`runtime::AsyncStdRuntime`] (async-std is discontinued upstream; prefer smol) |
//! | `diagnostics` | no | [`WaitGroup::pending`] and [`ErrGroup::pending`]: what a group still waits for, with the source line and name of each guard and task; a lock per operation, for debugging (`cargo run --example stuck_task --features diagnostics`) |
//! | `tracing` | no | a `tracing` span per group and per task (with its name), events when a group is cancelled, a task fails, panics or is lost, and when a waiter is woken; nothing when off (`cargo run --example tracing_spans --features tracing`) |
//! | `loom` | no | build against loom for model checking, with `RUSTFLAGS="--cfg loom"` |
//! | `spin` | no | the lock of a `no_std` build (`default-features = false, features = ["spin"]`); unused with `std` |
//!
//! With default features the crate depends only on `atomic-waker`,
//! `event-listener`, `futures-core` and `pin-project-lite` (and, through
//! event-listener, parking): no runtime, and no crate the build does not
//! use.
//!
//! # `no_std`
//!
//! Without the `std` feature the crate is `#![no_std]` (it needs `alloc`):
//! [`WaitGroup`], [`Latch`], [`CancellationToken`] and [`Semaphore`] keep
//! their async API; the blocking waits, the groups, the runtime trait and the
//! patterns need `std`. The few internal locks (a token's children, the
//! semaphore's queue) are then spin locks from the `spin` crate, held only for
//! a few instructions of bookkeeping: turn on the `spin` feature (the build
//! fails with a message saying so if neither `std` nor `spin` is on). Cargo
//! cannot add a dependency only when a feature is off, so a default build
//! leaves `spin` out and a `no_std` build asks for it:
//!
//! ```toml
//! taskgroup = { version = "0.1", default-features = false, features = ["spin"] }
//! ```
//!
//! # Runtime matrix
//!
//! The primitives need no runtime. The test suite runs every behaviour test on
//! each of these:
//!
//! | runtime | async API | blocking API |
//! |---------|-----------|--------------|
//! | tokio, current-thread and multi-thread | yes | from `spawn_blocking` / plain threads |
//! | smol | yes | from plain threads |
//! | async-std | yes | from plain threads |
//! | `futures::executor` (`block_on`, `ThreadPool`) | yes | from plain threads |
//! | plain `std::thread` | — | yes |
//!
//! # Cancel safety
//!
//! Every future this crate returns may be dropped at any point without
//! losing a wake-up for anyone else; each says so in its `# Cancel safety`
//! section.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

/// A `tracing` event when the `tracing` feature is on; nothing at all (not
/// even the arguments) when it is off.
macro_rules! trace_event {
    ($level:ident, $($arg:tt)+) => {
        #[cfg(feature = "tracing")]
        tracing::$level!($($arg)+);
    };
}

mod cancel;
mod counter;
#[cfg(feature = "diagnostics")]
mod diagnostics;
mod error;
#[cfg(feature = "std")]
mod group;
mod latch;
mod listen;
mod semaphore;
mod spawn_error;
mod stage;
mod sync;
mod task_id;
mod wait_group;

#[cfg(feature = "std")]
pub mod patterns;
#[cfg(feature = "std")]
pub mod runtime;
pub mod scope;

pub use cancel::{CancellationToken, DropGuard, DropGuardRef};
#[cfg(feature = "diagnostics")]
pub use diagnostics::{Pending, PendingKind};
#[cfg(feature = "std")]
#[cfg(feature = "std")]
pub use error::PanicPayload;
pub use error::{CancelCause, GroupError, PanicPolicy};
#[cfg(feature = "std")]
pub use group::{Builder, ErrGroup, Ready, Spawner, StartError, StopReport};
pub use latch::Latch;
pub use scope::{scope, scope_local, Scope, ScopeBuilder};
pub use semaphore::{AcquireError, Permit, Semaphore, TryAcquireError};
pub use spawn_error::SpawnError;
pub use task_id::TaskId;
pub use wait_group::{WaitGroup, WaitGuard};

/// An optional name for a guard or a task (`enter_named`, `spawn_named`),
/// shown by the `diagnostics` and `tracing` features.
pub(crate) type Name = Option<alloc::borrow::Cow<'static, str>>;

/// The named futures this crate's methods return.
pub mod futures {
    pub use crate::cancel::{Cancelled, CancelledOwned, RunUntilCancelled};
    pub use crate::counter::Wait;
    #[cfg(feature = "std")]
    pub use crate::group::Shielded;
    pub use crate::scope::JoinNext;
    pub use crate::semaphore::Acquire;
    pub use crate::wait_group::Tracked;
}

/// The guide's code blocks, compiled and run as doctests (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
pub struct GuideDoctests;
