//! Counts what became of futures in the tests: each one either completes or
//! is dropped unfinished, exactly once. Shared by the suite and
//! `tests/faults.rs` through `#[path]`.
#![allow(dead_code)] // each test crate uses a different part

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Tickets issued, completed and dropped unfinished.
#[derive(Default)]
pub struct Ledger {
    issued: AtomicUsize,
    completed: AtomicUsize,
    dropped: AtomicUsize,
}

impl Ledger {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// A ticket to move into a future; call `complete` at its end.
    pub fn ticket(self: &Arc<Self>) -> Ticket {
        self.issued.fetch_add(1, Ordering::SeqCst);
        Ticket(Some(Arc::clone(self)))
    }

    pub fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Tickets issued so far.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }

    /// (completed, dropped unfinished) so far.
    pub fn counts(&self) -> (usize, usize) {
        (self.completed(), self.dropped())
    }

    /// (completed, dropped unfinished), after checking that every ticket
    /// issued is in one of the two.
    pub fn settled(&self) -> (usize, usize) {
        let (completed, dropped) = self.counts();
        assert_eq!(
            completed + dropped,
            self.issued(),
            "every future completed or was dropped, exactly once"
        );
        (completed, dropped)
    }

    /// Every future that was given a ticket is accounted for, once.
    pub fn assert_balanced(&self) {
        self.settled();
    }
}

/// Moved into a future; `complete` at its end, else its drop counts it as
/// dropped unfinished. `Ticket(None)` counts nothing.
pub struct Ticket(pub Option<Arc<Ledger>>);

impl Ticket {
    pub fn complete(mut self) {
        if let Some(ledger) = self.0.take() {
            ledger.completed.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(ledger) = self.0.take() {
            ledger.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}
