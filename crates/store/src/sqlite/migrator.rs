//! Schema migrations, embedded from `migrations/sqlite` at build time.

use sqlx::migrate::Migrator;
use sqlx::SqlitePool;

use crate::error::Result;

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

pub(crate) async fn migrate(pool: &SqlitePool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    // `run_direct` is what `Migrator::run` does once it has a connection; its
    // `Acquire` bound makes rustc unable to prove the future `Send` for every
    // lifetime, and then `Store::open` could not be spawned. (sqlx keeps
    // `run_direct` public for exactly this.)
    //
    // SQLite has no migration lock: two processes opening a fresh file at
    // once (beat and worker started together) can both try a migration, and
    // the loser fails on "table already exists" after its rollback. Running
    // again then sees the winner's work as applied. Each lost race means one
    // more migration applied, so one try per migration, plus one, suffices.
    let mut tries = MIGRATOR.iter().count();
    loop {
        match MIGRATOR.run_direct(None, &mut *conn, false).await {
            Err(_) if tries > 0 => tries -= 1,
            migrated => return Ok(migrated?),
        }
    }
}
