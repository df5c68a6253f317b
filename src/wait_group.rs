//! [`WaitGroup`]: wait for a set of tasks or threads to finish (Go's
//! `sync.WaitGroup`), and its [`WaitGuard`].

use core::fmt;
#[cfg(feature = "std")]
use std::time::Duration;

use crate::counter::{AtZero, Wait, ZeroCounter};
#[cfg(feature = "diagnostics")]
use crate::diagnostics::{Origin, Pending, WaitRegistry};
use crate::sync::Arc;
#[cfg(feature = "diagnostics")]
use crate::sync::Mutex;

const UNDERFLOW: &str = "WaitGroup::done called more times than WaitGroup::add: \
     the count is already zero (negative WaitGroup counter)";
const OVERFLOW: &str = "WaitGroup::add overflowed the count (more than 2^30 - 1 outstanding)";

/// Waits for a collection of tasks or threads to finish.
///
/// A counter that `add` raises and `done` lowers; [`wait`](Self::wait)
/// completes when it reaches zero. Cloning gives another handle to the same
/// group, like passing a `*sync.WaitGroup` in Go. The group is reusable: once
/// it reaches zero it may be `add`ed to again.
///
/// Prefer [`enter`](Self::enter), which returns a [`WaitGuard`] that calls
/// `done` exactly once when dropped — also when the task panics or is
/// cancelled — over pairing `add` and `done` by hand.
///
/// `add` and `done` with nobody waiting are a single atomic read-modify-write
/// each: no lock, no allocation, no wake-up machinery.
///
/// # When to use it
///
/// Use a `WaitGroup` when you need to know that *some number of things* have
/// finished, and the things are not futures you can hold: detached tasks,
/// threads, callbacks, connections being drained. If you spawn futures and want
/// their results or their errors, a task group is the better fit. Compared with
/// the alternatives:
///
/// * crossbeam's `WaitGroup` only blocks threads and consumes the handle on
///   `wait`; this one can be awaited, waited on with a time-out, and reused.
/// * tokio-util's `TaskTracker` only works on tokio; this one needs no runtime.
/// * A hand-rolled `AtomicUsize` + `Notify` calls `notify` on every transition
///   to zero; this one only touches its event when someone is waiting.
///
/// # Examples
///
/// ```
/// use taskgroup::WaitGroup;
///
/// let wg = WaitGroup::new();
/// for i in 0..4 {
///     let guard = wg.enter();
///     std::thread::spawn(move || {
///         let _guard = guard; // `done()` when the thread ends
///         println!("worker {i}");
///     });
/// }
/// wg.wait_blocking();
/// assert_eq!(wg.count(), 0);
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    counter: Arc<ZeroCounter>,
    /// Where the outstanding count came from. Updated under its lock together
    /// with the count when the count goes up, and before the count goes down
    /// (a decrement may wake waiters, which must not happen under a lock).
    #[cfg(feature = "diagnostics")]
    registry: Arc<Mutex<WaitRegistry>>,
}

