//! One thing a message says: a violation, an escalation or a recovery, with
//! every fact a channel shows. Stored as JSON with its delivery, so a
//! message is rendered from what was decided, whatever changes later.

use chrono::{DateTime, Utc};
use dq_core::{RunStatus, Severity};
use dq_store::{AlertEvent, AlertEventKind};
use serde::{Deserialize, Serialize};

/// The rule name test messages carry.
pub const TEST_RULE: &str = "dq-doctor-test";

/// Failing rows shown in a message; the store keeps what the run kept.
pub const SAMPLE_ROWS_SHOWN: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Violation,
    /// Still unacknowledged after the escalation time.
    Escalation,
    Recovery,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertItem {
    pub kind: ItemKind,
    pub rule: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub target: String,
    pub dataset: String,
    pub check: String,
    pub severity: Severity,
    #[serde(default)]
    pub status: Option<RunStatus>,
    /// What `dq ack` takes.
    #[serde(default)]
    pub violation_id: Option<i64>,
    #[serde(default)]
    pub observed: Option<String>,
    pub expected: String,
    pub message: String,
    #[serde(default)]
    pub sample: Vec<serde_json::Value>,
    #[serde(default)]
    pub run_id: Option<String>,
    /// The tick the run belongs to.
    #[serde(default)]
    pub run_at: Option<DateTime<Utc>>,
    /// Detection (violation), finish (recovery) or now (escalation).
    pub at: DateTime<Utc>,
    /// One per rule: PagerDuty's incident key, stable across runs.
    pub dedup_key: String,
    /// Repeats left out since the previous message about this rule.
    #[serde(default)]
    pub suppressed: u32,
    pub route: String,
}

/// PagerDuty's dedup key of a rule: stable, so every trigger of one
/// incident lands on one PagerDuty incident and the recovery resolves it.
pub fn dedup_key(rule: &str) -> String {
    format!("dq/{rule}")
}

impl AlertItem {
    pub fn from_event(
        event: &AlertEvent,
        kind: ItemKind,
        severity: Severity,
        route: &str,
        suppressed: u32,
    ) -> Self {
        let rule = &event.rule.rule;
        let unit = rule.check.unit();
        let violation = event.violation.as_ref();
        let run = event.run.as_ref();
        let observed = violation
            .and_then(|v| v.observed_value)
            .or_else(|| run.and_then(|r| r.observed_value))
            .map(|v| dq_core::format::value(unit, v));
        let (expected, message) = match (kind, violation, run) {
            (ItemKind::Recovery, _, Some(run)) => (run.expected.clone(), run.message.clone()),
            (_, Some(v), _) => (v.expected.clone(), v.message.clone()),
            (_, None, Some(run)) => (run.expected.clone(), run.message.clone()),
            _ => (String::new(), String::new()),
        };
        let sample = match kind {
            ItemKind::Recovery => Vec::new(),
            _ => violation
                .map(|v| v.sample.iter().take(SAMPLE_ROWS_SHOWN).cloned().collect())
                .unwrap_or_default(),
        };
        AlertItem {
            kind,
            rule: rule.name.to_string(),
            description: rule.description.clone(),
            owner: rule.owner.clone(),
            tags: rule.tags.clone(),
            target: rule.target.clone(),
            dataset: rule.dataset.to_string(),
            check: rule.check.kind().to_string(),
            severity,
            status: run.map(|r| r.status),
            violation_id: violation.map(|v| v.id),
            observed,
            expected,
            message,
            sample,
            run_id: run.map(|r| r.id.to_string()),
            run_at: run.map(|r| r.scheduled_for),
            at: event.at,
            dedup_key: dedup_key(rule.name.as_str()),
            suppressed,
            route: route.to_string(),
        }
    }

    /// What `dq doctor --send-test` sends to every channel. A recovery, so
    /// PagerDuty gets a resolve (of an incident that never existed) and
    /// nobody is paged.
    pub fn test_message(at: DateTime<Utc>) -> Self {
        AlertItem {
            kind: ItemKind::Recovery,
            rule: TEST_RULE.to_string(),
            description: Some("A test message from `dq doctor --send-test`".to_string()),
            owner: None,
            tags: Vec::new(),
            target: "dq".to_string(),
            dataset: "doctor".to_string(),
            check: "test".to_string(),
            severity: Severity::Info,
            status: None,
            violation_id: None,
            observed: None,
            expected: String::new(),
            message: "This channel works: dq can reach it. Nothing to do.".to_string(),
            sample: Vec::new(),
            run_id: None,
            run_at: None,
            at,
            dedup_key: dedup_key(TEST_RULE),
            suppressed: 0,
            route: "doctor".to_string(),
        }
    }

    /// One line: `CRITICAL orders_fresh failed on warehouse/public.orders`.
    pub fn title(&self) -> String {
        let what = match self.kind {
            ItemKind::Violation => match self.status {
                Some(RunStatus::Warned) => "warned",
                _ => "failed",
            },
            ItemKind::Escalation => "still failing, unacknowledged",
            ItemKind::Recovery => "recovered",
        };
        let severity = match self.kind {
            ItemKind::Recovery => "RESOLVED".to_string(),
            _ => self.severity.to_string(),
        };
        format!(
            "{severity} {} {what} on {}/{}",
            self.rule, self.target, self.dataset
        )
    }

    /// How to acknowledge, when there is something to acknowledge.
    pub fn ack_hint(&self) -> Option<String> {
        match (self.kind, self.violation_id) {
            (ItemKind::Recovery, _) | (_, None) => None,
            (_, Some(id)) => Some(format!("dq ack {id}")),
        }
    }

    /// `observed 3 rows, expected <= 0`.
    pub fn observed_vs_expected(&self) -> String {
        match (&self.observed, self.expected.is_empty()) {
            (Some(o), false) => format!("observed {o}, expected {}", self.expected),
            (Some(o), true) => format!("observed {o}"),
            (None, false) => format!("expected {}", self.expected),
            (None, true) => String::new(),
        }
    }
}

impl From<AlertEventKind> for ItemKind {
    fn from(kind: AlertEventKind) -> Self {
        match kind {
            AlertEventKind::Violation => ItemKind::Violation,
            AlertEventKind::Escalation => ItemKind::Escalation,
            AlertEventKind::Recovery => ItemKind::Recovery,
        }
    }
}
