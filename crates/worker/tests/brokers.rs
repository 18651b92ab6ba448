//! End to end on the network brokers: the real Redis (127.0.0.1:6379) and
//! RabbitMQ (127.0.0.1:5672), each test under a unique prefix that it
//! deletes at the end. An unreachable service fails the test naming it.
//! Override the URLs with DQ_TEST_REDIS_URL and DQ_TEST_AMQP_URL.

mod common;

use std::time::Duration;

use common::{Fixture, Until};
use dq_broker::BrokerConfig;
use dq_core::{Queue, RunStatus};
use dq_worker::PoolKind;

fn unique_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("t_worker_{}_{nanos}_", std::process::id())
}

async fn jobs_run_end_to_end(url: String) {
    let config = BrokerConfig::new(url)
        .with_prefix(unique_prefix())
        .with_reconnect_timeout(Duration::from_secs(5));
    let f = Fixture::with_broker(config).await;
    f.publish(&["orders_not_empty", "orders_customer_nulls"], 0, 3)
        .await;
    f.publish(&["ghost_not_empty"], 0, 3).await;
    f.publish(&["gone_not_empty"], 0, 2).await;
    let summary = f
        .run(
            f.config(PoolKind::Async, 2),
            Until::Final(4),
            Duration::from_secs(60),
        )
        .await;
    let statuses: Vec<(String, RunStatus, u32)> = f
        .all_runs()
        .await
        .into_iter()
        .map(|r| (r.rule_name.to_string(), r.status, r.attempt))
        .collect();
    let stats = f.broker.queue_stats(Queue::Database).await.unwrap();
    let dead = f.broker.dead_letters(Queue::Database, 10).await.unwrap();
    f.broker.teardown().await.unwrap();

    let mut statuses = statuses;
    statuses.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        statuses,
        [
            ("ghost_not_empty".to_string(), RunStatus::Error, 1),
            ("gone_not_empty".to_string(), RunStatus::Error, 2),
            ("orders_customer_nulls".to_string(), RunStatus::Failed, 1),
            ("orders_not_empty".to_string(), RunStatus::Passed, 1),
        ]
    );
    assert_eq!(
        (summary.processed, summary.retried, summary.dead_lettered),
        (3, 1, 1)
    );
    assert_eq!(
        (stats.depth, stats.delayed, stats.dead),
        (0, 0, 1),
        "{stats:?}"
    );
    assert!(matches!(stats.in_flight, Some(0) | None), "{stats:?}");
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].reason.contains("gave up after 2 attempts"),
        "{}",
        dead[0].reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_end_to_end() {
    let url = std::env::var("DQ_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_string());
    jobs_run_end_to_end(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_end_to_end() {
    let url = std::env::var("DQ_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_string());
    jobs_run_end_to_end(url).await;
}
