//! Records the store reads and writes, and the filters that select them.
//! Backend-neutral: each backend maps these onto its own column types.

use chrono::{DateTime, Utc};
use dq_core::{Dataset, Queue, Rule, RuleName, RunId, RunStatus, Severity};
use serde::Serialize;

/// A rule as stored: the validated definition plus bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRule {
    pub id: i64,
    pub rule: Rule,
    /// The manifest the rule was loaded from, if it came from one.
    pub source: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 when created, one more with every change.
    pub version: u32,
    /// Set when the rule was deleted with its history kept.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// One version of a rule: its definition from then on, and who changed
/// what, when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleVersion {
    pub version: u32,
    /// The `dq_core::Rule` as JSON.
    pub definition: serde_json::Value,
    pub source: Option<String>,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    /// `created`, `changed by a load of m.yaml`, `disabled`, `promoted: ...`,
    /// `rolled back to v3`, `deleted (history kept)`, ...
    pub change: String,
    /// The definition fields that changed, as dotted paths.
    pub fields: Vec<String>,
}

/// What loading a manifest does (or did) to the stored rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoadPlan {
    /// New rule names, in input order.
    pub created: Vec<String>,
    /// Rules whose definition (or source) differs from the stored one, in input order.
    pub changed: Vec<RuleChange>,
    /// Rules loaded exactly as stored, in input order.
    pub unchanged: Vec<String>,
    /// Enabled rules loaded earlier from the same source and absent from this
    /// load: disabled, never deleted, so their history stays. Ordered by name.
    pub disabled: Vec<String>,
}

impl LoadPlan {
    /// Loading again would change nothing.
    pub fn is_noop(&self) -> bool {
        self.created.is_empty() && self.changed.is_empty() && self.disabled.is_empty()
    }
}

/// One changed rule and the definition fields that changed, as dotted paths
/// of its JSON form (`severity`, `check.column`, `thresholds.fail`, `source`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleChange {
    pub name: String,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleFilter {
    /// Only these names; empty means all.
    pub names: Vec<String>,
    /// Only rules carrying this tag.
    pub tag: Option<String>,
    pub enabled_only: bool,
    /// Only disabled rules (with `enabled_only`, nothing).
    pub disabled_only: bool,
    pub target: Option<String>,
    /// The dataset as written in rules (`schema.table` or `table`).
    pub dataset: Option<String>,
    pub queue: Option<Queue>,
    pub severity: Option<Severity>,
    pub owner: Option<String>,
    /// Also rules deleted with their history kept.
    pub include_deleted: bool,
}

/// How [`crate::Store::save_rule`] treats an existing rule of that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveMode {
    /// Only a new name: an existing one is `Conflict`.
    Create,
    /// Only an existing name: a new one is `NotFound`.
    Replace,
}

/// One run as a worker (or the beat) writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewRun {
    pub id: RunId,
    pub rule_name: RuleName,
    pub target: String,
    pub dataset: Dataset,
    pub scheduled_for: DateTime<Utc>,
    pub enqueued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub severity: Option<Severity>,
    pub observed_value: Option<f64>,
    pub expected: String,
    pub message: String,
    /// The `dq_core::Observation` (or any JSON the check produced).
    pub observation: Option<serde_json::Value>,
    pub effective_sample_size: Option<u64>,
    pub row_count: Option<u64>,
    pub worker: Option<String>,
    pub queue: Queue,
    pub attempt: u32,
    pub error: Option<String>,
    pub retriable: bool,
    pub duration_ms: Option<u64>,
}

impl NewRun {
    /// A run of `rule` at its tick `scheduled_for`, with the deterministic id
    /// and the rule's target, dataset and queue; every outcome field empty.
    pub fn for_rule(rule: &Rule, scheduled_for: DateTime<Utc>, status: RunStatus) -> Self {
        NewRun {
            id: RunId::for_tick(&rule.name, scheduled_for),
            rule_name: rule.name.clone(),
            target: rule.target.clone(),
            dataset: rule.dataset.clone(),
            scheduled_for,
            enqueued_at: None,
            started_at: None,
            finished_at: None,
            status,
            severity: None,
            observed_value: None,
            expected: String::new(),
            message: String::new(),
            observation: None,
            effective_sample_size: None,
            row_count: None,
            worker: None,
            queue: rule.queue,
            attempt: 1,
            error: None,
            retriable: false,
            duration_ms: None,
        }
    }
}

