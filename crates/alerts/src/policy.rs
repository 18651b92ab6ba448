//! Alert fatigue controls: what one event sends, given the rule's alert
//! state. Pure: the store hands each event and state in, and writes back
//! the decision in the planning transaction.
//!
//! - An incident opens with a rule's first violation and closes with the
//!   passing run that resolves it. Its first violation notifies.
//! - Repeats are suppressed while the violation stays unchanged (same
//!   status, severity and expectation); a change notifies again.
//! - Cooldown: a rule's violations notify at most once per
//!   `alert_cooldown_minutes` (a worse severity goes through). A violation
//!   held back by the cooldown notifies once the cooldown is over, if the
//!   rule is still failing.
//! - Acknowledged incidents stay quiet unless they change.
//! - Escalation: an unacknowledged incident at or above
//!   `escalate_min_severity` notifies again `escalate_after` after its last
//!   notification.
//! - Recovery: the channels an incident reached hear that it is resolved
//!   (PagerDuty resolves its incident); an incident never notified closes
//!   quietly.
//! - Events older than `stale_after` update the state but send nothing
//!   (`0s`: no event is stale).

use chrono::{DateTime, Utc};
use dq_core::Severity;
use dq_store::{AlertDecision, AlertEvent, AlertEventKind, Notification, RuleAlertState};

use crate::config::{AlertsConfig, ChannelConfig};
use crate::item::{AlertItem, ItemKind};

/// What `decision.outcome` says, for the record and for tests.
pub mod outcome {
    pub const NOTIFIED: &str = "NOTIFIED";
    pub const CHANGED: &str = "CHANGED";
    pub const ESCALATED: &str = "ESCALATED";
    pub const RECOVERED: &str = "RECOVERED";
    pub const RESOLVED_QUIETLY: &str = "RESOLVED_QUIETLY";
    pub const SUPPRESSED_REPEAT: &str = "SUPPRESSED_REPEAT";
    pub const SUPPRESSED_COOLDOWN: &str = "SUPPRESSED_COOLDOWN";
    pub const SUPPRESSED_ACKNOWLEDGED: &str = "SUPPRESSED_ACKNOWLEDGED";
    pub const STALE: &str = "STALE";
    pub const NO_VIOLATION: &str = "NO_VIOLATION";
}

/// What makes two violations of a rule "the same".
fn fingerprint(event: &AlertEvent, severity: Severity) -> String {
    let status = event.run.as_ref().map(|r| r.status.as_str()).unwrap_or("");
    let expected = event
        .violation
        .as_ref()
        .map(|v| v.expected.as_str())
        .unwrap_or("");
    format!("{status}|{severity}|{expected}")
}

fn elapsed_at_least(from: DateTime<Utc>, to: DateTime<Utc>, span: std::time::Duration) -> bool {
    chrono::Duration::from_std(span).is_ok_and(|span| to - from >= span)
}

pub fn decide(
    config: &AlertsConfig,
    event: &AlertEvent,
    state: &RuleAlertState,
    now: DateTime<Utc>,
) -> AlertDecision {
    match event.kind {
        AlertEventKind::Violation => violation(config, event, state, now),
        AlertEventKind::Escalation => escalation(config, event, state, now),
        AlertEventKind::Recovery => recovery(config, event, state),
    }
}

