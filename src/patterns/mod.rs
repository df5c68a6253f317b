//! Concurrency recipes over a [`Runtime`](crate::runtime::Runtime), built on
//! [`ErrGroup`](crate::ErrGroup): the patterns of Go's concurrency workshop,
//! each with the cancellation and accounting of a group (no task outlives
//! the call).
//!
//! | pattern | use it when | returns |
//! |---------|-------------|---------|
//! | [`scatter_gather`] | every input must succeed; one failure makes the rest pointless | all results in input order, or the first error (the rest cancelled) |
//! | [`map_concurrent`] / [`map_concurrent_unordered`] | a large (or endless) input, bounded concurrency, values streamed | a `Stream` of values, in input or completion order |
//! | [`try_map_concurrent`] / [`try_map_concurrent_unordered`] | the same, for calls that can fail: the first error stops the rest | a `Stream` of `Result`s that ends after the first error |
//! | [`first_ok`] | redundant requests: ask every replica, take the first answer | the first success (the rest cancelled), or every error ([`AllFailed`]) |
//! | [`hedged`] | tail latency: ask one replica, ask the next only if it is slow or fails | the first success (the rest cancelled), or every error ([`AllFailed`]) |
//!
//! # One argument order
//!
//! Every pattern takes its arguments in the same order: the runtime first,
//! then the work (the inputs, or the futures), then the knobs (`limit`,
//! `delay`), then the closure applied to each input:
//!
//! ```text
//! scatter_gather(&rt, inputs, f)
//! map_concurrent(&rt, inputs, limit, f)        try_map_concurrent(&rt, inputs, limit, f)
//! first_ok(&rt, futures)
//! hedged(&rt, attempts, delay)
//! ```
//!
//! # Errors, panics and lost tasks
//!
//! The patterns report the tasks' own errors `E` (as `futures`'
//! `try_join_all`, `try_buffered` and `select_ok` do), except
//! [`scatter_gather`], which returns what [`ErrGroup::join`](crate::ErrGroup::join)
//! does. A task's panic is resumed in the caller, the group's default.
//! A task that the runtime drops before it finishes (it was shut down) is
//! never skipped in silence: [`first_ok`] and [`hedged`] count it in
//! [`AllFailed::lost`], [`scatter_gather`] returns
//! [`GroupError::Lost`](crate::GroupError::Lost), and the map streams, which
//! have no value to yield in its place, panic with a message that says so.

mod all_failed;
mod first_ok;
mod hedged;
mod map;
mod scatter_gather;
mod tasks;

pub use all_failed::AllFailed;
pub use first_ok::first_ok;
pub use hedged::hedged;
pub use map::{
    map_concurrent, map_concurrent_unordered, try_map_concurrent, try_map_concurrent_unordered,
    MapConcurrent, TryMapConcurrent,
};
pub use scatter_gather::scatter_gather;
