//! Fixtures for the unit tests: rules, events and a configuration with the
//! three default channels.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dq_core::{
    Bounds, Check, Dataset, Identifier, Queue, Rule, RuleName, RunId, RunStatus, Schedule, Scope,
    Severity, Thresholds,
};
use dq_store::{AlertEvent, AlertEventKind, AlertRun, StoredRule, ViolationRecord};

use crate::config::{AlertsConfig, RawAlerts};

pub fn rule(name: &str, tags: &[&str], owner: Option<&str>) -> Rule {
    Rule {
        name: RuleName::new(name).unwrap(),
        description: Some("customer ids are never NULL".into()),
        owner: owner.map(str::to_string),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        target: "warehouse".into(),
        dataset: Dataset::parse("public.orders").unwrap(),
        check: Check::NullCount {
            column: Identifier::new("customer_id").unwrap(),
        },
        severity: Severity::High,
        thresholds: Thresholds::fail(Bounds::at_most(0.0)),
        schedule: Schedule::new("*/5 * * * *", "UTC").unwrap(),
        queue: Queue::Database,
        enabled: true,
        scope: Scope::default(),
        timeout: Duration::from_secs(60),
        alert_cooldown_minutes: 60,
        shadow: false,
        parameters: serde_json::Map::new(),
    }
}

pub fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 29, 10, 0, 0).unwrap() + chrono::Duration::minutes(minute)
}

pub fn config() -> AlertsConfig {
    let raw: RawAlerts = serde_json::from_value(serde_json::json!({
        "channels": {
            "slack": {"type": "slack", "url_env": "SLACK_URL"},
            "email": {"type": "email", "host": "127.0.0.1", "tls": "none",
                      "from": "dq@example.com", "to": ["oncall@example.com"]},
            "pagerduty": {"type": "pagerduty", "routing_key_env": "PD_KEY"}
        }
    }))
    .unwrap();
    AlertsConfig::from_raw(raw).unwrap()
}

/// An event of `rule` at minute `minute`; a violation (id `minute + 1`)
/// of `severity` unless `kind` is a recovery.
pub fn event(
    kind: AlertEventKind,
    rule: &Rule,
    severity: Severity,
    status: RunStatus,
    minute: i64,
) -> AlertEvent {
    let run_id = RunId::for_tick(&rule.name, at(minute));
    let violation = (kind != AlertEventKind::Recovery).then(|| ViolationRecord {
        id: minute + 1,
        run_id,
        rule_id: 1,
        rule_name: rule.name.clone(),
        severity,
        detected_at: at(minute),
        message: "null_count 3 > 0".into(),
        observed_value: Some(1234.0),
        expected: "<= 0".into(),
        sample: vec![serde_json::json!({"id": 7, "customer_id": null})],
        acknowledged: false,
        acknowledged_by: None,
        acknowledged_at: None,
        ack_note: None,
        ack_delay_ms: None,
        resolved_at: None,
    });
    AlertEvent {
        outbox_id: Some(minute + 100),
        kind,
        at: at(minute),
        rule: StoredRule {
            id: 1,
            rule: rule.clone(),
            source: None,
            created_at: at(0),
            updated_at: at(0),
            version: 1,
            deleted_at: None,
        },
        run: Some(AlertRun {
            id: run_id,
            scheduled_for: at(minute),
            finished_at: Some(at(minute)),
            status,
            observed_value: Some(if kind == AlertEventKind::Recovery {
                0.0
            } else {
                1234.0
            }),
            expected: "<= 0".into(),
            message: "null_count".into(),
        }),
        violation,
    }
}
