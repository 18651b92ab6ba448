//! Shared test fixtures: real SQLite files in temp dirs and real PostgreSQL
//! schemas (`pg`), written through ordinary read-write connections, either
//! one as a [`Fixture`] for tests that run on both backends (`backend`),
//! and rules built the way validation would.
#![allow(dead_code)] // each test binary uses its own subset

mod backend;
pub mod pg;

#[allow(unused_imports)] // not every test binary has a test for both backends
pub(crate) use backend::on_each_backend;
#[allow(unused_imports)]
pub use backend::{Backend, Fixture};

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dq_core::{
    Bounds, Check, CustomSqlMode, Dataset, Identifier, Queue, Rule, RuleName, Schedule, Scope,
    Severity, Thresholds,
};
use dq_targets::{ExecuteOptions, Target};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{AssertSqlSafe, Row};
use tempfile::TempDir;

pub struct Db {
    _dir: TempDir,
    pub path: PathBuf,
    pub writer: SqlitePool,
}

impl Db {
    pub async fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .with_regexp();
        let writer = SqlitePool::connect_with(options).await.unwrap();
        Db {
            _dir: dir,
            path,
            writer,
        }
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    pub async fn target(&self) -> Target {
        Target::connect("local", &self.url()).await.unwrap()
    }

    pub async fn exec(&self, sql: &str) {
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&self.writer)
            .await
            .unwrap();
    }

    /// The first column of the one row a hand-written query returns.
    pub async fn number(&self, sql: &str) -> Option<f64> {
        let row = sqlx::query(AssertSqlSafe(sql.to_string()))
            .fetch_one(&self.writer)
            .await
            .unwrap();
        row.try_get_unchecked::<Option<f64>, _>(0).unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.writer)
            .await
            .unwrap();
        row.get(0)
    }
}

pub fn col(name: &str) -> Identifier {
    Identifier::new(name).unwrap()
}

pub fn rule(name: &str, dataset: &str, check: Check, fail: Bounds) -> Rule {
    Rule {
        name: RuleName::new(name).unwrap(),
        description: None,
        owner: None,
        tags: vec![],
        target: "local".into(),
        dataset: Dataset::parse(dataset).unwrap(),
        check,
        severity: Severity::High,
        thresholds: Thresholds::fail(fail),
        schedule: Schedule::new("0 * * * *", "UTC").unwrap(),
        queue: Queue::Database,
        enabled: true,
        scope: Scope::default(),
        timeout: Duration::from_secs(30),
        alert_cooldown_minutes: 60,
        shadow: false,
        parameters: Default::default(),
    }
}

/// A null_count rule on `column` of `dataset`.
pub fn null_count(name: &str, dataset: &str, column: &str, fail: Bounds) -> Rule {
    rule(
        name,
        dataset,
        Check::NullCount {
            column: col(column),
        },
        fail,
    )
}

/// A duplicate_count rule on `column` of `dataset`.
pub fn duplicate_count(name: &str, dataset: &str, column: &str, fail: Bounds) -> Rule {
    rule(
        name,
        dataset,
        Check::DuplicateCount {
            column: col(column),
        },
        fail,
    )
}

/// A custom_sql rule on `dataset`.
pub fn custom(name: &str, dataset: &str, sql: &str, mode: CustomSqlMode, fail: Bounds) -> Rule {
    rule(
        name,
        dataset,
        Check::CustomSql {
            sql: sql.into(),
            mode,
        },
        fail,
    )
}

pub fn bounds(min: Option<f64>, max: Option<f64>) -> Bounds {
    Bounds { min, max }
}

/// The one plan the rules make (they share target, dataset and scope).
pub fn single_plan<'r>(rules: &'r [Rule]) -> dq_core::ScanPlan<'r> {
    let refs: Vec<&Rule> = rules.iter().collect();
    let mut plans = dq_core::plan(&refs);
    assert_eq!(plans.len(), 1, "rules should share one scan");
    plans.remove(0)
}

pub fn options(now: DateTime<Utc>, sample_limit: usize) -> ExecuteOptions {
    ExecuteOptions { now, sample_limit }
}

/// The `orders` fixture: 1000 rows whose defects are known exactly.
pub mod orders {
    use super::*;

    pub const ROWS: u64 = 1000;
    /// ids 1..=7.
    pub const NULL_CUSTOMERS: u64 = 7;
    /// 5001 x3, 5002 x2, 5003 x2, 5004 x2 (ids 8..=16).
    pub const DUPLICATE_ROWS: u64 = 9;
    pub const DUPLICATE_VALUES: [i64; 4] = [5001, 5002, 5003, 5004];
    /// ids 20, 21, 22 (ids 23, 24 are NULL and never fail a regex).
    pub const BAD_EMAILS: u64 = 3;
    /// ids 30 (-5) and 31 (1500) outside [0, 1000]; id 32 is NULL.
    pub const OUT_OF_RANGE: u64 = 2;
    /// ids 40..=44 outside {paid, pending, shipped}; id 45 is NULL.
    pub const BAD_STATUSES: u64 = 5;
    /// ids 50..=55 outside length [3, 5]; id 56 is NULL.
    pub const BAD_LENGTHS: u64 = 6;
    /// Rows with region 'EU' (every fourth id).
    pub const EU_ROWS: u64 = 250;
    /// NULL customers in the EU (ids 4).
    pub const EU_NULL_CUSTOMERS: u64 = 1;
    /// Rows within one hour of the latest timestamp (ids 940..=1000).
    pub const LAST_HOUR_ROWS: u64 = 61;
    /// ... of which in the EU (940, 944, ..., 1000).
    pub const LAST_HOUR_EU_ROWS: u64 = 16;

