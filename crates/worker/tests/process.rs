//! The process pool's isolation: a check past the child's memory limit
//! kills only the child, the hard time limit kills a stuck child, children
//! are recycled after N jobs, and the worker runs the next job every time.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Fixture, Until};
use dq_core::RunStatus;
use dq_worker::PoolKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_past_the_memory_limit_is_an_error_and_the_next_job_runs() {
    let f = Fixture::new().await;
    f.publish(&["orders_memory_hog"], 0, 3).await;
    f.publish(&["orders_not_empty"], 1, 3).await;
    let mut config = f.config(PoolKind::Process, 1);
    config.process.memory_limit_mb = Some(64);
    let summary = f
        .run(config, Until::Final(2), Duration::from_secs(60))
        .await;

    let hog = f.run_of("orders_memory_hog", 0).await;
    assert_eq!(hog.status, RunStatus::Error, "{hog:?}");
    let error = hog.error.unwrap_or_default();
    assert!(
        error.contains("worker child exceeded its memory limit of 64 MB"),
        "{error}"
    );
    assert!(!hog.retriable);
    assert_eq!(
        f.run_of("orders_not_empty", 1).await.status,
        RunStatus::Passed
    );
    assert_eq!(
        summary.child_pids.len(),
        2,
        "a fresh child after the hog: {summary:?}"
    );
    assert_eq!((summary.processed, summary.failed), (2, 1));
    f.assert_queue_settled(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hard_time_limit_kills_the_child_and_records_a_timeout() {
    let f = Fixture::new().await;
    f.publish(&["orders_endless"], 0, 3).await;
    f.publish(&["orders_not_empty"], 1, 3).await;
    let mut config = f.config(PoolKind::Process, 1);
    config.hard_time_limit = Some(Duration::from_secs(1));
    let began = std::time::Instant::now();
    let summary = f
        .run(config, Until::Final(2), Duration::from_secs(60))
        .await;
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "not the rule's 120 s timeout"
    );

    let endless = f.run_of("orders_endless", 0).await;
    assert_eq!(endless.status, RunStatus::Timeout, "{endless:?}");
    assert_eq!(
        endless.error.as_deref(),
        Some("hard time limit 1s exceeded")
    );
    assert_eq!(
        f.run_of("orders_not_empty", 1).await.status,
        RunStatus::Passed
    );
    assert_eq!(summary.child_pids.len(), 2, "{summary:?}");
    let killed = summary.child_pids[0];
    assert!(
        !std::path::Path::new(&format!("/proc/{killed}")).exists(),
        "the killed child {killed} is gone (and reaped)"
    );
    f.assert_queue_settled(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_are_recycled_after_max_tasks() {
    let f = Fixture::new().await;
    for minute in 0..5 {
        f.publish(&["orders_not_empty"], minute, 3).await;
    }
    let mut config = f.config(PoolKind::Process, 1);
    config.process.max_tasks_per_child = Some(2);
    let summary = f
        .run(config, Until::Final(5), Duration::from_secs(60))
        .await;

    let pids: BTreeSet<u32> = summary.child_pids.iter().copied().collect();
    assert_eq!(summary.child_pids.len(), 3, "2 + 2 + 1 jobs: {summary:?}");
    assert_eq!(pids.len(), 3, "every child is a new process");
    for minute in 0..5 {
        assert_eq!(
            f.run_of("orders_not_empty", minute).await.status,
            RunStatus::Passed
        );
    }
    f.assert_queue_settled(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_cannot_start_is_retried_then_given_up() {
    let f = Fixture::new().await;
    f.publish(&["orders_not_empty"], 0, 2).await;
    let mut config = f.config(PoolKind::Process, 1);
    config.process.command = Some(dq_worker::ChildCommand {
        program: f.dir.path().join("no-such-child"),
        args: Vec::new(),
    });
    let summary = f
        .run(config, Until::Final(1), Duration::from_secs(30))
        .await;

    let run = f.run_of("orders_not_empty", 0).await;
    assert_eq!(run.status, RunStatus::Error);
    let error = run.error.unwrap_or_default();
    assert!(
        error.starts_with("gave up after 2 attempts: cannot start the worker child"),
        "{error}"
    );
    assert_eq!(
        (summary.retried, summary.dead_lettered),
        (1, 1),
        "{summary:?}"
    );
    f.assert_queue_settled(1).await;
}
