//! Schema migrations, embedded from `migrations/postgres` at build time.

use sqlx::migrate::Migrator;
use sqlx::PgPool;

use crate::error::Result;

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

pub(crate) async fn migrate(pool: &PgPool) -> Result<()> {
    // sqlx migrates under a session-level advisory lock (keyed by the
    // database), so processes opening one store at once take turns and the
    // later ones find the work done. The lock belongs to the session: the
    // connection is closed afterwards, never returned to the pool, so even a
    // failed migration cannot leave it held. (`run_direct`: see the SQLite
    // migrator.)
    let mut conn = pool.acquire().await?;
    let migrated = MIGRATOR.run_direct(None, &mut *conn, false).await;
    let closed = conn.close().await;
    migrated?;
    Ok(closed?)
}
