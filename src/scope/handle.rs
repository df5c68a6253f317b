//! [`Scope`]: the handle a scope's body and children spawn through, and the
//! state it shares with the scope's future.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use super::{Admit, Flavour, SendChildren};
use crate::sync::{Mutex, MutexGuard};
use crate::{CancelCause, CancellationToken, GroupError, SpawnError, TaskId};

/// A child future as the scope stores it: boxed, its type erased (`Send` or
/// not, as the flavour `K` says).
pub(super) type Child<'env, T, E, K> = <K as Flavour>::Child<'env, Result<T, E>>;

/// One finished child: its spawn index and its outcome.
pub(super) type Outcome<T, E> = (usize, Result<T, GroupError<E>>);

/// The handle to a running scope: spawn children that borrow from the
/// caller (`'env`), take their outcomes as they finish, cancel the scope.
///
/// The scope's body gets one; clone it into children that spawn children of
/// their own. It is an owned handle, not a reference to the scope: a clone
/// may outlive the scope (it cannot outlive `'env`, the data the children
/// borrow), and then every spawn through it is refused
/// ([`SpawnError::Closed`]).
///
/// `T` is what a child returns on success, `E` its error, `K` whether
/// children must be `Send` ([`SendChildren`], from [`scope`](crate::scope()))
/// or need not be ([`LocalChildren`](super::LocalChildren), from
/// [`scope_local`](crate::scope_local)).
///
/// # Examples
///
/// ```
/// let words = ["scope", "borrows", "from", "the", "caller"];
/// let mut longest = 0;
/// let lengths = futures::executor::block_on(taskgroup::scope(async |s| {
///     for word in &words {
///         s.spawn(async move { Ok::<_, ()>(word.len()) }).unwrap();
///     }
///     while let Some(Ok(length)) = s.join_next().await {
///         longest = longest.max(length); // taken here, in completion order
///     }
/// }));
/// assert_eq!(lengths.unwrap(), Vec::<usize>::new()); // every outcome was taken
/// assert_eq!(longest, 7);
/// ```
pub struct Scope<'env, T, E, K: Flavour = SendChildren> {
    pub(super) shared: Arc<Shared<'env, T, E, K>>,
}

/// What the handles and the scope's future share.
pub(super) struct Shared<'env, T, E, K: Flavour> {
    pub(super) state: Mutex<State<'env, T, E, K>>,
    /// Cancelled when the scope cancels its children; cancelling it cancels
    /// the scope.
    pub(super) token: CancellationToken,
    /// The parent token given to the builder, to tell `Parent` from
    /// `Explicit` when the token is found cancelled.
    pub(super) parent: Option<CancellationToken>,
    /// What the joiner does with a child's panic.
    #[cfg(feature = "std")]
    pub(super) panic_policy: crate::PanicPolicy,
    _env: PhantomData<fn(&'env ()) -> &'env ()>,
}

