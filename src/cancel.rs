//! [`CancellationToken`]: a cheap, cloneable signal that work should stop,
//! with child tokens, a [`DropGuard`], and [`run_until_cancelled`].
//!
//! # State
//!
//! Each token's node holds one atomic word (only the `CANCELLED` bit is used;
//! it never goes back to zero), an `Event` its waiters listen on, and its live
//! children, which it cancels after itself. A child does not point at its
//! parent: cancellation flows down only.
//!
//! [`run_until_cancelled`]: CancellationToken::run_until_cancelled

use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::{Event, EventListener};

use crate::listen::poll_until;
use crate::sync::{Arc, AtomicUsize, Mutex, Ordering};

/// The token has been cancelled (set once, never cleared).
const CANCELLED: usize = 1;

struct Node {
    state: AtomicUsize,
    event: Event,
    /// Children to cancel with this node. Emptied (for good) by `cancel`;
    /// children whose handles are all gone are pruned when the list fills up,
    /// so a long-lived parent with many short-lived children stays small.
    children: Mutex<Vec<Arc<Node>>>,
}

impl Node {
    fn new(cancelled: bool) -> Self {
        Self {
            state: AtomicUsize::new(if cancelled { CANCELLED } else { 0 }),
            event: Event::new(),
            children: Mutex::new(Vec::new()),
        }
    }

    fn is_cancelled(&self) -> bool {
        // Acquire: pairs with the Release in `cancel`, so whatever the
        // canceller wrote before cancelling is visible to whoever sees it.
        self.state.load(Ordering::Acquire) & CANCELLED != 0
    }

    fn cancel(&self) {
        if self.state.fetch_or(CANCELLED, Ordering::Release) & CANCELLED != 0 {
            return;
        }
        trace_event!(debug, "cancellation token cancelled");
        // First set the flag on every descendant — atomics and our own locks
        // only, no user code — so that the whole subtree is cancelled even if
        // a waker panics in the second step (a waker bug unwinds out of
        // `cancel`, but leaves no token half-cancelled). A node's flag is set
        // before its list is taken under the lock, and `child` checks the
        // flag under that lock, so no child is added to a taken list.
        let mut cancelled = Vec::new();
        let mut stack = core::mem::take(&mut *self.children.lock());
        while let Some(node) = stack.pop() {
            if node.state.fetch_or(CANCELLED, Ordering::Release) & CANCELLED == 0 {
                stack.append(&mut node.children.lock());
                cancelled.push(node);
            }
        }
        // Then wake, outside every lock. Every listener registered before a
        // flag was visible is woken; a listener registered after it re-checks
        // the flag before parking.
        wake_all(core::iter::once(&self.event).chain(cancelled.iter().map(|node| &node.event)));
    }

    /// Ready once cancelled; else registers in `listener` (the caller's
    /// slot, kept across polls) to be woken by the cancellation.
    fn poll_cancelled(
        &self,
        listener: &mut Option<EventListener>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        poll_until(&self.event, listener, cx, || {
            self.is_cancelled().then_some(())
        })
    }

    /// A node nobody can reach any more: no token handle (only its parent's
    /// list holds it) and no live descendants. Prunes `self`'s list on the way.
    fn is_unreachable(node: &Arc<Self>) -> bool {
        Arc::strong_count(node) == 1 && {
            let mut children = node.children.lock();
            children.retain(|child| !Node::is_unreachable(child));
            children.is_empty()
        }
    }

    fn child(&self) -> Arc<Node> {
        let mut children = self.children.lock();
        if self.is_cancelled() {
            return Arc::new(Node::new(true));
        }
        if children.len() == children.capacity() {
            // Amortized: the list is scanned only when it would grow.
            children.retain(|child| !Node::is_unreachable(child));
        }
        let child = Arc::new(Node::new(false));
        children.push(Arc::clone(&child));
        child
    }
}

/// Wakes every listener of every event. A waker that panics (a bug in an
/// executor) does not stop the other events' wake-ups: with `std`, the first
/// panic is resumed once all of them were notified.
fn wake_all<'a>(events: impl Iterator<Item = &'a Event>) {
    #[cfg(feature = "std")]
    {
        let mut first_panic = None;
        for event in events {
            let notified = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                event.notify(usize::MAX);
            }));
            if let Err(payload) = notified {
                first_panic.get_or_insert(payload);
            }
        }
        if let Some(payload) = first_panic {
            std::panic::resume_unwind(payload);
        }
    }
    #[cfg(not(feature = "std"))]
    for event in events {
        event.notify(usize::MAX);
    }
}

