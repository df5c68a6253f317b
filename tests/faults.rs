//! Faults users hit: the runtime goes away under a group.
#![cfg(all(not(loom), feature = "tokio"))]

use std::time::Duration;

use taskgroup::runtime::TokioRuntime;
use taskgroup::{ErrGroup, GroupError, WaitGroup};

/// Joins `group` on a thread of its own with a deadline, so a hang fails.
fn join_all_elsewhere<T: Send + 'static, E: Send + 'static, R: taskgroup::runtime::Runtime>(
    group: ErrGroup<T, E, R>,
) -> Vec<Result<T, GroupError<E>>> {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(futures::executor::block_on(group.join_all()));
    });
    receive
        .recv_timeout(Duration::from_secs(60))
        .expect("the join finished instead of hanging")
}

#[test]
fn tokio_runtime_shut_down_under_a_group_reports_lost_tasks_and_keeps_results() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let group = ErrGroup::<u32, (), _>::new(TokioRuntime::from_handle(runtime.handle().clone()));
    let finished = WaitGroup::new();
    let guard = finished.enter();
    group.spawn(async move {
        drop(guard);
        Ok(1)
    });
    group.spawn(std::future::pending());
    group.spawn(async {
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        Ok(3)
    });
    finished.wait_blocking();
    drop(runtime); // drops every task the runtime still holds
    let outcomes = join_all_elsewhere(group);
    assert!(matches!(outcomes[0], Ok(1)), "the finished result is kept");
    assert!(matches!(outcomes[1], Err(GroupError::Lost)));
    assert!(matches!(outcomes[2], Err(GroupError::Lost)));
    assert_eq!(
        GroupError::<String>::Lost.to_string(),
        "task lost: the runtime dropped it before it finished"
    );
}

#[test]
fn runtime_shut_down_under_a_limited_group_reports_queued_tasks_too() {
    // Two workers hold the slots, three tasks wait in the group's queue:
    // when the runtime drops the workers, the queue is dropped with them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let group = ErrGroup::<u32, (), _>::new(TokioRuntime::from_handle(runtime.handle().clone()))
        .with_limit(2);
    for _ in 0..5 {
        group.spawn(std::future::pending());
    }
    // Let the workers start, then shut the runtime down under them.
    runtime.block_on(async { tokio::time::sleep(Duration::from_millis(5)).await });
    drop(runtime);
    let outcomes = join_all_elsewhere(group);
    assert_eq!(outcomes.len(), 5);
    assert!(outcomes.iter().all(|o| matches!(o, Err(GroupError::Lost))));
}