impl WaitGroup {
    /// Creates a group with a count of zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::WaitGroup::new();
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            counter: Arc::new(ZeroCounter::new(0, OVERFLOW)),
            #[cfg(feature = "diagnostics")]
            registry: Arc::default(),
        }
    }

    /// Adds `n` to the count.
    ///
    /// Call it before starting the work it counts, not inside it: a `wait`
    /// that runs before the `add` would not wait for that work.
    ///
    /// # Panics
    ///
    /// If the count would exceed 2<sup>30</sup> − 1 (on 64-bit targets). The
    /// count is left unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::WaitGroup::new();
    /// wg.add(3);
    /// assert_eq!(wg.count(), 3);
    /// ```
    #[inline]
    #[track_caller]
    pub fn add(&self, n: usize) {
        #[cfg(feature = "diagnostics")]
        let mut registry = self.registry.lock();
        self.counter.add(n, OVERFLOW);
        #[cfg(feature = "diagnostics")]
        registry.add(core::panic::Location::caller(), n);
    }

    /// Takes one off the count, waking every waiter if it reaches zero.
    ///
    /// # Panics
    ///
    /// If the count is already zero, with a message that names the misuse
    /// (`done` called more times than `add`). The count stays at zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::WaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[inline]
    #[track_caller]
    pub fn done(&self) {
        #[cfg(feature = "diagnostics")]
        self.registry.lock().done();
        self.counter.decrement(AtZero::Panic(UNDERFLOW));
    }

    /// Adds one to the count and returns a guard that calls [`done`](Self::done)
    /// exactly once: when it is dropped, or when [`WaitGuard::done`] is called.
    ///
    /// The guard owns a handle to the group, so it can move into a spawned
    /// task or thread. Because it runs on drop, the count is balanced even
    /// when the work panics or its future is cancelled.
    ///
    /// # Panics
    ///
    /// As [`add`](Self::add), on overflow.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::WaitGroup::new();
    /// let guard = wg.enter();
    /// assert_eq!(wg.count(), 1);
    /// drop(guard);
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[track_caller]
    #[must_use = "dropping the guard at once calls `done()` at once"]
    pub fn enter(&self) -> WaitGuard {
        self.enter_with(None)
    }

    /// As [`enter`](Self::enter), with a name for the guard: with the
    /// `diagnostics` feature, [`pending`](Self::pending) shows it next to the
    /// source line that entered it. Without the feature the name is dropped.
    ///
    /// # Panics
    ///
    /// As [`add`](Self::add), on overflow.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::WaitGroup::new();
    /// let guard = wg.enter_named("flush the log");
    /// drop(guard);
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[track_caller]
    #[must_use = "dropping the guard at once calls `done()` at once"]
    pub fn enter_named(&self, name: impl Into<alloc::borrow::Cow<'static, str>>) -> WaitGuard {
        self.enter_with(Some(name.into()))
    }

    #[track_caller]
    #[cfg_attr(not(feature = "diagnostics"), allow(unused_variables))]
    fn enter_with(&self, name: crate::Name) -> WaitGuard {
        #[cfg(feature = "diagnostics")]
        let id = {
            let mut registry = self.registry.lock();
            self.counter.add(1, OVERFLOW);
            registry.enter(Origin::new(core::panic::Location::caller(), name))
        };
        #[cfg(not(feature = "diagnostics"))]
        self.counter.add(1, OVERFLOW);
        WaitGuard {
            group: self.clone(),
            #[cfg(feature = "diagnostics")]
            id,
        }
    }

    /// What the group still waits for (feature `diagnostics`): outstanding
    /// `add`s by source line, guards not yet dropped, with the line that
    /// entered them and their names. Print it when a wait takes too long.
    ///
    /// A snapshot: other handles may change it at any time.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "diagnostics")] {
    /// use std::time::Duration;
    ///
    /// let wg = taskgroup::WaitGroup::new();
    /// let _stuck = wg.enter_named("the upload");
    /// if !wg.wait_blocking_timeout(Duration::from_millis(10)) {
    ///     let pending = wg.pending();
    ///     assert_eq!(pending.len(), 1);
    ///     assert_eq!(pending[0].name(), Some("the upload"));
    ///     eprintln!("still waiting for: {}", pending[0]); // guard "the upload" entered at src/main.rs:5:18
    /// }
    /// # }
    /// ```
    #[cfg(feature = "diagnostics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "diagnostics")))]
    #[must_use]
    pub fn pending(&self) -> alloc::vec::Vec<Pending> {
        self.registry.lock().pending()
    }

    /// Counts `future`: `add(1)` now, and `done()` when the returned future
    /// completes or is dropped — also when it panics, or a runtime drops it
    /// unfinished (tokio-util's `TaskTracker::track_future`, Go 1.25's
    /// `WaitGroup.Go` without the spawn). Hand the result to any runtime's
    /// spawn, or await it yourself: the group needs no runtime.
    ///
    /// The count is lowered after `future` itself is dropped, so a
    /// [`wait`](Self::wait) never returns while it is still alive.
    ///
    /// # Panics
    ///
    /// As [`add`](Self::add), on overflow.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use taskgroup::WaitGroup;
    ///
    /// smol::block_on(async {
    ///     let wg = WaitGroup::new();
    ///     let hits = Arc::new(AtomicUsize::new(0));
    ///     for _ in 0..10 {
    ///         let hits = hits.clone();
    ///         smol::spawn(wg.track(async move {
    ///             hits.fetch_add(1, Ordering::Relaxed);
    ///         }))
    ///         .detach();
    ///     }
    ///     wg.wait().await;
    ///     assert_eq!(hits.load(Ordering::Relaxed), 10);
    /// });
    /// ```
    #[track_caller]
    pub fn track<F: core::future::Future>(&self, future: F) -> Tracked<F> {
        Tracked {
            stage: crate::stage::Stage::Running { future },
            guard: Some(self.enter()),
        }
    }

    /// The current count. Other handles may change it at any time, so treat
    /// it as a snapshot (for progress reports, tests and `Debug`).
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::WaitGroup::new();
    /// wg.add(2);
    /// assert_eq!(wg.count(), 2);
    /// ```
    #[inline]
    #[must_use]
    pub fn count(&self) -> usize {
        self.counter.count()
    }

    /// Waits until the count reaches zero.
    ///
    /// The future completes once the count has been zero at some moment after
    /// `wait` was called, even if it was raised again before the future was
    /// polled. On a group whose count is zero it completes at once, without
    /// allocating or registering anything.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future at any point loses no wake-up for any
    /// other waiter, and leaves the count unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::WaitGroup;
    ///
    /// let wg = WaitGroup::new();
    /// let guard = wg.enter();
    /// std::thread::spawn(move || drop(guard));
    /// futures::executor::block_on(wg.wait());
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[inline]
    pub fn wait(&self) -> Wait<'_> {
        Wait::new(&self.counter)
    }

    #[cfg(feature = "std")]
    /// Blocks the current thread until the count reaches zero.
    ///
    /// Do not call it from inside an async task: it blocks the executor's
    /// thread. Use [`wait`](Self::wait) there.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::WaitGroup::new();
    /// let guard = wg.enter();
    /// std::thread::spawn(move || drop(guard));
    /// wg.wait_blocking();
    /// ```
    pub fn wait_blocking(&self) {
        self.counter.wait_blocking(None);
    }

    #[cfg(feature = "std")]
    /// Blocks the current thread until the count reaches zero or `timeout`
    /// passes. Returns `true` if the count reached zero, `false` on time-out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let wg = taskgroup::WaitGroup::new();
    /// wg.add(1);
    /// assert!(!wg.wait_blocking_timeout(Duration::from_millis(10)));
    /// wg.done();
    /// assert!(wg.wait_blocking_timeout(Duration::from_millis(10)));
    /// ```
    #[must_use = "the result says whether the group finished or the wait timed out"]
    pub fn wait_blocking_timeout(&self, timeout: Duration) -> bool {
        self.counter.wait_blocking(Some(timeout))
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("WaitGroup");
        debug.field("count", &self.count());
        #[cfg(feature = "diagnostics")]
        debug.field("pending", &self.pending());
        debug.finish()
    }
}

