//! Retention on both backends: what a cleanup deletes (runs with their
//! violations, metrics, alert events, items, emptied deliveries and their
//! attempts), what it keeps (open violations, acknowledgements of open
//! incidents, undelivered alerts, runs in flight), batches, the archive
//! written before each delete, and a plan that writes nothing.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{on_each_backend, Backend};
use dq_core::{Rule, RunStatus, Severity};
use dq_store::{
    AlertDecision, AlertEvent, AlertEventKind, ArchiveSink, ArchivedRow, AttemptOutcome,
    CleanupError, CleanupReport, EscalationScan, MetricPoint, Notification, RuleAlertState,
    RunFilter, ViolationFilter, RETAINED_TABLES,
};

/// The tables retention touches, with their row counts.
async fn counts(t: &common::TestStore) -> Vec<(&'static str, i64)> {
    let mut all = Vec::new();
    for table in RETAINED_TABLES {
        all.push((table, t.count(table).await));
    }
    all
}

fn points(rule: &Rule, minute: u32) -> Vec<MetricPoint> {
    ["row_count", "null_count"]
        .into_iter()
        .map(|name| MetricPoint {
            run_id: None,
            rule_id: None,
            target: rule.target.clone(),
            dataset: rule.dataset.to_string(),
            column: None,
            name: name.to_string(),
            value: 3.0,
            observed_at: common::at(minute),
        })
        .collect()
}

/// A finished run of `rule` at `minute` with two metric points: FAILED
/// with a violation, or PASSED.
async fn record(t: &common::TestStore, rule: &Rule, minute: u32, failed: bool) {
    let status = if failed {
        RunStatus::Failed
    } else {
        RunStatus::Passed
    };
    let mut run = common::run(rule, minute, status);
    run.severity = failed.then_some(Severity::High);
    let violation = failed.then(|| common::violation(Severity::High, minute));
    assert!(t
        .store
        .record_run(&run, violation.as_ref(), &points(rule, minute))
        .await
        .unwrap());
}

/// Notifies "slack" about every event, one delivery each (no batching
/// window), opening the rule's incident on a violation, closing it on a
/// recovery.
fn notify(event: &AlertEvent, state: &RuleAlertState) -> AlertDecision {
    AlertDecision {
        outcome: "NOTIFIED".into(),
        state: RuleAlertState {
            open: event.kind != AlertEventKind::Recovery,
            opened_at: state.opened_at.or(Some(event.at)),
            notified_at: Some(event.at),
            severity: event.violation.as_ref().map(|v| v.severity),
            ..state.clone()
        },
        notifications: vec![Notification {
            channel: "slack".into(),
            batch_key: "default".into(),
            batch_window: Duration::ZERO,
            item: serde_json::json!({"rule": event.rule.rule.name.as_str()}),
        }],
    }
}

/// Plans every pending event and, with `deliver`, sends every delivery.
async fn alert(t: &common::TestStore, deliver: bool) {
    t.store
        .plan_alerts(common::at(30), 100, None, &mut notify)
        .await
        .unwrap();
    if !deliver {
        return;
    }
    let claimed = t
        .store
        .claim_deliveries("d", common::at(30), Duration::from_secs(60), 100)
        .await
        .unwrap();
    for delivery in &claimed {
        let sent = AttemptOutcome::Delivered { status: Some(200) };
        t.store
            .settle_delivery(delivery, "d", &sent, common::at(30))
            .await
            .unwrap();
    }
}

async fn violation_id(t: &common::TestStore, rule: &str, minute: u32) -> i64 {
    let all = t
        .store
        .violations(&ViolationFilter::default())
        .await
        .unwrap();
    let detected = common::violation(Severity::High, minute).detected_at;
    all.iter()
        .find(|v| v.rule_name.as_str() == rule && v.detected_at == detected)
        .unwrap()
        .id
}

