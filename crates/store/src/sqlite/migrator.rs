//! Schema migrations, embedded from `migrations/sqlite` at build time.

use sqlx::migrate::Migrator;
use sqlx::SqlitePool;

use crate::error::Result;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

pub(super) async fn migrate(pool: &SqlitePool) -> Result<()> {
    // SQLite has no migration lock: two processes opening a fresh file at
    // once (beat and worker started together) can both try a migration, and
    // the loser fails on "table already exists" after its rollback. Running
    // again then sees the winner's work as applied.
    if MIGRATOR.run(pool).await.is_err() {
        MIGRATOR.run(pool).await?;
    }
    Ok(())
}
