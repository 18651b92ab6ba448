//! dq-store: persistence of rules, runs, violations and metrics.
//!
//! [`Store`] is the one entry point; it wraps a backend, SQLite or
//! PostgreSQL, each in its own folder with the same file names (`pool.rs`,
//! `migrator.rs`, `codec.rs`, and in `mod.rs` the SQL only it speaks). What
//! the backends share is written once: the model ([`model`]), the load
//! planner (`load_plan.rs`), and the queries, one file per table
//! (`tables/`), generic over a backend's `sql::Dialect`.
//!
//! Writes that belong together happen in one transaction: a manifest load is
//! all or nothing, and a run is finished with its violation and metrics,
//! only if it is not final yet, so a redelivered job rewrites nothing.
//!
//! What beats and workers call (leader leases, the run lifecycle from
//! enqueue to finish, heartbeats) is in `fleet.rs`; what the alert
//! dispatcher calls (planning the outbox, claiming and settling
//! deliveries) is in `alerting.rs`, its records in `alert_model.rs`.

pub mod alert_model;
mod archive;
mod diagnostics;
pub mod error;
mod load_plan;
pub mod model;
mod postgres;
pub mod report_model;
mod sql;
mod sqlite;
mod tables;

use chrono::{DateTime, Utc};
use dq_core::{Rule, RunId, Severity};
use sqlx::{PgPool, SqlitePool};

pub use alert_model::{
    AlertBacklog, AlertDecision, AlertEvent, AlertEventKind, AlertRun, AttemptOutcome,
    AttemptRecord, ClaimedDelivery, DeliveryFilter, DeliveryRecord, DeliveryState, EscalationScan,
    Notification, PlanSummary, RuleAlertState,
};
pub use archive::NdjsonArchive;
pub use diagnostics::MigrationStatus;
pub use error::{Result, StoreError};
pub use model::{
    JobStart, Lease, LoadPlan, MetricFilter, MetricPoint, NewRun, NewViolation, RuleChange,
    RuleFilter, RuleVersion, RunFilter, RunRecord, RunResult, SaveMode, StoredRule,
    ViolationFilter, ViolationRecord, WorkerHeartbeat,
};
pub use report_model::{
    ArchiveSink, ArchivedRow, CleanupError, CleanupReport, KpiInputs, ReportWindow, RuleFailures,
    SeverityViolations, TableCleanup, TargetCoverage, ViolatingRule, ViolationSummary,
    RETAINED_TABLES,
};

use load_plan::LoadSet;
use sql::Dialect;
pub use tables::rules::API_SOURCE;
use tables::{metrics, rule_versions, rules, runs, violations};

fn borrowed(sets: &[(String, Vec<Rule>)]) -> Vec<LoadSet<'_>> {
    sets.iter()
        .map(|(source, rules)| (source.as_str(), rules.as_slice()))
        .collect()
}

/// A handle on the store; cheap to clone (clones share one connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    /// Who the rule versions written through this handle name.
    actor: std::sync::Arc<str>,
}

