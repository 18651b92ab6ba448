//! A real PostgreSQL for the tests: each test gets its own schema
//! (`dq_t_<created, hex>_<random hex>`), dropped with CASCADE when the guard
//! goes out of scope, even when the test panics; schemas left by a killed
//! run are swept by age when the next test starts. So tests run in
//! parallel and leave nothing behind.
//!
//! The server is `postgres://postgres@127.0.0.1:5432/test` unless
//! `DQ_TEST_POSTGRES_URL` says otherwise. It must be up (CI starts it with
//! scripts/services.sh): an unreachable server fails the test, naming
//! PostgreSQL, rather than skipping it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dq_targets::Target;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection};

use super::orders;

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const PREFIX: &str = "dq_t_";
/// A schema this old belongs to a run that was killed before its cleanup.
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

pub fn url() -> String {
    std::env::var("DQ_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// One test's schema on the test server, with a read-write pool for setup.
pub struct Schema {
    pub name: String,
    pub url: String,
    pub writer: PgPool,
}

impl Schema {
    pub async fn new() -> Schema {
        let url = url();
        // One direct connection first: it fails at once with the real cause,
        // where a pool retries a refused connection until its timeout.
        let unreachable = |e: sqlx::Error| -> ! {
            panic!(
                "PostgreSQL is not reachable at {url}: {e}. The PostgreSQL tests need it: \
                 start it with scripts/services.sh, or point DQ_TEST_POSTGRES_URL at one."
            )
        };
        match PgConnection::connect(&url).await {
            Ok(conn) => {
                let _ = conn.close().await;
            }
            Err(e) => unreachable(e),
        }
        let writer = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&url)
            .await
            .unwrap_or_else(|e| unreachable(e));
        sweep_leftovers(&writer).await;
        let name = format!("{PREFIX}{:x}_{}", unix_now(), random_hex());
        let schema = Schema { name, url, writer };
        schema
            .exec(&format!("CREATE SCHEMA \"{}\"", schema.name))
            .await;
        schema
    }

    /// A schema with the `orders` fixture in it.
    pub async fn with_orders() -> Schema {
        let schema = Schema::new().await;
        schema.create_orders("orders").await;
        schema
    }

    /// `<schema>.<table>`, as a rule's dataset.
    pub fn dataset(&self, table: &str) -> String {
        format!("{}.{table}", self.name)
    }

    pub async fn target(&self) -> Target {
        Target::connect("local", &self.url).await.unwrap()
    }

    /// Runs one or more statements (simple protocol) as the writer.
    pub async fn exec(&self, sql: &str) {
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&self.writer)
            .await
        {
            panic!("{sql}: {e}");
        }
    }

    /// The one value a hand-written query returns, as a float.
    pub async fn number(&self, sql: &str) -> Option<f64> {
        let wrapped = format!("SELECT (({sql}))::float8");
        match sqlx::query_scalar::<_, Option<f64>>(AssertSqlSafe(wrapped))
            .fetch_one(&self.writer)
            .await
        {
            Ok(v) => v,
            Err(e) => panic!("{sql}: {e}"),
        }
    }

    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM \"{}\".\"{table}\"", self.name);
        sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
            .fetch_one(&self.writer)
            .await
            .unwrap()
    }

    /// The `orders` fixture (the same rows as the SQLite one) as `table`,
    /// with PostgreSQL types: numeric amounts, timestamptz updates.
    pub async fn create_orders(&self, table: &str) {
        let s = &self.name;
        self.exec(&format!(
            "CREATE TABLE \"{s}\".\"{table}\" (
                id integer PRIMARY KEY,
                customer_id bigint,
                email text,
                amount numeric(10,2),
                status text,
                code varchar(10),
                region char(2),
                updated_at timestamptz
            )"
        ))
        .await;
        let rows: Vec<orders::Order> = orders::all().collect();
        let ids: Vec<i32> = rows.iter().map(|r| r.id as i32).collect();
        let customers: Vec<Option<i64>> = rows.iter().map(|r| r.customer_id).collect();
        let emails: Vec<Option<String>> = rows.iter().map(|r| r.email.clone()).collect();
        let amounts: Vec<Option<f64>> = rows.iter().map(|r| r.amount).collect();
        let statuses: Vec<Option<String>> =
            rows.iter().map(|r| r.status.map(str::to_string)).collect();
        let codes: Vec<Option<String>> = rows.iter().map(|r| r.code.clone()).collect();
        let regions: Vec<String> = rows.iter().map(|r| r.region.to_string()).collect();
        let updated: Vec<Option<chrono::DateTime<chrono::Utc>>> =
            rows.iter().map(|r| r.updated_at).collect();
        let insert = format!(
            "INSERT INTO \"{s}\".\"{table}\" \
             SELECT * FROM unnest($1::int4[], $2::int8[], $3::text[], $4::float8[]::numeric(10,2)[], \
                                  $5::text[], $6::text[], $7::text[], $8::timestamptz[])"
        );
        sqlx::query(AssertSqlSafe(insert))
            .bind(ids)
            .bind(customers)
            .bind(emails)
            .bind(amounts)
            .bind(statuses)
            .bind(codes)
            .bind(regions)
            .bind(updated)
            .execute(&self.writer)
            .await
            .unwrap();
        self.exec(&format!("ANALYZE \"{s}\".\"{table}\"")).await;
    }
}

impl Drop for Schema {
    /// Runs on a thread of its own with a small runtime: `Drop` cannot
    /// await, and the test's runtime may be the one unwinding.
    fn drop(&mut self) {
        let url = self.url.clone();
        let name = self.name.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&url).await?;
                drop_schema(&mut conn, &name).await
            })?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.name),
            Err(_) => eprintln!("cleanup of test schema {} panicked", self.name),
        }
    }
}

async fn drop_schema(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await?;
    Ok(())
}

/// Drops test schemas whose creation time (in their name) is over an hour
/// old: what a killed run could not clean up.
async fn sweep_leftovers(pool: &PgPool) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, 'dq_t_')",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    let now = unix_now();
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|hex| u64::from_str_radix(hex, 16).ok());
        if created.is_some_and(|t| now.saturating_sub(t) > LEFTOVER_AGE.as_secs()) {
            if let Ok(mut conn) = pool.acquire().await {
                let _ = drop_schema(&mut conn, &name).await;
            }
        }
    }
}
