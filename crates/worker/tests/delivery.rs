//! At-least-once delivery meets idempotent writes, and retries: a
//! redelivered finished job writes nothing; an unreachable target is
//! retried with backoff, then given up on and dead-lettered; a data error
//! is final at once.

mod common;

use std::time::Duration;

use common::{Fixture, Until};
use dq_core::{Queue, RunStatus};
use dq_store::{MetricFilter, ViolationFilter};
use dq_worker::PoolKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_finished_job_writes_nothing_and_is_acked() {
    let f = Fixture::new().await;
    let envelope = f
        .publish(&["orders_not_empty", "orders_customer_nulls"], 0, 3)
        .await;
    let first = f
        .run(
            f.config(PoolKind::Async, 2),
            Until::Final(2),
            Duration::from_secs(30),
        )
        .await;
    assert_eq!((first.processed, first.runs_written), (1, 2));
    let runs = f.all_runs().await;
    let violations = f
        .store
        .violations(&ViolationFilter::default())
        .await
        .unwrap();
    let metrics = f.store.metrics(&MetricFilter::default()).await.unwrap();
    assert_eq!(violations.len(), 1);
    assert!(!metrics.is_empty());

    // The same envelope again, as after a crash between commit and ack.
    f.broker.publish(&envelope.next_attempt()).await.unwrap();
    let second = f
        .run(
            f.config(PoolKind::Async, 2),
            Until::Settled,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(second.duplicates, 1, "{second:?}");
    assert_eq!(
        (
            second.processed,
            second.runs_written,
            second.write_transactions
        ),
        (0, 0, 0)
    );
    assert_eq!(f.all_runs().await, runs, "the same run rows, untouched");
    assert_eq!(
        f.store
            .violations(&ViolationFilter::default())
            .await
            .unwrap(),
        violations
    );
    assert_eq!(
        f.store.metrics(&MetricFilter::default()).await.unwrap(),
        metrics
    );
    f.assert_queue_settled(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_targets_are_retried_then_dead_lettered_data_errors_are_not() {
    let f = Fixture::new().await;
    f.publish(&["gone_not_empty"], 0, 3).await;
    f.publish(&["ghost_not_empty"], 0, 3).await;
    let summary = f
        .run(
            f.config(PoolKind::Async, 2),
            Until::Final(2),
            Duration::from_secs(30),
        )
        .await;

    let gone = f.run_of("gone_not_empty", 0).await;
    assert_eq!(gone.status, RunStatus::Error, "{gone:?}");
    assert_eq!(gone.attempt, 3, "attempts 1 and 2 were retried");
    assert!(gone.retriable);
    let message = gone.error.clone().unwrap_or_default();
    assert!(
        message.starts_with("gave up after 3 attempts: target gone unavailable: cannot connect"),
        "{message}"
    );
    assert!(message.contains("missing.db"), "{message}");

    let ghost = f.run_of("ghost_not_empty", 0).await;
    assert_eq!(ghost.status, RunStatus::Error);
    assert_eq!(ghost.attempt, 1, "a missing table is final at once");
    assert!(!ghost.retriable);
    assert!(
        ghost
            .error
            .unwrap_or_default()
            .contains("dataset ghost not found"),
        "{:?}",
        ghost.message
    );

    assert_eq!(summary.retried, 2, "{summary:?}");
    assert_eq!(summary.dead_lettered, 1);
    assert_eq!((summary.processed, summary.failed), (2, 2));
    f.assert_queue_settled(1).await;
    let dead = f.broker.dead_letters(Queue::Database, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].reason.contains("gave up after 3 attempts"),
        "{}",
        dead[0].reason
    );
    let envelope = dead[0].payload.envelope().expect("a replayable envelope");
    assert_eq!(envelope.job.runs[0].rule.name.as_str(), "gone_not_empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_delays_grow_between_attempts() {
    let f = Fixture::new().await;
    f.publish(&["gone_not_empty"], 0, 4).await;
    let mut config = f.config(PoolKind::Async, 1);
    config.retry = dq_worker::RetryPolicy {
        min_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        factor: 2.0,
        jitter: false,
    };
    let began = std::time::Instant::now();
    let summary = f
        .run(config, Until::Final(1), Duration::from_secs(30))
        .await;
    // 100 + 200 + 400 ms of backoff before the fourth attempt.
    assert!(
        began.elapsed() >= Duration::from_millis(700),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(summary.retried, 3);
    assert_eq!(f.run_of("gone_not_empty", 0).await.attempt, 4);
}
