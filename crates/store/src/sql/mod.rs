//! What the shared queries ([`crate::tables`]) need from a database, and how
//! they run. A backend implements [`Codec`] (how timestamps, JSON and lists
//! sit in its columns) and [`Dialect`] (the few statements whose SQL differs,
//! how a write transaction begins, how a statement executes) for its sqlx
//! database type. Everything else, the statements, the transactions and the
//! mapping to records, is written once.
//!
//! Statements use `$1`-style placeholders: PostgreSQL's own, and numbered
//! parameters to SQLite, so one SQL text serves both.

mod conditions;
mod row;
mod statement;

use std::future::Future;

use chrono::{DateTime, Utc};
use sqlx::{Database, Pool, Transaction};

use crate::error::Result;

pub(crate) use conditions::Conditions;
pub(crate) use row::{Fields, StoredRow};
pub(crate) use statement::{bound, Arg, Statement};

/// A query on its way to a database, arguments bound so far.
pub(crate) type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as Database>::Arguments>;

/// The values whose column type differs between backends.
pub(crate) trait Codec: Database {
    fn bind_time(query: Query<'_, Self>, at: Option<DateTime<Utc>>) -> Query<'_, Self>;
    fn bind_json(query: Query<'_, Self>, value: Option<serde_json::Value>) -> Query<'_, Self>;
    /// A list compared with [`Dialect::IN_LIST`].
    fn bind_texts(query: Query<'_, Self>, values: Vec<String>) -> Query<'_, Self>;
    /// A list compared with [`Dialect::IN_LIST`].
    fn bind_ints(query: Query<'_, Self>, values: Vec<i64>) -> Query<'_, Self>;
    /// `Err` carries what is wrong with the stored value.
    fn read_time(row: &Self::Row, column: &str) -> Result<Option<DateTime<Utc>>, String>;
    fn read_json(row: &Self::Row, column: &str) -> Result<Option<serde_json::Value>, String>;
}

/// A backend's SQL dialect and executor.
pub(crate) trait Dialect: Codec + Database<Row: StoredRow> {
    /// What [`crate::Store::backend_name`] says.
    const BACKEND: &'static str;
    /// Starts every write transaction.
    const BEGIN_WRITE: &'static str;
    /// Run first in a load's transaction so that concurrent loads take
    /// turns; `None` where `BEGIN_WRITE` already excludes other writers.
    const LOCK_LOADS: Option<&'static str>;
    /// `$1`: the sources, `$2`: the rule names of a load (both lists).
    const SELECT_TOUCHED_RULES: &'static str;
    /// `$1`: violation ids (a list).
    const SELECT_KNOWN_VIOLATIONS: &'static str;
    /// `$1`: violation ids (a list), `$2` by, `$3` at, `$4` note; `RETURNING id`.
    /// Also stores the time from detection to acknowledgement (`ack_delay_ms`).
    const ACKNOWLEDGE: &'static str;
    /// `$1` name, `$2` owner, `$3` token, `$4` now: the lease's row while it
    /// is current, locked so that no acquisition commits before the
    /// transaction fenced by it does.
    const SELECT_CURRENT_LEASE: &'static str;
    /// `$1`: run ids (a list), `$2` at; only where `enqueued_at` is NULL.
    const MARK_ENQUEUED: &'static str;
    /// `$1`: run ids (a list), `$2` worker, `$3` attempt, `$4` at; only the
    /// runs still PENDING or RUNNING; `RETURNING id`.
    const START_RUNS: &'static str;
    /// ERROR/TIMEOUT runs marked retriable back to PENDING (a replayed dead letter); returns the ids.
    const REOPEN_RUNS: &'static str;
    /// Run first in an alert planning pass so that passes take turns;
    /// `None` where `BEGIN_WRITE` already excludes other writers.
    const LOCK_ALERT_PLANNING: Option<&'static str>;
    /// `$1` channel, `$2` batch key, `$3` now: the id of the delivery still
    /// collecting items under that key (PENDING, never attempted, due after
    /// now), locked against a concurrent claim.
    const SELECT_OPEN_BATCH: &'static str;
    /// `$1` now, `$2` limit: ids of PENDING deliveries due, oldest first,
    /// skipping those another transaction holds.
    const SELECT_DUE_DELIVERIES: &'static str;
    /// `column IN list` is `column`, `.0`, the list's placeholder, `.1`.
    const IN_LIST: (&'static str, &'static str);
    /// "the rule's tags hold this one": `.0`, the tag's placeholder, `.1`.
    const HAS_TAG: (&'static str, &'static str);
    /// Run after a cleanup deleted rows, outside any transaction: gives
    /// the space back for reuse and refreshes the planner's statistics.
    const TIDY_AFTER_CLEANUP: &'static str;

    /// Rows affected.
    fn execute(
        conn: &mut Self::Connection,
        statement: Statement,
    ) -> impl Future<Output = sqlx::Result<u64>> + Send;

    fn fetch(
        conn: &mut Self::Connection,
        statement: Statement,
    ) -> impl Future<Output = sqlx::Result<Vec<Self::Row>>> + Send;
}

/// A read outside any transaction.
pub(crate) async fn fetch<DB: Dialect>(
    pool: &Pool<DB>,
    statement: Statement,
) -> Result<Vec<DB::Row>> {
    let mut conn = pool.acquire().await?;
    Ok(DB::fetch(&mut conn, statement).await?)
}

pub(crate) async fn begin_write<DB: Dialect>(pool: &Pool<DB>) -> Result<Transaction<'static, DB>> {
    Ok(pool.begin_with(DB::BEGIN_WRITE).await?)
}
