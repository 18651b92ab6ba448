//! Opening a PostgreSQL target: the URL parsed (a bad one is a
//! configuration error, shown without its password), the server reached
//! once so an unreachable target fails at connect time with its real cause,
//! then a small lazy pool for the checks.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::Connection;

use super::PostgresTarget;
use crate::error::{redact_url, TargetError};
use crate::stats::QueryCounters;

/// Checks on one target run a handful of queries at once (a scan and a
/// custom query per plan); more connections would only compete for the
/// same disks and cores, and count against the server's `max_connections`.
const MAX_CONNECTIONS: u32 = 4;
/// Waiting longer for a connection than this means the server is in
/// trouble; the error says so (retriable) rather than hanging a worker.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections are given back to the server after a while.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

pub(crate) async fn connect(name: &str, url: &str) -> Result<PostgresTarget, TargetError> {
    let shown = redact_url(url);
    let scrub = |cause: String| scrub_password(&cause, url);
    let mut options = PgConnectOptions::from_str(url).map_err(|e| TargetError::InvalidUrl {
        target: name.to_string(),
        url: shown.clone(),
        cause: scrub(e.to_string()),
    })?;
    if options.get_application_name().is_none() {
        options = options.application_name("dq");
    }
    let connect_error = |cause: String| TargetError::Connect {
        target: name.to_string(),
        cause: format!("{shown}: {}", scrub(cause)),
    };
    // One direct connection, not the pool: the pool retries a refused
    // connection until its acquire timeout and then reports only that.
    let verify = async {
        let mut conn = PgConnection::connect_with(&options).await?;
        sqlx::query("SELECT 1").execute(&mut conn).await?;
        conn.close().await
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, verify).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(connect_error(cause(&e))),
        Err(_) => {
            return Err(connect_error(format!(
                "no answer within {}",
                crate::error::format_duration(CONNECT_TIMEOUT)
            )))
        }
    }
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .idle_timeout(IDLE_TIMEOUT)
        .connect_lazy_with(options);
    Ok(PostgresTarget {
        name: name.to_string(),
        url: shown,
        pool,
        counters: Arc::new(QueryCounters::default()),
    })
}

/// The server's own words for a database error (sqlx's display adds the
/// line of PostgreSQL's source that raised it), the driver's for the rest.
fn cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

/// Driver messages should never quote a password, but one that does must
/// not carry it into a run's error column.
fn scrub_password(cause: &str, url: &str) -> String {
    match password_of(url) {
        Some(p) if !p.is_empty() => cause.replace(&p, "***"),
        _ => cause.to_string(),
    }
}

/// The raw password in the user info of `url`, if any.
fn password_of(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    userinfo.split_once(':').map(|(_, p)| p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for (url, postgres) in [
            ("postgres://localhost/db", true),
            ("postgresql://u:p@localhost:5433/db?sslmode=disable", true),
            ("sqlite://x.db", false),
            ("postgres:/x", false),
            ("mysql://localhost/db", false),
        ] {
            assert_eq!(is_postgres_url(url), postgres, "{url}");
        }
    }

    #[test]
    fn passwords_are_scrubbed_from_causes() {
        let url = "postgres://dq:s3cret@db:5432/wh";
        assert_eq!(password_of(url).as_deref(), Some("s3cret"));
        assert_eq!(password_of("postgres://dq@db/wh"), None);
        assert_eq!(
            scrub_password("auth failed for dq:s3cret", url),
            "auth failed for dq:***"
        );
        assert_eq!(scrub_password("refused", "postgres://db/wh"), "refused");
    }

    #[tokio::test]
    async fn a_bad_url_is_a_configuration_error_without_the_password() {
        let error = connect("wh", "postgres://dq:s3cret@db:notaport/wh")
            .await
            .unwrap_err();
        assert!(matches!(error, TargetError::InvalidUrl { .. }), "{error:?}");
        assert!(!error.is_retriable());
        let message = error.to_string();
        assert!(!message.contains("s3cret"), "{message}");
        assert!(
            message.contains("postgres://dq:***@db:notaport/wh"),
            "{message}"
        );
    }
}
