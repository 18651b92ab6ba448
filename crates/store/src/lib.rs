//! dq-store: persistence of rules, runs, violations and metrics.
//!
//! [`Store`] is the one entry point; it wraps a backend (SQLite today,
//! PostgreSQL next), each in its own folder with the same file names. The
//! model ([`model`]) and the load planner are shared by every backend.
//!
//! Writes that belong together happen in one transaction: a manifest load is
//! all or nothing, and a run is recorded with its violation and metrics,
//! keyed by run id so a redelivered job rewrites nothing.

pub mod error;
mod load_plan;
pub mod model;
mod sqlite;

use chrono::{DateTime, Utc};
use dq_core::Rule;

pub use error::{Result, StoreError};
pub use model::{
    LoadPlan, MetricFilter, MetricPoint, NewRun, NewViolation, RuleChange, RuleFilter, RunFilter,
    RunRecord, StoredRule, ViolationFilter, ViolationRecord,
};

use load_plan::LoadSet;
use sqlite::SqliteStore;

fn borrowed(sets: &[(String, Vec<Rule>)]) -> Vec<LoadSet<'_>> {
    sets.iter()
        .map(|(source, rules)| (source.as_str(), rules.as_slice()))
        .collect()
}

/// A handle on the store; cheap to clone (clones share one connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqliteStore),
}

impl Store {
    /// Whether `url` names a backend this build can open (for config validation).
    /// SQLite: `sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`.
    pub fn url_is_supported(url: &str) -> bool {
        SqliteStore::url_is_supported(url)
    }

    /// Connects and applies pending migrations. A SQLite file is created if
    /// missing (its directory must exist).
    pub async fn open(url: &str) -> Result<Self> {
        if !SqliteStore::url_is_supported(url) {
            return Err(StoreError::Invalid(format!(
                "unsupported store URL {url:?} (expected sqlite://PATH, sqlite:PATH or sqlite::memory:)"
            )));
        }
        let store = Store {
            backend: Backend::Sqlite(SqliteStore::open(url).await?),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations; applying them again is a no-op.
    pub async fn migrate(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(s) => s.migrate().await,
        }
    }

    /// Waits for connections to finish and closes them.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(s) => s.close().await,
        }
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
        match &self.backend {
            Backend::Sqlite(s) => s.plan_loads(sets).await,
        }
    }

    async fn apply_loads_of(&self, sets: &[LoadSet<'_>]) -> Result<Vec<LoadPlan>> {
        match &self.backend {
            Backend::Sqlite(s) => s.apply_loads(sets).await,
        }
    }

    /// Rules matching `filter`, ordered by name.
    pub async fn rules(&self, filter: &RuleFilter) -> Result<Vec<StoredRule>> {
        match &self.backend {
            Backend::Sqlite(s) => s.rules(filter).await,
        }
    }

    pub async fn rule_by_name(&self, name: &str) -> Result<Option<StoredRule>> {
        match &self.backend {
            Backend::Sqlite(s) => s.rule_by_name(name).await,
        }
    }

    /// Records a run with its violation and metrics in one transaction.
    /// Returns `false`, writing nothing, when a run with this id exists.
    /// Metric points without a run or rule id get this run's; a point naming
    /// another run is `Invalid`. A run of an unknown rule is `NotFound`.
    pub async fn record_run(
        &self,
        run: &NewRun,
        violation: Option<&NewViolation>,
        metrics: &[MetricPoint],
    ) -> Result<bool> {
        match &self.backend {
            Backend::Sqlite(s) => s.record_run(run, violation, metrics).await,
        }
    }

    /// Runs matching `filter`, newest tick first.
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        match &self.backend {
            Backend::Sqlite(s) => s.runs(filter).await,
        }
    }

    /// Violations matching `filter`, newest first.
    pub async fn violations(&self, filter: &ViolationFilter) -> Result<Vec<ViolationRecord>> {
        match &self.backend {
            Backend::Sqlite(s) => s.violations(filter).await,
        }
    }

    /// Metric points matching `filter`, oldest first (a time series).
    pub async fn metrics(&self, filter: &MetricFilter) -> Result<Vec<MetricPoint>> {
        match &self.backend {
            Backend::Sqlite(s) => s.metrics(filter).await,
        }
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
        match &self.backend {
            Backend::Sqlite(s) => s.acknowledge(violation_ids, by, note, at).await,
        }
    }
}
