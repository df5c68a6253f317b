//! Feature `diagnostics`: `pending()` names what a group still waits for,
//! with the source line that added, entered or spawned it. On every runtime,
//! plus plain-thread tests.
//!
//! The expected lines are computed with `line!()` next to the call they
//! check, so moving code around cannot make these tests lie.

use std::time::Duration;

use taskgroup::runtime::Runtime;
use taskgroup::{ErrGroup, Latch, PendingKind, WaitGroup};

use crate::common::runtime_tests;

#[test]
fn wait_group_names_guards_and_adds_by_line() {
    let wg = WaitGroup::new();
    let add_line = line!() + 1;
    wg.add(2);
    let guard_line = line!() + 1;
    let guard = wg.enter_named("upload");
    let anonymous = wg.enter();

    let pending = wg.pending();
    assert_eq!(pending.len(), 3, "{pending:?}");
    assert_eq!(pending[0].kind(), PendingKind::Added(2));
    assert_eq!(pending[0].location().file(), file!());
    assert_eq!(pending[0].location().line(), add_line);
    assert_eq!(pending[1].kind(), PendingKind::Guard);
    assert_eq!(pending[1].name(), Some("upload"));
    assert_eq!(pending[1].location().line(), guard_line);
    assert_eq!(pending[2].name(), None);
    assert_eq!(
        pending[1].to_string(),
        format!(
            "guard \"upload\" entered at {}:{guard_line}:{}",
            file!(),
            pending[1].location().column()
        )
    );

    // `done` balances the oldest add; dropping a guard removes exactly it.
    wg.done();
    assert_eq!(wg.pending()[0].kind(), PendingKind::Added(1));
    drop(guard);
    let pending = wg.pending();
    assert_eq!(pending.len(), 2);
    assert!(pending.iter().all(|p| p.name() != Some("upload")));
    wg.done();
    drop(anonymous);
    assert!(wg.pending().is_empty());
    assert_eq!(wg.count(), 0);
}

#[test]
fn wait_group_debug_shows_pending() {
    let wg = WaitGroup::new();
    let _guard = wg.enter_named("flush");
    let debug = format!("{wg:?}");
    assert!(debug.contains("count: 1"), "{debug}");
    assert!(debug.contains("\"flush\""), "{debug}");
    assert!(debug.contains(file!()), "{debug}");
}

#[test]
fn timed_out_blocking_wait_can_report_the_stuck_guard() {
    let wg = WaitGroup::new();
    let finished = wg.enter_named("finishes");
    let stuck_line = line!() + 1;
    let _stuck = wg.enter_named("never finishes");
    std::thread::spawn(move || drop(finished)).join().unwrap();

    assert!(!wg.wait_blocking_timeout(Duration::from_millis(20)));
    let pending = wg.pending();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].name(), Some("never finishes"));
    assert_eq!(pending[0].location().line(), stuck_line);
}

// Catches a panic: needs unwinding.
#[cfg(panic = "unwind")]
#[test]
fn add_overflow_and_done_underflow_leave_the_registry_consistent() {
    let wg = WaitGroup::new();
    assert!(std::panic::catch_unwind(|| wg.done()).is_err());
    assert!(wg.pending().is_empty());
    wg.add(1);
    assert!(std::panic::catch_unwind(|| wg.add(usize::MAX / 2)).is_err());
    assert_eq!(wg.pending().len(), 1, "the failed add is not recorded");
    assert_eq!(wg.pending()[0].kind(), PendingKind::Added(1));
    wg.done();
    assert!(wg.pending().is_empty());
}

#[test]
fn concurrent_guards_all_leave_the_registry() {
    let wg = WaitGroup::new();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let wg = wg.clone();
            std::thread::spawn(move || {
                for i in 0..1_000 {
                    let guard = wg.enter_named(format!("job {i}"));
                    wg.add(1);
                    wg.done();
                    drop(guard);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(wg.count(), 0);
    assert!(wg.pending().is_empty(), "{:?}", wg.pending());
}

runtime_tests! {
    async fn err_group_names_the_task_that_never_finishes(rt) {
        let group = ErrGroup::<u32, (), _>::new(rt.clone());
        let gate = Latch::new(1);
        let quick = gate.clone();
        group.spawn_named("quick", async move {
            quick.wait().await;
            Ok(1)
        }).unwrap();
        let stuck_line = line!() + 1;
        let stuck = group.spawn_named("stuck", std::future::pending()).unwrap();
        let anonymous = group.spawn(std::future::pending()).unwrap();

        let pending = group.pending();
        assert_eq!(pending.len(), 3, "{pending:?}");
        gate.count_down();
        // Wait until the quick task's outcome is recorded.
        let mut group = group;
        assert_eq!(group.join_next().await.unwrap().unwrap(), 1);

        let pending = group.pending();
        assert_eq!(pending.len(), 2, "{pending:?}");
        assert_eq!(pending[0].kind(), PendingKind::Task(stuck));
        assert_eq!(pending[0].name(), Some("stuck"));
        assert_eq!(pending[0].location().file(), file!());
        assert_eq!(pending[0].location().line(), stuck_line);
        assert_eq!(
            pending[0].to_string(),
            format!("task #1 \"stuck\" spawned at {}:{stuck_line}:{}", file!(), pending[0].location().column())
        );
        assert_eq!(pending[1].kind(), PendingKind::Task(anonymous));
        assert!(format!("{group:?}").contains("\"stuck\""));

        group.cancel();
        let _ = group.join_all().await;
    }

    async fn queued_tasks_are_pending_and_leave_when_they_end(rt) {
        let group = ErrGroup::<usize, (), _>::builder(rt.clone()).limit(1).build();
        let gate = Latch::new(1);
        for i in 0..4 {
            let gate = gate.clone();
            group.spawn_named(format!("job {i}"), async move {
                gate.wait().await;
                Ok(i)
            }).unwrap();
        }
        let names: Vec<_> = group.pending().iter().map(|p| p.name().unwrap().to_owned()).collect();
        assert_eq!(names, ["job 0", "job 1", "job 2", "job 3"]);
        assert!(matches!(group.pending()[3].kind(), PendingKind::Task(id) if id.index() == 3));
        gate.count_down();
        let spawner = group.spawner();
        assert_eq!(group.join().await.unwrap(), vec![0, 1, 2, 3]);
        assert!(spawner.pending().is_empty());
    }

    async fn spawner_and_wait_group_spawn_record_the_callers_line(rt) {
        let group = ErrGroup::<(), (), _>::new(rt.clone());
        let spawner = group.spawner();
        let gate = Latch::new(1);
        let task_gate = gate.clone();
        let line = line!() + 1;
        let spawned = spawner.spawn(async move { task_gate.wait().await; Ok(()) });
        assert!(spawned.is_ok());
        assert_eq!(group.pending()[0].location().line(), line);
        assert_eq!(group.pending()[0].location().file(), file!());

        let wg = WaitGroup::new();
        let wg_gate = gate.clone();
        let wg_line = line!() + 1;
        rt.spawn(wg.track(async move { wg_gate.wait().await }));
        assert_eq!(wg.pending()[0].kind(), PendingKind::Guard);
        assert_eq!(wg.pending()[0].location().line(), wg_line);

        gate.count_down();
        wg.wait().await;
        assert!(wg.pending().is_empty());
        assert_eq!(group.join().await.unwrap(), vec![()]);
    }
}