/// The actor of a handle nobody named.
pub const DEFAULT_ACTOR: &str = "dq";

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$call` with `$pool` bound to the backend's pool: the shared queries
/// are generic over the backend, so every arm is the same call.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $call:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $call,
            Backend::Postgres($pool) => $call,
        }
    };
}

mod alerting;
mod fleet;
mod operations;

impl Store {
    /// Whether `url` names a backend this build can open (for config validation).
    /// SQLite: `sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`.
    /// PostgreSQL: `postgres://...` or `postgresql://...`, libpq style; a
    /// schema other than `public` is chosen with `?options=-csearch_path%3DNAME`.
    pub fn url_is_supported(url: &str) -> bool {
        sqlite::url_is_supported(url) || postgres::url_is_supported(url)
    }

    /// Connects and applies pending migrations. A SQLite file is created if
    /// missing (its directory must exist); a PostgreSQL database and schema
    /// must exist. An unreachable PostgreSQL server is a `Database` error
    /// naming it.
    pub async fn open(url: &str) -> Result<Self> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// The same store, with rule changes recorded as made by `actor` (a
    /// person, `api`, `beat`...).
    pub fn acting_as(&self, actor: &str) -> Store {
        Store {
            backend: self.backend.clone(),
            actor: actor.into(),
        }
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// A connection to the store at `url`, nothing applied.
    async fn connect(url: &str) -> Result<Self> {
        let backend = if sqlite::url_is_supported(url) {
            Backend::Sqlite(sqlite::connect(url).await?)
        } else if postgres::url_is_supported(url) {
            Backend::Postgres(postgres::connect(url).await?)
        } else {
            return Err(StoreError::Invalid(format!(
                "unsupported store URL {url:?} (expected sqlite://PATH, sqlite:PATH, \
                 sqlite::memory: or postgres://USER@HOST:PORT/DATABASE)"
            )));
        };
        Ok(Store {
            backend,
            actor: DEFAULT_ACTOR.into(),
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub async fn backend_name(&self) -> &'static str {
        fn name<DB: Dialect>(_: &sqlx::Pool<DB>) -> &'static str {
            DB::BACKEND
        }
        on_pool!(self, pool => name(pool))
    }

    /// Applies pending migrations; applying them again is a no-op. Safe when
    /// several processes open one store at once.
    pub async fn migrate(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::migrate(pool).await,
            Backend::Postgres(pool) => postgres::migrate(pool).await,
        }
    }

    /// Waits for connections to finish and closes them.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }

    /// What [`Store::apply_load`] would do, without writing anything.
    pub async fn plan_load(&self, rules: &[Rule], source: &str) -> Result<LoadPlan> {
        let plans = self.plan_loads_of(&[(source, rules)]).await?;
        Ok(plans.into_iter().next().unwrap_or_default())
    }

    /// Loads the rules of one manifest, stored under `source`: creates and
    /// updates them, and disables the enabled rules loaded earlier from
    /// `source` that it no longer has. One transaction: on any error nothing
    /// is written. A name given twice is a `Conflict`.
    pub async fn apply_load(&self, rules: &[Rule], source: &str) -> Result<LoadPlan> {
        let plans = self.apply_loads_of(&[(source, rules)]).await?;
        Ok(plans.into_iter().next().unwrap_or_default())
    }

    /// What [`Store::apply_loads`] would do, without writing anything.
    pub async fn plan_loads(&self, sets: &[(String, Vec<Rule>)]) -> Result<Vec<LoadPlan>> {
        self.plan_loads_of(&borrowed(sets)).await
    }

    /// Loads several manifests, `(source, rules)` each, in one transaction,
    /// returning one plan per manifest in input order. A rule in any of them
    /// is never disabled, so moving a rule between two files loaded together
    /// is a change of `source`. A rule name (or a source) given twice is a
    /// `Conflict`.
    pub async fn apply_loads(&self, sets: &[(String, Vec<Rule>)]) -> Result<Vec<LoadPlan>> {
        self.apply_loads_of(&borrowed(sets)).await
    }

    async fn plan_loads_of(&self, sets: &[LoadSet<'_>]) -> Result<Vec<LoadPlan>> {
        on_pool!(self, pool => rules::plan_loads(pool, sets).await)
    }

    async fn apply_loads_of(&self, sets: &[LoadSet<'_>]) -> Result<Vec<LoadPlan>> {
        on_pool!(self, pool => rules::apply_loads(pool, sets, &self.actor).await)
    }

    /// Rules matching `filter`, ordered by name.
    pub async fn rules(&self, filter: &RuleFilter) -> Result<Vec<StoredRule>> {
        on_pool!(self, pool => rules::list(pool, filter).await)
    }

    /// Creates (`SaveMode::Create`) or replaces (`SaveMode::Replace`) one
    /// rule under `source`, in one transaction, leaving every other rule
    /// alone. Returns it as stored. Enabling or disabling a rule is a
    /// replace with `enabled` changed.
    pub async fn save_rule(&self, rule: &Rule, source: &str, mode: SaveMode) -> Result<StoredRule> {
        on_pool!(self, pool => rules::save(pool, rule, source, mode, &self.actor).await)
    }

    /// Enables or disables one rule, keeping the rest of its definition;
    /// `NotFound` if there is no such rule.
    pub async fn set_rule_enabled(&self, name: &str, enabled: bool) -> Result<StoredRule> {
        on_pool!(self, pool => rules::set_enabled(pool, name, enabled, &self.actor).await)
    }

    /// Turns alerting on for a rule in shadow (a new version); a rule not
    /// in shadow is left as it is. `NotFound` if there is no such rule.
    pub async fn promote_rule(&self, name: &str) -> Result<StoredRule> {
        on_pool!(self, pool => rules::promote(pool, name, &self.actor).await)
    }

    /// Every version of the rule, oldest first; empty if there is no such rule.
    pub async fn rule_history(&self, name: &str) -> Result<Vec<RuleVersion>> {
        on_pool!(self, pool => rule_versions::history(pool, name).await)
    }

    /// Restores the definition the rule had at version `to`, as a new
    /// version. `NotFound` for an unknown rule or version.
    pub async fn rollback_rule(&self, name: &str, to: u32) -> Result<StoredRule> {
        let history = self.rule_history(name).await?;
        let Some(version) = history.iter().find(|v| v.version == to) else {
            return Err(StoreError::NotFound(format!(
                "rule {name} has no version {to} (it has {})",
                history.len()
            )));
        };
        on_pool!(self, pool => rules::rollback(pool, name, version, &self.actor).await)
    }

    /// Deletes the rule and keeps its history: disabled, hidden from
    /// listings (unless `include_deleted`), never scheduled; loading its
    /// name again brings it back as a new version. An enabled rule is a
    /// `Conflict` unless `force`.
    pub async fn retire_rule(&self, name: &str, force: bool) -> Result<StoredRule> {
        on_pool!(self, pool => rules::retire(pool, name, force, &self.actor).await)
    }

    /// Deletes the rule and everything of it (runs, violations, metrics,
    /// alert rows, versions), its runs `batch_size` at a time, each row
    /// handed to `archive` first (the rule and its versions too). An
    /// enabled rule is a `Conflict` unless `force`.
    pub async fn purge_rule(
        &self,
        name: &str,
        force: bool,
        batch_size: u32,
        archive: Option<&mut dyn ArchiveSink>,
    ) -> std::result::Result<CleanupReport, CleanupError> {
        let stored = self
            .rule_by_name(name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("rule {name}")))?;
        if stored.rule.enabled && !force {
            return Err(StoreError::Conflict(format!(
                "rule {name} is enabled: disable it first (or force)"
            ))
            .into());
        }
        let mut extra = Vec::new();
        let as_row = |value: serde_json::Value| match value {
            serde_json::Value::Object(row) => Ok(row),
            _ => Err(StoreError::Invalid(format!(
                "rule {name} does not archive as a row"
            ))),
        };
        let rule_json = serde_json::to_value(&stored)
            .map_err(|e| StoreError::Invalid(format!("rule {name}: {e}")))?;
        extra.push(ArchivedRow {
            table: "rules",
            row: as_row(rule_json)?,
        });
        for version in self.rule_history(name).await? {
            let json = serde_json::to_value(&version)
                .map_err(|e| StoreError::Invalid(format!("rule {name}: {e}")))?;
            extra.push(ArchivedRow {
                table: "rule_versions",
                row: as_row(json)?,
            });
        }
        on_pool!(self, pool => tables::retention::purge_rule(pool, stored.id, batch_size, archive, extra).await)
    }

    pub async fn rule_by_name(&self, name: &str) -> Result<Option<StoredRule>> {
        on_pool!(self, pool => rules::by_name(pool, name).await)
    }

    /// Records a finished run with its violation and metrics in one
    /// transaction: [`Store::finish_runs`] of one. Returns `false`, writing
    /// nothing, when the run is final already. Metric points without a run
    /// or rule id get this run's; a point naming another run is `Invalid`,
    /// and so is a run status that is not final. A run of an unknown rule is
    /// `NotFound`.
    pub async fn record_run(
        &self,
        run: &NewRun,
        violation: Option<&NewViolation>,
        metrics: &[MetricPoint],
    ) -> Result<bool> {
        on_pool!(self, pool => runs::record(pool, run, violation, metrics).await)
    }

    /// Runs matching `filter`, newest tick first.
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        on_pool!(self, pool => runs::list(pool, filter).await)
    }

    pub async fn run_by_id(&self, id: RunId) -> Result<Option<RunRecord>> {
        on_pool!(self, pool => runs::by_id(pool, id).await)
    }

    pub async fn violation_by_id(&self, id: i64) -> Result<Option<ViolationRecord>> {
        on_pool!(self, pool => violations::by_id(pool, id).await)
    }

    /// Violations matching `filter`, newest first.
    pub async fn violations(&self, filter: &ViolationFilter) -> Result<Vec<ViolationRecord>> {
        on_pool!(self, pool => violations::list(pool, filter).await)
    }

    /// Metric points matching `filter`, oldest first (a time series).
    pub async fn metrics(&self, filter: &MetricFilter) -> Result<Vec<MetricPoint>> {
        on_pool!(self, pool => metrics::list(pool, filter).await)
    }

    /// Violations neither acknowledged nor resolved, by severity (the
    /// severities with none are absent).
    pub async fn open_violation_counts(&self) -> Result<Vec<(Severity, u64)>> {
        on_pool!(self, pool => violations::open_counts(pool).await)
    }

    /// Acknowledges violations, all or nothing: an unknown id is `NotFound`
    /// (naming every unknown id) and acknowledges none. Returns the ids
    /// acknowledged by this call, ascending; already acknowledged ones keep
    /// their first acknowledgement.
    pub async fn acknowledge(
        &self,
        violation_ids: &[i64],
        by: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Vec<i64>> {
        on_pool!(self, pool => violations::acknowledge(pool, violation_ids, by, note, at).await)
    }
}
