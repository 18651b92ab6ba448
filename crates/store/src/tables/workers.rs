//! The workers table: the last heartbeat of each worker process, for
//! `dq inspect` and health checks.

use chrono::{DateTime, Utc};
use sqlx::Pool;

use crate::error::{Result, StoreError};
use crate::model::WorkerHeartbeat;
use crate::sql::{self, Arg, Conditions, Dialect, Fields, Statement, StoredRow};

/// A heartbeat delayed past a newer one (a slow connection, a retry) must
/// not turn the counters back: only a newer `seen_at` overwrites.
const UPSERT: &str = "INSERT INTO workers (worker, queue, pool, concurrency, processed, failed, \
         rss_bytes, started_at, seen_at, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (worker) DO UPDATE SET queue = excluded.queue, pool = excluded.pool, \
         concurrency = excluded.concurrency, processed = excluded.processed, \
         failed = excluded.failed, rss_bytes = excluded.rss_bytes, \
         started_at = excluded.started_at, seen_at = excluded.seen_at, \
         version = excluded.version \
     WHERE workers.seen_at <= excluded.seen_at";

const SELECT_WORKERS: &str = "SELECT worker, queue, pool, concurrency, processed, failed, \
     rss_bytes, started_at, seen_at, version FROM workers";

pub(crate) async fn heartbeat<DB: Dialect>(pool: &Pool<DB>, hb: &WorkerHeartbeat) -> Result<()> {
    if hb.worker.trim().is_empty() {
        return Err(StoreError::Invalid(
            "a heartbeat must name its worker".to_string(),
        ));
    }
    let statement = Statement::new(UPSERT)
        .arg(hb.worker.as_str())
        .arg(hb.queue.as_str())
        .arg(hb.pool.as_str())
        .arg(i64::from(hb.concurrency))
        .arg(Arg::count(Some(hb.processed), "processed")?)
        .arg(Arg::count(Some(hb.failed), "failed")?)
        .arg(Arg::count(hb.rss_bytes, "rss_bytes")?)
        .arg(hb.started_at)
        .arg(hb.seen_at)
        .arg(hb.version.as_str());
    let mut tx = sql::begin_write(pool).await?;
    DB::execute(&mut tx, statement).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn seen_since<DB: Dialect>(
    pool: &Pool<DB>,
    since: DateTime<Utc>,
) -> Result<Vec<WorkerHeartbeat>> {
    let mut conditions = Conditions::<DB>::select(SELECT_WORKERS);
    conditions.bind("seen_at >= ", since, "");
    let rows = sql::fetch(pool, conditions.order_by("worker", None)).await?;
    rows.iter().map(worker_heartbeat).collect()
}

fn worker_heartbeat<R: StoredRow>(row: &R) -> Result<WorkerHeartbeat> {
    let (f, worker) = Fields::keyed_by_text(row, "worker", "worker")?;
    let required = |column: &str| f.count(column)?.ok_or_else(|| f.corrupt(column, "is NULL"));
    Ok(WorkerHeartbeat {
        worker,
        queue: f.parsed("queue")?,
        pool: f.text("pool")?,
        concurrency: f.convert("concurrency", u32::try_from(f.int("concurrency")?))?,
        processed: required("processed")?,
        failed: required("failed")?,
        rss_bytes: f.count("rss_bytes")?,
        started_at: f.time("started_at")?,
        seen_at: f.time("seen_at")?,
        version: f.text("version")?,
    })
}
