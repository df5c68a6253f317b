//! Where outstanding work came from (feature `diagnostics`).
//!
//! Go users have asked for years which task a `WaitGroup` is still waiting
//! for. With this feature on, every [`WaitGroup::add`](crate::WaitGroup::add),
//! every [`WaitGuard`](crate::WaitGuard) and every task spawned into an
//! [`ErrGroup`](crate::ErrGroup) remembers its caller's source location
//! (`#[track_caller]`) and an optional name, and `pending()` lists what is
//! still outstanding. With the feature off none of this exists: no field, no
//! lock, no branch.
//!
//! The bookkeeping takes a lock per `add`/`done`/guard/task, so the feature is
//! for debugging and tests, not for hot paths in production.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::fmt;
use core::panic::Location;

use crate::{Name, TaskId};

/// What a [`Pending`] entry stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PendingKind {
    /// Count raised by [`WaitGroup::add`](crate::WaitGroup::add) at this
    /// location and not yet taken back by `done`. `done` cannot say which
    /// `add` it balances, so it is matched with the oldest outstanding one;
    /// use guards ([`WaitGroup::enter`](crate::WaitGroup::enter)) for exact
    /// attribution.
    Added(usize),
    /// A [`WaitGuard`](crate::WaitGuard) that was not dropped yet.
    Guard,
    /// A task of an [`ErrGroup`](crate::ErrGroup) that has not finished (it
    /// may be running or queued behind the group's limit).
    Task(TaskId),
}

/// One piece of outstanding work and where it came from. Returned by
/// [`WaitGroup::pending`](crate::WaitGroup::pending) and
/// [`ErrGroup::pending`](crate::ErrGroup::pending).
///
/// Its `Display` is one line for a report:
/// `task #3 "fetch" spawned at src/main.rs:12:9`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    kind: PendingKind,
    location: &'static Location<'static>,
    name: Name,
}

impl Pending {
    /// What it is: added count, guard or task.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "diagnostics")] {
    /// use taskgroup::{PendingKind, WaitGroup};
    ///
    /// let wg = WaitGroup::new();
    /// wg.add(2);
    /// let _guard = wg.enter();
    /// let kinds: Vec<_> = wg.pending().iter().map(|p| p.kind()).collect();
    /// assert_eq!(kinds, [PendingKind::Added(2), PendingKind::Guard]);
    /// # }
    /// ```
    #[must_use]
    pub fn kind(&self) -> PendingKind {
        self.kind
    }

    /// The source line that added, entered or spawned it (recorded with
    /// `#[track_caller]`, so it is the caller's line, not this crate's).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "diagnostics")] {
    /// let wg = taskgroup::WaitGroup::new();
    /// let line = line!() + 1;
    /// let _guard = wg.enter();
    /// let location = wg.pending()[0].location();
    /// assert_eq!(location.file(), file!());
    /// assert_eq!(location.line(), line);
    /// # }
    /// ```
    #[must_use]
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// The name given with `enter_named` or `spawn_named`, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "diagnostics")] {
    /// let wg = taskgroup::WaitGroup::new();
    /// let _named = wg.enter_named("flush");
    /// let _unnamed = wg.enter();
    /// let pending = wg.pending();
    /// assert_eq!(pending[0].name(), Some("flush"));
    /// assert_eq!(pending[1].name(), None);
    /// # }
    /// ```
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl fmt::Display for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.kind {
            PendingKind::Added(n) => {
                write!(f, "{n} added")?;
                "by add() at"
            }
            PendingKind::Guard => {
                f.write_str("guard")?;
                "entered at"
            }
            PendingKind::Task(id) => {
                write!(f, "{id}")?;
                "spawned at"
            }
        };
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        write!(f, " {verb} {}", self.location)
    }
}

/// Where a guard or task came from.
#[derive(Debug)]
pub(crate) struct Origin {
    location: &'static Location<'static>,
    name: Name,
}

impl Origin {
    pub(crate) fn new(location: &'static Location<'static>, name: Name) -> Self {
        Self { location, name }
    }

    pub(crate) fn pending(&self, kind: PendingKind) -> Pending {
        Pending {
            kind,
            location: self.location,
            name: self.name.clone(),
        }
    }
}

/// What a [`WaitGroup`](crate::WaitGroup) still waits for.
#[derive(Debug, Default)]
pub(crate) struct WaitRegistry {
    next_guard: u64,
    guards: BTreeMap<u64, Origin>,
    /// Outstanding `add`s, oldest first; consecutive adds from one location
    /// share an entry.
    added: VecDeque<(&'static Location<'static>, usize)>,
}

impl WaitRegistry {
    pub(crate) fn add(&mut self, location: &'static Location<'static>, n: usize) {
        if n == 0 {
            return;
        }
        match self.added.back_mut() {
            Some((last, count)) if *last == location => *count += n,
            _ => self.added.push_back((location, n)),
        }
    }

    /// A `done()`: balances the oldest outstanding `add`.
    pub(crate) fn done(&mut self) {
        if let Some((_, count)) = self.added.front_mut() {
            *count -= 1;
            if *count == 0 {
                self.added.pop_front();
            }
        }
    }

    /// A guard was entered; the id to `leave` with.
    pub(crate) fn enter(&mut self, origin: Origin) -> u64 {
        let id = self.next_guard;
        self.next_guard += 1;
        self.guards.insert(id, origin);
        id
    }

    pub(crate) fn leave(&mut self, id: u64) {
        self.guards.remove(&id);
    }

    pub(crate) fn pending(&self) -> Vec<Pending> {
        let added = self.added.iter().map(|&(location, n)| Pending {
            kind: PendingKind::Added(n),
            location,
            name: None,
        });
        let guards = self.guards.values().map(|o| o.pending(PendingKind::Guard));
        added.chain(guards).collect()
    }
}