/// Before the cutoff `at(20)`:
/// - rule a: :00 passed, :05 failed (acknowledged), :10 failed, :15
///   passed (resolving both, incident closed): all four go, with their
///   three alert events, items, deliveries (sent) and attempts;
/// - rule c: :00 failed, acknowledged, its incident still open: stays;
/// - rule b: :00 failed, unacknowledged, its alert not yet sent: stays;
///   :05 still RUNNING: stays.
///
/// After the cutoff, a :25 passed: not old enough.
async fn seeded(backend: Backend) -> common::TestStore {
    let t = common::open(backend).await;
    let [a, b, c] = ["a", "b", "c"].map(|name| common::rule(name, "x"));
    t.store
        .apply_load(&[a.clone(), b.clone(), c.clone()], "m.yaml")
        .await
        .unwrap();
    for (minute, failed) in [(0, false), (5, true), (10, true), (15, false)] {
        record(&t, &a, minute, failed).await;
    }
    record(&t, &c, 0, true).await;
    alert(&t, true).await;
    for (rule, minute) in [("a", 5), ("c", 0)] {
        let id = violation_id(&t, rule, minute).await;
        t.store
            .acknowledge(&[id], "ana", None, common::at(31))
            .await
            .unwrap();
    }
    record(&t, &b, 0, true).await;
    alert(&t, false).await;
    let running = common::pending(&b, 1);
    t.store
        .enqueue_runs(None, std::slice::from_ref(&running))
        .await
        .unwrap();
    t.store
        .start_runs(&[running.id], "w", 1, common::at(6))
        .await
        .unwrap();
    record(&t, &a, 25, false).await;
    t
}

fn cutoff() -> chrono::DateTime<chrono::Utc> {
    common::at(20)
}

/// `(table, deleted, kept)` for every retained table.
fn summary(report: &CleanupReport) -> Vec<(&'static str, u64, Option<u64>)> {
    report
        .tables
        .iter()
        .map(|t| (t.table, t.deleted, t.kept))
        .collect()
}

const EXPECTED: [(&str, u64, Option<u64>); 7] = [
    ("runs", 4, Some(3)),
    ("violations", 2, Some(2)),
    ("metrics", 8, Some(4)),
    ("alert_outbox", 3, Some(2)),
    ("alert_deliveries", 3, None),
    ("alert_attempts", 3, None),
    ("alert_delivery_items", 3, Some(2)),
];

/// Collects archived rows; fails on the `fail_at`-th write (1-based), if any.
#[derive(Default)]
struct Collected {
    rows: Vec<ArchivedRow>,
    flushes: usize,
    fail_at: Option<usize>,
}

