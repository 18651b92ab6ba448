//! `dq inspect targets`: is a datasource reachable, how fast does it
//! answer a ping, which server version is it, and how many connections
//! does it hold (PostgreSQL: `pg_stat_activity` by state; MongoDB:
//! `serverStatus` connections) — what the old runbook did with psql and
//! the mongo shell.

use std::time::{Duration, Instant};

use mongodb::bson::{doc, Document};
use sqlx::Row;

use crate::error::TargetError;
use crate::{MongoTarget, PostgresTarget, SqliteTarget, Target};

/// What one target said when asked.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetHealth {
    /// Round trip of the cheapest command (`SELECT 1`, `ping`).
    pub ping: Duration,
    /// The server's version, `-` when it does not say.
    pub version: String,
    /// Connections by state (`active`, `idle`, `current`, `available`...),
    /// empty where the engine has none to count (SQLite, no-op).
    pub connections: Vec<(String, u64)>,
}

impl Target {
    /// Pings the target and reads its version and connection counts. A
    /// target that does not answer is the error (retriable, as always).
    pub async fn health(&self) -> Result<TargetHealth, TargetError> {
        match self {
            Target::Sqlite(t) => sqlite(t).await,
            Target::Postgres(t) => postgres(t).await,
            Target::Mongo(t) => mongo(t).await,
            Target::Noop(_) => Ok(TargetHealth {
                ping: Duration::ZERO,
                version: "noop".into(),
                connections: Vec::new(),
            }),
        }
    }
}

fn query_error(e: impl ToString) -> TargetError {
    TargetError::query(e.to_string())
}

async fn sqlite(target: &SqliteTarget) -> Result<TargetHealth, TargetError> {
    let started = Instant::now();
    let row = sqlx::query("SELECT sqlite_version()")
        .fetch_one(target.pool())
        .await
        .map_err(query_error)?;
    let ping = started.elapsed();
    let version: String = row.try_get(0).map_err(query_error)?;
    Ok(TargetHealth {
        ping,
        version: format!("SQLite {version}"),
        connections: Vec::new(),
    })
}

async fn postgres(target: &PostgresTarget) -> Result<TargetHealth, TargetError> {
    let connect = |e: sqlx::Error| TargetError::Connect {
        target: target.name().to_string(),
        cause: format!("{}: {e}", target.url()),
    };
    let started = Instant::now();
    sqlx::query("SELECT 1")
        .execute(target.pool())
        .await
        .map_err(connect)?;
    let ping = started.elapsed();
    let row = sqlx::query("SELECT current_setting('server_version')")
        .fetch_one(target.pool())
        .await
        .map_err(query_error)?;
    let version: String = row.try_get(0).map_err(query_error)?;
    // Every backend of the server, as psql's runbook query counted them.
    let rows = sqlx::query(
        "SELECT coalesce(state, backend_type), count(*)::int8 FROM pg_stat_activity \
         GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(target.pool())
    .await
    .map_err(query_error)?;
    let mut connections = Vec::with_capacity(rows.len());
    for row in rows {
        let state: String = row.try_get(0).map_err(query_error)?;
        let count: i64 = row.try_get(1).map_err(query_error)?;
        connections.push((state, u64::try_from(count).unwrap_or(0)));
    }
    Ok(TargetHealth {
        ping,
        version: format!("PostgreSQL {version}"),
        connections,
    })
}

async fn mongo(target: &MongoTarget) -> Result<TargetHealth, TargetError> {
    let admin = target.admin();
    let timeout = Duration::from_secs(10);
    let error = |e| target.map_error(e, crate::error::Context::CustomSql, timeout);
    let started = Instant::now();
    admin.run_command(doc! { "ping": 1 }).await.map_err(error)?;
    let ping = started.elapsed();
    let version = match admin.run_command(doc! { "buildInfo": 1 }).await {
        Ok(info) => info.get_str("version").unwrap_or("-").to_string(),
        Err(_) => "-".to_string(),
    };
    // Servers that do not implement serverStatus still answer the rest.
    let connections = match admin.run_command(doc! { "serverStatus": 1 }).await {
        Ok(status) => status
            .get_document("connections")
            .map(connection_counts)
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    Ok(TargetHealth {
        ping,
        version: format!("MongoDB {version}"),
        connections,
    })
}

fn connection_counts(connections: &Document) -> Vec<(String, u64)> {
    connections
        .iter()
        .filter_map(|(key, value)| {
            let n = match value {
                mongodb::bson::Bson::Int32(i) => u64::try_from(*i).ok()?,
                mongodb::bson::Bson::Int64(i) => u64::try_from(*i).ok()?,
                mongodb::bson::Bson::Double(x) if *x >= 0.0 => *x as u64,
                _ => return None,
            };
            Some((key.clone(), n))
        })
        .collect()
}
