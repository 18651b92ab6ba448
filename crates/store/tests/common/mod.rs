//! Shared fixtures: a store on either backend (a fresh SQLite file, or a
//! PostgreSQL schema of its own), rules and runs to put in it, and
//! [`on_each_backend!`], which runs one test body against both backends.
#![allow(dead_code)] // each test binary uses its own subset

pub mod postgres;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dq_core::{
    Bounds, Check, Dataset, Identifier, Queue, Rule, RuleName, RunStatus, Schedule, Scope,
    Severity, Thresholds,
};
use dq_store::{NewRun, NewViolation, Store};
use sqlx::{PgPool, SqlitePool};
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// For each test function named (an `async fn(Backend)`), a module of that
/// name with two tests, `sqlite` and `postgres`, running it on each backend.
#[allow(unused_macros)] // tests/postgres.rs has no test for both
macro_rules! on_each_backend {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$test($crate::common::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$test($crate::common::Backend::Postgres).await;
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use on_each_backend;

/// In a table of refused requests: whether the error is the expected one.
pub type Refusal = fn(&dq_store::StoreError) -> bool;

/// Where a store lives; dropping it removes the file or schema.
pub enum Place {
    Dir(TempDir),
    Schema(postgres::Schema),
}

/// A store URL on `backend` that nothing has opened yet.
pub async fn fresh(backend: Backend) -> (String, Place) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("dq.db").display());
            (url, Place::Dir(dir))
        }
        Backend::Postgres => {
            let schema = postgres::Schema::create().await;
            (schema.url.clone(), Place::Schema(schema))
        }
    }
}

pub struct TestStore {
    pub store: Store,
    pub url: String,
    pub backend: Backend,
    // Last: dropped after the store.
    _place: Place,
}

pub async fn open(backend: Backend) -> TestStore {
    let (url, place) = fresh(backend).await;
    let store = Store::open(&url).await.unwrap();
    TestStore {
        store,
        url,
        backend,
        _place: place,
    }
}

/// A store holding one rule, `rule(name, column)`, loaded from `m.yaml`.
pub async fn open_with_rule(backend: Backend, name: &str, column: &str) -> (TestStore, Rule) {
    let t = open(backend).await;
    let rule = rule(name, column);
    t.store
        .apply_load(std::slice::from_ref(&rule), "m.yaml")
        .await
        .unwrap();
    (t, rule)
}

