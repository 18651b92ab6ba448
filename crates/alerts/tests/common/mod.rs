//! A store with rules, runs recorded into it as a worker records them, a
//! receiver for HTTP channels and a real SMTP server, and a dispatcher
//! configured to send to them.

#![allow(dead_code)]

pub mod receiver;
pub mod smtp;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_alerts::{AlertsConfig, Dispatcher, RawAlerts};
use dq_core::{
    Bounds, Check, Dataset, Identifier, Queue, Rule, RuleName, RunStatus, Schedule, Scope,
    Severity, Thresholds,
};
use dq_store::{NewRun, NewViolation, Store};

pub use receiver::{Answer, Receiver};
pub use smtp::SmtpServer;

pub struct World {
    pub store: Store,
    _dir: tempfile::TempDir,
}

pub fn rule(name: &str, severity: Severity, tags: &[&str]) -> Rule {
    Rule {
        name: RuleName::new(name).unwrap(),
        description: Some(format!("{name} holds")),
        owner: Some("data-eng".into()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        target: "warehouse".into(),
        dataset: Dataset::parse("public.orders").unwrap(),
        check: Check::NullCount {
            column: Identifier::new("customer_id").unwrap(),
        },
        severity,
        thresholds: Thresholds::fail(Bounds::at_most(0.0)),
        schedule: Schedule::new("* * * * *", "UTC").unwrap(),
        queue: Queue::Database,
        enabled: true,
        scope: Scope::default(),
        timeout: Duration::from_secs(60),
        alert_cooldown_minutes: 60,
        shadow: false,
        parameters: serde_json::Map::new(),
    }
}

impl World {
    pub async fn new(rules: &[Rule]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("dq.db").display());
        let store = Store::open(&url).await.unwrap();
        store.apply_load(rules, "m.yaml").await.unwrap();
        World { store, _dir: dir }
    }

    /// A run of `rule` at `at`, as a worker writes it: FAILED with a
    /// violation when `failing`, else PASSED.
    pub async fn run(&self, rule: &Rule, at: DateTime<Utc>, failing: bool) {
        let status = if failing {
            RunStatus::Failed
        } else {
            RunStatus::Passed
        };
        let mut run = NewRun::for_rule(rule, at, status);
        run.started_at = Some(at);
        run.finished_at = Some(at);
        run.observed_value = Some(if failing { 3.0 } else { 0.0 });
        run.expected = "<= 0".into();
        run.message = format!("{} null customer ids", if failing { 3 } else { 0 });
        run.severity = failing.then_some(rule.severity);
        let violation = failing.then(|| NewViolation {
            severity: rule.severity,
            detected_at: at,
            message: "3 null customer ids".into(),
            observed_value: Some(3.0),
            expected: "<= 0".into(),
            sample: vec![serde_json::json!({"id": 7, "customer_id": null})],
        });
        assert!(self
            .store
            .record_run(&run, violation.as_ref(), &[])
            .await
            .unwrap());
    }

    pub fn dispatcher(&self, config: AlertsConfig, env: &HashMap<String, String>) -> Dispatcher {
        Dispatcher::new(self.store.clone(), config, "test-dispatcher", &|var| {
            env.get(var).cloned()
        })
        .unwrap()
    }
}

/// `[alerts]` from JSON (the shape dq.toml has), with quick timings.
pub fn config(overrides: serde_json::Value) -> AlertsConfig {
    let mut raw = serde_json::json!({
        "batch_window": "0s",
        // On only where a test says so: its timeline is in the past.
        "escalate_after": "0s",
        "retry_min_delay": "50ms",
        "retry_max_delay": "200ms",
        "send_timeout": "3s",
        "lease": "5s",
        "poll_interval": "50ms",
    });
    merge(&mut raw, overrides);
    let raw: RawAlerts = serde_json::from_value(raw).unwrap();
    AlertsConfig::from_raw(raw).unwrap()
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (slot, value) => *slot = value,
    }
}

/// Slack, PagerDuty and a webhook on `receiver`, email on `smtp` (if any),
/// and the environment that names their URLs and keys.
pub fn channels(
    receiver: &Receiver,
    smtp: Option<&SmtpServer>,
) -> (serde_json::Value, HashMap<String, String>) {
    let mut channels = serde_json::json!({
        "slack": {"type": "slack", "url_env": "T_SLACK_URL"},
        "payments_slack": {"type": "slack", "url_env": "T_PAYMENTS_URL"},
        "pagerduty": {"type": "pagerduty", "routing_key_env": "T_PD_KEY", "url_env": "T_PD_URL"},
        "hook": {"type": "webhook", "url_env": "T_HOOK_URL", "secret_env": "T_HOOK_SECRET"},
    });
    if let Some(smtp) = smtp {
        channels["email"] = serde_json::json!({
            "type": "email", "host": "127.0.0.1", "port": smtp.port, "tls": "none",
            "from": "dq <dq@example.com>", "to": ["oncall@example.com"],
        });
    }
    let env = [
        ("T_SLACK_URL", receiver.url("/slack")),
        ("T_PAYMENTS_URL", receiver.url("/payments")),
        ("T_PD_KEY", "routing-key-123".to_string()),
        ("T_PD_URL", receiver.url("/pagerduty")),
        ("T_HOOK_URL", receiver.url("/hook")),
        ("T_HOOK_SECRET", "s3cret".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    (channels, env)
}

/// Minute `m` of a test's timeline: two hours ago plus `m`, recent enough
/// that nothing is stale.
pub fn minutes(m: i64) -> DateTime<Utc> {
    static BASE: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| Utc::now() - chrono::Duration::hours(2));
    base + chrono::Duration::minutes(m)
}
