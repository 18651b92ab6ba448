//! Each pool runs real jobs end to end: runs final in the store with their
//! status, violation and metrics; deliveries acked; the queue empty.

mod common;

use std::time::Duration;

use common::{Fixture, Until};
use dq_core::{RunStatus, Severity};
use dq_store::{MetricFilter, ViolationFilter};
use dq_worker::PoolKind;

const TICKS: u32 = 3;

async fn every_run_ends_final(pool: PoolKind) {
    let f = Fixture::new().await;
    for minute in 0..TICKS {
        f.publish(&["orders_not_empty", "orders_customer_nulls"], minute, 3)
            .await;
        f.publish(&["ghost_not_empty"], minute, 3).await;
    }
    let config = f.config(pool, 2);
    let name = config.name.clone();
    let summary = f
        .run(
            config,
            Until::Final(3 * TICKS as usize),
            Duration::from_secs(60),
        )
        .await;

    for minute in 0..TICKS {
        let passed = f.run_of("orders_not_empty", minute).await;
        assert_eq!(passed.status, RunStatus::Passed, "{passed:?}");
        assert_eq!(passed.observed_value, Some(10.0));
        assert_eq!(passed.row_count, Some(10));
        assert_eq!(passed.worker.as_deref(), Some(name.as_str()));
        assert_eq!(passed.attempt, 1);
        assert!(passed.started_at.is_some() && passed.finished_at.is_some());

        let failed = f.run_of("orders_customer_nulls", minute).await;
        assert_eq!(failed.status, RunStatus::Failed, "{failed:?}");
        assert_eq!(failed.severity, Some(Severity::High));
        assert_eq!(failed.observed_value, Some(2.0));

        let missing = f.run_of("ghost_not_empty", minute).await;
        assert_eq!(missing.status, RunStatus::Error, "{missing:?}");
        assert!(!missing.retriable);
        assert_eq!(missing.attempt, 1, "a data error is not retried");
        let error = missing.error.unwrap_or_default();
        assert!(error.contains("ghost"), "{error}");
    }

    let violations = f
        .store
        .violations(&ViolationFilter::default())
        .await
        .unwrap();
    assert_eq!(violations.len(), TICKS as usize);
    for violation in &violations {
        assert_eq!(violation.rule_name.as_str(), "orders_customer_nulls");
        assert_eq!(violation.severity, Severity::High);
        assert_eq!(violation.sample.len(), 2, "{:?}", violation.sample);
    }
    let nulls = f
        .store
        .metrics(&MetricFilter {
            name: Some("null_count".into()),
            ..MetricFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(nulls.len(), TICKS as usize);
    assert!(nulls
        .iter()
        .all(|p| p.value == 2.0 && p.column.as_deref() == Some("customer_id")));
    let rows = f
        .store
        .metrics(&MetricFilter {
            name: Some("row_count".into()),
            ..MetricFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        2 * TICKS as usize,
        "one per passing or failing run"
    );

    assert_eq!(summary.processed, 2 * u64::from(TICKS));
    assert_eq!(summary.failed, u64::from(TICKS), "the ghost jobs");
    assert_eq!(summary.runs_written, 3 * u64::from(TICKS));
    assert_eq!(
        (summary.retried, summary.dead_lettered, summary.duplicates),
        (0, 0, 0)
    );
    assert_eq!(summary.abandoned, 0);
    assert_eq!(
        summary.child_pids.is_empty(),
        pool != PoolKind::Process,
        "{summary:?}"
    );
    f.assert_queue_settled(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_pool_runs_jobs_to_final_results() {
    every_run_ends_final(PoolKind::Async).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_pool_runs_jobs_to_final_results() {
    every_run_ends_final(PoolKind::Threads).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_pool_runs_jobs_to_final_results() {
    every_run_ends_final(PoolKind::Process).await;
}

/// The hard limit abandons a job whose checks outrun it (their own timeout
/// is 120 s), records TIMEOUT, and the pool runs the next job.
async fn the_hard_limit_abandons_a_job(pool: PoolKind) {
    let f = Fixture::new().await;
    f.publish(&["orders_endless"], 0, 3).await;
    f.publish(&["orders_not_empty"], 1, 3).await;
    let mut config = f.config(pool, 1);
    config.hard_time_limit = Some(Duration::from_millis(500));
    let summary = f
        .run(config, Until::Final(2), Duration::from_secs(60))
        .await;

    let endless = f.run_of("orders_endless", 0).await;
    assert_eq!(endless.status, RunStatus::Timeout, "{endless:?}");
    assert_eq!(
        endless.error.as_deref(),
        Some("hard time limit 500ms exceeded")
    );
    assert_eq!(
        f.run_of("orders_not_empty", 1).await.status,
        RunStatus::Passed
    );
    assert_eq!((summary.processed, summary.failed), (2, 1));
    f.assert_queue_settled(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_pool_enforces_the_hard_limit() {
    the_hard_limit_abandons_a_job(PoolKind::Async).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_pool_enforces_the_hard_limit() {
    the_hard_limit_abandons_a_job(PoolKind::Threads).await;
}
