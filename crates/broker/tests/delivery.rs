//! Delivery on every backend: round trip and order, redelivery of what a
//! dead consumer held, and claims kept alive by `extend`.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{expect_next, next_within, open, publish_jobs, Backend};
use dq_broker::{BrokerError, DeadPayload};
use dq_core::Queue;

const SHORT_VISIBILITY: Duration = Duration::from_secs(1);
const WAIT: Duration = Duration::from_secs(10);

on_backends!(round_trip_in_order: inprocess, redis, amqp);
async fn round_trip_in_order(backend: Backend) {
    let broker = open(backend, |c| c).await;
    let published = publish_jobs(&broker, Queue::Database, 0..5).await;
    let elsewhere = publish_jobs(&broker, Queue::Compute, 100..101).await;

    let mut consumer = broker.consumer(Queue::Database, "c1", 1).await.unwrap();
    for expected in &published {
        let delivery = expect_next(&mut consumer, WAIT).await;
        assert_eq!(delivery.envelope(), expected, "exact round trip, FIFO");
        assert_eq!(delivery.envelope().attempt, 1);
        delivery.ack().await.unwrap();
    }
    assert!(
        next_within(&mut consumer, Duration::from_millis(800))
            .await
            .is_none(),
        "each message is delivered once, and other queues stay apart"
    );
    let stats = broker.queue_stats(Queue::Database).await.unwrap();
    assert_eq!((stats.depth, stats.dead, stats.delayed), (0, 0, 0));
    assert!(matches!(stats.in_flight, None | Some(0)), "{stats:?}");

    let mut compute = broker.consumer(Queue::Compute, "c2", 1).await.unwrap();
    let other = expect_next(&mut compute, WAIT).await;
    assert_eq!(other.envelope(), &elsewhere[0]);
    other.ack().await.unwrap();
}

on_backends!(dead_consumers_jobs_are_redelivered: inprocess, redis, amqp);
/// A consumer takes a job and dies without acking: the job goes to another
/// consumer (after the visibility timeout, or when the AMQP channel closes)
/// with its attempt counted, and a job that keeps killing its consumers is
/// dead-lettered once it runs out of attempts.
async fn dead_consumers_jobs_are_redelivered(backend: Backend) {
    let broker = open(backend, |c| {
        c.with_visibility_timeout(SHORT_VISIBILITY)
            .with_max_attempts(2)
    })
    .await;
    let published = publish_jobs(&broker, Queue::Database, 0..1).await;

    let mut first = broker.consumer(Queue::Database, "first", 1).await.unwrap();
    let held = expect_next(&mut first, WAIT).await;
    assert_eq!(held.envelope().attempt, 1);
    let mut second = broker.consumer(Queue::Database, "second", 1).await.unwrap();
    assert!(
        next_within(&mut second, SHORT_VISIBILITY / 2)
            .await
            .is_none(),
        "not redelivered while the first consumer may still be working"
    );

    drop(first);
    let again = expect_next(&mut second, WAIT).await;
    assert_eq!(again.envelope().id, published[0].id);
    assert_eq!(again.envelope().job, published[0].job);
    assert_eq!(
        again.envelope().attempt,
        2,
        "the redelivery counts as an attempt"
    );
    drop(held);

    // The second consumer dies too: that was the last attempt.
    drop(again);
    drop(second);
    let mut third = broker.consumer(Queue::Database, "third", 1).await.unwrap();
    assert!(next_within(&mut third, SHORT_VISIBILITY * 3)
        .await
        .is_none());
    let dead = broker.dead_letters(Queue::Database, 10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].reason.contains("without being acked"),
        "{}",
        dead[0].reason
    );
    let DeadPayload::Envelope(envelope) = &dead[0].payload else {
        panic!("expected an envelope, got {:?}", dead[0].payload)
    };
    assert_eq!(envelope.id, published[0].id);
}

