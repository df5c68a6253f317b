//! [`Stage`]: a future until it completes, then nothing — so that a task
//! drops the user's future as soon as it is done (before it reports back),
//! not when the runtime gets round to dropping the whole task.

pin_project_lite::pin_project! {
    /// A future that is still running, or `Done` once it completed (or was
    /// dropped early): `project_replace(Stage::Done)` drops it in place.
    #[project = StageProjection]
    #[project_replace = StageReplaced]
    pub(crate) enum Stage<F> {
        Running { #[pin] future: F },
        Done,
    }
}
