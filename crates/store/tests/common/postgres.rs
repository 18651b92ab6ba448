//! A PostgreSQL schema of its own per test: created empty, and dropped with
//! everything in it when the test ends, passed or panicked.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sqlx::{Connection, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test server: `DQ_TEST_POSTGRES_URL`, else the local CI one.
pub fn server_url() -> String {
    std::env::var("DQ_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

/// Connects to the test server, or fails the test saying why and where.
pub async fn connect_to_server() -> PgConnection {
    let url = server_url();
    let connecting = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&url));
    match connecting.await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "PostgreSQL test server at {url} is unreachable: {e}. \
             Start it (scripts/services.sh postgres) or set DQ_TEST_POSTGRES_URL."
        ),
        Err(_) => panic!(
            "PostgreSQL test server at {url} did not answer within 10 s. \
             Start it (scripts/services.sh postgres) or set DQ_TEST_POSTGRES_URL."
        ),
    }
}

fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
    hasher.write_u128(now.map(|d| d.as_nanos()).unwrap_or_default());
    format!("{:016x}", hasher.finish())
}

/// An empty schema `dq_s_<hex>`, dropped (CASCADE) when this is dropped.
pub struct Schema {
    pub name: String,
    /// A store URL whose connections use only this schema, and carry its
    /// name as application_name so the drop can end them.
    pub url: String,
}

impl Schema {
    pub async fn create() -> Schema {
        let name = format!("dq_s_{}", random_hex());
        let mut conn = connect_to_server().await;
        let sql = format!("CREATE SCHEMA {name}");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let server = server_url();
        let separator = if server.contains('?') { '&' } else { '?' };
        let url =
            format!("{server}{separator}options=-csearch_path%3D{name}&application_name={name}");
        Schema { name, url }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on;
        // a thread with its own small runtime does the work.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(drop_schema(&name))
                .map_err(|e| e.to_string())
        })
        .join();
        let failure = match dropped {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(_) => "the dropping thread panicked".to_string(),
        };
        if std::thread::panicking() {
            eprintln!("could not drop schema {}: {failure}", self.name);
        } else {
            panic!("could not drop schema {}: {failure}", self.name);
        }
    }
}

async fn drop_schema(name: &str) -> sqlx::Result<()> {
    let mut conn = PgConnection::connect(&server_url()).await?;
    // A store left mid-transaction by a panic would hold locks the drop
    // waits for: end its sessions first.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .execute(&mut conn)
    .await?;
    let sql = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await?;
    conn.close().await
}