/// A signal that work should stop.
///
/// Cloning gives another handle to the same token. Cancelling a token
/// cancels all its [children](Self::child_token), but not its parent.
/// `is_cancelled` is one atomic load.
///
/// # When to use it
///
/// Cancellation in Rust async code is usually "drop the future". A token is
/// for the cases where dropping is not enough or not possible: work on other
/// tasks or threads, work that must clean up before it stops, and trees of
/// work where stopping a parent must stop its children (Go's
/// `context.WithCancel`). Task groups use it to cancel their tasks.
///
/// Cancellation is cooperative: a task sees it only where it checks
/// [`is_cancelled`](CancellationToken::is_cancelled) or awaits
/// [`cancelled`](CancellationToken::cancelled).
///
/// # Examples
///
/// ```
/// use taskgroup::CancellationToken;
///
/// let token = CancellationToken::new();
/// let worker = {
///     let token = token.clone();
///     std::thread::spawn(move || {
///         futures::executor::block_on(token.cancelled());
///         "stopped"
///     })
/// };
/// token.cancel();
/// assert_eq!(worker.join().unwrap(), "stopped");
/// ```
#[derive(Clone)]
pub struct CancellationToken {
    node: Arc<Node>,
}

impl CancellationToken {
    /// Creates a token that is not cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = taskgroup::CancellationToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            node: Arc::new(Node::new(false)),
        }
    }

    /// Cancels this token and all its descendants, waking every task waiting
    /// on [`cancelled`](Self::cancelled). Cancelling again does nothing.
    ///
    /// # Panics
    ///
    /// Only if a waiting task's waker panics (a bug in that executor): with
    /// `std`, the panic is resumed here after every descendant has been
    /// cancelled and every waiter woken.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = taskgroup::CancellationToken::new();
    /// token.cancel();
    /// token.cancel(); // no-op
    /// assert!(token.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        self.node.cancel();
    }

    /// Returns `true` once this token (or an ancestor) has been cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let parent = taskgroup::CancellationToken::new();
    /// let child = parent.child_token();
    /// parent.cancel();
    /// assert!(child.is_cancelled());
    /// ```
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// Waits until the token is cancelled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses no wake-up for other waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = taskgroup::CancellationToken::new();
    /// token.cancel();
    /// futures::executor::block_on(token.cancelled()); // completes at once
    /// ```
    pub fn cancelled(&self) -> Cancelled<'_> {
        Cancelled {
            node: &self.node,
            listener: None,
        }
    }

    /// As [`cancelled`](Self::cancelled), owning the token: a `'static`
    /// future that can be stored in a struct or moved into a spawned task
    /// (tokio-util's `cancelled_owned`).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses no wake-up for other waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{futures::CancelledOwned, CancellationToken};
    ///
    /// struct Worker {
    ///     stop: CancelledOwned, // no borrow of the token
    /// }
    ///
    /// let token = CancellationToken::new();
    /// let worker = Worker { stop: token.clone().cancelled_owned() };
    /// let waiter = std::thread::spawn(move || futures::executor::block_on(worker.stop));
    /// token.cancel();
    /// waiter.join().unwrap();
    /// ```
    pub fn cancelled_owned(self) -> CancelledOwned {
        CancelledOwned {
            node: self.node,
            listener: None,
        }
    }

    /// Creates a child token: cancelled when this one is (or already is), but
    /// cancelling the child leaves this one alone.
    ///
    /// # Examples
    ///
    /// ```
    /// let parent = taskgroup::CancellationToken::new();
    /// let child = parent.child_token();
    /// child.cancel();
    /// assert!(!parent.is_cancelled());
    /// parent.cancel();
    /// assert!(parent.child_token().is_cancelled());
    /// ```
    #[must_use]
    pub fn child_token(&self) -> CancellationToken {
        Self {
            node: self.node.child(),
        }
    }

    /// Returns a guard that cancels this token when dropped, unless
    /// [disarmed](DropGuard::disarm).
    ///
    /// # Examples
    ///
    /// ```
    /// let token = taskgroup::CancellationToken::new();
    /// {
    ///     let _guard = token.clone().drop_guard();
    /// }
    /// assert!(token.is_cancelled());
    /// ```
    #[must_use = "dropping the guard at once cancels the token at once"]
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }

    /// As [`drop_guard`](Self::drop_guard), borrowing the token instead of
    /// consuming it.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = taskgroup::CancellationToken::new();
    /// {
    ///     let _guard = token.drop_guard_ref();
    ///     assert!(!token.is_cancelled()); // still usable while guarded
    /// }
    /// assert!(token.is_cancelled());
    ///
    /// let token = taskgroup::CancellationToken::new();
    /// token.drop_guard_ref().disarm();
    /// assert!(!token.is_cancelled());
    /// ```
    #[must_use = "dropping the guard at once cancels the token at once"]
    pub fn drop_guard_ref(&self) -> DropGuardRef<'_> {
        DropGuardRef { token: Some(self) }
    }

    /// [`cancelled`](Self::cancelled) in poll form, for the group's tasks:
    /// `listener` is the caller's slot for its registration.
    #[cfg(feature = "std")]
    pub(crate) fn poll_cancelled(
        &self,
        listener: &mut Option<EventListener>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        self.node.poll_cancelled(listener, cx)
    }

    /// Runs `future` until it completes or the token is cancelled, whichever
    /// comes first. Returns `Some(output)`, or `None` if cancelled (then the
    /// future is dropped when the returned future is).
    ///
    /// Cancellation is checked first at every poll, so on a cancelled token
    /// `future` is never polled. A `future` that completes at its first poll
    /// costs nothing beyond an atomic load; one that waits also registers a
    /// listener for the cancellation.
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `future` itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::executor::block_on;
    ///
    /// let token = taskgroup::CancellationToken::new();
    /// assert_eq!(block_on(token.run_until_cancelled(async { 7 })), Some(7));
    /// token.cancel();
    /// assert_eq!(block_on(token.run_until_cancelled(std::future::pending::<()>())), None);
    /// ```
    pub fn run_until_cancelled<F: Future>(&self, future: F) -> RunUntilCancelled<'_, F> {
        RunUntilCancelled {
            cancelled: self.cancelled(),
            future,
        }
    }
}