/// A second, raw connection to the same store, to look under the API.
enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl TestStore {
    async fn raw(&self) -> Raw {
        match self.backend {
            Backend::Sqlite => Raw::Sqlite(SqlitePool::connect(&self.url).await.unwrap()),
            Backend::Postgres => Raw::Postgres(PgPool::connect(&self.url).await.unwrap()),
        }
    }

    /// Runs SQL that both backends understand, under the API.
    pub async fn execute(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self.raw().await {
            Raw::Sqlite(pool) => sqlx::query(sql).execute(&pool).await.map(drop),
            Raw::Postgres(pool) => sqlx::query(sql).execute(&pool).await.map(drop),
        }
        .unwrap();
    }

    async fn strings(&self, sql: &'static str) -> Vec<String> {
        match self.raw().await {
            Raw::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(&pool).await,
            Raw::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(&pool).await,
        }
        .unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        match self.raw().await {
            Raw::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await,
            Raw::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await,
        }
        .unwrap()
    }

    /// The store's tables, sqlx's own (`_sqlx_migrations`) left out, by name.
    pub async fn tables(&self) -> Vec<String> {
        self.strings(match self.backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
                 AND tablename NOT LIKE '\\_%' ORDER BY tablename"
            }
        })
        .await
    }

    /// The indexes the migration declares (not those behind a primary key or
    /// a UNIQUE column), as `table.index`, sorted.
    pub async fn indexes(&self) -> Vec<String> {
        self.strings(match self.backend {
            Backend::Sqlite => {
                "SELECT tbl_name || '.' || name FROM sqlite_master \
                 WHERE type = 'index' AND sql IS NOT NULL ORDER BY 1"
            }
            Backend::Postgres => {
                "SELECT tablename || '.' || indexname FROM pg_indexes \
                 WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_%' \
                 AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key' \
                 ORDER BY 1"
            }
        })
        .await
    }

    /// From now on, inserting a rule named `name` fails with "refused by the test".
    pub async fn refuse_rule_named(&self, name: &str) {
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        match self.backend {
            Backend::Sqlite => {
                self.execute(&format!(
                    "CREATE TRIGGER refuse_{name} BEFORE INSERT ON rules WHEN NEW.name = '{name}' \
                     BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                ))
                .await
            }
            Backend::Postgres => {
                self.execute(&format!(
                    "CREATE FUNCTION refuse_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN IF NEW.name = '{name}' THEN RAISE EXCEPTION 'refused by the test'; \
                     END IF; RETURN NEW; END $$"
                ))
                .await;
                self.execute(&format!(
                    "CREATE TRIGGER refuse_{name} BEFORE INSERT ON rules \
                     FOR EACH ROW EXECUTE FUNCTION refuse_{name}()"
                ))
                .await
            }
        }
    }
}

/// A null_count rule on public.orders.
pub fn rule(name: &str, column: &str) -> Rule {
    Rule {
        name: RuleName::new(name).unwrap(),
        description: None,
        owner: None,
        tags: Vec::new(),
        target: "warehouse".to_string(),
        dataset: Dataset::parse("public.orders").unwrap(),
        check: Check::NullCount {
            column: Identifier::new(column).unwrap(),
        },
        severity: Severity::High,
        thresholds: Thresholds::fail(Bounds::at_most(0.0)),
        schedule: Schedule::new("*/5 * * * *", "UTC").unwrap(),
        queue: Queue::Database,
        enabled: true,
        scope: Scope::default(),
        timeout: Duration::from_secs(300),
        alert_cooldown_minutes: 60,
        shadow: false,
        parameters: serde_json::Map::new(),
    }
}

pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 29, 10, minute, 0).unwrap()
}

pub fn run(rule: &Rule, minute: u32, status: RunStatus) -> NewRun {
    let mut run = NewRun::for_rule(rule, at(minute), status);
    run.started_at = Some(at(minute));
    run.finished_at = Some(at(minute) + chrono::Duration::seconds(2));
    run.observed_value = Some(3.0);
    run.expected = "<= 0".to_string();
    run.message = format!("{} at :{minute:02}", rule.name);
    run
}

pub fn violation(severity: Severity, minute: u32) -> NewViolation {
    NewViolation {
        severity,
        detected_at: at(minute) + chrono::Duration::seconds(2),
        message: "null_count 3 > 0".to_string(),
        observed_value: Some(3.0),
        expected: "<= 0".to_string(),
        sample: vec![serde_json::json!({"id": 7, "customer_id": null})],
    }
}

/// The `i`-th five-minute tick from `at(0)`: as many distinct ticks as needed.
pub fn tick(i: u32) -> DateTime<Utc> {
    at(0) + chrono::Duration::minutes(5 * i64::from(i))
}

/// The run of `rule` at tick `i`, as a beat enqueues it.
pub fn pending(rule: &Rule, i: u32) -> NewRun {
    NewRun::for_rule(rule, tick(i), RunStatus::Pending)
}

/// `run` as a worker finishes it: `status`, a message saying `by` whom.
pub fn finished(run: &NewRun, status: RunStatus, by: &str) -> NewRun {
    let mut done = run.clone();
    done.status = status;
    done.started_at = Some(run.scheduled_for);
    done.finished_at = Some(run.scheduled_for + chrono::Duration::seconds(2));
    done.observed_value = Some(3.0);
    done.expected = "<= 0".to_string();
    done.message = format!("finished by {by}");
    done
}
