//! A PostgreSQL schema of the test's own, dropped when the test ends (even on
//! panic), so CLI tests against the real server run in parallel and leave
//! nothing behind.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Connection;

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn server_url() -> String {
    std::env::var("DQ_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

pub struct PgSchema {
    pub name: String,
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

fn execute(sql: String) {
    let url = server_url();
    block_on(async move {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL is not reachable at {url} ({e}); start it with scripts/services.sh")
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("schema statement");
    });
}

impl PgSchema {
    pub fn new(prefix: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!("{prefix}_{:x}_{}", nanos, std::process::id());
        execute(format!("CREATE SCHEMA \"{name}\""));
        PgSchema { name }
    }

    /// A URL whose connections use this schema (libpq `options`).
    pub fn url(&self) -> String {
        let base = server_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-csearch_path%3D{}", self.name)
    }

    /// Runs `sql` (any statements) on the server, outside the schema.
    pub fn execute(&self, sql: &str) {
        execute(sql.to_string());
    }

    pub fn query_i64(&self, sql: &str) -> i64 {
        let url = self.url();
        let sql = sql.to_string();
        block_on(async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut conn)
                .await
                .expect("query")
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        // A fresh thread: Drop may run inside a runtime (or while panicking).
        let _ = std::thread::spawn(move || execute(sql)).join();
    }
}
