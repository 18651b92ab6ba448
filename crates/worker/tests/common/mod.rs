//! Shared fixtures: a real SQLite store file, a real SQLite target file with
//! a small `orders` table (two NULL customer ids), rules loaded from a
//! manifest, jobs built and published the way the beat does, and a worker
//! run until every published run is final.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dq_broker::{Broker, BrokerConfig, Envelope, Job, JobRun};
use dq_core::manifest::{load_manifests, ManifestFile};
use dq_core::{Queue, Rule, RunId, RunStatus};
use dq_store::{NewRun, RunFilter, RunRecord, Store};
use dq_worker::{ChildCommand, PoolKind, RetryPolicy, Worker, WorkerConfig, WorkerSummary};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::AssertSqlSafe;
use tempfile::TempDir;

/// The target every fixture has; `gone` points at a file that does not exist.
pub const SHOP: &str = "shop";
pub const GONE: &str = "gone";

pub const MANIFEST: &str = r#"
version: 1
defaults:
  target: shop
  schedule: "*/5 * * * *"
rules:
  - name: orders_not_empty
    dataset: orders
    check: row_count
    min: 1
  - name: orders_customer_nulls
    dataset: orders
    check: null_count
    column: customer_id
    max: 0
    severity: HIGH
  - name: ghost_not_empty
    dataset: ghost
    check: row_count
    min: 1
  - name: gone_not_empty
    target: gone
    dataset: orders
    check: row_count
    min: 1
  - name: orders_memory_hog
    dataset: orders
    check: custom_sql
    mode: scalar
    sql: |
      WITH RECURSIVE r(i, s) AS (SELECT 1, '' UNION ALL
        SELECT i + 1, s || hex(randomblob(100000)) FROM r WHERE i < 10000)
      SELECT max(length(s)) FROM r
    max: 0
    timeout: 120s
  - name: orders_slow
    dataset: orders
    check: custom_sql
    mode: scalar
    sql: |
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000)
      SELECT count(*) FROM n
    min: 1
    timeout: 120s
  - name: orders_endless
    dataset: orders
    check: custom_sql
    mode: scalar
    sql: |
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
      SELECT count(*) FROM n
    max: 0
    timeout: 120s
"#;

pub struct Fixture {
    pub dir: TempDir,
    pub store: Store,
    pub broker: Broker,
    pub rules: BTreeMap<String, Rule>,
    pub targets: BTreeMap<String, String>,
}

impl Fixture {
    pub async fn new() -> Fixture {
        Fixture::with_broker(BrokerConfig::new("memory://")).await
    }

    pub async fn with_broker(config: BrokerConfig) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("shop.db");
        make_shop(&target).await;
        let store_url = format!("sqlite://{}", dir.path().join("dq.db").display());
        let store = Store::open(&store_url).await.unwrap();
        let rules = load_manifests(
            &[ManifestFile {
                path: "worker-test.yaml",
                text: MANIFEST,
            }],
            &|t| t == SHOP || t == GONE,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        store.apply_load(&rules, "worker-test.yaml").await.unwrap();
        let broker = Broker::connect(&config).await.unwrap_or_else(|e| {
            panic!("{}: {e}", service_name(&config.url));
        });
        let targets = BTreeMap::from([
            (SHOP.to_string(), format!("sqlite://{}", target.display())),
            (
                GONE.to_string(),
                format!("sqlite://{}", dir.path().join("missing.db").display()),
            ),
        ]);
        Fixture {
            dir,
            store,
            broker,
            rules: rules.into_iter().map(|r| (r.name.to_string(), r)).collect(),
            targets,
        }
    }

    pub fn rule(&self, name: &str) -> &Rule {
        &self.rules[name]
    }

    /// A worker config for tests: fast retries, short limits.
    pub fn config(&self, pool: PoolKind, concurrency: usize) -> WorkerConfig {
        let mut config = WorkerConfig::new(Queue::Database, pool);
        config.name = format!("test-host:{}:{}", std::process::id(), pool);
        config.concurrency = concurrency;
        config.retry = RetryPolicy {
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            factor: 2.0,
            jitter: true,
        };
        config.heartbeat_interval = Duration::from_millis(100);
        config.shutdown_deadline = Duration::from_secs(10);
        config.process.command = Some(child_command());
        config
    }

    /// Inserts the runs PENDING (as the beat does first), then publishes one
    /// job of `rules` (all on one dataset) at tick `minute`.
    pub async fn publish(&self, names: &[&str], minute: u32, max_attempts: u32) -> Envelope {
        let envelope = self.envelope(names, minute, max_attempts);
        let runs: Vec<NewRun> = envelope
            .job
            .runs
            .iter()
            .map(|r| {
                let mut run =
                    NewRun::for_rule(&r.rule, envelope.job.scheduled_for, RunStatus::Pending);
                run.queue = envelope.queue;
                run
            })
            .collect();
        self.store.enqueue_runs(None, &runs).await.unwrap();
        self.broker.publish(&envelope).await.unwrap();
        envelope
    }

