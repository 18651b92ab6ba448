//! The SQLite backend. Each file holds one table's queries (`rules.rs`,
//! `runs.rs`, `violations.rs`, `metrics.rs`) or one piece of plumbing
//! (`pool.rs`, `migrator.rs`, `codec.rs`, `conditions.rs`); the PostgreSQL
//! backend uses the same names.
//!
//! Every write transaction starts with `BEGIN IMMEDIATE`: it takes the write
//! lock up front, so a transaction that reads then writes waits on
//! `busy_timeout` instead of failing when another writer got in between.

mod codec;
mod conditions;
mod metrics;
mod migrator;
mod pool;
mod rules;
mod runs;
mod violations;

use sqlx::SqlitePool;

use crate::error::Result;

#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    pool: SqlitePool,
}

const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

impl SqliteStore {
    pub(crate) fn url_is_supported(url: &str) -> bool {
        pool::url_is_supported(url)
    }

    pub(crate) async fn open(url: &str) -> Result<Self> {
        Ok(SqliteStore {
            pool: pool::connect(url).await?,
        })
    }

    pub(crate) async fn migrate(&self) -> Result<()> {
        migrator::migrate(&self.pool).await
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}
