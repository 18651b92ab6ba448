//! Queue statistics, purge, and AMQP prefetch.

#[macro_use]
mod common;

use std::time::Duration;

use common::{expect_next, next_within, open, publish_jobs, Backend};
use dq_core::Queue;

const WAIT: Duration = Duration::from_secs(10);

on_backends!(stats_follow_the_queue: inprocess, redis, amqp);
async fn stats_follow_the_queue(backend: Backend) {
    let broker = open(backend, |c| c).await;
    let empty = broker.queue_stats(Queue::Compute).await.unwrap();
    assert_eq!((empty.depth, empty.delayed, empty.dead), (0, 0, 0));
    assert_eq!(empty.oldest_ready_age, None);

    publish_jobs(&broker, Queue::Compute, 0..3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = broker.queue_stats(Queue::Compute).await.unwrap();
    assert_eq!(waiting.depth, 3, "{waiting:?}");
    match backend {
        // Reading the head of an AMQP queue would disturb it.
        Backend::Amqp => assert_eq!((waiting.oldest_ready_age, waiting.in_flight), (None, None)),
        _ => {
            let age = waiting.oldest_ready_age.expect("an age");
            assert!(age >= Duration::from_millis(250), "{age:?}");
            assert!(age < Duration::from_secs(30), "{age:?}");
            assert_eq!(waiting.in_flight, Some(0));
        }
    }

    let mut consumer = broker.consumer(Queue::Compute, "c", 1).await.unwrap();
    let first = expect_next(&mut consumer, WAIT).await;
    let held = broker.queue_stats(Queue::Compute).await.unwrap();
    assert_eq!(held.depth, 2, "{held:?}");
    assert_eq!(held.consumers, Some(1), "{held:?}");
    if backend != Backend::Amqp {
        assert_eq!(held.in_flight, Some(1), "{held:?}");
    }

    first.dead_letter("broken").await.unwrap();
    let second = expect_next(&mut consumer, WAIT).await;
    second
        .retry(Duration::from_secs(60), "later")
        .await
        .unwrap();
    // AMQP pushes the third message to the consumer as soon as the second
    // is settled; closing the consumer gives it back to the queue.
    drop(consumer);
    let mut settled = broker.queue_stats(Queue::Compute).await.unwrap();
    for _ in 0..50 {
        if settled.depth == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        settled = broker.queue_stats(Queue::Compute).await.unwrap();
    }
    assert_eq!(
        (settled.depth, settled.delayed, settled.dead),
        (1, 1, 1),
        "{settled:?}"
    );

    assert_eq!(broker.purge(Queue::Compute).await.unwrap(), 3);
    let purged = broker.queue_stats(Queue::Compute).await.unwrap();
    assert_eq!(
        (purged.depth, purged.delayed, purged.dead),
        (0, 0, 0),
        "{purged:?}"
    );
    assert_eq!(purged.oldest_ready_age, None);
}

on_backends!(prefetch_bounds_unacked_messages: amqp);
/// With prefetch 2 an AMQP consumer holds at most two unacked messages;
/// the rest stay ready in RabbitMQ for other consumers.
#[cfg_attr(not(feature = "amqp"), allow(dead_code))]
async fn prefetch_bounds_unacked_messages(backend: Backend) {
    let broker = open(backend, |c| c).await;
    publish_jobs(&broker, Queue::Database, 0..5).await;
    let mut consumer = broker.consumer(Queue::Database, "c", 2).await.unwrap();
    let one = expect_next(&mut consumer, WAIT).await;
    let two = expect_next(&mut consumer, WAIT).await;
    assert!(
        next_within(&mut consumer, Duration::from_millis(800))
            .await
            .is_none(),
        "a third message while two are unacked"
    );
    assert_eq!(broker.queue_stats(Queue::Database).await.unwrap().depth, 3);

    let mut other = broker.consumer(Queue::Database, "other", 1).await.unwrap();
    let three = expect_next(&mut other, WAIT).await;

    one.ack().await.unwrap();
    let four = expect_next(&mut consumer, WAIT).await;
    assert!(next_within(&mut consumer, Duration::from_millis(500))
        .await
        .is_none());
    assert_eq!(broker.queue_stats(Queue::Database).await.unwrap().depth, 1);
    for delivery in [two, three, four] {
        delivery.ack().await.unwrap();
    }
}
