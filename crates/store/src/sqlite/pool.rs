//! Connection options and the pool: WAL for concurrent readers, a busy
//! timeout so writers queue instead of failing, foreign keys enforced.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::error::{Result, StoreError};

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: u32 = 8;

pub(crate) fn url_is_supported(url: &str) -> bool {
    url.starts_with("sqlite:") && !database_part(url).is_empty()
}

/// The URL without its scheme and query string: a path or `:memory:`.
fn database_part(url: &str) -> &str {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    rest.split('?').next().unwrap_or_default()
}

fn is_in_memory(url: &str) -> bool {
    database_part(url) == ":memory:" || url.contains("mode=memory")
}

pub(crate) async fn connect(url: &str) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("store URL {url:?}: {e}")))?
        .create_if_missing(true)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    if is_in_memory(url) {
        // An in-memory database lives as long as one connection to it, and
        // shared-cache connections lock whole tables (no busy timeout): so
        // exactly one connection, never recycled.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        return Ok(pool);
    }
    if let Some(dir) = options.get_filename().parent() {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            return Err(StoreError::Invalid(format!(
                "store URL {url:?}: directory {} does not exist (create it first)",
                dir.display()
            )));
        }
    }
    let options = options
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable across application crashes in WAL mode; only a
        // power loss can drop the last commits.
        .synchronous(SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect_with(options)
        .await?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_urls() {
        for (url, supported, in_memory) in [
            ("sqlite://dq.db", true, false),
            ("sqlite:///var/lib/dq/dq.db", true, false),
            ("sqlite:dq.db", true, false),
            ("sqlite::memory:", true, true),
            ("sqlite://dq.db?mode=memory", true, true),
            ("sqlite://", false, false),
            ("sqlite:", false, false),
            ("postgres://localhost/dq", false, false),
            ("dq.db", false, false),
        ] {
            assert_eq!(url_is_supported(url), supported, "{url}");
            assert_eq!(is_in_memory(url), in_memory, "{url}");
        }
    }
}
