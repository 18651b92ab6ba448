//! The PostgreSQL backend: connections and the pool (`pool.rs`), migrations
//! (`migrator.rs`), how values sit in PostgreSQL columns (`codec.rs`), and
//! here the SQL only PostgreSQL speaks. The queries themselves are shared
//! (`crate::tables`); the SQLite backend has the same files.
//!
//! Write transactions run at READ COMMITTED. What SQLite gets from its one
//! writer at a time, PostgreSQL gets from: a transaction-level advisory lock
//! that makes loads take turns (each plans against what the previous one
//! wrote); the runs primary key, on which concurrent recordings of one run
//! wait, all but the first then inserting nothing; and row locks with
//! re-checked conditions for acknowledgements, so a first one stands.

mod codec;
mod migrator;
mod pool;

use sqlx::postgres::PgRow;
use sqlx::{Executor, PgConnection, Postgres};

use crate::sql::{bound, Dialect, Statement};

pub(crate) use migrator::migrate;
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
        "SELECT id, name, enabled, source, definition FROM rules \
         WHERE source = ANY($1) OR name = ANY($2)";
    const SELECT_KNOWN_VIOLATIONS: &'static str = "SELECT id FROM violations WHERE id = ANY($1)";
    const ACKNOWLEDGE: &'static str = "UPDATE violations \
         SET acknowledged = TRUE, acknowledged_by = $2, acknowledged_at = $3, ack_note = $4 \
         WHERE acknowledged = FALSE AND id = ANY($1) \
         RETURNING id";
    const IN_LIST: (&'static str, &'static str) = (" = ANY(", ")");
    const HAS_TAG: (&'static str, &'static str) = ("tags ? ", "");

    async fn execute(conn: &mut PgConnection, statement: Statement) -> sqlx::Result<u64> {
        let done = conn.execute(bound::<Postgres>(statement)).await?;
        Ok(done.rows_affected())
    }

    async fn fetch(conn: &mut PgConnection, statement: Statement) -> sqlx::Result<Vec<PgRow>> {
        conn.fetch_all(bound::<Postgres>(statement)).await
    }
}