fn violation(
    config: &AlertsConfig,
    event: &AlertEvent,
    state: &RuleAlertState,
    now: DateTime<Utc>,
) -> AlertDecision {
    let Some(violation) = &event.violation else {
        return AlertDecision {
            outcome: outcome::NO_VIOLATION.into(),
            state: state.clone(),
            notifications: Vec::new(),
        };
    };
    let rule = &event.rule.rule;
    let severity = violation.severity;
    let at = event.at;
    let print = fingerprint(event, severity);
    let cooldown = std::time::Duration::from_secs(u64::from(rule.alert_cooldown_minutes) * 60);
    let cooled = state
        .last_alert_at
        .is_none_or(|last| elapsed_at_least(last, at, cooldown));

    let mut next = state.clone();
    let new_incident = !state.open;
    if new_incident {
        next.open = true;
        next.opened_at = Some(at);
        next.notified_at = None;
        next.channels.clear();
        next.suppressed = 0;
    }
    // Severity and fingerprint are those last notified (or of the first
    // violation), so a change held back by the cooldown still counts as
    // a change once the cooldown is over.
    if new_incident {
        next.severity = Some(severity);
        next.fingerprint = Some(print.clone());
    }
    next.last_violation_id = Some(violation.id);

    let changed = !new_incident && state.fingerprint.as_deref() != Some(print.as_str());
    let worse = !new_incident && state.severity.is_some_and(|s| severity > s);
    let escalation_due = config.escalate_after.is_some_and(|after| {
        severity >= config.escalate_min_severity
            && state
                .notified_at
                .is_some_and(|last| elapsed_at_least(last, at, after))
    });
    let (send, said, kind) = if is_stale(at, now, config.stale_after) {
        (false, outcome::STALE, ItemKind::Violation)
    } else if new_incident || (state.notified_at.is_none() && !changed) {
        if cooled {
            (true, outcome::NOTIFIED, ItemKind::Violation)
        } else {
            (false, outcome::SUPPRESSED_COOLDOWN, ItemKind::Violation)
        }
    } else if changed {
        if cooled || worse {
            (true, outcome::CHANGED, ItemKind::Violation)
        } else {
            (false, outcome::SUPPRESSED_COOLDOWN, ItemKind::Violation)
        }
    } else if state.acknowledged {
        (false, outcome::SUPPRESSED_ACKNOWLEDGED, ItemKind::Violation)
    } else if escalation_due {
        (true, outcome::ESCALATED, ItemKind::Escalation)
    } else {
        (false, outcome::SUPPRESSED_REPEAT, ItemKind::Violation)
    };
    if !send {
        next.suppressed = next.suppressed.saturating_add(1);
        return AlertDecision {
            outcome: said.into(),
            state: next,
            notifications: Vec::new(),
        };
    }
    let route = config.routes.route(rule, severity);
    let item = AlertItem::from_event(event, kind, severity, &route.name, state.suppressed);
    let notifications = notifications(config, &route.name, &route.channels, &item);
    next.severity = Some(severity);
    next.fingerprint = Some(print);
    // Escalation counts from when the message went out; the cooldown from
    // when the violation was detected.
    next.notified_at = Some(now);
    next.last_alert_at = Some(at);
    next.suppressed = 0;
    for n in &notifications {
        if !next.channels.contains(&n.channel) {
            next.channels.push(n.channel.clone());
        }
    }
    AlertDecision {
        outcome: said.into(),
        state: next,
        notifications,
    }
}

/// Older than `stale_after` (`0s`: nothing is ever stale).
fn is_stale(at: DateTime<Utc>, now: DateTime<Utc>, stale_after: std::time::Duration) -> bool {
    !stale_after.is_zero() && elapsed_at_least(at, now, stale_after)
}

fn escalation(
    config: &AlertsConfig,
    event: &AlertEvent,
    state: &RuleAlertState,
    now: DateTime<Utc>,
) -> AlertDecision {
    let rule = &event.rule.rule;
    let severity = state.severity.unwrap_or(rule.severity);
    let route = config.routes.route(rule, severity);
    let item = AlertItem::from_event(
        event,
        ItemKind::Escalation,
        severity,
        &route.name,
        state.suppressed,
    );
    let notifications = notifications(config, &route.name, &route.channels, &item);
    let mut next = state.clone();
    next.notified_at = Some(now);
    next.last_alert_at = Some(now);
    next.suppressed = 0;
    for n in &notifications {
        if !next.channels.contains(&n.channel) {
            next.channels.push(n.channel.clone());
        }
    }
    AlertDecision {
        outcome: outcome::ESCALATED.into(),
        state: next,
        notifications,
    }
}

fn recovery(config: &AlertsConfig, event: &AlertEvent, state: &RuleAlertState) -> AlertDecision {
    let rule = &event.rule.rule;
    let closed = RuleAlertState {
        rule_id: state.rule_id,
        last_alert_at: state.last_alert_at,
        ..RuleAlertState::default()
    };
    if !state.open || state.notified_at.is_none() {
        return AlertDecision {
            outcome: outcome::RESOLVED_QUIETLY.into(),
            state: closed,
            notifications: Vec::new(),
        };
    }
    let severity = state.severity.unwrap_or(rule.severity);
    let route = config.routes.route(rule, severity);
    let item = AlertItem::from_event(
        event,
        ItemKind::Recovery,
        severity,
        &route.name,
        state.suppressed,
    );
    AlertDecision {
        outcome: outcome::RECOVERED.into(),
        state: closed,
        notifications: notifications(config, &route.name, &state.channels, &item),
    }
}

/// One notification per configured channel. PagerDuty events are never
/// batched: each is one incident action, sent at once.
fn notifications(
    config: &AlertsConfig,
    route: &str,
    channels: &[String],
    item: &AlertItem,
) -> Vec<Notification> {
    let json = serde_json::to_value(item).unwrap_or(serde_json::Value::Null);
    channels
        .iter()
        .filter_map(|name| config.channels.get(name).map(|c| (name, c)))
        .map(|(name, channel)| Notification {
            channel: name.clone(),
            batch_key: route.to_string(),
            batch_window: match channel {
                ChannelConfig::Pagerduty(_) => std::time::Duration::ZERO,
                _ => config.batch_window,
            },
            item: json.clone(),
        })
        .collect()
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