/// Calls [`WaitGroup::done`] exactly once, when dropped or when
/// [`done`](Self::done) is called. Returned by [`WaitGroup::enter`].
///
/// # Examples
///
/// ```
/// let wg = taskgroup::WaitGroup::new();
/// let guard = wg.enter();
/// let result = std::panic::catch_unwind(move || {
///     let _guard = guard;
///     panic!("the work failed");
/// });
/// assert!(result.is_err());
/// assert_eq!(wg.count(), 0); // the guard balanced the count anyway
/// ```
#[must_use = "dropping the guard at once calls `done()` at once"]
pub struct WaitGuard {
    group: WaitGroup,
    /// This guard's entry in the group's registry.
    #[cfg(feature = "diagnostics")]
    id: u64,
}

impl WaitGuard {
    /// Calls `done` on the group now (instead of when the guard is dropped).
    ///
    /// # Panics
    ///
    /// If the group's count is already zero: some bare
    /// [`WaitGroup::done`] call was one too many and took this guard's
    /// count. (Dropping the guard panics the same way, unless the thread is
    /// already unwinding.)
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::WaitGroup::new();
    /// let guard = wg.enter();
    /// guard.done();
    /// assert_eq!(wg.count(), 0);
    /// ```
    pub fn done(self) {
        drop(self);
    }

