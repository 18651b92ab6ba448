//! What operators call: reports over a window (which rules fail, what the
//! rules cover, the violations people saw, the runbook's KPIs) and
//! retention (what a cleanup would delete, and the cleanup itself). Records
//! in `report_model.rs`; queries in `tables/reports.rs` and
//! `tables/retention.rs`.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::report_model::{
    ArchiveSink, CleanupError, CleanupReport, KpiInputs, ReportWindow, RuleFailures,
    TargetCoverage, ViolationSummary,
};
use crate::tables::{reports, retention};
use crate::{Backend, Store};

impl Store {
    /// The rules with at least one FAILED, ERROR or TIMEOUT run scheduled in
    /// `window`, with every final run of theirs there: highest failure rate
    /// first, then most failures, then by name.
    pub async fn rule_failures(&self, window: ReportWindow) -> Result<Vec<RuleFailures>> {
        on_pool!(self, pool => reports::rule_failures(pool, window).await)
    }

    /// What the enabled rules cover, per target (by name).
    pub async fn rule_coverage(&self) -> Result<Vec<TargetCoverage>> {
        on_pool!(self, pool => reports::coverage(pool).await)
    }

    /// Violations detected in `window` by severity, and the `top` rules
    /// that raised the most.
    pub async fn violation_summary(
        &self,
        window: ReportWindow,
        top: u32,
    ) -> Result<ViolationSummary> {
        on_pool!(self, pool => reports::violation_summary(pool, window, top).await)
    }

    /// The quantities behind the runbook's KPIs over `window` (see
    /// [`KpiInputs`]); targets and verdicts are the caller's.
    pub async fn kpi_inputs(&self, window: ReportWindow) -> Result<KpiInputs> {
        on_pool!(self, pool => reports::kpi_inputs(pool, window).await)
    }

    /// What [`Store::cleanup`] at `cutoff` would delete and keep now, per
    /// table. Writes nothing.
    pub async fn cleanup_plan(&self, cutoff: DateTime<Utc>) -> Result<CleanupReport> {
        on_pool!(self, pool => retention::plan(pool, cutoff).await)
    }

    /// Deletes the runs scheduled before `cutoff`, with their violations,
    /// metrics, alert events and delivery items, and the settled deliveries
    /// (with their attempts) left without items; keeps the runs described
    /// in [`CleanupReport`] with everything of theirs. `batch_size` runs per
    /// transaction, oldest first; each batch's rows go to `archive` (parents
    /// first, then a flush) before its delete commits, so a failed write
    /// deletes nothing of that batch. `progress` sees the running totals
    /// after each batch. Then the touched tables are tidied up (VACUUM
    /// ANALYZE on PostgreSQL, `PRAGMA optimize` on SQLite). An error stops
    /// it; the batches committed before stay deleted.
    pub async fn cleanup(
        &self,
        cutoff: DateTime<Utc>,
        batch_size: u32,
        archive: Option<&mut dyn ArchiveSink>,
        progress: &mut (dyn FnMut(&CleanupReport) + Send),
    ) -> Result<CleanupReport, CleanupError> {
        on_pool!(self, pool => retention::cleanup(pool, cutoff, batch_size, archive, progress).await)
    }
}
