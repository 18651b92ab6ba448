//! `dq report weekly|alerts|kpis` as the binary prints them, on a SQLite
//! and on a PostgreSQL store seeded with runs of known outcomes.

mod common;
#[path = "common/seed.rs"]
mod seed;

use std::time::Duration;

use dq_core::{RunStatus, Severity};
use seed::{days, hours, Backend, Fixture, SeedRun};
use serde_json::{json, Value};

/// In the last 7 days:
/// - orders_fresh (CRITICAL): passed 3h ago (age 600 s), failed 2h ago
///   (9000 s, a CRITICAL violation), passed 1h ago (1200 s);
/// - orders_nulls (HIGH): passed 3h ago, failed 90 min ago (a HIGH
///   violation acknowledged after 10 minutes), ERROR 1h ago;
/// - customers_volume (LOW): passed 3h ago.
///
/// Ten days ago customers_volume failed (a LOW violation): only in a
/// 30-day window.
fn seeded(backend: Backend) -> Fixture {
    let f = Fixture::new(backend, "");
    let run = |rule, ago, status, ms: Option<u64>, observed: Option<f64>| SeedRun {
        duration_ms: ms,
        observed,
        ..SeedRun::new(rule, ago, status)
    };
    use RunStatus::*;
    f.seed(&[
        run("orders_fresh", hours(3), Passed, Some(2000), Some(600.0)),
        SeedRun {
            violation: Some(Severity::Critical),
            ..run("orders_fresh", hours(2), Failed, Some(4000), Some(9000.0))
        },
        run("orders_fresh", hours(1), Passed, Some(3000), Some(1200.0)),
        run("orders_nulls", hours(3), Passed, Some(1000), Some(0.0)),
        SeedRun {
            violation: Some(Severity::High),
            acked_after: Some(Duration::from_secs(600)),
            ..run(
                "orders_nulls",
                Duration::from_secs(90 * 60),
                Failed,
                Some(1000),
                Some(3.0),
            )
        },
        run("orders_nulls", hours(1), Error, None, None),
        run("customers_volume", hours(3), Passed, Some(1000), Some(10.0)),
        SeedRun {
            violation: Some(Severity::Low),
            ..run("customers_volume", days(10), Failed, Some(1000), Some(0.0))
        },
    ]);
    f
}

fn json_of(f: &Fixture, args: &[&str], code: i32) -> Value {
    let run = f.dq(args);
    run.assert_code(code);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// `(rule, runs, passed, failed, errors, rate to 3 places)` of each failing rule.
fn failures(report: &Value) -> Vec<(String, u64, u64, u64, u64, f64)> {
    report["rule_failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_string(),
                r["runs"].as_u64().unwrap(),
                r["passed"].as_u64().unwrap(),
                r["failed"].as_u64().unwrap(),
                r["errors"].as_u64().unwrap(),
                (r["failure_rate"].as_f64().unwrap() * 1000.0).round() / 1000.0,
            )
        })
        .collect()
}

fn weekly_report_lists_failing_rules_and_coverage(backend: Backend) {
    let f = seeded(backend);
    let weekly = json_of(&f, &["report", "weekly", "--format", "json"], 0);
    assert_eq!(
        failures(&weekly),
        [
            ("orders_nulls".into(), 3, 1, 1, 1, 0.667),
            ("orders_fresh".into(), 3, 2, 1, 0, 0.333),
        ]
    );
    assert_eq!(
        weekly["coverage"],
        json!([{
            "target": "shop",
            "rules": 3,
            "datasets": 2,
            "check_kinds": [["freshness", 1], ["null_count", 1], ["row_count", 1]],
            "severities": [["CRITICAL", 1], ["HIGH", 1], ["LOW", 1]],
        }])
    );
    let month = json_of(
        &f,
        &["report", "weekly", "--days", "30", "--format", "json"],
        0,
    );
    assert_eq!(
        failures(&month)[1],
        ("customers_volume".into(), 2, 1, 1, 0, 0.5),
        "the failure ten days ago is in a 30-day window"
    );

    let text = f.dq(&["report", "weekly"]);
    text.assert_code(0);
    for expected in [
        "orders_nulls",
        "66.7 %",
        "freshness 1",
        "CRITICAL 1",
        "2 rule(s) failed",
    ] {
        assert!(
            text.stdout.contains(expected),
            "{expected}:\n{}",
            text.stdout
        );
    }
}

