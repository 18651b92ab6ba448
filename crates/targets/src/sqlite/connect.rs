//! Opening a SQLite target: read-only at two levels (the file is opened
//! read-only, and `query_only` refuses writes even to temp tables), with the
//! REGEXP function that regex checks need.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::SqliteTarget;
use crate::error::TargetError;
use crate::stats::QueryCounters;

/// Checks on one target run a handful of queries at once; SQLite readers do
/// not block each other, but more connections only add file handles.
const MAX_CONNECTIONS: u32 = 4;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The file path in `sqlite://PATH` or `sqlite:PATH`; `None` when the URL is
/// not a SQLite one. `sqlite:///abs/path` gives `/abs/path`.
pub(crate) fn parse_url(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

pub(crate) async fn connect(name: &str, url: &str) -> Result<SqliteTarget, TargetError> {
    let path = parse_url(url).ok_or_else(|| TargetError::Unsupported {
        url: url.to_string(),
    })?;
    let connect_error = |cause: String| TargetError::Connect {
        target: name.to_string(),
        cause,
    };
    // Opening read-only never creates the file; checking first words the
    // error around the path instead of SQLite's "unable to open database".
    match tokio::fs::metadata(&path).await {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(connect_error(format!(
                "{} is not a database file",
                path.display()
            )))
        }
        Err(e) => {
            return Err(connect_error(format!(
                "database file {} cannot be read: {e}",
                path.display()
            )))
        }
    }
    let options = connect_options(&path);
    let pool = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| connect_error(format!("{}: {e}", path.display())))?;
    Ok(SqliteTarget {
        name: name.to_string(),
        path,
        pool,
        counters: Arc::new(QueryCounters::default()),
    })
}

fn connect_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false)
        .pragma("query_only", "ON")
        .with_regexp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for (url, path) in [
            ("sqlite://data/x.db", Some("data/x.db")),
            ("sqlite:///abs/x.db", Some("/abs/x.db")),
            ("sqlite:x.db", Some("x.db")),
            ("sqlite::memory:", None),
            ("sqlite://", None),
            ("postgres://localhost/db", None),
            ("x.db", None),
        ] {
            assert_eq!(parse_url(url), path.map(PathBuf::from), "{url}");
        }
    }

    /// The read-only guarantee does not rest on screening SQL: a write sent
    /// straight to the pool is refused and the data stays.
    #[tokio::test]
    async fn pool_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let rw = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let writer = sqlx::SqlitePool::connect_with(rw).await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&writer)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1), (2)")
            .execute(&writer)
            .await
            .unwrap();

        let url = format!("sqlite://{}", path.display());
        let target = connect("local", &url).await.unwrap();
        for write in [
            "DELETE FROM t",
            "INSERT INTO t VALUES (3)",
            "CREATE TEMP TABLE scratch (y)",
            "PRAGMA query_only = OFF; DELETE FROM t",
        ] {
            let result = sqlx::query(write).execute(&target.pool).await;
            assert!(result.is_err(), "{write} was allowed");
        }
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM t")
            .fetch_one(&writer)
            .await
            .unwrap();
        assert_eq!(n, 2);
    }
}
