//! What `dq doctor` asks the store without changing it: opening it without
//! applying migrations (so a store left behind by an old version is seen as
//! such, not silently upgraded), which of the embedded migrations it has,
//! and its clock (to compare with the workers' and this host's).

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;

use crate::error::{Result, StoreError};
use crate::{postgres, sqlite, Backend, Store};

/// The store's migrations against those this build embeds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationStatus {
    /// Embedded versions, ascending.
    pub embedded: Vec<i64>,
    /// Versions recorded as applied successfully, ascending.
    pub applied: Vec<i64>,
    /// Embedded but not applied (or applied unsuccessfully): `dq migrate` applies them.
    pub pending: Vec<i64>,
    /// Applied but not embedded: a newer dq migrated this store.
    pub unknown: Vec<i64>,
    /// Applied, but the file embedded here differs from the one applied.
    pub changed: Vec<i64>,
}

impl MigrationStatus {
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty() && self.changed.is_empty()
    }
}

/// One row of sqlx's `_sqlx_migrations`.
type AppliedRow = (i64, bool, Vec<u8>);

impl Store {
    /// Connects like [`Store::open`] but applies no migration: for looking
    /// at a store as it is.
    pub async fn open_without_migrating(url: &str) -> Result<Self> {
        Store::connect(url).await
    }

    /// Which embedded migrations the store has applied. A store never
    /// migrated (no `_sqlx_migrations` table) has none.
    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        const APPLIED: &str = "SELECT version, success, checksum FROM _sqlx_migrations";
        let (migrator, applied): (&Migrator, Result<Vec<AppliedRow>>) = match &self.backend {
            Backend::Sqlite(pool) => {
                let exists: Option<i64> = sqlx::query_scalar(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
                )
                .fetch_optional(pool)
                .await?;
                let rows = match exists {
                    Some(_) => sqlx::query_as(APPLIED).fetch_all(pool).await,
                    None => Ok(Vec::new()),
                };
                (&sqlite::MIGRATOR, rows.map_err(StoreError::from))
            }
            Backend::Postgres(pool) => {
                let exists: Option<String> =
                    sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
                        .fetch_one(pool)
                        .await?;
                let rows = match exists {
                    Some(_) => sqlx::query_as(APPLIED).fetch_all(pool).await,
                    None => Ok(Vec::new()),
                };
                (&postgres::MIGRATOR, rows.map_err(StoreError::from))
            }
        };
        Ok(compare(migrator, &applied?))
    }

    /// The store's clock now (on SQLite, this host's: the file is local).
    pub async fn clock_now(&self) -> Result<DateTime<Utc>> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                let text: String =
                    sqlx::query_scalar("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
                        .fetch_one(pool)
                        .await?;
                text.parse()
                    .map_err(|e| StoreError::corrupt("the store's clock", e))
            }
            Backend::Postgres(pool) => Ok(sqlx::query_scalar("SELECT clock_timestamp()")
                .fetch_one(pool)
                .await?),
        }
    }
}

fn compare(migrator: &Migrator, applied: &[AppliedRow]) -> MigrationStatus {
    let mut status = MigrationStatus::default();
    for migration in migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
    {
        status.embedded.push(migration.version);
        match applied
            .iter()
            .find(|(version, ..)| *version == migration.version)
        {
            Some((_, true, checksum)) => {
                status.applied.push(migration.version);
                if checksum.as_slice() != &*migration.checksum {
                    status.changed.push(migration.version);
                }
            }
            _ => status.pending.push(migration.version),
        }
    }
    for (version, success, _) in applied {
        if *success && !status.embedded.contains(version) {
            status.applied.push(*version);
            status.unknown.push(*version);
        }
    }
    status.applied.sort_unstable();
    status
}
