//! A counting global allocator, shared by `tests/alloc.rs` and the benches
//! (included with `#[path]`): counts are per thread (a `const` thread-local
//! `Cell`, which needs no allocation and no destructor), so work on other
//! threads does not disturb them.
//!
//! Two kinds of figures: [`allocated`] (allocations made and their bytes,
//! never decreasing) and [`live_bytes`] (bytes allocated minus bytes freed on
//! this thread: memory held, exact when everything is allocated and freed on
//! the same thread, as on a current-thread runtime).
//!
//! [`global_live_bytes`] is the process-wide figure (one atomic counter, all
//! threads): what a multi-threaded runtime holds, where tasks are allocated
//! on one thread and freed on a worker. Every other thread's work shows in
//! it too, so it is for test binaries of their own (`tests/memory.rs`,
//! `tests/service_soak.rs`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn record(size: usize) {
    // `try_with`: never panic inside the allocator, even during thread exit.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    let _ = BYTES.try_with(|n| n.set(n.get() + size));
    // `as`: a `Layout`'s size never exceeds `isize::MAX`.
    change_live(size as isize);
}

/// Bytes allocated minus bytes freed, by every thread of the process.
static GLOBAL_LIVE: AtomicIsize = AtomicIsize::new(0);

fn change_live(by: isize) {
    let _ = LIVE.try_with(|n| n.set(n.get() + by));
    GLOBAL_LIVE.fetch_add(by, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; the counting touches only a
// thread-local `Cell` and an atomic, and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: forwarded unchanged (see the impl).
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        // On success the old block is gone (moved or resized into the new
        // one); on failure it is still held and the new one does not exist.
        change_live(if new.is_null() {
            -(new_size as isize)
        } else {
            -(layout.size() as isize)
        });
        new
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        change_live(-(layout.size() as isize));
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread: (count, bytes).
#[allow(dead_code)] // not every file that includes this module uses it
pub fn allocated() -> (usize, usize) {
    (ALLOCATIONS.with(Cell::get), BYTES.with(Cell::get))
}

/// Bytes allocated minus bytes freed on this thread since it started (may be
/// negative when this thread frees what another allocated).
#[allow(dead_code)] // not every file that includes this module uses it
pub fn live_bytes() -> isize {
    LIVE.with(Cell::get)
}

/// Bytes allocated minus bytes freed by every thread of the process since it
/// started.
#[allow(dead_code)] // not every file that includes this module uses it
pub fn global_live_bytes() -> isize {
    GLOBAL_LIVE.load(Ordering::Relaxed)
}

/// Waits on `rt` until [`global_live_bytes`] has stopped falling (three
/// reads in a row that are not lower than the one before, a few
/// milliseconds apart; at most a few seconds: a runtime frees a finished
/// task's memory shortly after it completes), and returns it.
#[allow(dead_code)]
pub async fn settled_global_live_bytes<R: taskgroup::runtime::Runtime>(rt: &R) -> isize {
    let mut last = global_live_bytes();
    let mut steady = 0;
    for _ in 0..400 {
        rt.sleep(std::time::Duration::from_millis(5)).await;
        let now = global_live_bytes();
        if now >= last {
            steady += 1;
            if steady == 3 {
                return now;
            }
        } else {
            steady = 0;
        }
        last = now;
    }
    last
}
