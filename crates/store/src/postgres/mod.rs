//! The PostgreSQL backend: connections and the pool (`pool.rs`), migrations
//! (`migrator.rs`), how values sit in PostgreSQL columns (`codec.rs`), and
//! here the SQL only PostgreSQL speaks. The queries themselves are shared
//! (`crate::tables`); the SQLite backend has the same files.
//!
//! Write transactions run at READ COMMITTED. What SQLite gets from its one
//! writer at a time, PostgreSQL gets from: a transaction-level advisory lock
//! that makes loads take turns (each plans against what the previous one
//! wrote); the runs primary key, on which concurrent recordings of one run
//! wait, all but the first then inserting nothing; row locks with
//! re-checked conditions for acknowledgements and for finishing a run, so a
//! first one stands; and a share lock on the lease row for the length of a
//! write fenced by it, so a new leader's acquisition waits for that write.

mod codec;
mod migrator;
mod pool;

use sqlx::postgres::PgRow;
use sqlx::{Executor, PgConnection, Postgres};

use crate::sql::{bound, Dialect, Statement};

pub(crate) use migrator::{migrate, MIGRATOR};
pub(crate) use pool::{connect, url_is_supported};

impl Dialect for Postgres {
    const BACKEND: &'static str = "postgres";
    const BEGIN_WRITE: &'static str = "BEGIN";
    // Keyed by the rules table's oid: loads into one store take turns, stores
    // in other schemas of the same database do not wait on each other.
    const LOCK_LOADS: Option<&'static str> = Some(
        "SELECT pg_advisory_xact_lock(\
             hashtextextended('dq-store load ' || 'rules'::regclass::oid::text, 0))",
    );
    const SELECT_TOUCHED_RULES: &'static str =
        "SELECT id, name, enabled, source, definition, deleted_at FROM rules \
         WHERE source = ANY($1) OR name = ANY($2)";
    const SELECT_KNOWN_VIOLATIONS: &'static str = "SELECT id FROM violations WHERE id = ANY($1)";
    const ACKNOWLEDGE: &'static str = "UPDATE violations \
         SET acknowledged = TRUE, acknowledged_by = $2, acknowledged_at = $3, ack_note = $4, \
             ack_delay_ms = CAST(ROUND(EXTRACT(EPOCH FROM ($3 - detected_at)) * 1000) AS bigint) \
         WHERE acknowledged = FALSE AND id = ANY($1) \
         RETURNING id";
    // FOR SHARE: an acquisition by another owner waits until the fenced
    // transaction ends; one committed first makes this find no row.
    const SELECT_CURRENT_LEASE: &'static str = "SELECT token FROM leases \
         WHERE name = $1 AND owner = $2 AND token = $3 AND expires_at > $4 FOR SHARE";
    // These lock their rows in run-id order first, as batches of inserts
    // and finishes write them, so that a beat marking runs while a worker
    // finishes some cannot deadlock (a plain UPDATE locks in scan order).
    // The outer conditions are re-checked on the row as locked.
    // Each UPDATE names its ids twice: the outer `id = ANY($1)` makes the
    // primary key the only sensible plan even on a table never analysed (a
    // semi-join alone may be planned as a scan of every run); the inner
    // query locks the rows in id order, so overlapping batches cannot
    // deadlock.
    const MARK_ENQUEUED: &'static str = "UPDATE runs SET enqueued_at = $2 \
         WHERE id = ANY($1) AND enqueued_at IS NULL AND id IN (SELECT id FROM runs \
             WHERE enqueued_at IS NULL AND id = ANY($1) ORDER BY id FOR UPDATE)";
    const START_RUNS: &'static str = "UPDATE runs \
         SET status = 'RUNNING', worker = $2, attempt = $3, started_at = $4 \
         WHERE id = ANY($1) AND status IN ('PENDING', 'RUNNING') AND id IN (SELECT id FROM runs \
             WHERE status IN ('PENDING', 'RUNNING') AND id = ANY($1) ORDER BY id FOR UPDATE) \
         RETURNING id";
    const REOPEN_RUNS: &'static str = "UPDATE runs \
         SET status = 'PENDING', finished_at = NULL, error = NULL, retriable = FALSE \
         WHERE id = ANY($1) AND status IN ('ERROR', 'TIMEOUT') AND retriable \
             AND id IN (SELECT id FROM runs \
             WHERE id = ANY($1) ORDER BY id FOR UPDATE) \
         RETURNING id";
    // Keyed like LOCK_LOADS, by the outbox table's oid.
    const LOCK_ALERT_PLANNING: Option<&'static str> = Some(
        "SELECT pg_advisory_xact_lock(\
             hashtextextended('dq-store alerts ' || 'alert_outbox'::regclass::oid::text, 0))",
    );
    // FOR UPDATE: a dispatcher claiming this delivery waits until the item
    // is committed (and then sends it); one that claimed it first makes the
    // re-checked conditions fail, and the item starts a new delivery.
    const SELECT_OPEN_BATCH: &'static str = "SELECT id FROM alert_deliveries \
         WHERE state = 'PENDING' AND attempts = 0 AND channel = $1 AND batch_key = $2 \
             AND due_at > $3 \
         ORDER BY id DESC LIMIT 1 FOR UPDATE";
    // SKIP LOCKED: dispatchers claim different deliveries instead of queueing.
    const SELECT_DUE_DELIVERIES: &'static str = "SELECT id FROM alert_deliveries \
         WHERE state = 'PENDING' AND due_at <= $1 ORDER BY due_at, id LIMIT $2 \
         FOR UPDATE SKIP LOCKED";
    const IN_LIST: (&'static str, &'static str) = (" = ANY(", ")");
    const HAS_TAG: (&'static str, &'static str) = ("tags ? ", "");
    // The tables a cleanup deletes from (a plain VACUUM: no exclusive lock).
    const TIDY_AFTER_CLEANUP: &'static str = "VACUUM (ANALYZE) runs, violations, metrics, \
         alert_outbox, alert_deliveries, alert_attempts, alert_delivery_items";

    async fn execute(conn: &mut PgConnection, statement: Statement) -> sqlx::Result<u64> {
        let done = conn.execute(bound::<Postgres>(statement)).await?;
        Ok(done.rows_affected())
    }

    async fn fetch(conn: &mut PgConnection, statement: Statement) -> sqlx::Result<Vec<PgRow>> {
        conn.fetch_all(bound::<Postgres>(statement)).await
    }
}