impl Default for CancellationToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("is_cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Future returned by [`CancellationToken::cancelled`].
///
/// # Cancel safety
///
/// Cancel-safe: waiters are woken all at once, so dropping one takes no
/// wake-up away from the others.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Cancelled<'a> {
    node: &'a Node,
    listener: Option<EventListener>,
}

impl Future for Cancelled<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        this.node.poll_cancelled(&mut this.listener, cx)
    }
}

/// Future returned by [`CancellationToken::cancelled_owned`]: completes when
/// the token is cancelled; owns the token, so it is `'static`.
///
/// # Cancel safety
///
/// Cancel-safe: dropping it loses no wake-up for other waiters.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct CancelledOwned {
    node: Arc<Node>,
    listener: Option<EventListener>,
}

impl Future for CancelledOwned {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        this.node.poll_cancelled(&mut this.listener, cx)
    }
}

impl fmt::Debug for CancelledOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelledOwned")
            .field("is_cancelled", &self.node.is_cancelled())
            .finish()
    }
}

impl fmt::Debug for Cancelled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled")
            .field("is_cancelled", &self.node.is_cancelled())
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// Future returned by [`CancellationToken::run_until_cancelled`].
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as the future it runs.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct RunUntilCancelled<'a, F> {
        cancelled: Cancelled<'a>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for RunUntilCancelled<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Biased towards cancellation: a cancelled token never polls `future`.
        if this.cancelled.node.is_cancelled() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Some(output));
        }
        // Only a future that waits registers for cancellation: work that
        // finishes in its first poll costs no listener (no allocation).
        match Pin::new(this.cancelled).poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for RunUntilCancelled<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntilCancelled")
            .field("is_cancelled", &self.cancelled.node.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// Cancels its token when dropped, unless [disarmed](Self::disarm). Returned
/// by [`CancellationToken::drop_guard`].
///
/// # Examples
///
/// ```
/// let token = taskgroup::CancellationToken::new();
/// let guard = token.clone().drop_guard();
/// let token_back = guard.disarm();
/// assert!(!token_back.is_cancelled());
/// ```
#[must_use = "dropping the guard at once cancels the token at once"]
pub struct DropGuard {
    token: Option<CancellationToken>,
}

impl DropGuard {
    /// Gives the token back without cancelling it.
    ///
    /// Use it on the success path of work that must cancel its token if it
    /// stops early (returns with `?`, panics, or is dropped), but not when it
    /// completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::CancellationToken;
    ///
    /// fn setup(token: CancellationToken, fail: bool) -> Result<CancellationToken, &'static str> {
    ///     let guard = token.drop_guard(); // cancels the token on an early return
    ///     if fail {
    ///         return Err("setup failed");
    ///     }
    ///     Ok(guard.disarm()) // success: keep the token alive
    /// }
    ///
    /// let ok = setup(CancellationToken::new(), false).unwrap();
    /// assert!(!ok.is_cancelled());
    ///
    /// let watched = CancellationToken::new();
    /// assert!(setup(watched.clone(), true).is_err());
    /// assert!(watched.is_cancelled());
    /// ```
    #[must_use]
    pub fn disarm(mut self) -> CancellationToken {
        self.token
            .take()
            .expect("a DropGuard holds its token until disarmed or dropped")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
    }
}

impl fmt::Debug for DropGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropGuard")
            .field("token", &self.token)
            .finish()
    }
}

/// A guard that cancels a borrowed [`CancellationToken`] when dropped,
/// unless [disarmed](Self::disarm). Made by
/// [`CancellationToken::drop_guard_ref`].
#[must_use = "dropping the guard at once cancels the token at once"]
pub struct DropGuardRef<'a> {
    token: Option<&'a CancellationToken>,
}

impl<'a> DropGuardRef<'a> {
    /// Gives the token back without cancelling it.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = taskgroup::CancellationToken::new();
    /// let guard = token.drop_guard_ref();
    /// assert!(!guard.disarm().is_cancelled());
    /// ```
    #[must_use]
    pub fn disarm(mut self) -> &'a CancellationToken {
        self.token
            .take()
            .expect("a DropGuardRef holds its token until disarmed or dropped")
    }
}

impl Drop for DropGuardRef<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
    }
}

impl fmt::Debug for DropGuardRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropGuardRef")
            .field("token", &self.token)
            .finish()
    }
}
