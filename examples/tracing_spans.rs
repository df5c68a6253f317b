//! What the `tracing` feature shows: a span per group and per task (with the
//! task's name), and events when a task fails, the group is cancelled, a
//! sibling is dropped, and a waiter is woken.
//!
//! Run: `cargo run --example tracing_spans --features tracing`
//!
//! Sample output (trimmed):
//!
//! ```text
//! INFO crawl:group:task{id=0 name="fetch /"}: tracing_spans: fetched bytes=1
//! DEBUG crawl:group: taskgroup::group::shared: task failed task=2
//! DEBUG crawl:group: taskgroup::group::shared: group cancelled: a task failed task=2
//! TRACE crawl:group: taskgroup::group::shared: task cancelled task=1
//! ```

use std::time::Duration;

use taskgroup::runtime::{Runtime, SmolRuntime};
use taskgroup::ErrGroup;
use tracing::Instrument;

async fn fetch(runtime: SmolRuntime, path: &'static str) -> Result<usize, String> {
    match path {
        "/broken" => Err(format!("{path}: 500")),
        "/slow" => {
            runtime.sleep(Duration::from_secs(3600)).await;
            Ok(0)
        }
        _ => {
            tracing::info!(bytes = path.len(), "fetched");
            Ok(path.len())
        }
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_target(true)
        .without_time()
        .init();

    let runtime = SmolRuntime::global();
    let result = smol::block_on(
        async {
            let group = ErrGroup::new(runtime.clone());
            for path in ["/", "/slow", "/broken"] {
                group
                    .spawn_named(format!("fetch {path}"), fetch(runtime.clone(), path))
                    .unwrap();
            }
            group.join().await
        }
        .instrument(tracing::info_span!("crawl")),
    );
    println!("join returned: {result:?}");
    assert!(result.is_err(), "/broken fails the crawl");
}
