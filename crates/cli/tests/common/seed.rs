//! A store on SQLite or PostgreSQL for the report and cleanup tests: rules
//! loaded with `dq load`, then runs, violations and metrics written through
//! dq-store at times relative to now, as workers would have written them.
//! Included with `#[path]` next to `mod common`.

#![allow(dead_code)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_core::{RunStatus, Severity};
use dq_store::{MetricPoint, NewRun, NewViolation, Store, ViolationFilter};

use crate::common::postgres::PgSchema;
use crate::common::{Run, Scratch};

/// `on_each_backend!(test_fn, ...)`: a `sqlite` and a `postgres` test of
/// each `fn test_fn(backend: Backend)` in the including file.
macro_rules! on_each_backend {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[test]
            fn sqlite() {
                super::$test(super::Backend::Sqlite);
            }

            #[test]
            fn postgres() {
                super::$test(super::Backend::Postgres);
            }
        }
    )*};
}
pub(crate) use on_each_backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Three rules on target `shop`, on a schedule that never fires in a test.
pub const MANIFEST: &str = r#"version: 1
defaults:
  target: shop
  schedule: "0 0 1 1 *"
rules:
  - name: orders_fresh
    dataset: orders
    check: freshness
    column: created_at
    max_age: 2h
    severity: CRITICAL
  - name: orders_nulls
    dataset: orders
    check: null_count
    column: customer_id
    max: 0
    severity: HIGH
  - name: customers_volume
    dataset: customers
    check: row_count
    min: 1
    severity: LOW
"#;

/// One run to write: `ago` before now, with what it observed.
#[derive(Debug, Clone)]
pub struct SeedRun {
    pub rule: &'static str,
    pub ago: Duration,
    pub status: RunStatus,
    pub duration_ms: Option<u64>,
    pub observed: Option<f64>,
    /// A violation of this severity, detected 2 s after the tick.
    pub violation: Option<Severity>,
    /// Acknowledged this long after detection.
    pub acked_after: Option<Duration>,
    /// Metric points written with the run.
    pub metrics: usize,
}

impl SeedRun {
    pub fn new(rule: &'static str, ago: Duration, status: RunStatus) -> Self {
        SeedRun {
            rule,
            ago,
            status,
            duration_ms: None,
            observed: None,
            violation: None,
            acked_after: None,
            metrics: 0,
        }
    }
}

pub fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

pub fn days(n: u64) -> Duration {
    hours(n * 24)
}

pub struct Fixture {
    pub scratch: Scratch,
    /// The dq.toml path, for `--config`.
    pub config: String,
    pub url: String,
    pub now: DateTime<Utc>,
    _schema: Option<PgSchema>,
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

impl Fixture {
    /// A store on `backend`, dq.toml naming it (plus `extra` TOML), and
    /// [`MANIFEST`] loaded.
    pub fn new(backend: Backend, extra: &str) -> Self {
        let scratch = Scratch::new();
        let (url, schema) = match backend {
            Backend::Sqlite => ("sqlite://store.db".to_string(), None),
            Backend::Postgres => {
                let schema = PgSchema::new("dq_ops");
                (schema.url(), Some(schema))
            }
        };
        let config = scratch
            .write(
                "dq.toml",
                &format!("store = \"{url}\"\n[targets.shop]\nurl = \"sqlite://shop.db\"\n{extra}"),
            )
            .display()
            .to_string();
        scratch.write("rules.yaml", MANIFEST);
        let fixture = Fixture {
            url: match backend {
                Backend::Sqlite => format!("sqlite://{}", scratch.file("store.db").display()),
                Backend::Postgres => url,
            },
            scratch,
            config,
            now: Utc::now(),
            _schema: schema,
        };
        fixture.dq(&["load", "rules.yaml"]).assert_code(0);
        fixture
    }

    /// `dq --config dq.toml ARGS`.
    pub fn dq(&self, args: &[&str]) -> Run {
        let mut all = vec!["--config", self.config.as_str()];
        all.extend_from_slice(args);
        self.scratch.dq(&all)
    }

    pub fn store(&self) -> Store {
        block_on(Store::open(&self.url)).expect("open the store")
    }

    /// Writes `runs` as finished runs, with their violations, metrics and
    /// acknowledgements.
    pub fn seed(&self, runs: &[SeedRun]) {
        let url = self.url.clone();
        let now = self.now;
        let runs = runs.to_vec();
        block_on(async move {
            let store = Store::open(&url).await.expect("open the store");
            for seed in &runs {
                write(&store, seed, now).await;
            }
            store.close().await;
        });
    }

    /// Rows in `table`, read through a connection of its own.
    pub fn count(&self, table: &str) -> i64 {
        let url = self.url.clone();
        let sql = format!("SELECT COUNT(*) FROM {table}");
        block_on(async move {
            let sql = sqlx::AssertSqlSafe(sql);
            if url.starts_with("sqlite:") {
                let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
                sqlx::query_scalar(sql).fetch_one(&pool).await
            } else {
                let pool = sqlx::PgPool::connect(&url).await.expect("connect");
                sqlx::query_scalar(sql).fetch_one(&pool).await
            }
            .expect("count")
        })
    }
}

async fn write(store: &Store, seed: &SeedRun, now: DateTime<Utc>) {
    let rule = store
        .rule_by_name(seed.rule)
        .await
        .expect("read rule")
        .unwrap_or_else(|| panic!("rule {} is not loaded", seed.rule))
        .rule;
    let at = now - chrono::Duration::from_std(seed.ago).expect("a short duration");
    let mut run = NewRun::for_rule(&rule, at, seed.status);
    run.started_at = Some(at);
    run.finished_at = Some(at + chrono::Duration::seconds(2));
    run.duration_ms = seed.duration_ms;
    run.observed_value = seed.observed;
    run.severity = seed.violation;
    run.message = format!("{} {:?} ago", seed.rule, seed.ago);
    let detected_at = at + chrono::Duration::seconds(2);
    let violation = seed.violation.map(|severity| NewViolation {
        severity,
        detected_at,
        message: format!("{} failed", seed.rule),
        observed_value: seed.observed,
        expected: String::new(),
        sample: vec![serde_json::json!({"id": 1})],
    });
    let metrics: Vec<MetricPoint> = (0..seed.metrics)
        .map(|i| MetricPoint {
            run_id: None,
            rule_id: None,
            target: rule.target.clone(),
            dataset: rule.dataset.to_string(),
            column: None,
            name: format!("metric_{i}"),
            value: i as f64,
            observed_at: at,
        })
        .collect();
    assert!(store
        .record_run(&run, violation.as_ref(), &metrics)
        .await
        .expect("record the run"));
    if let Some(after) = seed.acked_after {
        let filter = ViolationFilter {
            rule_names: vec![seed.rule.to_string()],
            ..ViolationFilter::default()
        };
        let id = store
            .violations(&filter)
            .await
            .expect("list violations")
            .iter()
            .find(|v| v.run_id == run.id)
            .expect("the run's violation")
            .id;
        let at = detected_at + chrono::Duration::from_std(after).expect("a short duration");
        store
            .acknowledge(&[id], "ana", None, at)
            .await
            .expect("acknowledge");
    }
}