    pub fn envelope(&self, names: &[&str], minute: u32, max_attempts: u32) -> Envelope {
        let at = tick(minute);
        let rules: Vec<&Rule> = names.iter().map(|n| self.rule(n)).collect();
        let job = Job {
            target: rules[0].target.clone(),
            dataset: rules[0].dataset.clone(),
            scheduled_for: at,
            runs: rules
                .iter()
                .map(|rule| JobRun {
                    run_id: RunId::for_tick(&rule.name, at),
                    rule: (*rule).clone(),
                })
                .collect(),
        };
        Envelope::new(Queue::Database, job, max_attempts)
    }

    /// Runs a worker until `until` holds (or `within` passes: a failure),
    /// then shuts it down and returns its summary.
    pub async fn run(&self, config: WorkerConfig, until: Until, within: Duration) -> WorkerSummary {
        let (stop, running) = self.start(config);
        let deadline = tokio::time::Instant::now() + within;
        while !self.holds(until).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{until:?} not reached after {within:?}: {:#?}",
                self.all_runs().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        running.await.unwrap()
    }

    /// Starts a worker; flip the sender to stop it.
    pub fn start(
        &self,
        config: WorkerConfig,
    ) -> (
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<WorkerSummary>,
    ) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker = Worker::new(
            config,
            self.store.clone(),
            self.broker.clone(),
            self.targets.clone(),
        )
        .unwrap();
        (stop, tokio::spawn(worker.run(stopped)))
    }

    /// Waits until `count` runs have `status`.
    pub async fn wait_for_status(&self, status: RunStatus, count: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let runs = self.all_runs().await;
            if runs.iter().filter(|r| r.status == status).count() >= count {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not {count} runs {status} after {within:?}: {runs:#?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn holds(&self, until: Until) -> bool {
        match until {
            Until::Final(runs) => self.final_runs().await.len() >= runs,
            Until::Settled => {
                let stats = self.broker.queue_stats(Queue::Database).await.unwrap();
                stats.depth == 0 && stats.delayed == 0 && stats.in_flight == Some(0)
            }
        }
    }

    pub async fn all_runs(&self) -> Vec<RunRecord> {
        self.store.runs(&RunFilter::default()).await.unwrap()
    }

    pub async fn final_runs(&self) -> Vec<RunRecord> {
        self.all_runs()
            .await
            .into_iter()
            .filter(|r| !matches!(r.status, RunStatus::Pending | RunStatus::Running))
            .collect()
    }

    pub async fn run_of(&self, name: &str, minute: u32) -> RunRecord {
        let id = RunId::for_tick(&self.rule(name).name, tick(minute));
        self.all_runs()
            .await
            .into_iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no run of {name} at minute {minute}"))
    }

    /// Nothing waiting, delayed, in flight; `dead` dead letters.
    pub async fn assert_queue_settled(&self, dead: u64) {
        let stats = self.broker.queue_stats(Queue::Database).await.unwrap();
        assert_eq!(stats.depth, 0, "{stats:?}");
        assert_eq!(stats.delayed, 0, "{stats:?}");
        assert!(matches!(stats.in_flight, Some(0) | None), "{stats:?}");
        assert_eq!(stats.dead, dead, "{stats:?}");
    }
}

/// When a test stops its worker.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// This many runs are final in the store.
    Final(usize),
    /// The in-process queue has nothing waiting, delayed or in flight.
    Settled,
}

pub fn tick(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(minute.into())
}

/// The process pool's child for tests: this crate's `dq-worker-child`.
pub fn child_command() -> ChildCommand {
    ChildCommand {
        program: PathBuf::from(env!("CARGO_BIN_EXE_dq-worker-child")),
        args: Vec::new(),
    }
}

fn service_name(url: &str) -> &'static str {
    if url.starts_with("redis") {
        "Redis at 127.0.0.1:6379 is unreachable (start redis-server)"
    } else if url.starts_with("amqp") {
        "RabbitMQ at 127.0.0.1:5672 is unreachable (start rabbitmq-server)"
    } else {
        "the broker"
    }
}

/// Ten orders, two of them without a customer.
async fn make_shop(path: &std::path::Path) {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    let mut sql = String::from(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL);\n",
    );
    for id in 1..=10 {
        let customer = if id % 5 == 0 {
            "NULL".to_string()
        } else {
            (100 + id).to_string()
        };
        sql.push_str(&format!(
            "INSERT INTO orders VALUES ({id}, {customer}, {}.5);\n",
            id * 10
        ));
    }
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}
