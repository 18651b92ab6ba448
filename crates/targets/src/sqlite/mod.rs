//! The SQLite backend: a read-only pool per target, queries generated in
//! `sql`, the fused scan in `scan`, failing-row samples in `samples`.
//!
//! Runaway queries really stop: every connection handed out carries a
//! progress handler that interrupts SQLite's VM once the caller's deadline
//! has passed, so a timeout is more than the caller giving up on a future
//! while the worker thread keeps grinding.

mod connect;
mod rows;
mod samples;
mod scan;
pub(crate) mod sql;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqlitePool};

use crate::backend::Backend;
use crate::error::{Context, TargetError};
use crate::stats::{QueryCounters, QueryKind, QueryStats};

pub(crate) use connect::connect;

/// SQLite result codes (primary, the low byte of an extended code).
const SQLITE_BUSY: i32 = 5;
const SQLITE_READONLY: i32 = 8;
const SQLITE_INTERRUPT: i32 = 9;
const SQLITE_CANTOPEN: i32 = 14;
/// Extended code the REGEXP function returns for an invalid pattern.
const SQLITE_CONSTRAINT_FUNCTION: i32 = 19 | (4 << 8);

/// Virtual-machine steps between deadline checks: frequent enough to stop
/// within milliseconds, rare enough to cost nothing measurable.
const PROGRESS_STEPS: i32 = 10_000;

#[derive(Debug, Clone)]
pub struct SqliteTarget {
    name: String,
    path: PathBuf,
    pool: SqlitePool,
    counters: Arc<QueryCounters>,
}

impl SqliteTarget {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database file this target reads.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn query_stats(&self) -> QueryStats {
        self.counters.snapshot()
    }

    pub(crate) fn record(&self, kind: QueryKind) {
        self.counters.record(kind);
    }

    /// The read-only pool, for `health`.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool; queries after this fail with a connection error.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A pooled connection whose queries are interrupted after `timeout`.
    /// Re-armed on every checkout, so a connection that came back from a
    /// cancelled query carries no stale deadline.
    pub(crate) async fn acquire(
        &self,
        timeout: Duration,
    ) -> Result<PoolConnection<Sqlite>, TargetError> {
        let deadline = Instant::now() + timeout;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| self.connect_error(e))?;
        let mut handle = conn
            .lock_handle()
            .await
            .map_err(|e| self.connect_error(e))?;
        handle.set_progress_handler(PROGRESS_STEPS, move || Instant::now() < deadline);
        drop(handle);
        Ok(conn)
    }

    /// Takes the deadline off a connection going back to the pool in good
    /// order (a cancelled one is re-armed by the next `acquire`).
    pub(crate) async fn release(&self, mut conn: PoolConnection<Sqlite>) {
        if let Ok(mut handle) = conn.lock_handle().await {
            handle.remove_progress_handler();
        }
    }

    fn connect_error(&self, e: sqlx::Error) -> TargetError {
        TargetError::Connect {
            target: self.name.clone(),
            cause: e.to_string(),
        }
    }

    /// Maps a driver error onto what a person can act on.
    pub(crate) fn map_error(
        &self,
        e: sqlx::Error,
        context: Context<'_>,
        timeout: Duration,
    ) -> TargetError {
        match e {
            sqlx::Error::Database(db) => {
                let extended = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                let message = db.message().to_string();
                if extended == SQLITE_CONSTRAINT_FUNCTION {
                    return TargetError::query(format!(
                        "{message}: a function refused its arguments \
                         (for a regex check: the pattern is not a valid regular expression)"
                    ));
                }
                match (extended & 0xff, context) {
                    (SQLITE_INTERRUPT, _) => TargetError::Timeout { after: timeout },
                    (SQLITE_CANTOPEN, _) => TargetError::Connect {
                        target: self.name.clone(),
                        cause: message,
                    },
                    (SQLITE_READONLY, _) => {
                        TargetError::query(format!("refused: checks run read-only ({message})"))
                    }
                    (SQLITE_BUSY, _) => TargetError::query(format!(
                        "{message} (a writer held the database longer than the busy timeout)"
                    )),
                    (_, Context::Dataset(dataset))
                        if message.starts_with("no such table")
                            || message.starts_with("unknown database") =>
                    {
                        TargetError::DatasetNotFound {
                            dataset: dataset.to_string(),
                            target: self.name.clone(),
                        }
                    }
                    _ => TargetError::query(message),
                }
            }
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => self.connect_error(e),
            other => TargetError::query(other.to_string()),
        }
    }
}

impl Backend for SqliteTarget {
    type Dialect = sql::SqliteDialect;

    /// The progress handler stops a query at the deadline, so the client
    /// waits no longer than that.
    fn client_timeout(timeout: Duration) -> Duration {
        timeout
    }
}
