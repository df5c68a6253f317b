//! The one listen-then-recheck loop, for waiters whose condition is a plain
//! check (cancellation, a group's outcomes).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::{Event, EventListener};

/// Polls until `check` returns `Some`, parking on `event` in between.
///
/// The wake-up argument: check, then register a listener in `listener` (the
/// caller's slot, kept across polls), then check again before parking; the
/// writer changes its state and then notifies `event`. A notification sent
/// between the first check and the listen is caught by the second check.
pub(crate) fn poll_until<T>(
    event: &Event,
    listener: &mut Option<EventListener>,
    cx: &mut Context<'_>,
    mut check: impl FnMut() -> Option<T>,
) -> Poll<T> {
    loop {
        if let Some(ready) = check() {
            *listener = None;
            return Poll::Ready(ready);
        }
        match listener.as_mut() {
            Some(registered) => {
                if Pin::new(registered).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                trace_event!(trace, "waiter woken");
                *listener = None;
            }
            None => *listener = Some(event.listen()),
        }
    }
}
