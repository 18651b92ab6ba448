//! Connection options and the pool. Opening probes the server once, so a
//! store that cannot be reached fails at once with the reason and where it
//! looked (never the password), and checks that the URL's search_path (the
//! libpq `options=-csearch_path%3D...` parameter) names a schema that exists.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::error::{Result, StoreError};

const MAX_CONNECTIONS: u32 = 8;
/// How long a query waits for a free connection, and opening for the server.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn url_is_supported(url: &str) -> bool {
    (url.starts_with("postgres://") || url.starts_with("postgresql://"))
        && PgConnectOptions::from_str(url).is_ok()
}

pub(crate) async fn connect(url: &str) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("PostgreSQL store URL: {e}")))?;
    let place = place(&options);
    let mut probe = tokio::time::timeout(ACQUIRE_TIMEOUT, options.connect())
        .await
        .map_err(|_| cannot_connect(&place, sqlx::Error::Io(std::io::ErrorKind::TimedOut.into())))?
        .map_err(|e| cannot_connect(&place, e))?;
    let (schema, search_path): (Option<String>, String) =
        sqlx::query_as("SELECT current_schema(), current_setting('search_path')")
            .fetch_one(&mut probe)
            .await?;
    probe.close().await?;
    if schema.is_none() {
        return Err(StoreError::Invalid(format!(
            "the PostgreSQL store at {place} has no schema to use: none of its search_path \
             ({search_path}) exists; create the schema first"
        )));
    }
    Ok(PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options))
}

/// Where the store is, for messages: the URL without its password.
fn place(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => options.get_host().to_string(),
    };
    format!(
        "postgres://{}@{host}:{}/{}",
        options.get_username(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    )
}

/// A `Database` error that says which store could not be reached.
fn cannot_connect(place: &str, error: sqlx::Error) -> StoreError {
    let message = format!("cannot connect to the PostgreSQL store at {place}: {error}");
    StoreError::Database(match error {
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), message)),
        _ => sqlx::Error::Configuration(message.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_urls_and_where_they_point() {
        for (url, supported, shown) in [
            (
                "postgres://dq:s3cret@db.internal:6543/dq",
                true,
                Some("postgres://dq@db.internal:6543/dq"),
            ),
            (
                "postgresql://dq@localhost/dq?options=-csearch_path%3Ddq",
                true,
                Some("postgres://dq@localhost:5432/dq"),
            ),
            ("postgres://localhost:notaport/dq", false, None),
            ("sqlite://dq.db", false, None),
            ("mysql://localhost/dq", false, None),
        ] {
            assert_eq!(url_is_supported(url), supported, "{url}");
            if let Some(shown) = shown {
                let options = PgConnectOptions::from_str(url).unwrap();
                assert_eq!(place(&options), shown, "{url}");
            }
        }
        let options =
            PgConnectOptions::from_str("postgres://h/db?options=-csearch_path%3Ddq_a").unwrap();
        assert_eq!(options.get_options(), Some("-csearch_path=dq_a"));
    }
}
