//! [`scope`]: children that borrow from the caller, need not be `Send` or
//! `'static`, and run inside the scope's own future — concurrency without
//! spawning, on any executor, with no runtime.
//!
//! # When to use it
//!
//! Every spawn needs a `'static` future, because a spawned task may outlive
//! the code that spawned it. A scope never spawns: its children are polled
//! by the scope's future, inside the task that awaits it, so they may borrow
//! anything that outlives the scope — a `&[Item]`, a `&mut Cache` split into
//! parts, a `RefCell` — with no `Arc` and no clone. It needs no
//! [`Runtime`](crate::runtime::Runtime), no `Send`, not even `std`.
//!
//! What it does not give is parallelism: the children take turns on one
//! thread, so a scope speeds up waiting (I/O, timers, channels), not
//! computing. For CPU-bound work, or work that must run on several threads,
//! use an [`ErrGroup`](crate::ErrGroup) over owned chunks of the data.
//!
//! It speaks [`ErrGroup`](crate::ErrGroup)'s language: children return
//! `Result<T, E>`; the first error cancels the rest and is returned;
//! otherwise every value comes back in spawn order; a
//! [limit](ScopeBuilder::limit) with [`try_spawn`](Scope::try_spawn);
//! [`join_next`](Scope::join_next) for outcomes in completion order;
//! [keep going](ScopeBuilder::keep_going); a [panic
//! policy](ScopeBuilder::panic_policy); a
//! [cancellation token](Scope::cancellation_token).
//!
//! # Semantics
//!
//! * **The body** gets a [`Scope`] handle and spawns children through it;
//!   children spawn more through a clone of it. The scope's future returns
//!   when the body and every child are done.
//! * **First error cancels the rest.** When a child returns `Err` (or
//!   panics), or the body returns `Err`, the scope drops the body and every
//!   other child at once, cancels its token, and returns the error. With
//!   [`keep_going`](ScopeBuilder::keep_going) errors cancel nothing: the
//!   scope returns the first error once everything is done.
//! * **Results** come in spawn order: `Ok(Vec<T>)` holds the value of every
//!   child whose outcome [`join_next`](Scope::join_next) did not take.
//! * **Panics** in children are caught (with `std`) and count as a failure;
//!   they are resumed in whoever takes the outcome
//!   ([`PanicPolicy::Resume`](crate::PanicPolicy::Resume), the default) or
//!   returned as [`GroupError::Panicked`] ([`PanicPolicy::Capture`](crate::PanicPolicy::Capture)).
//!   A panic in the body itself is not caught: it unwinds through the
//!   scope's future, dropping the children on the way.
//! * **Cancellation from outside**: cancelling the scope's token (or the
//!   parent token given to [`parent_token`](ScopeBuilder::parent_token))
//!   drops the body and the children and returns
//!   [`GroupError::Cancelled`]. Dropping the scope's future drops every
//!   child, each exactly once, and cancels the token.
//! * **Wake-ups**: a woken child is polled; the others are not. The body is
//!   polled whenever the scope is.
//!
//! # `Send` or not
//!
//! [`scope`] (and [`ScopeBuilder::run`]) take `Send` children: the scope's
//! future is then `Send` too (when `T` and `E` are, and the body's future
//! is), and can itself be spawned on a multi-thread runtime.
//! [`scope_local`] (and [`ScopeBuilder::run_local`]) take any children —
//! `Rc`, `RefCell`, `!Send` guards — and the scope's future is `!Send`: run
//! it where it is awaited, on `block_on`, a `LocalSet`, a `LocalExecutor`.
//! The API is the same; the handle's last type parameter
//! ([`SendChildren`] or [`LocalChildren`]) says which it is.
//!
//! # Why this is sound without `unsafe`
//!
//! The children are stored *in* the scope's future (boxed, in its slab and
//! its shared state), and only that future polls them. Every child borrow is
//! checked by the compiler against `'env`, a lifetime that the scope's
//! future itself carries, so the future cannot outlive the data either.
//!
//! Forgetting the scope's future (`mem::forget`, a leaked `Box`, an `Rc`
//! cycle) is therefore safe: the children are forgotten with it and never
//! polled again, so no borrow is ever used after its data is gone. The
//! borrowed data stays borrowed for as long as the compiler thinks the
//! future may be used; leaking it only leaks memory, as leaking any future
//! that holds a reference does. This is why a scope can be written with
//! `#![forbid(unsafe_code)]`, where scoped *threads* or *spawned tasks*
//! (`async-scoped`'s `scope_and_collect`, `moro`'s internals) need either
//! `unsafe` or a blocking wait: their children run somewhere else, and must
//! be stopped before the borrow ends, which a forgotten future cannot do.
//!
//! ```
//! use std::task::{Context, Waker};
//!
//! let data = vec![1, 2, 3];
//! let mut scoped = Box::pin(taskgroup::scope(async |s| {
//!     s.spawn(async {
//!         std::future::pending::<()>().await; // parked, holding `&data`
//!         Ok::<_, ()>(data.len())
//!     }).unwrap();
//! }));
//! let _ = scoped.as_mut().poll(&mut Context::from_waker(Waker::noop()));
//! std::mem::forget(scoped); // the child is leaked with the scope, never polled again
//! drop(data); // so the borrow is over: nothing can read `data` any more
//! # use std::future::Future;
//! ```
//!
//! The handle is owned and cloneable, but it is bounded by `'env` as the
//! children are, so it cannot reach anything that outlives the borrowed
//! data; a clone kept past the end of the scope only gets its spawns
//! refused ([`SpawnError::Closed`](crate::SpawnError::Closed)).
//!
//! The compiler enforces all of this. A child cannot outlive the data it
//! borrows:
//!
//! ```compile_fail,E0597
//! let scope = {
//!     let data = vec![1, 2, 3];
//!     let data = &data;
//!     taskgroup::scope(move |s| async move {
//!         s.spawn(async move { Ok::<_, ()>(data.len()) }).unwrap();
//!     })
//! }; // `data` is dropped here, while the scope (and its child) would live on
//! futures::executor::block_on(scope).unwrap();
//! ```
//!
//! The handle cannot escape into a task that may outlive the data:
//!
//! ```compile_fail,E0597
//! let data = vec![1, 2, 3];
//! let data = &data;
//! futures::executor::block_on(taskgroup::scope(|s| async move {
//!     std::thread::spawn(move || {
//!         s.spawn(async move { Ok::<_, ()>(data.len()) }).unwrap(); // needs `'static`
//!     });
//! }))
//! .unwrap();
//! ```
//!
//! Nor be kept (even unused) past the data it lets children borrow:
//!
//! ```compile_fail,E0597
//! let mut kept = None;
//! {
//!     let data = vec![1, 2, 3];
//!     let data = &data;
//!     futures::executor::block_on(taskgroup::scope(async |s| {
//!         s.spawn(async move { Ok::<_, ()>(data.len()) }).unwrap();
//!         kept = Some(s);
//!     }))
//!     .unwrap();
//! }
//! kept.unwrap().spawn(async { Ok::<_, ()>(0) }); // `data` is gone
//! ```
//!
//! A `!Send` scope cannot be spawned onto a multi-thread runtime:
//!
//! ```compile_fail,E0277
//! use std::rc::Rc;
//!
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let handle = tokio::spawn(taskgroup::scope_local(|s| async move {
//!         let shared = Rc::new(5);
//!         s.spawn(async move { Ok::<_, ()>(*shared) }).unwrap();
//!     }));
//!     handle.await.unwrap().unwrap();
//! });
//! ```
//!
//! Nor can a `!Send` child be spawned into a `Send` scope:
//!
//! ```compile_fail
//! use std::rc::Rc;
//!
//! futures::executor::block_on(taskgroup::scope(|s| async move {
//!     let shared = Rc::new(5);
//!     s.spawn(async move { Ok::<_, ()>(*shared) }).unwrap();
//! }))
//! .unwrap();
//! ```
//!
//! The same code with [`scope_local`] compiles and runs:
//!
//! ```
//! use std::rc::Rc;
//!
//! let values = futures::executor::block_on(taskgroup::scope_local(|s| async move {
//!     let shared = Rc::new(5);
//!     s.spawn(async move { Ok::<_, ()>(*shared) }).unwrap();
//! }));
//! assert_eq!(values.unwrap(), [5]);
//! ```

mod handle;
mod run;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::{pin, Pin};

use self::handle::Shared;
pub use self::handle::{JoinNext, Scope};
use self::run::Core;
use crate::{CancellationToken, GroupError};
use alloc::sync::Arc;

/// Runs `body` with a [`Scope`] handle, and the children it spawns, inside
/// the returned future; resolves to every child's value in spawn order, or
/// the first error with the rest cancelled. Children must be `Send` (see
/// [`scope_local`] for `!Send` ones); they may borrow anything that
/// outlives the scope. See the [module documentation](self) for the
/// semantics, and [`ScopeBuilder`] for a limit, keep-going, a panic policy
/// and a parent token.
///
/// `body` is an async closure or a closure returning a future; it returns
/// `()` or `Result<(), E>` (an `Err` counts as the first error).
///
/// # Errors
///
/// [`GroupError::Task`] with the first error (the body's, or a child's in
/// completion order); [`GroupError::Panicked`] for a captured panic;
/// [`GroupError::Cancelled`] if the scope was cancelled from outside (its
/// token, [`Scope::cancel`], a parent token).
///
/// # Panics
///
/// A child's panic is resumed here once the scope is done (under the
/// default [`PanicPolicy::Resume`](crate::PanicPolicy::Resume)). A panic in
/// the body unwinds through this future.
///
/// # Cancel safety
///
/// Dropping the future drops the body and every child at once (each exactly
/// once) and cancels the scope's token.
///
/// # Examples
///
/// Ten concurrent lookups over a borrowed slice, with a shared `&mut`
/// counter split off from the caller's state:
///
/// ```
/// use std::cell::Cell;
///
/// struct Item { id: u32 }
/// async fn lookup(item: &Item, calls: &Cell<u32>) -> Result<u32, String> {
///     calls.set(calls.get() + 1);
///     Ok(item.id * 10)
/// }
///
/// let items: Vec<Item> = (0..10).map(|id| Item { id }).collect();
/// let calls = Cell::new(0); // not `Sync`: `scope_local`
/// let values = futures::executor::block_on(taskgroup::scope_local(async |s| {
///     for item in &items {
///         let calls = &calls;
///         s.spawn(async move { lookup(item, calls).await }).unwrap();
///     }
/// }));
/// assert_eq!(values.unwrap(), (0..10).map(|id| id * 10).collect::<Vec<_>>());
/// assert_eq!(calls.get(), 10);
/// ```
///
/// The first error cancels the rest:
///
/// ```
/// use taskgroup::GroupError;
///
/// let result = futures::executor::block_on(taskgroup::scope(|s| async move {
///     s.spawn(std::future::pending::<Result<u32, &str>>()).unwrap(); // dropped
///     s.spawn(async { Err("no route to host") });
/// }));
/// assert!(matches!(result, Err(GroupError::Task("no route to host"))));
/// ```
pub async fn scope<'env, T, E, B, Fut>(body: B) -> Result<Vec<T>, GroupError<E>>
where
    B: FnOnce(Scope<'env, T, E, SendChildren>) -> Fut,
    Fut: Future,
    Fut::Output: BodyOutput<E>,
{
    ScopeBuilder::new().run(body).await
}

/// As [`scope`], for children that need not be `Send` (`Rc`, `RefCell`,
/// `!Send` guards): the scope's future is then `!Send`, and runs where it is
/// awaited (`block_on`, tokio's `LocalSet`, smol's `LocalExecutor`, a
/// thread-per-core runtime).
///
/// # Errors
///
/// As [`scope`].
///
/// # Panics
///
/// As [`scope`].
///
/// # Cancel safety
///
/// As [`scope`]: dropping the future drops the body and every child.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let result = futures::executor::block_on(taskgroup::scope_local(|s| async move {
///     for n in 0..3 {
///         let log = Rc::clone(&log);
///         s.spawn(async move {
///             log.borrow_mut().push(n);
///             Ok::<_, ()>(())
///         }).unwrap();
///     }
/// }));
/// assert!(result.is_ok());
/// ```
pub async fn scope_local<'env, T, E, B, Fut>(body: B) -> Result<Vec<T>, GroupError<E>>
where
    B: FnOnce(Scope<'env, T, E, LocalChildren>) -> Fut,
    Fut: Future,
    Fut::Output: BodyOutput<E>,
{
    ScopeBuilder::new().run_local(body).await
}

/// A scope's configuration: limit, error and panic policy, parent token.
/// [`run`](Self::run) (or [`run_local`](Self::run_local)) runs a scope with
/// it; [`scope`] and [`scope_local`] are the defaults.
///
/// # Examples
///
/// ```
/// use taskgroup::{PanicPolicy, ScopeBuilder};
///
/// let data = [3, 1, 2];
/// let values = futures::executor::block_on(
///     ScopeBuilder::new()
///         .limit(2) // at most two children at once
///         .panic_policy(PanicPolicy::Capture)
///         .run(async |s| {
///             for n in &data {
///                 s.spawn(async move { Ok::<_, ()>(n * 2) }).unwrap();
///             }
///         }),
/// );
/// assert_eq!(values.unwrap(), [6, 2, 4]);
/// ```
#[derive(Clone, Default)]
#[must_use = "a builder does nothing until `run` or `run_local`"]
pub struct ScopeBuilder {
    limit: Option<usize>,
    keep_going: bool,
    #[cfg(feature = "std")]
    panic_policy: crate::PanicPolicy,
    parent: Option<CancellationToken>,
}

impl ScopeBuilder {
    /// The defaults: no limit, the first error cancels the rest, panics are
    /// resumed, no parent token.
    ///
    /// # Examples
    ///
    /// ```
    /// let values = futures::executor::block_on(taskgroup::ScopeBuilder::new().run(|s| async move {
    ///     s.spawn(async { Ok::<_, ()>(1) }).unwrap();
    /// }));
    /// assert_eq!(values.unwrap(), [1]);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `limit` children run at once; the others wait their turn in
    /// spawn order. [`Scope::spawn`] never blocks (a waiting child costs its
    /// boxed future in a queue); [`Scope::try_spawn`] refuses with
    /// [`SpawnError::Full`](crate::SpawnError::Full).
    ///
    /// # Panics
    ///
    /// If `limit` is zero (nothing could ever run).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    ///
    /// let (running, most) = (&Cell::new(0), &Cell::new(0));
    /// let result = futures::executor::block_on(taskgroup::ScopeBuilder::new().limit(2).run_local(
    ///     |s| async move {
    ///         for _ in 0..6 {
    ///             s.spawn(async move {
    ///                 running.set(running.get() + 1);
    ///                 most.set(most.get().max(running.get()));
    ///                 smol::future::yield_now().await; // let the others run
    ///                 running.set(running.get() - 1);
    ///                 Ok::<_, ()>(())
    ///             }).unwrap();
    ///         }
    ///     },
    /// ));
    /// assert!(result.is_ok());
    /// assert_eq!(most.get(), 2);
    /// ```
    #[track_caller]
    pub fn limit(mut self, limit: usize) -> Self {
        assert!(
            limit > 0,
            "ScopeBuilder::limit(0): a limit of zero would never run any child"
        );
        self.limit = Some(limit);
        self
    }

    /// Errors no longer cancel anything: every child (and the body) runs to
    /// its end, and the scope returns the first error once all are done.
    /// Take every outcome with [`Scope::join_next`] to see them all.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{GroupError, ScopeBuilder};
    ///
    /// let mut outcomes = Vec::new();
    /// let result = futures::executor::block_on(ScopeBuilder::new().keep_going().run(async |s| {
    ///     for n in 1..=4u32 {
    ///         s.spawn(async move { if n % 2 == 0 { Err(n) } else { Ok(n) } }).unwrap();
    ///     }
    ///     while let Some(outcome) = s.join_next().await {
    ///         outcomes.push(outcome.map_err(|e| e.into_task_error()));
    ///     }
    /// }));
    /// assert!(result.unwrap().is_empty()); // all taken above
    /// outcomes.sort_by_key(|o| match o { Ok(n) | Err(Some(n)) => *n, Err(None) => 0 });
    /// assert_eq!(outcomes, [Ok(1), Err(Some(2)), Ok(3), Err(Some(4))]);
    /// ```
    pub fn keep_going(mut self) -> Self {
        self.keep_going = true;
        self
    }

    /// What to do with a child's panic: resume it in whoever takes the
    /// outcome (the default), or hand it over as [`GroupError::Panicked`].
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{PanicPolicy, ScopeBuilder};
    ///
    /// let result = futures::executor::block_on(
    ///     ScopeBuilder::new()
    ///         .panic_policy(PanicPolicy::Capture)
    ///         .run(|s| async move {
    ///             s.spawn(async { if true { panic!("bug in the parser") } Ok::<(), ()>(()) }).unwrap();
    ///         }),
    /// );
    /// assert_eq!(result.unwrap_err().panic_message(), Some("bug in the parser"));
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn panic_policy(mut self, policy: crate::PanicPolicy) -> Self {
        self.panic_policy = policy;
        self
    }

    /// The scope's token is a child of `parent`: cancelling `parent` cancels
    /// the scope ([`CancelCause::Parent`](crate::CancelCause::Parent)); the
    /// scope's own cancellation leaves `parent` alone.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{CancelCause, CancellationToken, GroupError, ScopeBuilder};
    ///
    /// let shutdown = CancellationToken::new();
    /// let result = futures::executor::block_on(
    ///     ScopeBuilder::new().parent_token(&shutdown).run(async |s| {
    ///         s.spawn(std::future::pending::<Result<(), ()>>()).unwrap();
    ///         shutdown.cancel();
    ///     }),
    /// );
    /// assert!(matches!(result, Err(GroupError::Cancelled(CancelCause::Parent))));
    /// ```
    pub fn parent_token(mut self, parent: &CancellationToken) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Runs a scope of `Send` children with this configuration (see
    /// [`scope`]).
    ///
    /// # Errors
    ///
    /// As [`scope`].
    ///
    /// # Panics
    ///
    /// As [`scope`].
    ///
    /// # Cancel safety
    ///
    /// As [`scope`]: dropping the future drops the body and every child.
    ///
    /// # Examples
    ///
    /// ```
    /// let values = futures::executor::block_on(taskgroup::ScopeBuilder::new().run(|s| async move {
    ///     s.spawn(async { Ok::<_, ()>("sent") }).unwrap();
    /// }));
    /// assert_eq!(values.unwrap(), ["sent"]);
    /// ```
    pub async fn run<'env, T, E, B, Fut>(self, body: B) -> Result<Vec<T>, GroupError<E>>
    where
        B: FnOnce(Scope<'env, T, E, SendChildren>) -> Fut,
        Fut: Future,
        Fut::Output: BodyOutput<E>,
    {
        self.run_flavour(body).await
    }

    /// Runs a scope of children that need not be `Send` with this
    /// configuration (see [`scope_local`]).
    ///
    /// # Errors
    ///
    /// As [`scope`].
    ///
    /// # Panics
    ///
    /// As [`scope`].
    ///
    /// # Cancel safety
    ///
    /// As [`scope`]: dropping the future drops the body and every child.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let values = futures::executor::block_on(taskgroup::ScopeBuilder::new().run_local(|s| async move {
    ///     let local = Rc::new("local");
    ///     s.spawn(async move { Ok::<_, ()>(*local) }).unwrap();
    /// }));
    /// assert_eq!(values.unwrap(), ["local"]);
    /// ```
    pub async fn run_local<'env, T, E, B, Fut>(self, body: B) -> Result<Vec<T>, GroupError<E>>
    where
        B: FnOnce(Scope<'env, T, E, LocalChildren>) -> Fut,
        Fut: Future,
        Fut::Output: BodyOutput<E>,
    {
        self.run_flavour(body).await
    }

    async fn run_flavour<'env, T, E, K, B, Fut>(self, body: B) -> Result<Vec<T>, GroupError<E>>
    where
        K: Flavour,
        B: FnOnce(Scope<'env, T, E, K>) -> Fut,
        Fut: Future,
        Fut::Output: BodyOutput<E>,
    {
        let token = match &self.parent {
            Some(parent) => parent.child_token(),
            None => CancellationToken::new(),
        };
        let shared = Arc::new(Shared::new(
            self.limit,
            token.clone(),
            self.parent,
            #[cfg(feature = "std")]
            self.panic_policy,
        ));
        let mut core = Core::new(Arc::clone(&shared), !self.keep_going);
        let mut body = pin!(Some(body(Scope { shared })));
        let mut cancelled = token.cancelled();
        core::future::poll_fn(|cx| core.poll(cx, body.as_mut(), &mut cancelled)).await
    }
}

impl fmt::Debug for ScopeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ScopeBuilder");
        debug
            .field("limit", &self.limit)
            .field("keep_going", &self.keep_going);
        #[cfg(feature = "std")]
        debug.field("panic_policy", &self.panic_policy);
        debug.field("parent", &self.parent.is_some()).finish()
    }
}

/// What a scope's body may return: `()`, or `Result<(), E>` with the
/// children's error type (an `Err` counts as the scope's first error).
pub trait BodyOutput<E>: sealed::Sealed {
    /// The body's outcome as a `Result`.
    fn into_result(self) -> Result<(), E>;
}

impl<E> BodyOutput<E> for () {
    fn into_result(self) -> Result<(), E> {
        Ok(())
    }
}

impl<E> BodyOutput<E> for Result<(), E> {
    fn into_result(self) -> Result<(), E> {
        self
    }
}

/// Whether a scope's children must be `Send`: [`SendChildren`] (from
/// [`scope`]) or [`LocalChildren`] (from [`scope_local`]). Sealed.
pub trait Flavour: sealed::Sealed {
    /// A child future as the scope stores it: boxed, its type erased.
    type Child<'env, O>: Future<Output = O> + Unpin;
}

/// A [`Flavour`] that can hold a future of type `F`: any `F` that outlives
/// `'env` for [`LocalChildren`], and a `Send` one for [`SendChildren`].
/// Sealed.
#[diagnostic::on_unimplemented(
    message = "this scope cannot hold the child future `{F}`",
    label = "a `scope` takes `Send` children that outlive the scope's data",
    note = "a scope's children must return `Result<T, E>` and outlive the data they borrow",
    note = "for children that are not `Send` (`Rc`, `RefCell`, ...), use `scope_local` or `ScopeBuilder::run_local`"
)]
pub trait Admit<'env, O, F>: Flavour {
    /// Boxes `future` as a child.
    fn admit(future: F) -> Self::Child<'env, O>;
}

/// The children of a [`scope`] are `Send`, and so is the scope's future.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendChildren;

/// The children of a [`scope_local`] need not be `Send`; the scope's future
/// is not `Send`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalChildren;

impl Flavour for SendChildren {
    type Child<'env, O> = Pin<Box<dyn Future<Output = O> + Send + 'env>>;
}

impl Flavour for LocalChildren {
    type Child<'env, O> = Pin<Box<dyn Future<Output = O> + 'env>>;
}

impl<'env, O, F> Admit<'env, O, F> for SendChildren
where
    F: Future<Output = O> + Send + 'env,
{
    fn admit(future: F) -> Self::Child<'env, O> {
        Box::pin(future)
    }
}

impl<'env, O, F> Admit<'env, O, F> for LocalChildren
where
    F: Future<Output = O> + 'env,
{
    fn admit(future: F) -> Self::Child<'env, O> {
        Box::pin(future)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for () {}
    impl<E> Sealed for Result<(), E> {}
    impl Sealed for super::SendChildren {}
    impl Sealed for super::LocalChildren {}
}
