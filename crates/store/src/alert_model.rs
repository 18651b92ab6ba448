//! Records of alerting: what the outbox holds, each rule's alert state, the
//! decisions a dispatcher takes about an event, and the deliveries and
//! attempts it records. The store keeps them; what to decide is dq-alerts'.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_core::{RunId, RunStatus, Severity};
use serde::Serialize;

use crate::model::{StoredRule, ViolationRecord};

/// Why an alert event exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AlertEventKind {
    /// A run raised a violation (written by the run's finish).
    Violation,
    /// A passing run resolved the rule's open violations (written by its finish).
    Recovery,
    /// An open incident stayed unacknowledged past the escalation time
    /// (found by the dispatcher, never in the outbox).
    Escalation,
}

impl AlertEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertEventKind::Violation => "VIOLATION",
            AlertEventKind::Recovery => "RECOVERY",
            AlertEventKind::Escalation => "ESCALATION",
        }
    }
}

impl FromStr for AlertEventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "VIOLATION" => Ok(AlertEventKind::Violation),
            "RECOVERY" => Ok(AlertEventKind::Recovery),
            "ESCALATION" => Ok(AlertEventKind::Escalation),
            other => Err(format!("unknown alert event kind {other:?}")),
        }
    }
}

/// The run behind an event, as much of it as a message shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRun {
    pub id: RunId,
    pub scheduled_for: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub observed_value: Option<f64>,
    pub expected: String,
    pub message: String,
}

/// One event to decide about, with everything a message needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    /// The outbox entry; `None` for an escalation.
    pub outbox_id: Option<i64>,
    pub kind: AlertEventKind,
    /// When it happened: the violation's detection, the recovering run's
    /// finish, or (escalation) the dispatcher's now.
    pub at: DateTime<Utc>,
    pub rule: StoredRule,
    pub run: Option<AlertRun>,
    /// The violation raised (VIOLATION), or the incident's last one (ESCALATION).
    pub violation: Option<ViolationRecord>,
}

/// A rule's alert state: its open incident, if any, and what was notified.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RuleAlertState {
    pub rule_id: i64,
    /// An incident is open: from a first violation to the passing run that
    /// resolves it.
    pub open: bool,
    pub opened_at: Option<DateTime<Utc>>,
    pub severity: Option<Severity>,
    /// What "unchanged" compares (see dq-alerts' policy).
    pub fingerprint: Option<String>,
    pub last_violation_id: Option<i64>,
    /// The last notification of the open incident.
    pub notified_at: Option<DateTime<Utc>>,
    /// The channels the open incident reached: where its recovery goes.
    pub channels: Vec<String>,
    /// Repeats suppressed since the last notification.
    pub suppressed: u32,
    /// The last violation notification of any incident (the cooldown).
    pub last_alert_at: Option<DateTime<Utc>>,
    /// Read only: a violation of the open incident has been acknowledged.
    pub acknowledged: bool,
}

/// What to do about one event: the state to keep, the messages to send.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertDecision {
    /// For the record (`alert_outbox.decision`): `NOTIFIED`, `SUPPRESSED_REPEAT`, ...
    pub outcome: String,
    pub state: RuleAlertState,
    pub notifications: Vec<Notification>,
}

/// One item for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub channel: String,
    /// Items for the same channel and batch key that come within
    /// `batch_window` of the first share one message.
    pub batch_key: String,
    pub batch_window: Duration,
    /// What the channel renders (dq-alerts' `AlertItem` as JSON).
    pub item: serde_json::Value,
}

/// Escalation: open incidents at or above `min_severity`, notified last at
/// or before `notified_before` and not acknowledged, are decided again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationScan {
    pub notified_before: DateTime<Utc>,
    pub min_severity: Severity,
}

/// What one planning pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    pub events: usize,
    pub escalations: usize,
    pub notifications: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    Pending,
    Sending,
    Sent,
    Failed,
    /// Its dispatcher died during an attempt: it may have arrived, so it is
    /// never sent again.
    InDoubt,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 5] = [
        DeliveryState::Pending,
        DeliveryState::Sending,
        DeliveryState::Sent,
        DeliveryState::Failed,
        DeliveryState::InDoubt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "PENDING",
            DeliveryState::Sending => "SENDING",
            DeliveryState::Sent => "SENT",
            DeliveryState::Failed => "FAILED",
            DeliveryState::InDoubt => "IN_DOUBT",
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeliveryState::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| format!("unknown delivery state {s:?}"))
    }
}

/// A delivery a dispatcher claimed: its attempt is recorded STARTED.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub channel: String,
    pub batch_key: String,
    /// This attempt's number, 1-based.
    pub attempt: u32,
    /// The items, in the order they were added.
    pub items: Vec<serde_json::Value>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Delivered {
        status: Option<u16>,
    },
    /// Try again at `not_before`.
    Retry {
        status: Option<u16>,
        error: String,
        not_before: DateTime<Utc>,
    },
    /// Given up: a refusal that will not change, or the last attempt.
    Failed {
        status: Option<u16>,
        error: String,
    },
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    pub id: i64,
    pub channel: String,
    pub batch_key: String,
    pub state: DeliveryState,
    pub created_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub attempts: u32,
    pub claimed_by: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub items: Vec<serde_json::Value>,
}

/// One attempt as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    pub delivery_id: i64,
    pub attempt: u32,
    pub dispatcher: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// STARTED, DELIVERED, RETRY, FAILED or UNKNOWN (its dispatcher died).
    pub outcome: String,
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Deliveries created at or after this instant.
    pub since: Option<DateTime<Utc>>,
    pub channels: Vec<String>,
    pub states: Vec<DeliveryState>,
    pub limit: Option<u32>,
}

/// What is still to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AlertBacklog {
    /// Outbox events not yet planned.
    pub unplanned: u64,
    /// Deliveries PENDING or SENDING.
    pub undelivered: u64,
}
