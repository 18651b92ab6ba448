//! The fleet benchmark's world: a PostgreSQL schema of its own for the
//! store, a broker prefix of its own, a dq.toml the worker processes read,
//! and N no-op rules, each on its own dataset so each tick is N jobs.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, DurationRound, Utc};
use dq_beat::{Beat, BeatConfig};
use dq_broker::{Broker, BrokerConfig};
use dq_core::manifest::{load_manifests, ManifestFile};
use dq_core::{Queue, Rule};
use dq_store::Store;
use sqlx::Connection;

use crate::config::redact;

pub const SCHEMA: &str = "dq_bench_fleet";
pub const PREFIX: &str = "dq_bench_fleet";
/// The trigger the latency phase listens to: a run turned final is
/// announced at its commit.
pub const CHANNEL: &str = "dq_bench_fleet_done";

/// Targets the rules can run on: instant, and a 10 ms wait standing for
/// an I/O-bound check pushed down to a database.
pub const TARGETS: [(&str, &str); 2] = [("noop", "noop://"), ("io10ms", "noop://?latency_ms=10")];

pub struct FleetEnv {
    pub server_url: String,
    pub store_url: String,
    pub broker_url: String,
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub broker: Broker,
    /// The benchmark's own reads of the store (one connection, kept: a
    /// connection per poll would cost the server a process each).
    sql: sqlx::PgPool,
}

impl FleetEnv {
    /// A fresh schema (dropped first if a previous run left it) and an
    /// empty prefix on `broker_url`.
    pub async fn create(server_url: &str, broker_url: &str) -> Result<FleetEnv> {
        let mut admin = sqlx::PgConnection::connect(server_url)
            .await
            .with_context(|| format!("cannot connect to {}", redact(server_url)))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}"
        )))
        .execute(&mut admin)
        .await
        .context("cannot create the benchmark schema")?;
        let sep = if server_url.contains('?') { '&' } else { '?' };
        let store_url = format!("{server_url}{sep}options=-csearch_path%3D{SCHEMA}");
        let store = Store::open(&store_url).await?;
        let sql = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&store_url)
            .await?;
        store.migrate().await?;

        // What an interrupted run left under the prefix goes first; the
        // second connection declares the queues afresh.
        Broker::connect(&broker_config(broker_url))
            .await?
            .teardown()
            .await?;
        let broker = Broker::connect(&broker_config(broker_url)).await?;
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let env = FleetEnv {
            server_url: server_url.to_string(),
            store_url,
            broker_url: broker_url.to_string(),
            dir,
            store,
            broker,
            sql,
        };
        std::fs::write(env.config_path(), env.config_toml())
            .context("cannot write the benchmark's dq.toml")?;
        Ok(env)
    }

    /// Keeps the directory (dq.toml, worker logs) for a look afterwards.
    pub fn keep_dir(self) -> PathBuf {
        self.dir.keep()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("dq.toml")
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    fn config_toml(&self) -> String {
        let mut toml = format!(
            "store = {:?}\n\n[broker]\nurl = {:?}\nprefix = {PREFIX:?}\n",
            self.store_url, self.broker_url
        );
        for (name, url) in TARGETS {
            toml.push_str(&format!("\n[targets.{name}]\nurl = {url:?}\n"));
        }
        toml
    }

    /// Loads `count` rules on `target`, replacing the previous set, and
    /// empties the runs and the queue so a scenario starts clean.
    pub async fn reset(&self, target: &str, count: usize) -> Result<Vec<Rule>> {
        let rules = rules(target, count)?;
        self.store
            .apply_loads(&[("bench".to_string(), rules.clone())])
            .await?;
        sqlx::raw_sql("TRUNCATE runs, violations, metrics, leases CASCADE")
            .execute(&self.sql)
            .await
            .context("cannot empty the benchmark's runs")?;
        for queue in Queue::ALL {
            self.broker.purge(queue).await?;
        }
        Ok(rules)
    }

    /// Enqueues one tick of every rule through a real beat (lease, rule
    /// load, run inserts, publish, mark enqueued); returns the runs
    /// enqueued and how long the enqueuing iteration took.
    pub async fn enqueue_tick(&self) -> Result<(u64, Duration)> {
        let mut config = BeatConfig::new("dq-bench");
        config.rules_refresh = Duration::from_secs(3600);
        let mut beat = Beat::new(self.store.clone(), self.broker.clone(), config);
        let t0: DateTime<Utc> = Utc::now().duration_trunc(chrono::Duration::seconds(1))?;
        // The first iteration takes the lease and loads the rules; their
        // first tick is the next second.
        beat.iterate(t0).await?;
        let started = std::time::Instant::now();
        beat.iterate(t0 + chrono::Duration::seconds(1)).await?;
        Ok((beat.stats().runs_enqueued, started.elapsed()))
    }

    /// Announces each run turned final at its commit, on [`CHANNEL`]. Only
    /// for the latency phase: a NOTIFY serialises commits, which the
    /// throughput phases must not pay.
    pub async fn notify_on_finish(&self) -> Result<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(notify_trigger()))
            .execute(&self.sql)
            .await
            .context("cannot create the benchmark's notify trigger")?;
        Ok(())
    }

    /// Runs of the current scenario that are final.
    pub async fn finished_runs(&self) -> Result<u64> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM runs WHERE status NOT IN ('PENDING', 'RUNNING')")
                .fetch_one(&self.sql)
                .await?;
        Ok(count.max(0) as u64)
    }

    /// Runs stored more than once or not PASSED: must be none.
    pub async fn anomalies(&self) -> Result<(u64, u64)> {
        let (not_passed, retried): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status <> 'PASSED'), count(*) FILTER (WHERE attempt > 1) FROM runs",
        )
        .fetch_one(&self.sql)
        .await?;
        Ok((not_passed.max(0) as u64, retried.max(0) as u64))
    }

    pub async fn drop_schema(&self) -> Result<()> {
        self.broker.teardown().await?;
        let mut admin = sqlx::PgConnection::connect(&self.server_url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"
        )))
        .execute(&mut admin)
        .await?;
        Ok(())
    }
}

fn broker_config(url: &str) -> BrokerConfig {
    let mut config = BrokerConfig::new(url.to_string());
    config.prefix = PREFIX.to_string();
    config
}

fn notify_trigger() -> String {
    format!(
        "CREATE FUNCTION {SCHEMA}.notify_done() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN PERFORM pg_notify('{CHANNEL}', NEW.id); RETURN NEW; END $$; \
         CREATE TRIGGER notify_done AFTER INSERT OR UPDATE OF status ON {SCHEMA}.runs \
         FOR EACH ROW WHEN (NEW.status NOT IN ('PENDING', 'RUNNING')) \
         EXECUTE FUNCTION {SCHEMA}.notify_done();"
    )
}

/// `count` rules named bench_0.., each on its own dataset (so one tick is
/// `count` jobs of one run), on the dq_database queue.
fn rules(target: &str, count: usize) -> Result<Vec<Rule>> {
    let mut yaml = format!(
        "version: 1\ndefaults:\n  target: {target}\n  schedule: \"* * * * * *\"\n  queue: dq_database\nrules:\n"
    );
    for i in 0..count {
        yaml.push_str(&format!(
            "  - name: bench_{i}\n    dataset: public.bench_{i}\n    check: not_empty\n"
        ));
    }
    load_manifests(
        &[ManifestFile {
            path: "bench-fleet.yaml",
            text: &yaml,
        }],
        &|_| true,
    )
    .map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("the benchmark rules are invalid:\n{}", lines.join("\n"))
    })
}