    /// The group this guard belongs to: e.g. to [`enter`](WaitGroup::enter)
    /// it again for sub-work, from code that was handed only the guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::WaitGuard;
    ///
    /// fn split(guard: WaitGuard) -> [WaitGuard; 2] {
    ///     let more = guard.group().enter();
    ///     [guard, more]
    /// }
    ///
    /// let wg = taskgroup::WaitGroup::new();
    /// let halves = split(wg.enter());
    /// assert_eq!(wg.count(), 2);
    /// drop(halves);
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[must_use]
    pub fn group(&self) -> &WaitGroup {
        &self.group
    }
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        // The guard's own `add(1)` keeps the count above zero until now, so
        // this only finds zero when some other `done()` was one too many; say
        // so, unless we are unwinding already (a second panic would abort).
        let at_zero = if panicking() {
            AtZero::Ignore
        } else {
            AtZero::Panic(UNDERFLOW)
        };
        #[cfg(feature = "diagnostics")]
        self.group.registry.lock().leave(self.id);
        self.group.counter.decrement(at_zero);
    }
}

impl fmt::Debug for WaitGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGuard")
            .field("count", &self.group.count())
            .finish()
    }
}

// `MAX_COUNT` is documented as 2^30 - 1 on 64-bit targets.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(crate::counter::MAX_COUNT == (1 << 30) - 1);

/// Whether this thread is unwinding (never known without `std`).
fn panicking() -> bool {
    #[cfg(feature = "std")]
    return std::thread::panicking();
    #[cfg(not(feature = "std"))]
    return false;
}

pin_project_lite::pin_project! {
    /// A future counted by a [`WaitGroup`] ([`WaitGroup::track`]): it
    /// resolves to its inner future's output, and lowers the group's count
    /// when that future completes or this one is dropped.
    ///
    /// Written out rather than an `async` block, which kept the future twice
    /// (the captured one and the one being awaited). On `Ready` the inner
    /// future is dropped first and then the guard, so `wait` never returns
    /// before the future is gone. Dropped unfinished, fields drop in order:
    /// the future, then the guard.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the inner future and lowers the count once.
    #[must_use = "futures do nothing unless polled; dropping it lowers the count at once"]
    pub struct Tracked<F> {
        #[pin]
        stage: crate::stage::Stage<F>,
        guard: Option<WaitGuard>,
    }
}

impl<F: core::future::Future> core::future::Future for Tracked<F> {
    type Output = F::Output;

    fn poll(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<F::Output> {
        let mut this = self.project();
        let crate::stage::StageProjection::Running { future } = this.stage.as_mut().project()
        else {
            panic!("`Tracked` polled after it completed");
        };
        let core::task::Poll::Ready(output) = future.poll(cx) else {
            return core::task::Poll::Pending;
        };
        // If the future's `Drop` panics, the guard stays in `guard` and is
        // dropped with this future: `done` is still called.
        this.stage.project_replace(crate::stage::Stage::Done);
        drop(this.guard.take());
        core::task::Poll::Ready(output)
    }
}

impl<F> fmt::Debug for Tracked<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked")
            .field("done", &self.guard.is_none())
            .finish_non_exhaustive()
    }
}
