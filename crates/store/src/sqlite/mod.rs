//! The SQLite backend: connections and the pool (`pool.rs`), migrations
//! (`migrator.rs`), how values sit in SQLite columns (`codec.rs`), and here
//! the SQL only SQLite speaks. The queries themselves are shared
//! (`crate::tables`); the PostgreSQL backend has the same files.
//!
//! Every write transaction starts with `BEGIN IMMEDIATE`: it takes the write
//! lock up front, so a transaction that reads then writes waits on
//! `busy_timeout` instead of failing when another writer got in between. It
//! also makes concurrent loads take turns, with no lock of their own.

mod codec;
mod migrator;
mod pool;

use sqlx::sqlite::SqliteRow;
use sqlx::{Executor, Sqlite, SqliteConnection};

use crate::sql::{bound, Dialect, Statement};

pub(crate) use migrator::{migrate, MIGRATOR};
pub(crate) use pool::{connect, url_is_supported};

/// Lists are bound as one JSON array and read back with `json_each`.
const IN_JSON_LIST: &str = " IN (SELECT value FROM json_each(";

impl Dialect for Sqlite {
    const BACKEND: &'static str = "sqlite";
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const LOCK_LOADS: Option<&'static str> = None;
    const SELECT_TOUCHED_RULES: &'static str =
        "SELECT id, name, enabled, source, definition, deleted_at FROM rules \
         WHERE source IN (SELECT value FROM json_each($1)) \
             OR name IN (SELECT value FROM json_each($2))";
    const SELECT_KNOWN_VIOLATIONS: &'static str =
        "SELECT id FROM violations WHERE id IN (SELECT value FROM json_each($1))";
    const ACKNOWLEDGE: &'static str = "UPDATE violations \
         SET acknowledged = TRUE, acknowledged_by = $2, acknowledged_at = $3, ack_note = $4, \
             ack_delay_ms = CAST(ROUND((julianday($3) - julianday(detected_at)) * 86400000.0) \
                 AS INTEGER) \
         WHERE acknowledged = FALSE AND id IN (SELECT value FROM json_each($1)) \
         RETURNING id";
    // No row locks: BEGIN IMMEDIATE already keeps every other writer out
    // until the fenced transaction ends.
    const SELECT_CURRENT_LEASE: &'static str = "SELECT token FROM leases \
         WHERE name = $1 AND owner = $2 AND token = $3 AND expires_at > $4";
    const MARK_ENQUEUED: &'static str = "UPDATE runs SET enqueued_at = $2 \
         WHERE enqueued_at IS NULL AND id IN (SELECT value FROM json_each($1))";
    const START_RUNS: &'static str = "UPDATE runs \
         SET status = 'RUNNING', worker = $2, attempt = $3, started_at = $4 \
         WHERE status IN ('PENDING', 'RUNNING') AND id IN (SELECT value FROM json_each($1)) \
         RETURNING id";
    const REOPEN_RUNS: &'static str = "UPDATE runs \
         SET status = 'PENDING', finished_at = NULL, error = NULL, retriable = FALSE \
         WHERE status IN ('ERROR', 'TIMEOUT') AND retriable AND id IN (SELECT value FROM json_each($1)) \
         RETURNING id";
    const LOCK_ALERT_PLANNING: Option<&'static str> = None;
    const SELECT_OPEN_BATCH: &'static str = "SELECT id FROM alert_deliveries \
         WHERE state = 'PENDING' AND attempts = 0 AND channel = $1 AND batch_key = $2 \
             AND due_at > $3 \
         ORDER BY id DESC LIMIT 1";
    const SELECT_DUE_DELIVERIES: &'static str = "SELECT id FROM alert_deliveries \
         WHERE state = 'PENDING' AND due_at <= $1 ORDER BY due_at, id LIMIT $2";
    const IN_LIST: (&'static str, &'static str) = (IN_JSON_LIST, "))");
    const HAS_TAG: (&'static str, &'static str) = (
        "EXISTS (SELECT 1 FROM json_each(rules.tags) WHERE json_each.value = ",
        ")",
    );
    // Freed pages are reused by later inserts; shrinking the file takes a
    // VACUUM, which rewrites it whole and is left to the operator.
    const TIDY_AFTER_CLEANUP: &'static str = "PRAGMA optimize";

    async fn execute(conn: &mut SqliteConnection, statement: Statement) -> sqlx::Result<u64> {
        let done = conn.execute(bound::<Sqlite>(statement)).await?;
        Ok(done.rows_affected())
    }

    async fn fetch(
        conn: &mut SqliteConnection,
        statement: Statement,
    ) -> sqlx::Result<Vec<SqliteRow>> {
        conn.fetch_all(bound::<Sqlite>(statement)).await
    }
}
