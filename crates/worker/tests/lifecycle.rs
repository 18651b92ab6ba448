//! The worker as a service: group commit of results, graceful shutdown,
//! heartbeats.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{Fixture, Until};
use dq_core::{Queue, RunStatus};
use dq_worker::PoolKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_group_committed() {
    let f = Fixture::new().await;
    const JOBS: u32 = 200;
    for minute in 0..JOBS {
        f.publish(&["orders_not_empty"], minute, 3).await;
    }
    let mut config = f.config(PoolKind::Async, 16);
    config.batch_size = 50;
    config.batch_delay = Duration::from_millis(250);
    let summary = f
        .run(
            config,
            Until::Final(JOBS as usize),
            Duration::from_secs(120),
        )
        .await;

    assert_eq!(summary.runs_written, u64::from(JOBS));
    assert_eq!(summary.processed, u64::from(JOBS));
    assert!(
        (4..=10).contains(&summary.write_transactions),
        "200 runs in batches of 50: {} transactions",
        summary.write_transactions
    );
    let passed = f.final_runs().await;
    assert_eq!(passed.len(), JOBS as usize);
    assert!(passed.iter().all(|r| r.status == RunStatus::Passed));
    f.assert_queue_settled(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_jobs_finish_and_takes_no_more() {
    let f = Fixture::new().await;
    for minute in 0..5 {
        f.publish(&["orders_slow"], minute, 3).await;
    }
    let (stop, running) = f.start(f.config(PoolKind::Async, 3));
    f.wait_for_status(RunStatus::Running, 3, Duration::from_secs(30))
        .await;
    stop.send(true).unwrap();
    let summary = running.await.unwrap();

    assert_eq!(summary.processed, 3, "{summary:?}");
    assert_eq!(summary.abandoned, 0);
    let runs = f.all_runs().await;
    let count = |status| runs.iter().filter(|r| r.status == status).count();
    assert_eq!(
        count(RunStatus::Passed),
        3,
        "in-flight jobs completed: {runs:#?}"
    );
    assert_eq!(
        count(RunStatus::Pending),
        2,
        "no job taken after the signal"
    );
    let stats = f.broker.queue_stats(Queue::Database).await.unwrap();
    assert_eq!((stats.depth, stats.in_flight), (2, Some(0)), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_past_the_shutdown_deadline_are_left_for_redelivery() {
    let f = Fixture::new().await;
    f.publish(&["orders_endless"], 0, 3).await;
    let mut config = f.config(PoolKind::Async, 1);
    config.shutdown_deadline = Duration::from_millis(300);
    let (stop, running) = f.start(config);
    f.wait_for_status(RunStatus::Running, 1, Duration::from_secs(30))
        .await;
    let asked = std::time::Instant::now();
    stop.send(true).unwrap();
    let summary = running.await.unwrap();

    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(
        (summary.abandoned, summary.processed),
        (1, 0),
        "{summary:?}"
    );
    assert_eq!(
        f.run_of("orders_endless", 0).await.status,
        RunStatus::Running
    );
    let stats = f.broker.queue_stats(Queue::Database).await.unwrap();
    assert_eq!(
        stats.in_flight,
        Some(1),
        "unacked, so the broker delivers it again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_report_the_pool_and_its_counts() {
    let f = Fixture::new().await;
    let since = Utc::now() - chrono::Duration::seconds(1);
    let config = f.config(PoolKind::Threads, 3);
    let name = config.name.clone();
    let (stop, running) = f.start(config);

    // Beats come while the worker idles, each newer than the last.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        if let Some(hb) = f.store.workers(since).await.unwrap().into_iter().next() {
            if seen.last() != Some(&hb.seen_at) {
                seen.push(hb.seen_at);
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    for minute in 0..3 {
        f.publish(&["orders_not_empty"], minute, 3).await;
    }
    f.publish(&["ghost_not_empty"], 0, 3).await;
    f.wait_for_status(RunStatus::Passed, 3, Duration::from_secs(30))
        .await;
    f.wait_for_status(RunStatus::Error, 1, Duration::from_secs(30))
        .await;
    stop.send(true).unwrap();
    let summary = running.await.unwrap();

    let workers = f.store.workers(since).await.unwrap();
    assert_eq!(workers.len(), 1, "{workers:?}");
    let hb = &workers[0];
    assert_eq!(hb.worker, name);
    assert_eq!(hb.queue, Queue::Database);
    assert_eq!((hb.pool.as_str(), hb.concurrency), ("threads", 3));
    assert_eq!(
        (hb.processed, hb.failed),
        (4, 1),
        "the last beat has the final counts"
    );
    assert_eq!((summary.processed, summary.failed), (4, 1));
    assert!(
        hb.rss_bytes.is_some_and(|b| b > 1 << 20),
        "{:?}",
        hb.rss_bytes
    );
    assert!(hb.started_at <= hb.seen_at && hb.seen_at > seen[2]);
    assert_eq!(hb.version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_job_keeps_its_claim_on_the_message() {
    // Without `extend`, the broker would hand the message out again after
    // 300 ms, to this very worker (a slot is free), and run it twice.
    let broker = dq_broker::BrokerConfig::new("memory://")
        .with_visibility_timeout(Duration::from_millis(300));
    let f = Fixture::with_broker(broker).await;
    f.publish(&["orders_slow"], 0, 3).await;
    let began = std::time::Instant::now();
    let summary = f
        .run(
            f.config(PoolKind::Async, 2),
            Until::Final(1),
            Duration::from_secs(60),
        )
        .await;
    assert!(
        began.elapsed() > Duration::from_millis(600),
        "the job outlived the timeout twice"
    );

    let run = f.run_of("orders_slow", 0).await;
    assert_eq!(run.status, RunStatus::Passed);
    assert_eq!(run.attempt, 1, "never redelivered");
    assert_eq!(
        (summary.processed, summary.duplicates),
        (1, 0),
        "{summary:?}"
    );
    f.assert_queue_settled(0).await;
}
