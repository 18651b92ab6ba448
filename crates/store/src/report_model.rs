//! Records of the operator's reports (`dq report`) and of retention
//! (`dq cleanup`, the beat's retention job). The store computes them
//! (`operations.rs`); what is a pass or a miss against a target is the
//! caller's.

use chrono::{DateTime, Utc};
use dq_core::Severity;
use serde::Serialize;

use crate::error::StoreError;

/// A report's time window: `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReportWindow {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl ReportWindow {
    /// The `days` days up to `now`.
    pub fn last_days(days: u32, now: DateTime<Utc>) -> Self {
        ReportWindow {
            since: now - chrono::Duration::days(i64::from(days)),
            until: now,
        }
    }
}

/// One rule that failed (FAILED, ERROR or TIMEOUT) at least once in the
/// window, with all its final runs there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleFailures {
    pub rule: String,
    pub runs: u64,
    pub passed: u64,
    pub warned: u64,
    pub failed: u64,
    /// ERROR and TIMEOUT: the check could not run.
    pub errors: u64,
    /// (failed + errors) / runs.
    pub failure_rate: f64,
    /// When the last failing run finished (its tick if it never did).
    pub last_failure: Option<DateTime<Utc>>,
}

/// The enabled rules on one target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetCoverage {
    pub target: String,
    pub rules: u64,
    /// Distinct datasets at least one rule checks.
    pub datasets: u64,
    /// Check kinds in use, with their number of rules, by kind.
    pub check_kinds: Vec<(String, u64)>,
    /// Rules per severity, most severe first; severities without rules left out.
    pub severities: Vec<(Severity, u64)>,
}

/// Violations of one severity detected in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeverityViolations {
    pub severity: Severity,
    pub violations: u64,
    pub acknowledged: u64,
    /// Mean detection-to-acknowledgement time of the acknowledged ones.
    pub mean_ack_delay_ms: Option<f64>,
}

/// A rule by the violations it raised in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViolatingRule {
    pub rule: String,
    pub violations: u64,
    pub unacknowledged: u64,
    pub last_detected: DateTime<Utc>,
}

/// What the alert-fatigue review looks at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViolationSummary {
    /// Most severe first; severities without violations left out.
    pub by_severity: Vec<SeverityViolations>,
    /// Most violations first (then name), at most the number asked for.
    pub top_rules: Vec<ViolatingRule>,
}

/// The quantities behind the runbook's KPIs, computed from the store the
/// way `dq_metrics::KPIS` computes them from Prometheus, so both agree. A
/// value is `None` when the window holds nothing to compute it from.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KpiInputs {
    /// Runs scheduled in the window whose status is final (not PENDING or RUNNING).
    pub final_runs: u64,
    pub passed_runs: u64,
    /// `passed_runs / final_runs`.
    pub check_success_rate: Option<f64>,
    /// Of the final runs, those with a recorded duration.
    pub timed_runs: u64,
    /// Mean `duration_ms` of the timed runs, in seconds.
    pub average_check_duration_seconds: Option<f64>,
    /// Violations acknowledged in the window.
    pub acknowledged_violations: u64,
    /// Their mean detection-to-acknowledgement time, in seconds.
    pub alert_response_time_seconds: Option<f64>,
    /// Final runs of rules whose own severity is CRITICAL.
    pub critical_runs: u64,
    pub critical_passed: u64,
    /// `critical_passed / critical_runs`.
    pub critical_rule_pass_rate: Option<f64>,
    /// Enabled freshness rules with an observed age (their latest final
    /// run with a value, scheduled before the window's end).
    pub freshness_rules: u64,
    /// The largest of those ages, in seconds.
    pub data_freshness_seconds: Option<f64>,
    /// The rule it belongs to.
    pub stalest_rule: Option<String>,
}

/// The tables retention deletes from, parents first: the order rows are
/// archived in, and the order to restore them in.
pub const RETAINED_TABLES: [&str; 7] = [
    "runs",
    "violations",
    "metrics",
    "alert_outbox",
    "alert_deliveries",
    "alert_attempts",
    "alert_delivery_items",
];

/// What retention did (or, planned, would do) to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCleanup {
    pub table: &'static str,
    pub deleted: u64,
    /// Rows older than the cutoff that stay because their run stays; `None`
    /// for deliveries and attempts, which go once none of their items is left.
    pub kept: Option<u64>,
}

/// The outcome of [`crate::Store::cleanup`], or its plan
/// ([`crate::Store::cleanup_plan`], `dry_run`).
///
/// A run scheduled before the cutoff is kept, with everything hanging off
/// it, while its violation is open (neither acknowledged nor resolved, or
/// acknowledged as part of an incident still open: deleting it would make
/// the incident look unacknowledged and escalate), while an alert about it
/// is in a delivery still PENDING or SENDING, and while the run itself is
/// PENDING or RUNNING. An alert event never planned goes with its run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    pub cutoff: DateTime<Utc>,
    pub dry_run: bool,
    /// Transactions that deleted something.
    pub batches: u64,
    /// One per [`RETAINED_TABLES`], in that order.
    pub tables: Vec<TableCleanup>,
}

impl CleanupReport {
    pub(crate) fn empty(cutoff: DateTime<Utc>, dry_run: bool) -> Self {
        CleanupReport {
            cutoff,
            dry_run,
            batches: 0,
            tables: RETAINED_TABLES
                .iter()
                .map(|table| TableCleanup {
                    table,
                    deleted: 0,
                    kept: None,
                })
                .collect(),
        }
    }

    /// The count for `table` (one of [`RETAINED_TABLES`]).
    pub fn table(&self, table: &str) -> Option<&TableCleanup> {
        self.tables.iter().find(|t| t.table == table)
    }

    pub(crate) fn table_mut(&mut self, table: &str) -> &mut TableCleanup {
        let i = RETAINED_TABLES
            .iter()
            .position(|t| *t == table)
            .unwrap_or_default();
        &mut self.tables[i]
    }

    /// Rows of `table` deleted (0 for a table not retained).
    pub fn deleted(&self, table: &str) -> u64 {
        self.table(table).map_or(0, |t| t.deleted)
    }

    /// Rows deleted from every table.
    pub fn total_deleted(&self) -> u64 {
        self.tables.iter().map(|t| t.deleted).sum()
    }
}

/// One row about to be deleted, for the archive: its table and its columns
/// as JSON (timestamps as RFC 3339 UTC text, JSON columns as JSON). As an
/// NDJSON line: `{"table": "runs", "row": {"id": "...", ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchivedRow {
    pub table: &'static str,
    pub row: serde_json::Map<String, serde_json::Value>,
}

/// Where [`crate::Store::cleanup`] puts rows before deleting them. Every
/// row of a batch is written, then `flush` is called, and only when it
/// returns does the batch's delete commit: what `flush` made durable is a
/// superset of what is gone (a crash between the two leaves rows archived
/// and not deleted; they are archived again by the next cleanup).
pub trait ArchiveSink: Send {
    fn write(&mut self, row: &ArchivedRow) -> std::io::Result<()>;
    /// Makes everything written so far durable.
    fn flush(&mut self) -> std::io::Result<()>;
}

#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The archive refused a row or a flush: the batch was not deleted.
    #[error("cannot write the archive: {0}")]
    Archive(#[source] std::io::Error),
}

impl From<sqlx::Error> for CleanupError {
    fn from(error: sqlx::Error) -> Self {
        CleanupError::Store(error.into())
    }
}
