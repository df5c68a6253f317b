//! A tokio `JoinHandle` as a plain future of the task's output, for the
//! benches that await spawned handles (through `runtimes.rs`'s drivers).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A tokio `JoinHandle` whose task must not panic.
pub struct TokioHandle<T>(pub tokio::task::JoinHandle<T>);

impl<T> Future for TokioHandle<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|result| result.expect("the task does not panic"))
    }
}
