//! Shielded sections: work inside a task that a graceful stop does not cut.
//!
//! Each group counts the shielded sections open in its tasks, and so does
//! each of its parents (a child's shield holds off its parent's stop too). A
//! graceful stop whose grace period ran out waits until no section is open
//! before it drops the tasks still running.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::{Event, EventListener};

use crate::listen::poll_until;
use crate::sync::{Arc, AtomicUsize, Ordering};

/// The shielded sections open in a group's tasks (and its children's).
pub(crate) struct Shields {
    /// Sections open now.
    open: AtomicUsize,
    /// Notified when `open` drops to zero.
    closed: Event,
    /// The parent group's, which counts this group's sections too.
    parent: Option<Arc<Shields>>,
}

impl Shields {
    pub(crate) fn under(parent: Option<Arc<Shields>>) -> Self {
        Self {
            open: AtomicUsize::new(0),
            closed: Event::new(),
            parent,
        }
    }

    fn enter(&self) {
        self.open.fetch_add(1, Ordering::AcqRel);
        if let Some(parent) = &self.parent {
            parent.enter();
        }
    }

    fn exit(&self) {
        // Release: the section's work happens-before a stop that sees zero.
        if self.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.closed.notify(usize::MAX);
        }
        if let Some(parent) = &self.parent {
            parent.exit();
        }
    }

    /// Ready once no section is open. Listen, then re-check: an exit between
    /// the check and the listen is not missed.
    pub(crate) fn poll_none_open(
        &self,
        listener: &mut Option<EventListener>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        poll_until(&self.closed, listener, cx, || {
            (self.open.load(Ordering::Acquire) == 0).then_some(())
        })
    }
}

pin_project_lite::pin_project! {
    /// A future run as a shielded section of a group's task (see
    /// [`ErrGroup::shield`](crate::ErrGroup::shield)): while it runs, a
    /// graceful stop does not drop the group's tasks, even when its grace
    /// period is over. It resolves to its inner future's output.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the inner future and closes the section.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Shielded<F> {
        #[pin]
        future: F,
        guard: ShieldGuard,
    }
}

impl<F> Shielded<F> {
    pub(crate) fn new(shields: &Arc<Shields>, future: F) -> Self {
        shields.enter();
        Self {
            future,
            guard: ShieldGuard(Arc::clone(shields)),
        }
    }
}

impl<F: Future> Future for Shielded<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}

impl<F> fmt::Debug for Shielded<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shielded").finish_non_exhaustive()
    }
}

/// Closes its section when dropped (with the future, however it ends).
struct ShieldGuard(Arc<Shields>);

impl Drop for ShieldGuard {
    fn drop(&mut self) {
        self.0.exit();
    }
}
