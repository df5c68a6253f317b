//! Which task is the group still waiting for? (feature `diagnostics`)
//!
//! A crawler spawns one task per page; one page's fetch never returns. The
//! join does not finish, so after a deadline the program asks the group what
//! is pending and prints it: the task's name and the source line that spawned
//! it. Then the same for a `WaitGroup` of worker threads, one of which never
//! drops its guard.
//!
//! Run: `cargo run --example stuck_task --features diagnostics`

use std::time::Duration;

use futures::future::{select, Either};
use taskgroup::runtime::{Runtime, SmolRuntime};
use taskgroup::{ErrGroup, Latch, WaitGroup};

/// Pretends to fetch a page; the page named "slow" never answers.
async fn fetch(runtime: SmolRuntime, page: &'static str) -> Result<usize, String> {
    if page == "slow" {
        std::future::pending::<()>().await;
    }
    runtime.sleep(Duration::from_millis(5)).await;
    Ok(page.len())
}

fn main() {
    let runtime = SmolRuntime::global();
    let pages = ["index", "about", "slow", "contact"];

    let stuck = smol::block_on(async {
        let group = ErrGroup::<usize, String, _>::new(runtime.clone());
        for page in pages {
            group
                .spawn_named(format!("fetch {page}"), fetch(runtime.clone(), page))
                .unwrap();
        }
        let spawner = group.spawner();
        let join = Box::pin(group.join());
        let deadline = Box::pin(runtime.sleep(Duration::from_millis(200)));
        match select(join, deadline).await {
            Either::Left((result, _)) => panic!("the join was expected to hang: {result:?}"),
            Either::Right(((), join)) => {
                // The join is still alive here (dropping it would cancel the
                // group): ask what it waits for.
                let pending = spawner.pending();
                println!(
                    "ErrGroup still waits after 200 ms for {} task(s):",
                    pending.len()
                );
                for task in &pending {
                    println!("  {task}");
                }
                drop(join); // cancels the stuck task
                pending
            }
        }
    });
    assert_eq!(stuck.len(), 1, "only the slow page is pending");
    assert_eq!(stuck[0].name(), Some("fetch slow"));

    // The same question for threads counted by a WaitGroup.
    let wg = WaitGroup::new();
    let release = Latch::new(1);
    let mut threads = Vec::new();
    for worker in 0..3 {
        let guard = wg.enter_named(format!("worker {worker}"));
        let release = release.clone();
        threads.push(std::thread::spawn(move || {
            if worker == 1 {
                release.wait_blocking(); // stuck until main lets it go
            }
            drop(guard);
        }));
    }
    if !wg.wait_blocking_timeout(Duration::from_millis(200)) {
        println!("WaitGroup still waits after 200 ms for:");
        for guard in wg.pending() {
            println!("  {guard}");
        }
        assert_eq!(wg.pending().len(), 1);
    }
    release.count_down();
    wg.wait_blocking();
    for thread in threads {
        thread.join().unwrap();
    }
    println!("after releasing it: {} pending", wg.pending().len());
}
