//! Shared fixtures: a store in a fresh SQLite file, rules and runs to put in it.
#![allow(dead_code)] // each test binary uses its own subset

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dq_core::{
    Bounds, Check, Dataset, Identifier, Queue, Rule, RuleName, RunStatus, Schedule, Scope,
    Severity, Thresholds,
};
use dq_store::{NewRun, NewViolation, Store};
use sqlx::SqlitePool;
use tempfile::TempDir;

pub struct TestStore {
    pub store: Store,
    pub url: String,
    _dir: TempDir,
}

impl TestStore {
    /// A second, raw connection to the same file, to look under the API.
    pub async fn raw(&self) -> SqlitePool {
        SqlitePool::connect(&self.url).await.unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.raw().await)
            .await
            .unwrap()
    }
}

pub async fn open() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("dq.db").display());
    let store = Store::open(&url).await.unwrap();
    TestStore {
        store,
        url,
        _dir: dir,
    }
}

/// A null_count rule on public.orders.
pub fn rule(name: &str, column: &str) -> Rule {
    Rule {
        name: RuleName::new(name).unwrap(),
        description: None,
        owner: None,
        tags: Vec::new(),
        target: "warehouse".to_string(),
        dataset: Dataset::parse("public.orders").unwrap(),
        check: Check::NullCount {
            column: Identifier::new(column).unwrap(),
        },
        severity: Severity::High,
        thresholds: Thresholds::fail(Bounds::at_most(0.0)),
        schedule: Schedule::new("*/5 * * * *", "UTC").unwrap(),
        queue: Queue::Database,
        enabled: true,
        scope: Scope::default(),
        timeout: Duration::from_secs(300),
        alert_cooldown_minutes: 60,
        parameters: serde_json::Map::new(),
    }
}

pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 29, 10, minute, 0).unwrap()
}

pub fn run(rule: &Rule, minute: u32, status: RunStatus) -> NewRun {
    let mut run = NewRun::for_rule(rule, at(minute), status);
    run.started_at = Some(at(minute));
    run.finished_at = Some(at(minute) + chrono::Duration::seconds(2));
    run.observed_value = Some(3.0);
    run.expected = "<= 0".to_string();
    run.message = format!("{} at :{minute:02}", rule.name);
    run
}

pub fn violation(severity: Severity, minute: u32) -> NewViolation {
    NewViolation {
        severity,
        detected_at: at(minute) + chrono::Duration::seconds(2),
        message: "null_count 3 > 0".to_string(),
        observed_value: Some(3.0),
        expected: "<= 0".to_string(),
        sample: vec![serde_json::json!({"id": 7, "customer_id": null})],
    }
}