/// The scope's bookkeeping. Invariants:
///
/// * `live` counts the children spawned and not yet finished: in
///   `incoming`, in `waiting`, or in the scope's future. It is lowered when
///   the scope future publishes their outcomes (or drops them).
/// * `running` counts the children admitted past the limit (in `incoming`
///   or in the scope's future); kept only when there is a `limit`.
/// * Once `closed`, `incoming` and `waiting` stay empty: every spawn is
///   refused.
pub(super) struct State<'env, T, E, K: Flavour> {
    /// Spawned children the scope's future has not taken yet, with their
    /// spawn index, in spawn order.
    pub(super) incoming: Vec<(usize, Child<'env, T, E, K>)>,
    /// Children queued behind the limit, in spawn order.
    pub(super) waiting: VecDeque<(usize, Child<'env, T, E, K>)>,
    /// Finished children whose outcome nobody took yet, in completion order.
    pub(super) outcomes: VecDeque<Outcome<T, E>>,
    pub(super) next_index: usize,
    pub(super) live: usize,
    pub(super) running: usize,
    pub(super) limit: Option<usize>,
    pub(super) closed: bool,
    /// The first reason the scope cancelled its children.
    pub(super) cause: Option<CancelCause>,
    /// Who waits in `join_next` for an outcome (or for `live` to reach zero).
    pub(super) joiner: Option<Waker>,
}

impl<'env, T, E, K: Flavour> Shared<'env, T, E, K> {
    pub(super) fn new(
        limit: Option<usize>,
        token: CancellationToken,
        parent: Option<CancellationToken>,
        #[cfg(feature = "std")] panic_policy: crate::PanicPolicy,
    ) -> Self {
        Self {
            state: Mutex::new(State {
                incoming: Vec::new(),
                waiting: VecDeque::new(),
                outcomes: VecDeque::new(),
                next_index: 0,
                live: 0,
                running: 0,
                limit,
                closed: false,
                cause: None,
                joiner: None,
            }),
            token,
            parent,
            #[cfg(feature = "std")]
            panic_policy,
            _env: PhantomData,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State<'env, T, E, K>> {
        self.state.lock()
    }

    /// Records `cause` (the first one wins) and cancels the token.
    pub(super) fn cancel(&self, cause: CancelCause) {
        self.lock().cause.get_or_insert(cause);
        self.token.cancel();
    }

    /// The cause to record for a token found cancelled from outside.
    pub(super) fn outside_cause(&self) -> CancelCause {
        match &self.parent {
            Some(parent) if parent.is_cancelled() => CancelCause::Parent,
            _ => CancelCause::Explicit,
        }
    }
}

impl<'env, T, E, K: Flavour> Scope<'env, T, E, K> {
    /// Spawns `future` as a child of the scope and returns its [`TaskId`]
    /// (its position in spawn order). The child runs inside the scope's own
    /// future, from the scope's next poll on; with the scope's
    /// [limit](super::ScopeBuilder::limit) reached it waits its turn.
    ///
    /// The future may borrow anything that outlives the scope (`'env`), and
    /// need not be `'static`; with [`scope_local`](crate::scope_local) it
    /// need not be `Send` either.
    ///
    /// The same contract as every spawning method of this crate: a refusal
    /// is a [`SpawnError`] that hands the future back.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Closed`], the future untouched, if the scope is over (it
    /// finished, was cancelled, or was dropped): only a handle kept past the
    /// scope can see that. (`spawn` never refuses for a full scope: it
    /// queues; [`try_spawn`](Self::try_spawn) does.)
    ///
    /// # Examples
    ///
    /// ```
    /// let mut hits = vec![0u32; 3];
    /// let result = futures::executor::block_on(taskgroup::scope(async |s| {
    ///     for hit in hits.iter_mut() {
    ///         s.spawn(async move {
    ///             *hit += 1; // each child has its own `&mut`
    ///             Ok::<_, ()>(())
    ///         }).unwrap();
    ///     }
    /// }));
    /// assert!(result.is_ok());
    /// assert_eq!(hits, [1, 1, 1]);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<TaskId, SpawnError<F>>
    where
        K: Admit<'env, Result<T, E>, F>,
    {
        self.place(future, false)
    }

    /// Spawns `future` only if it can start now: with the scope's limit
    /// reached, or the scope over, hands it back instead.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Full`] if the limit is reached (a later try may
    /// succeed), [`SpawnError::Closed`] if the scope is over; either way with
    /// the future, untouched.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{ScopeBuilder, SpawnError};
    ///
    /// let result = futures::executor::block_on(ScopeBuilder::new().limit(1).run(|s| async move {
    ///     assert!(s.try_spawn(async { Ok::<_, ()>(1) }).is_ok());
    ///     // The one slot is taken until the scope runs that child.
    ///     let refused = s.try_spawn(async { Ok(2) });
    ///     assert!(matches!(refused, Err(SpawnError::Full(_))));
    /// }));
    /// assert_eq!(result.unwrap(), [1]);
    /// ```
    pub fn try_spawn<F>(&self, future: F) -> Result<TaskId, SpawnError<F>>
    where
        K: Admit<'env, Result<T, E>, F>,
    {
        self.place(future, true)
    }

    fn place<F>(&self, future: F, refuse_when_full: bool) -> Result<TaskId, SpawnError<F>>
    where
        K: Admit<'env, Result<T, E>, F>,
    {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(SpawnError::Closed(future));
        }
        let queued = match state.limit {
            Some(limit) if state.running >= limit => {
                if refuse_when_full {
                    return Err(SpawnError::Full(future));
                }
                true
            }
            Some(_) => {
                state.running += 1;
                false
            }
            None => false,
        };
        let index = state.next_index;
        state.next_index += 1;
        state.live += 1;
        // Boxing runs no user code (a future does nothing until polled).
        let child = K::admit(future);
        if queued {
            state.waiting.push_back((index, child));
        } else {
            state.incoming.push((index, child));
        }
        Ok(TaskId::new(index))
    }

    /// The next child outcome, in completion order: `None` once no child is
    /// left (all finished and taken). An outcome taken here is not in the
    /// scope's result.
    ///
    /// With [`PanicPolicy::Resume`](crate::PanicPolicy::Resume) (the
    /// default), a child's panic is resumed here.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future takes nothing; the next outcome stays
    /// for the next call (or the scope's result).
    ///
    /// # Examples
    ///
    /// ```
    /// let result = futures::executor::block_on(taskgroup::scope(|s| async move {
    ///     s.spawn(async { Ok::<_, ()>("first") }).unwrap();
    ///     assert_eq!(s.join_next().await.unwrap().unwrap(), "first");
    ///     assert!(s.join_next().await.is_none()); // nothing left
    /// }));
    /// assert!(result.unwrap().is_empty());
    /// ```
    #[must_use = "a future does nothing unless awaited"]
    pub fn join_next(&self) -> JoinNext<'_, 'env, T, E, K> {
        JoinNext { scope: self }
    }

    /// The scope's cancellation token: cancelled when the scope cancels its
    /// children (the first error, a panic, [`cancel`](Self::cancel), its
    /// parent token, or the scope future dropped); cancelling it cancels the
    /// scope ([`CancelCause::Explicit`]). Give it to work outside the scope
    /// — a thread, a spawned task — that must stop with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{CancelCause, GroupError};
    ///
    /// let result = futures::executor::block_on(taskgroup::scope(|s| async move {
    ///     let token = s.cancellation_token();
    ///     s.spawn(async move {
    ///         token.cancel(); // a child cancels the whole scope
    ///         Ok::<(), ()>(())
    ///     }).unwrap();
    ///     s.spawn(std::future::pending()).unwrap(); // dropped by the cancellation
    /// }));
    /// assert!(matches!(result, Err(GroupError::Cancelled(CancelCause::Explicit))));
    /// ```
    #[must_use]
    pub fn cancellation_token(&self) -> CancellationToken {
        self.shared.token.clone()
    }

    /// Cancels the scope ([`CancelCause::Explicit`]): at its next poll the
    /// scope drops its body and every child, and returns
    /// `Err(GroupError::Cancelled(..))` (or the first failure, if one came
    /// before).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{CancelCause, GroupError};
    ///
    /// let result = futures::executor::block_on(taskgroup::scope(|s| async move {
    ///     s.spawn(std::future::pending::<Result<(), ()>>()).unwrap();
    ///     s.cancel();
    ///     std::future::pending::<()>().await; // the body is dropped too
    /// }));
    /// assert!(matches!(result, Err(GroupError::Cancelled(CancelCause::Explicit))));
    /// ```
    pub fn cancel(&self) {
        self.shared.cancel(CancelCause::Explicit);
    }

    /// Why the scope cancelled its children, or `None` if it did not.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = futures::executor::block_on(taskgroup::scope(|s| async move {
    ///     s.spawn(async { Ok::<_, ()>(1) }).unwrap();
    ///     assert_eq!(s.cause(), None);
    /// }));
    /// assert!(result.is_ok());
    /// ```
    #[must_use]
    pub fn cause(&self) -> Option<CancelCause> {
        self.shared.lock().cause
    }

    /// Children spawned whose outcome has not been taken yet: unfinished,
    /// or finished and waiting in the scope for [`join_next`](Self::join_next)
    /// or the scope's result.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = futures::executor::block_on(taskgroup::scope(|s| async move {
    ///     s.spawn(async { Ok::<_, ()>(1) }).unwrap();
    ///     assert_eq!(s.len(), 1);
    ///     s.join_next().await;
    ///     assert_eq!(s.len(), 0);
    /// }));
    /// assert!(result.is_ok());
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        let state = self.shared.lock();
        state.live + state.outcomes.len()
    }

    /// `len() == 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = futures::executor::block_on(taskgroup::scope(|s| async move {
    ///     assert!(s.is_empty());
    ///     s.spawn(async { Ok::<_, ()>(1) }).unwrap();
    ///     assert!(!s.is_empty());
    /// }));
    /// assert!(result.is_ok());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T, E, K: Flavour> Clone for Scope<'_, T, E, K> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T, E, K: Flavour> fmt::Debug for Scope<'_, T, E, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Scope")
            .field("live", &state.live)
            .field("unjoined", &state.outcomes.len())
            .field("limit", &state.limit)
            .field("cause", &state.cause)
            .finish_non_exhaustive()
    }
}