on_backends!(extend_keeps_a_long_job: inprocess, redis);
/// A job that runs longer than the visibility timeout keeps its message by
/// extending the claim; a consumer that stopped extending loses it and can
/// no longer settle it.
async fn extend_keeps_a_long_job(backend: Backend) {
    let broker = open(backend, |c| c.with_visibility_timeout(SHORT_VISIBILITY)).await;
    publish_jobs(&broker, Queue::Database, 0..1).await;

    let mut worker = broker.consumer(Queue::Database, "worker", 1).await.unwrap();
    let mut rival = broker.consumer(Queue::Database, "rival", 1).await.unwrap();
    let long_job = expect_next(&mut worker, WAIT).await;
    let started = Instant::now();
    let heartbeat = tokio::spawn(async move {
        while started.elapsed() < SHORT_VISIBILITY * 3 {
            tokio::time::sleep(SHORT_VISIBILITY / 4).await;
            long_job.extend().await.unwrap();
        }
        long_job
    });
    assert!(
        next_within(&mut rival, SHORT_VISIBILITY * 3)
            .await
            .is_none(),
        "a job that extends its claim is not handed to anyone else"
    );
    let long_job = heartbeat.await.unwrap();
    assert!(started.elapsed() > SHORT_VISIBILITY * 2);
    long_job.ack().await.unwrap();
    assert!(next_within(&mut rival, SHORT_VISIBILITY * 2)
        .await
        .is_none());

    // Without extending, the claim expires and a rival takes over. (A fresh
    // rival: the old one may still have a read under way, which could win
    // the next message outright.)
    drop(rival);
    let mut rival = broker.consumer(Queue::Database, "rival2", 1).await.unwrap();
    publish_jobs(&broker, Queue::Database, 1..2).await;
    let stalled = expect_next(&mut worker, WAIT).await;
    assert_eq!(stalled.envelope().attempt, 1);
    let taken_over = expect_next(&mut rival, WAIT).await;
    assert_eq!(taken_over.envelope().id, stalled.envelope().id);
    assert_eq!(taken_over.envelope().attempt, 2);
    assert!(matches!(
        stalled.extend().await,
        Err(BrokerError::Lost { .. })
    ));
    let retried = stalled.retry(Duration::ZERO, "stalled").await;
    assert!(
        matches!(retried, Err(BrokerError::Lost { .. })),
        "{retried:?}"
    );
    taken_over.ack().await.unwrap();
    let stats = broker.queue_stats(Queue::Database).await.unwrap();
    assert_eq!(
        (stats.depth, stats.in_flight, stats.delayed),
        (0, Some(0), 0)
    );
}

on_backends!(a_job_larger_than_a_frame_round_trips: inprocess, redis, amqp);
/// AMQP connections ask for 16 KiB frames unless the URL says otherwise: a
/// job of many rules (here ~150 KiB of JSON) travels in several frames and
/// arrives whole.
async fn a_job_larger_than_a_frame_round_trips(backend: Backend) {
    let broker = open(backend, |c| c).await;
    let mut job = common::job(7);
    let template = job.runs.clone();
    for i in 0..200 {
        job.runs.extend(template.iter().map(|run| {
            let mut run = run.clone();
            run.run_id = dq_core::RunId::for_tick(
                &run.rule.name,
                job.scheduled_for + chrono::Duration::seconds(i + 1),
            );
            run
        }));
    }
    let envelope = broker.envelope(Queue::Database, job);
    let size = envelope.encode().unwrap().len();
    assert!(size > 100 * 1024, "the envelope is only {size} bytes");
    broker.publish(&envelope).await.unwrap();

    let mut consumer = broker.consumer(Queue::Database, "big", 1).await.unwrap();
    let delivery = expect_next(&mut consumer, WAIT).await;
    assert_eq!(delivery.envelope(), &envelope, "{size} bytes, intact");
    delivery.ack().await.unwrap();
}