fn alerts_report_counts_violations_by_severity_and_rule(backend: Backend) {
    let f = seeded(backend);
    let alerts = json_of(
        &f,
        &["report", "alerts", "--format", "json", "--top", "1"],
        0,
    );
    assert_eq!(
        alerts["by_severity"],
        json!([
            {"severity": "CRITICAL", "violations": 1, "acknowledged": 0, "mean_ack_delay_ms": null},
            {"severity": "HIGH", "violations": 1, "acknowledged": 1, "mean_ack_delay_ms": 600000.0},
        ])
    );
    let top = alerts["top_rules"].as_array().unwrap();
    assert_eq!(top.len(), 1, "--top 1");
    assert_eq!(
        top[0]["rule"], "orders_nulls",
        "as many as orders_fresh, more recent"
    );
    assert_eq!(top[0]["unacknowledged"], 0);

    let text = f.dq(&["report", "alerts", "--days", "30"]);
    text.assert_code(0);
    for expected in [
        "LOW",
        "600.0 s",
        "customers_volume",
        "3 violation(s), 1 acknowledged",
    ] {
        assert!(
            text.stdout.contains(expected),
            "{expected}:\n{}",
            text.stdout
        );
    }
}

fn kpis_are_judged_against_their_targets_and_a_miss_exits_1(backend: Backend) {
    let f = seeded(backend);
    let report = json_of(&f, &["report", "kpis", "--format", "json"], 1);
    let kpis: Vec<(String, Option<f64>, String)> = report["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap().to_string(),
                k["value"].as_f64().map(|v| (v * 1000.0).round() / 1000.0),
                k["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        // 4 of the 7 runs in the window passed.
        ("check_success_rate", Some(0.571), "fail"),
        // 2000, 4000, 3000, 1000, 1000, 1000 ms (the ERROR has none).
        ("average_check_duration_seconds", Some(2.0), "pass"),
        ("alert_response_time_seconds", Some(600.0), "pass"),
        ("critical_rule_pass_rate", Some(0.667), "fail"),
        // The latest age of orders_fresh.
        ("data_freshness_seconds", Some(1200.0), "pass"),
    ]
    .map(|(name, value, status)| (name.to_string(), value, status.to_string()));
    assert_eq!(kpis, expected);
    assert_eq!(report["kpis"][0]["target"], "> 0.95");
    assert_eq!(report["inputs"]["final_runs"], 7);
    assert_eq!(report["inputs"]["stalest_rule"], "orders_fresh");

    let text = f.dq(&["report", "kpis"]);
    text.assert_code(1);
    for expected in [
        "57.1 % (4/7 runs)",
        "FAIL",
        "1200 s (orders_fresh)",
        "2 KPI(s) miss",
    ] {
        assert!(
            text.stdout.contains(expected),
            "{expected}:\n{}",
            text.stdout
        );
    }
}

fn kpis_without_data_are_shown_and_not_judged(backend: Backend) {
    let f = Fixture::new(backend, "");
    let report = json_of(&f, &["report", "kpis", "--format", "json"], 0);
    let statuses: Vec<&str> = report["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["no_data"; 5]);
    let text = f.dq(&["report", "kpis"]);
    text.assert_code(0);
    assert!(text.stdout.contains("no data"), "{}", text.stdout);
}

seed::on_each_backend!(
    weekly_report_lists_failing_rules_and_coverage,
    alerts_report_counts_violations_by_severity_and_rule,
    kpis_are_judged_against_their_targets_and_a_miss_exits_1,
    kpis_without_data_are_shown_and_not_judged,
);