/// The future [`Scope::join_next`] returns: the next child outcome in
/// completion order, or `None` when no child is left.
#[must_use = "a future does nothing unless awaited"]
pub struct JoinNext<'a, 'env, T, E, K: Flavour> {
    scope: &'a Scope<'env, T, E, K>,
}

impl<T, E, K: Flavour> Future for JoinNext<'_, '_, T, E, K> {
    type Output = Option<Result<T, GroupError<E>>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let shared = &self.scope.shared;
        let mut waker = None;
        loop {
            let mut state = shared.lock();
            if let Some((_, outcome)) = state.outcomes.pop_front() {
                drop(state);
                #[cfg(feature = "std")]
                let outcome = super::run::resume_if_asked(outcome, shared.panic_policy);
                return Poll::Ready(Some(outcome));
            }
            if state.live == 0 {
                return Poll::Ready(None);
            }
            if matches!(&state.joiner, Some(joiner) if joiner.will_wake(cx.waker())) {
                return Poll::Pending;
            }
            // The scope's future publishes outcomes and lowers `live` under
            // this lock, then takes this waker: registered under the lock
            // after the checks above, it cannot miss either. A waker is
            // cloned and dropped only outside the lock (user code), so the
            // first pass clones it and checks again.
            let Some(new) = waker.take() else {
                drop(state);
                waker = Some(cx.waker().clone());
                continue;
            };
            let old = state.joiner.replace(new);
            drop(state);
            drop(old);
            return Poll::Pending;
        }
    }
}

impl<T, E, K: Flavour> fmt::Debug for JoinNext<'_, '_, T, E, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinNext").finish_non_exhaustive()
    }
}
