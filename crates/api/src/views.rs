//! What the API answers with: the store's records as JSON, each with a
//! schema in the OpenAPI document.

use chrono::{DateTime, Utc};
use dq_store::{RunRecord, StoredRule, ViolationRecord};
use serde::Serialize;
use utoipa::ToSchema;

/// A rule: its manifest entry (`definition`) and bookkeeping.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    /// The manifest it was loaded from, or `api`.
    pub source: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 when created, one more with every change.
    pub version: u32,
    /// The rule as a manifest entry, every field explicit: what
    /// `POST /rules` and `PUT /rules/{name}` accept.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

impl From<StoredRule> for RuleView {
    fn from(stored: StoredRule) -> Self {
        RuleView {
            id: stored.id,
            name: stored.rule.name.to_string(),
            enabled: stored.rule.enabled,
            definition: dq_core::manifest::export_rule_json(&stored.rule),
            source: stored.source,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            version: stored.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    pub items: Vec<RuleView>,
}

/// One version of a rule: its manifest entry from then on, and who
/// changed what, when.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleVersionView {
    pub version: u32,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    /// `created`, `changed`, `disabled`, `promoted: ...`, `rolled back to v3`, ...
    pub change: String,
    /// The definition fields that changed (dotted paths).
    pub fields: Vec<String>,
    pub source: Option<String>,
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

impl From<dq_store::RuleVersion> for RuleVersionView {
    fn from(v: dq_store::RuleVersion) -> Self {
        // Shown as a manifest entry when it still reads as a rule.
        let definition = serde_json::from_value::<dq_core::Rule>(v.definition.clone())
            .map(|rule| dq_core::manifest::export_rule_json(&rule))
            .unwrap_or(v.definition);
        RuleVersionView {
            version: v.version,
            changed_by: v.changed_by,
            changed_at: v.changed_at,
            change: v.change,
            fields: v.fields,
            source: v.source,
            definition,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleHistory {
    /// Oldest first.
    pub items: Vec<RuleVersionView>,
}

/// One run of one rule at one tick.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub rule: String,
    pub target: String,
    pub dataset: String,
    pub queue: String,
    /// PENDING, RUNNING, PASSED, WARNED, FAILED, ERROR, TIMEOUT or SKIPPED.
    pub status: String,
    /// The violation's severity, for FAILED and WARNED runs.
    pub severity: Option<String>,
    pub scheduled_for: DateTime<Utc>,
    pub enqueued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    pub observed_value: Option<f64>,
    pub expected: String,
    pub message: String,
    pub row_count: Option<u64>,
    pub worker: Option<String>,
    pub attempt: u32,
    pub error: Option<String>,
    /// The version of the rule this run executed.
    pub rule_version: Option<u32>,
}

impl From<RunRecord> for RunView {
    fn from(run: RunRecord) -> Self {
        RunView {
            id: run.id.to_string(),
            rule: run.rule_name.to_string(),
            target: run.target,
            dataset: run.dataset.to_string(),
            queue: run.queue.as_str().to_string(),
            status: run.status.as_str().to_string(),
            severity: run.severity.map(|s| s.as_str().to_string()),
            scheduled_for: run.scheduled_for,
            enqueued_at: run.enqueued_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            duration_ms: run.duration_ms,
            observed_value: run.observed_value,
            expected: run.expected,
            message: run.message,
            row_count: run.row_count,
            worker: run.worker,
            attempt: run.attempt,
            error: run.error,
            rule_version: run.rule_version,
        }
    }
}

/// A page of runs, newest tick first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    pub items: Vec<RunView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ViolationView {
    pub id: i64,
    pub run_id: String,
    pub rule: String,
    pub severity: String,
    pub detected_at: DateTime<Utc>,
    pub message: String,
    pub observed_value: Option<f64>,
    pub expected: String,
    /// Failing rows, bounded by the worker's sample limit.
    #[schema(value_type = Vec<Object>)]
    pub sample: Vec<serde_json::Value>,
    pub acknowledged: bool,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub ack_note: Option<String>,
    /// Detection to acknowledgement (the alert response time).
    pub ack_delay_ms: Option<u64>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl From<ViolationRecord> for ViolationView {
    fn from(v: ViolationRecord) -> Self {
        ViolationView {
            id: v.id,
            run_id: v.run_id.to_string(),
            rule: v.rule_name.to_string(),
            severity: v.severity.as_str().to_string(),
            detected_at: v.detected_at,
            message: v.message,
            observed_value: v.observed_value,
            expected: v.expected,
            sample: v.sample,
            acknowledged: v.acknowledged,
            acknowledged_by: v.acknowledged_by,
            acknowledged_at: v.acknowledged_at,
            ack_note: v.ack_note,
            ack_delay_ms: v.ack_delay_ms,
            resolved_at: v.resolved_at,
        }
    }
}

/// A page of violations, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViolationPage {
    pub items: Vec<ViolationView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
