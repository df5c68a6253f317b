//! Turning a hang into a test failure: the work runs on a thread of its own,
//! and the test fails if it does not finish in time (the thread is left
//! behind, stuck). Shared by the suite, the fault tests and the soak.
#![allow(dead_code)]

use std::panic::resume_unwind;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// Long enough for a loaded 2-core CI machine: it only turns a hang (a lost
/// wake-up, a deadlock) into a failure; it measures nothing.
pub const HANG_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `work` on a thread named `what` and returns its result; fails if it
/// does not finish within [`HANG_TIMEOUT`]. A panic in `work` is resumed
/// here, payload intact.
pub fn finishes<R: Send + 'static>(what: &str, work: impl FnOnce() -> R + Send + 'static) -> R {
    finishes_within(what, HANG_TIMEOUT, work)
}

/// As [`finishes`], with a time-out of `limit`.
pub fn finishes_within<R: Send + 'static>(
    what: &str,
    limit: Duration,
    work: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (send, receive) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(what.to_owned())
        .spawn(move || {
            let _ = send.send(work());
        })
        .expect("spawn the test thread");
    match receive.recv_timeout(limit) {
        Ok(result) => {
            let _ = thread.join();
            result
        }
        Err(RecvTimeoutError::Disconnected) => match thread.join() {
            Err(payload) => resume_unwind(payload),
            Ok(()) => unreachable!("the thread ends by sending or by panicking"),
        },
        Err(RecvTimeoutError::Timeout) => {
            panic!("{what} did not finish within {limit:?}: a lost wake-up, a hang or a deadlock")
        }
    }
}
