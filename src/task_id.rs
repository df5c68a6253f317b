//! [`TaskId`]: which task of a group.

use core::fmt;

/// Which task of a group: its position in spawn order (0 for the first task
/// spawned). Returned by `spawn`, and with each outcome by
/// [`join_next_with_id`](crate::ErrGroup::join_next_with_id), so a caller can
/// tell which task failed or was cancelled.
///
/// # Examples
///
/// ```
/// use taskgroup::{runtime::SmolRuntime, ErrGroup};
///
/// smol::block_on(async {
///     let group = ErrGroup::new(SmolRuntime::global());
///     let first = group.spawn(async { Ok::<_, ()>("first") }).unwrap();
///     let second = group.spawn(async { Ok("second") }).unwrap();
///     assert_eq!((first.index(), second.index()), (0, 1));
///     assert!(first < second);
///     assert_eq!(second.to_string(), "task #1");
///     group.join().await.unwrap();
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(usize);

impl TaskId {
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn new(index: usize) -> Self {
        Self(index)
    }

    /// The task's position in spawn order: 0 for the group's first task.
    #[must_use]
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task #{}", self.0)
    }
}
