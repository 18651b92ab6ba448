//! Worker heartbeats: one row per worker, the newest heartbeat wins.

mod common;

use common::{on_each_backend, Backend};
use dq_core::Queue;
use dq_store::{StoreError, WorkerHeartbeat};

fn heartbeat(worker: &str, queue: Queue, minute: u32, processed: u64) -> WorkerHeartbeat {
    WorkerHeartbeat {
        worker: worker.to_string(),
        queue,
        pool: "async".to_string(),
        concurrency: 16,
        processed,
        failed: processed / 10,
        rss_bytes: None,
        started_at: common::at(0),
        seen_at: common::at(minute),
        version: "0.1.0".to_string(),
    }
}

async fn heartbeats_upsert_keep_the_newest_and_filter_by_seen_since(backend: Backend) {
    let t = common::open(backend).await;
    let mut big = heartbeat("h2:7:dq_memory", Queue::Memory, 1, u64::from(u32::MAX) + 5);
    big.pool = "process".to_string();
    big.rss_bytes = Some(3 << 30);
    let beats = [
        heartbeat("h1:42:dq_database", Queue::Database, 1, 0),
        big.clone(),
        heartbeat("h1:42:dq_database", Queue::Database, 3, 120),
        // Delayed past the one above: changes nothing.
        heartbeat("h1:42:dq_database", Queue::Database, 2, 60),
    ];
    for hb in &beats {
        t.store.heartbeat(hb).await.unwrap();
    }
    assert_eq!(t.count("workers").await, 2);

    let cases: Vec<(&str, u32, Vec<&WorkerHeartbeat>)> = vec![
        ("all, by name", 0, vec![&beats[2], &big]),
        ("since is inclusive", 1, vec![&beats[2], &big]),
        ("only the recent", 2, vec![&beats[2]]),
        ("none", 4, vec![]),
    ];
    for (label, since, expected) in cases {
        let seen = t.store.workers(common::at(since)).await.unwrap();
        let expected: Vec<WorkerHeartbeat> = expected.into_iter().cloned().collect();
        assert_eq!(seen, expected, "{label}");
    }

    let err = t
        .store
        .heartbeat(&heartbeat("", Queue::Compute, 5, 0))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let err = t
        .store
        .heartbeat(&heartbeat("h3:1:dq_compute", Queue::Compute, 5, u64::MAX))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("processed")),
        "{err}"
    );
    assert_eq!(t.count("workers").await, 2);
}

on_each_backend!(heartbeats_upsert_keep_the_newest_and_filter_by_seen_since);
