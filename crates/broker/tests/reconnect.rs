//! Publishing and consuming survive losing the broker.
//!
//! Redis: a private `redis-server` (append-only file, fsync on every write)
//! is killed with SIGKILL and started again on the same directory; the
//! publish made during the outage waits through the backoff and succeeds,
//! the consumer carries on, and no message the server had accepted is lost.
//!
//! RabbitMQ is shared by every test, so it is not restarted: the server
//! force-closes this test's connections instead (`rabbitmqctl
//! close_connection`), which the client sees exactly as a broker going away.

#![cfg(any(feature = "redis", feature = "amqp"))]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{expect_next, publish_jobs};
use dq_core::Queue;

#[cfg(feature = "redis")]
#[path = "common/private_redis.rs"]
mod private_redis;

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_consume_survive_a_redis_restart() {
    use dq_broker::{Broker, BrokerConfig};
    let mut server = private_redis::PrivateRedis::start();
    let config = BrokerConfig::new(server.url())
        .with_prefix(common::unique_prefix())
        // Long enough that nothing is redelivered by timeout in this test.
        .with_visibility_timeout(Duration::from_secs(60))
        .with_reconnect_timeout(Duration::from_secs(30));
    let broker = Broker::connect(&config).await.unwrap();
    let before = publish_jobs(&broker, Queue::Database, 0..5).await;

    let mut consumer = broker.consumer(Queue::Database, "c", 1).await.unwrap();
    for expected in &before[..2] {
        let delivery = expect_next(&mut consumer, Duration::from_secs(5)).await;
        assert_eq!(delivery.envelope().id, expected.id);
        delivery.ack().await.unwrap();
    }
    let held = expect_next(&mut consumer, Duration::from_secs(5)).await;
    assert_eq!(held.envelope().id, before[2].id);

    server.kill();
    let publisher = {
        let broker = broker.clone();
        tokio::spawn(async move { publish_jobs(&broker, Queue::Database, 5..8).await })
    };
    let waiting = {
        tokio::spawn(async move {
            let delivery = consumer.next().await.unwrap();
            (consumer, delivery)
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !publisher.is_finished(),
        "a publish waits for the server to come back"
    );
    assert!(!waiting.is_finished());

    server.launch();
    let during = tokio::time::timeout(Duration::from_secs(30), publisher)
        .await
        .expect("the publish made during the outage completes after the restart")
        .unwrap();
    let (mut consumer, first_after) = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the consumer resumes after the restart")
        .unwrap();
    held.ack().await.unwrap();

    // Everything accepted before the kill, and everything published during
    // the outage, is delivered; nothing acked comes back.
    let expected: BTreeSet<String> = before[3..]
        .iter()
        .chain(&during)
        .map(|e| e.id.clone())
        .collect();
    let mut seen = BTreeSet::new();
    let mut delivery = first_after;
    loop {
        assert!(
            seen.insert(delivery.envelope().id.clone()),
            "delivered twice"
        );
        assert_eq!(delivery.envelope().attempt, 1);
        delivery.ack().await.unwrap();
        if seen.len() == expected.len() {
            break;
        }
        delivery = expect_next(&mut consumer, Duration::from_secs(10)).await;
    }
    assert_eq!(seen, expected);
    let stats = broker.queue_stats(Queue::Database).await.unwrap();
    assert_eq!((stats.depth, stats.in_flight), (0, Some(0)), "{stats:?}");
}

/// Closes every connection whose client properties mention `fragment` (the
/// test's unique prefix), from the server side. Returns how many.
#[cfg(feature = "amqp")]
fn force_close_connections(fragment: &str) -> usize {
    use std::process::Command;
    let listed = Command::new("rabbitmqctl")
        .args(["list_connections", "pid", "client_properties", "-s"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run rabbitmqctl (is RabbitMQ installed here?): {e}"));
    assert!(
        listed.status.success(),
        "rabbitmqctl list_connections: {listed:?}"
    );
    let text = String::from_utf8_lossy(&listed.stdout);
    let pids: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(fragment))
        .filter_map(|line| line.split('\t').next())
        .collect();
    for pid in &pids {
        let closed = Command::new("rabbitmqctl")
            .args(["close_connection", pid, "dq-broker reconnect test"])
            .output()
            .unwrap();
        assert!(
            closed.status.success(),
            "rabbitmqctl close_connection: {closed:?}"
        );
    }
    pids.len()
}

#[cfg(feature = "amqp")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_consume_survive_lost_amqp_connections() {
    let broker = common::open(common::Backend::Amqp, |c| {
        c.with_reconnect_timeout(Duration::from_secs(30))
    })
    .await;
    let prefix = broker.config().prefix.clone();
    let before = publish_jobs(&broker, Queue::Database, 0..3).await;
    let mut consumer = broker.consumer(Queue::Database, "c", 1).await.unwrap();
    let first = expect_next(&mut consumer, Duration::from_secs(10)).await;
    assert_eq!(first.envelope().id, before[0].id);
    first.ack().await.unwrap();

    assert_eq!(
        force_close_connections(&prefix),
        2,
        "the publisher's and the consumer's"
    );
    let during = publish_jobs(&broker, Queue::Database, 3..5).await;

    // The message the dead connection held comes back counted (attempt 2);
    // the others arrive once, as published.
    let expected: BTreeSet<String> = before[1..]
        .iter()
        .chain(&during)
        .map(|e| e.id.clone())
        .collect();
    let mut seen = BTreeSet::new();
    while seen.len() < expected.len() {
        let delivery = expect_next(&mut consumer, Duration::from_secs(20)).await;
        let envelope = delivery.envelope();
        assert!(
            seen.insert(envelope.id.clone()),
            "{} delivered twice",
            envelope.id
        );
        let attempts = if envelope.id == before[1].id {
            1..=2
        } else {
            1..=1
        };
        assert!(attempts.contains(&envelope.attempt), "{envelope:?}");
        delivery.ack().await.unwrap();
    }
    assert_eq!(seen, expected);
    let stats = broker.queue_stats(Queue::Database).await.unwrap();
    assert_eq!((stats.depth, stats.dead), (0, 0), "{stats:?}");
}
