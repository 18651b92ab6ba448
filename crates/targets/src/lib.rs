//! dq-targets: where checks execute. Given a [`dq_core::ScanPlan`] (the rules
//! due on one dataset with one scope), a target computes every metric with as
//! few queries as its engine allows — one fused aggregate scan, one GROUP BY
//! per duplicate-count column, one catalogue query, one query per custom SQL
//! rule — then each rule is observed and judged by dq-core, and failing rules
//! get a bounded sample of their failing rows.
//!
//! Targets only read: SQLite connections are opened read-only, PostgreSQL
//! statements run in read-only transactions, identifiers are quoted
//! validated names, and every value is a bind parameter.
//!
//! Layout: `execute` is the target-agnostic orchestration, `custom_sql`
//! screens user queries, `stats` counts queries by kind. What every backend
//! does the same way is written once: `backend` runs a plan's scan and
//! custom queries under their timeouts and fetches samples, `scan_common`
//! turns a scan's catalogue into metrics (column checks, the fused
//! statement and its per-metric retries, duplicate counts), `sql_common`
//! holds SQL text with its bound values and the wrappers of custom
//! queries. Each backend has its own folder with the same files
//! (`connect`, `sql`, `scan`, `samples`, `rows`) for what differs:
//! connections and transactions, the dialect, types and decoding.
//! `mongodb` is the document backend: the same catalogue as aggregation
//! pipelines (one fused `$group` per collection), with its own scan and
//! samples since no SQL is involved. `health` answers `dq inspect targets`.
//! `reconcile` compares a dataset with another, possibly on another
//! target, streaming both in key order.

mod backend;
mod custom_sql;
mod error;
mod execute;
mod health;
mod mongodb;
mod noop;
mod postgres;
mod reconcile;
mod scan_common;
mod sql_common;
mod sqlite;
mod stats;
mod tuning;

use dq_core::{Rule, SampleRequest, ScanPlan};

pub use error::{format_duration, redact_url, TargetError};
pub use execute::{compute_metrics, execute, ExecuteOptions, RuleOutcome, DEFAULT_SAMPLE_LIMIT};
pub use health::TargetHealth;
pub use mongodb::MongoTarget;
pub use noop::NoopTarget;
pub use postgres::PostgresTarget;
pub use reconcile::{against_target, reconcile};
pub use sqlite::SqliteTarget;
pub use stats::QueryStats;
pub use tuning::ignored_tuning;

use execute::Computed;

/// A connected datasource.
#[derive(Debug, Clone)]
pub enum Target {
    Sqlite(SqliteTarget),
    Postgres(PostgresTarget),
    /// A MongoDB server (or replica set): datasets are collections.
    Mongo(MongoTarget),
    /// Passes every rule without reading data: for measuring the fleet.
    Noop(NoopTarget),
}

impl Target {
    /// `url`: `sqlite://path` or `sqlite:path` (the file is opened read-only
    /// and must exist), `postgres://...` / `postgresql://...` (a server
    /// that must answer now), `mongodb://...` / `mongodb+srv://...` (a
    /// server that must answer a ping now; `readPreference`,
    /// `maxPoolSize` and the driver's other URI options apply), or
    /// `noop://[?latency_ms=N]`. A target that cannot be reached is a
    /// [`TargetError::Connect`] naming it, with any password masked.
    pub async fn connect(name: &str, url: &str) -> Result<Target, TargetError> {
        if url.starts_with("sqlite:") {
            return sqlite::connect(name, url).await.map(Target::Sqlite);
        }
        if postgres::is_postgres_url(url) {
            return postgres::connect(name, url).await.map(Target::Postgres);
        }
        if mongodb::is_mongodb_url(url) {
            return mongodb::connect(name, url).await.map(Target::Mongo);
        }
        if noop::is_noop_url(url) {
            return noop::connect(name, url).map(Target::Noop);
        }
        Err(TargetError::Unsupported {
            url: redact_url(url),
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Target::Sqlite(t) => t.name(),
            Target::Postgres(t) => t.name(),
            Target::Mongo(t) => t.name(),
            Target::Noop(t) => t.name(),
        }
    }

    /// Queries issued so far, by kind.
    pub fn query_stats(&self) -> QueryStats {
        match self {
            Target::Sqlite(t) => t.query_stats(),
            Target::Postgres(t) => t.query_stats(),
            Target::Mongo(t) => t.query_stats(),
            Target::Noop(t) => t.query_stats(),
        }
    }

    /// Closes the target's connections.
    pub async fn close(&self) {
        match self {
            Target::Sqlite(t) => t.close().await,
            Target::Postgres(t) => t.close().await,
            Target::Mongo(t) => t.close().await,
            Target::Noop(_) => {}
        }
    }

    pub(crate) async fn compute(&self, plan: &ScanPlan<'_>, options: &ExecuteOptions) -> Computed {
        match self {
            Target::Sqlite(t) => backend::compute(t, plan, options).await,
            Target::Postgres(t) => backend::compute(t, plan, options).await,
            Target::Mongo(t) => mongodb::compute(t, plan, options).await,
            // Nothing to compute: `execute` answers for a no-op target.
            Target::Noop(_) => Computed::default(),
        }
    }

    /// `computed` is what the plan's scan found, for backends that word a
    /// sample query by the dataset's column types.
    pub(crate) async fn fetch_samples(
        &self,
        plan: &ScanPlan<'_>,
        rule: &Rule,
        request: &SampleRequest,
        computed: &Computed,
        options: &ExecuteOptions,
    ) -> Result<Vec<serde_json::Value>, TargetError> {
        match self {
            Target::Sqlite(t) => {
                backend::fetch_samples(t, plan, rule, request, computed, options).await
            }
            Target::Postgres(t) => {
                backend::fetch_samples(t, plan, rule, request, computed, options).await
            }
            Target::Mongo(t) => mongodb::fetch_samples(t, plan, rule, request, options).await,
            Target::Noop(_) => Ok(Vec::new()),
        }
    }
}