impl ArchiveSink for Collected {
    fn write(&mut self, row: &ArchivedRow) -> std::io::Result<()> {
        if self.fail_at == Some(self.rows.len() + 1) {
            return Err(std::io::Error::other("disk full"));
        }
        self.rows.push(row.clone());
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

async fn the_plan_counts_what_goes_and_what_stays_and_writes_nothing(backend: Backend) {
    let t = seeded(backend).await;
    let before = counts(&t).await;
    let plan = t.store.cleanup_plan(cutoff()).await.unwrap();
    assert!(plan.dry_run);
    assert_eq!(plan.batches, 0);
    assert_eq!(summary(&plan), EXPECTED);
    assert_eq!(counts(&t).await, before, "a plan writes nothing");
    let none = t.store.cleanup_plan(common::at(0)).await.unwrap();
    assert_eq!(
        none.total_deleted(),
        0,
        "nothing is older than the first run"
    );
}

async fn cleanup_deletes_in_batches_archiving_each_row_first(backend: Backend) {
    let t = seeded(backend).await;
    let before = counts(&t).await;
    let mut archive = Collected::default();
    let mut seen = Vec::new();
    let report = t
        .store
        .cleanup(cutoff(), 3, Some(&mut archive), &mut |r| {
            seen.push(r.deleted("runs"))
        })
        .await
        .unwrap();
    assert!(!report.dry_run);
    assert_eq!(summary(&report), EXPECTED);
    assert_eq!(report.batches, 2, "4 runs, 3 a batch");
    assert_eq!(seen, [3, 4], "progress after each batch");
    assert_eq!(archive.flushes, 2, "one flush per batch, before its commit");
    for ((table, was), (_, now)) in before.iter().zip(counts(&t).await) {
        assert_eq!(was - now, report.deleted(table) as i64, "{table}");
    }

    // Everything deleted is archived, once, and parents come first in a batch.
    for (table, deleted, _) in EXPECTED {
        let archived = archive.rows.iter().filter(|r| r.table == table).count();
        assert_eq!(archived as u64, deleted, "{table}");
    }
    assert_eq!(archive.rows[0].table, "runs");
    let archived_runs: BTreeSet<String> = archive
        .rows
        .iter()
        .filter(|r| r.table == "runs")
        .map(|r| r.row["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        archived_runs,
        ["a at :00", "a at :05", "a at :10", "a at :15"]
            .map(String::from)
            .into()
    );
    let acknowledged = archive
        .rows
        .iter()
        .find(|r| r.table == "violations" && r.row["acknowledged"] == true)
        .unwrap();
    assert_eq!(acknowledged.row["acknowledged_by"], "ana");
    assert_eq!(
        acknowledged.row["detected_at"], "2026-03-29T10:05:02.000000Z",
        "timestamps as fixed-width RFC 3339 UTC"
    );
    assert_eq!(
        acknowledged.row["sample"],
        serde_json::json!([{"id": 7, "customer_id": null}]),
        "JSON columns as JSON"
    );
    let item = archive
        .rows
        .iter()
        .find(|r| r.table == "alert_delivery_items")
        .unwrap();
    assert_eq!(item.row["item"], serde_json::json!({"rule": "a"}));
    let attempt = archive
        .rows
        .iter()
        .find(|r| r.table == "alert_attempts")
        .unwrap();
    assert_eq!(attempt.row["outcome"], "DELIVERED");
    assert_eq!(attempt.row["status"], 200);

    // What stays: c (acknowledged, incident open), b's open violation and
    // its undelivered alert, b's running run, and a's run after the cutoff.
    let left: BTreeSet<String> = t
        .store
        .runs(&RunFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{}@{}", r.rule_name, r.scheduled_for.format("%M")))
        .collect();
    assert_eq!(
        left,
        ["a@25", "b@05", "b@00", "c@00"].map(String::from).into()
    );
    // c's incident still counts as acknowledged: only b's escalates.
    let scan = EscalationScan {
        notified_before: common::at(59),
        min_severity: Severity::Info,
    };
    let planned = t
        .store
        .plan_alerts(common::at(59), 100, Some(scan), &mut notify)
        .await
        .unwrap();
    assert_eq!(planned.escalations, 1);

    // Again: nothing left to delete, the same kept.
    let again = t
        .store
        .cleanup(cutoff(), 3, None, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(again.batches, 0);
    assert_eq!(again.total_deleted(), 0);
    assert_eq!(again.table("runs").unwrap().kept, Some(3));
}

async fn a_batch_whose_archive_fails_is_not_deleted(backend: Backend) {
    let t = seeded(backend).await;
    let runs_before = t.count("runs").await;
    // One run a batch: each batch archives 1 run, up to 1 violation, 2
    // metrics, up to 1 event, delivery, attempt and item. Fail in the
    // second batch.
    let mut archive = Collected {
        fail_at: Some(4),
        ..Collected::default()
    };
    let failed = t
        .store
        .cleanup(cutoff(), 1, Some(&mut archive), &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&failed, CleanupError::Archive(e) if e.to_string() == "disk full"),
        "{failed:?}"
    );
    assert_eq!(archive.flushes, 1, "only the first batch completed");
    assert_eq!(
        t.count("runs").await,
        runs_before - 1,
        "the first batch stays deleted, the second is not"
    );
    let plan = t.store.cleanup_plan(cutoff()).await.unwrap();
    assert_eq!(plan.deleted("runs"), 3);
    // A batch size of zero deletes nothing.
    let refused = t.store.cleanup(cutoff(), 0, None, &mut |_| {}).await;
    assert!(
        matches!(refused, Err(CleanupError::Store(_))),
        "{refused:?}"
    );
}

on_each_backend!(
    the_plan_counts_what_goes_and_what_stays_and_writes_nothing,
    cleanup_deletes_in_batches_archiving_each_row_first,
    a_batch_whose_archive_fails_is_not_deleted,
);