    /// The latest `updated_at`: row 1000, stored as 'T...Z' text.
    pub fn max_timestamp() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 30, 12, 0, 0).unwrap()
    }

    pub const ACCEPTED: [&str; 3] = ["paid", "pending", "shipped"];

    /// The table's columns, in order.
    pub const COLUMNS: [&str; 8] = [
        "id",
        "customer_id",
        "email",
        "amount",
        "status",
        "code",
        "region",
        "updated_at",
    ];

    /// One row of the fixture, as both the SQLite and the PostgreSQL
    /// loaders store it.
    pub struct Order {
        pub id: i64,
        pub customer_id: Option<i64>,
        pub email: Option<String>,
        pub amount: Option<f64>,
        pub status: Option<&'static str>,
        pub code: Option<String>,
        pub region: &'static str,
        /// (1000 - id) minutes before the max; NULL for ids 60..=62.
        pub updated_at: Option<DateTime<Utc>>,
    }

    pub fn order(id: i64) -> Order {
        Order {
            id,
            customer_id: match id {
                1..=7 => None,
                8..=10 => Some(5001),
                11..=12 => Some(5002),
                13..=14 => Some(5003),
                15..=16 => Some(5004),
                _ => Some(10_000 + id),
            },
            email: match id {
                20 => Some("not-an-email".to_string()),
                21 => Some("a@b".to_string()),
                22 => Some("x y@example.com".to_string()),
                23 | 24 => None,
                _ => Some(format!("user{id}@example.com")),
            },
            amount: match id {
                30 => Some(-5.0),
                31 => Some(1500.0),
                32 => None,
                _ => Some((id % 100) as f64 + 0.5),
            },
            status: match id {
                40 => Some("lost"),
                41 => Some("PAID"),
                42 => Some("refunded"),
                43 => Some("unknown"),
                44 => Some(""),
                45 => None,
                _ => Some(ACCEPTED[(id % 3) as usize]),
            },
            code: match id {
                50 => Some("ab".to_string()),
                51 => Some(String::new()),
                52 => Some("toolong".to_string()),
                53 => Some("x".to_string()),
                54 => Some("abcdef".to_string()),
                55 => Some("123456".to_string()),
                56 => None,
                _ => Some(format!("C{:03}", id % 1000)),
            },
            region: if id % 4 == 0 { "EU" } else { "US" },
            updated_at: if (60..=62).contains(&id) {
                None
            } else {
                Some(max_timestamp() - chrono::Duration::minutes(1000 - id))
            },
        }
    }

    pub fn all() -> impl Iterator<Item = Order> {
        (1..=ROWS as i64).map(order)
    }

    /// SQLite stores timestamps as people do: even ids ISO text with a
    /// space, odd ids Unix seconds, id 1000 'T...Z'.
    enum Ts {
        Text(String),
        Unix(i64),
    }

    fn sqlite_updated_at(order: &Order) -> Option<Ts> {
        let t = order.updated_at?;
        Some(if order.id == 1000 {
            Ts::Text(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        } else if order.id % 2 == 0 {
            Ts::Text(t.format("%Y-%m-%d %H:%M:%S").to_string())
        } else {
            Ts::Unix(t.timestamp())
        })
    }

    pub async fn create(db: &Db) {
        db.exec(
            "CREATE TABLE orders (
                id INTEGER PRIMARY KEY,
                customer_id INTEGER,
                email TEXT,
                amount REAL,
                status TEXT,
                code TEXT,
                region TEXT,
                updated_at TIMESTAMP
            )",
        )
        .await;
        let mut tx = db.writer.begin().await.unwrap();
        for order in all() {
            let query = sqlx::query(
                "INSERT INTO orders (id, customer_id, email, amount, status, code, region, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(order.id)
            .bind(order.customer_id)
            .bind(order.email.clone())
            .bind(order.amount)
            .bind(order.status)
            .bind(order.code.clone())
            .bind(order.region);
            let query = match sqlite_updated_at(&order) {
                None => query.bind(None::<i64>),
                Some(Ts::Text(t)) => query.bind(t),
                Some(Ts::Unix(t)) => query.bind(t),
            };
            query.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }

    pub async fn db() -> Db {
        let db = Db::new().await;
        create(&db).await;
        db
    }
}