/// What a worker writes when a run ends: the run with its final status and
/// outcome, the violation it raised, the metrics it observed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    pub run: NewRun,
    pub violation: Option<NewViolation>,
    pub metrics: Vec<MetricPoint>,
}

/// A stored run: the columns of [`NewRun`] plus the rule's id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: RunId,
    pub rule_id: i64,
    pub rule_name: RuleName,
    pub target: String,
    pub dataset: Dataset,
    pub scheduled_for: DateTime<Utc>,
    pub enqueued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub severity: Option<Severity>,
    pub observed_value: Option<f64>,
    pub expected: String,
    pub message: String,
    pub observation: Option<serde_json::Value>,
    pub effective_sample_size: Option<u64>,
    pub row_count: Option<u64>,
    pub worker: Option<String>,
    pub queue: Queue,
    pub attempt: u32,
    pub error: Option<String>,
    pub retriable: bool,
    pub duration_ms: Option<u64>,
    /// The version of the rule the run executed (absent for runs stored
    /// before rule versions existed).
    pub rule_version: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Runs scheduled at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Runs scheduled before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Keyset pagination: only runs after this one in the listing's order
    /// (newest tick first), given as its (scheduled_for, id).
    pub after: Option<(DateTime<Utc>, RunId)>,
    pub rule_names: Vec<String>,
    pub statuses: Vec<RunStatus>,
    pub limit: Option<u32>,
}

/// The violation a failed or warned run records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewViolation {
    pub severity: Severity,
    pub detected_at: DateTime<Utc>,
    pub message: String,
    pub observed_value: Option<f64>,
    pub expected: String,
    /// Failing rows as JSON objects; the caller bounds their number.
    pub sample: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViolationRecord {
    pub id: i64,
    pub run_id: RunId,
    pub rule_id: i64,
    pub rule_name: RuleName,
    pub severity: Severity,
    pub detected_at: DateTime<Utc>,
    pub message: String,
    pub observed_value: Option<f64>,
    pub expected: String,
    pub sample: Vec<serde_json::Value>,
    pub acknowledged: bool,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub ack_note: Option<String>,
    /// The alert response time: from detection to acknowledgement.
    pub ack_delay_ms: Option<u64>,
    /// Set when a later passing run of the rule resolved it.
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViolationFilter {
    /// Violations detected at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Violations detected before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Keyset pagination: only violations after this one in the listing's
    /// order (newest first), given as its (detected_at, id).
    pub after: Option<(DateTime<Utc>, i64)>,
    /// Violations acknowledged at or after this instant.
    pub acknowledged_since: Option<DateTime<Utc>>,
    pub rule_names: Vec<String>,
    pub unacknowledged_only: bool,
    /// This severity and every one above it.
    pub min_severity: Option<Severity>,
    pub limit: Option<u32>,
}

/// One value of a metric's history (what anomaly checks and trends read).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricPoint {
    pub run_id: Option<String>,
    pub rule_id: Option<i64>,
    pub target: String,
    pub dataset: String,
    pub column: Option<String>,
    pub name: String,
    pub value: f64,
    pub observed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricFilter {
    pub target: Option<String>,
    pub dataset: Option<String>,
    pub name: Option<String>,
    /// Points observed at or after this instant.
    pub since: Option<DateTime<Utc>>,
}

/// A named lease held by one owner until `expires_at`: who the leader beat is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub name: String,
    pub owner: String,
    /// Grows with every new acquisition (never with a renewal): a write
    /// fenced by an older token comes from a holder that lost the lease.
    pub token: i64,
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// Held at `now`: not yet expired (an expired lease is lost, even if
    /// nobody else took it).
    pub fn is_held_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }
}

/// What a worker process says about itself, every few seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerHeartbeat {
    /// Unique per process: `host:pid:queue`.
    pub worker: String,
    pub queue: Queue,
    pub pool: String,
    pub concurrency: u32,
    pub processed: u64,
    pub failed: u64,
    pub rss_bytes: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
    pub version: String,
}

/// One job's runs for [`crate::Store::start_jobs`], with the attempt its
/// delivery carries.
#[derive(Debug, Clone, Copy)]
pub struct JobStart<'a> {
    pub run_ids: &'a [RunId],
    pub attempt: u32,
}
