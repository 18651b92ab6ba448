//! Retries, dead letters and poison messages on every backend.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{expect_next, next_within, open, publish_jobs, push_raw, Backend};
use dq_broker::{DeadPayload, RetryOutcome};
use dq_core::Queue;

const WAIT: Duration = Duration::from_secs(10);

on_backends!(retry_then_dead_letter_then_requeue: inprocess, redis, amqp);
/// Retry waits for its delay and counts the attempt; the last attempt's
/// retry dead-letters with the reason; requeueing replays it as attempt 1.
async fn retry_then_dead_letter_then_requeue(backend: Backend) {
    let broker = open(backend, |c| {
        c.with_max_attempts(2)
            .with_visibility_timeout(Duration::from_secs(30))
    })
    .await;
    let published = publish_jobs(&broker, Queue::Database, 0..1).await;
    let mut consumer = broker.consumer(Queue::Database, "c", 1).await.unwrap();

    let first = expect_next(&mut consumer, WAIT).await;
    assert_eq!(first.envelope().attempt, 1);
    let delay = Duration::from_millis(1500);
    let retried_at = Instant::now();
    let outcome = first.retry(delay, "target timed out").await.unwrap();
    assert_eq!(outcome, RetryOutcome::Scheduled);
    let stats = broker.queue_stats(Queue::Database).await.unwrap();
    assert_eq!((stats.depth, stats.delayed), (0, 1), "{stats:?}");
    assert!(
        next_within(&mut consumer, Duration::from_millis(1000))
            .await
            .is_none(),
        "not delivered before its delay"
    );

    let second = expect_next(&mut consumer, WAIT).await;
    assert!(retried_at.elapsed() >= delay - Duration::from_millis(100));
    assert_eq!(second.envelope().attempt, 2, "attempt incremented");
    assert_eq!(second.envelope().id, published[0].id);
    assert_eq!(second.envelope().job, published[0].job);
    let outcome = second.retry(delay, "target timed out again").await.unwrap();
    assert_eq!(outcome, RetryOutcome::DeadLettered, "max_attempts reached");

    let dead = broker.dead_letters(Queue::Database, 10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        dead[0].reason,
        "gave up after attempt 2 of 2: target timed out again"
    );
    let envelope = dead[0].payload.envelope().expect("an envelope");
    assert_eq!(
        (envelope.id.as_str(), envelope.attempt),
        (published[0].id.as_str(), 2)
    );
    assert!(dead[0].died_at > published[0].published_at);
    assert_eq!(broker.queue_stats(Queue::Database).await.unwrap().dead, 1);
    assert!(next_within(&mut consumer, Duration::from_millis(500))
        .await
        .is_none());

    assert_eq!(broker.requeue_dead(Queue::Database, None).await.unwrap(), 1);
    let replayed = expect_next(&mut consumer, WAIT).await;
    assert_eq!(replayed.envelope().id, published[0].id);
    assert_eq!(replayed.envelope().attempt, 1, "a replay starts over");
    replayed.ack().await.unwrap();
    assert!(broker
        .dead_letters(Queue::Database, 10)
        .await
        .unwrap()
        .is_empty());

    // Straight to the dead letters, with the caller's reason.
    publish_jobs(&broker, Queue::Database, 1..2).await;
    let poison = expect_next(&mut consumer, WAIT).await;
    poison
        .dead_letter("rule cannot run: column dropped")
        .await
        .unwrap();
    let dead = broker.dead_letters(Queue::Database, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "rule cannot run: column dropped");
    assert_eq!(
        broker.requeue_dead(Queue::Database, Some(0)).await.unwrap(),
        0
    );
    assert_eq!(
        broker
            .dead_letters(Queue::Database, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

on_backends!(poison_messages_are_dead_lettered: inprocess, redis, amqp);
/// Bodies that are not envelopes this build reads go to the dead letters
/// with the reason; the consumer carries on with the good messages.
async fn poison_messages_are_dead_lettered(backend: Backend) {
    let broker = open(backend, |c| c).await;
    let mut future =
        serde_json::to_value(broker.envelope(Queue::Database, common::job(7))).unwrap();
    future["version"] = 99.into();
    push_raw(&broker, Queue::Database, b"not json {").await;
    push_raw(
        &broker,
        Queue::Database,
        &serde_json::to_vec(&future).unwrap(),
    )
    .await;
    let good = publish_jobs(&broker, Queue::Database, 0..1).await;

    let mut consumer = broker.consumer(Queue::Database, "c", 2).await.unwrap();
    let delivery = expect_next(&mut consumer, WAIT).await;
    assert_eq!(delivery.envelope(), &good[0]);
    delivery.ack().await.unwrap();

    let dead = broker.dead_letters(Queue::Database, 10).await.unwrap();
    let seen: Vec<(String, &str)> = dead
        .iter()
        .map(|d| match &d.payload {
            DeadPayload::Raw(text) => (text.clone(), d.reason.as_str()),
            DeadPayload::Envelope(e) => panic!("unexpected envelope {e:?}"),
        })
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].0, "not json {");
    assert!(seen[0].1.starts_with("not JSON"), "{}", seen[0].1);
    assert!(seen[1].0.contains("\"version\":99"), "{}", seen[1].0);
    assert!(
        seen[1].1.contains("unsupported envelope version 99"),
        "{}",
        seen[1].1
    );
    assert_eq!(
        broker.requeue_dead(Queue::Database, None).await.unwrap(),
        0,
        "unreadable bodies are not replayed"
    );
    assert_eq!(
        broker
            .dead_letters(Queue::Database, 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // The consumer is still alive and well.
    let later = publish_jobs(&broker, Queue::Database, 1..2).await;
    let delivery = expect_next(&mut consumer, WAIT).await;
    assert_eq!(delivery.envelope(), &later[0]);
    delivery.ack().await.unwrap();
}

/// A Redis stream entry without a body field is dead-lettered too.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_entries_without_a_body_are_dead_lettered() {
    let broker = open(Backend::Redis, |c| c).await;
    let client = redis::Client::open(common::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("XADD")
        .arg(broker.config().names().main(Queue::Memory))
        .arg("*")
        .arg("payload")
        .arg("x")
        .query_async::<String>(&mut conn)
        .await
        .unwrap();
    let mut consumer = broker.consumer(Queue::Memory, "c", 1).await.unwrap();
    assert!(next_within(&mut consumer, Duration::from_millis(800))
        .await
        .is_none());
    let dead = broker.dead_letters(Queue::Memory, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "stream entry has no 'body' field");
}
