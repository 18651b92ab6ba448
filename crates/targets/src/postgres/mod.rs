//! The PostgreSQL backend: one small pool per target, queries generated in
//! `sql`, the fused scan in `scan`, failing-row samples in `samples`, rows
//! turned into JSON in `rows`.
//!
//! Every statement runs in a read-only transaction whose
//! `statement_timeout` is the rule's timeout: the server itself refuses
//! writes (even from functions that slip past screening) and stops runaway
//! queries, so a timeout is more than the client giving up on a future.

mod connect;
mod rows;
mod samples;
mod scan;
pub(crate) mod sql;

use std::sync::Arc;
use std::time::Duration;

use dq_core::Tuning;
use sqlx::postgres::{PgPool, Postgres};
use sqlx::{AssertSqlSafe, Transaction};

use crate::backend::Backend;
use crate::error::{Context, TargetError};
use crate::stats::{QueryCounters, QueryKind, QueryStats};

pub(crate) use connect::{connect, is_postgres_url};

/// How long past a statement's own timeout the client waits before giving
/// up on it: long enough for the server's cancellation to arrive first
/// (which leaves the connection clean), short enough to catch a hung network.
const CLIENT_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub struct PostgresTarget {
    name: String,
    /// The URL with its password masked.
    url: String,
    pool: PgPool,
    counters: Arc<QueryCounters>,
}

impl PostgresTarget {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server URL, password masked.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn query_stats(&self) -> QueryStats {
        self.counters.snapshot()
    }

    pub(crate) fn record(&self, kind: QueryKind) {
        self.counters.record(kind);
    }

    /// The pool, for `health`.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool; queries after this fail with a connection error.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A read-only transaction whose statements are each cancelled by the
    /// server after `timeout`. Repeatable read, so the catalogue, the fused
    /// scan and the duplicate counts of one scan see the same snapshot.
    /// Custom plans are forced so bound values plan like the literals of a
    /// hand-written query (a cutoff's selectivity, a numeric bound folded
    /// to a constant instead of converted on every row). UTC, so naive
    /// timestamps and ISO text read as UTC (as on SQLite) and sample rows
    /// show `+00:00` whatever the server's default zone.
    pub(crate) async fn begin(
        &self,
        timeout: Duration,
        context: Context<'_>,
    ) -> Result<Transaction<'static, Postgres>, TargetError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| self.map_error(e, context, timeout))?;
        // Only a number we format enters this text.
        let settings = format!(
            "SET LOCAL statement_timeout = {}; \
             SET LOCAL plan_cache_mode = force_custom_plan; \
             SET LOCAL TimeZone = 'UTC'",
            // 0 would mean no timeout; PostgreSQL takes at most i32::MAX ms.
            timeout.as_millis().clamp(1, i32::MAX as u128)
        );
        sqlx::raw_sql(AssertSqlSafe(settings))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_error(e, context, timeout))?;
        Ok(tx)
    }

    /// The rules' tuning, for the rest of `tx`: `parallel_degree` is
    /// `max_parallel_workers_per_gather` (a hint would need pg_hint_plan,
    /// which dq does not assume: `query_hint` is ignored here).
    pub(crate) async fn tune(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        tuning: &Tuning,
        context: Context<'_>,
        timeout: Duration,
    ) -> Result<(), TargetError> {
        let Some(degree) = tuning.parallel_degree else {
            return Ok(());
        };
        // Only a number we format enters this text.
        let setting = format!("SET LOCAL max_parallel_workers_per_gather = {degree}");
        sqlx::raw_sql(AssertSqlSafe(setting))
            .execute(&mut **tx)
            .await
            .map_err(|e| self.map_error(e, context, timeout))?;
        Ok(())
    }

    fn connect_error(&self, cause: String) -> TargetError {
        TargetError::Connect {
            target: self.name.clone(),
            cause: format!("{}: {cause}", self.url),
        }
    }

    /// Maps a driver error onto what a person can act on, by SQLSTATE.
    pub(crate) fn map_error(
        &self,
        e: sqlx::Error,
        context: Context<'_>,
        timeout: Duration,
    ) -> TargetError {
        let db = match e {
            sqlx::Error::Database(db) => db,
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed => return self.connect_error(e.to_string()),
            other => return TargetError::query(other.to_string()),
        };
        let code = db.code().map(|c| c.to_string()).unwrap_or_default();
        let message = db.message().to_string();
        match (code.as_str(), context) {
            // 57014 is also an operator's pg_cancel_backend: only ours is a timeout.
            ("57014", _) if message.contains("statement timeout") => {
                TargetError::Timeout { after: timeout }
            }
            (c, _) if is_connection_state(c) => self.connect_error(message),
            ("25006", _) => {
                TargetError::query(format!("refused: checks run read-only ({message})"))
            }
            ("2201B", _) => TargetError::query(format!(
                "{message}: the pattern is not a valid regular expression"
            )),
            ("42P01" | "3F000", Context::Dataset(dataset)) => TargetError::DatasetNotFound {
                dataset: dataset.to_string(),
                target: self.name.clone(),
            },
            _ => TargetError::query(message),
        }
    }
}

impl Backend for PostgresTarget {
    type Dialect = sql::PostgresDialect;

    /// The server cancels a statement after `timeout`; the client waits a
    /// little longer, to catch a hung network.
    fn client_timeout(timeout: Duration) -> Duration {
        timeout + CLIENT_GRACE
    }
}

/// SQLSTATEs after which the server or the session is gone, or was never
/// reached: connection exceptions, failed authentication, an unknown
/// database, too many connections, a server shutting down.
fn is_connection_state(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("28")
        || code.starts_with("57P")
        || matches!(code, "3D000" | "53300")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_states() {
        for (code, connection) in [
            ("08006", true),
            ("28P01", true),
            ("28000", true),
            ("3D000", true),
            ("53300", true),
            ("57P01", true),
            ("57014", false),
            ("25006", false),
            ("42P01", false),
        ] {
            assert_eq!(is_connection_state(code), connection, "{code}");
        }
    }
}
