//! The operator's reports on both backends: failing rules, coverage,
//! violations by severity and by rule, and the KPI inputs, each computed
//! over a window `[at(0), at(60))` that some runs fall outside of.

mod common;

use common::{on_each_backend, Backend};
use dq_core::{Check, Dataset, Identifier, Rule, RunStatus, Severity};
use dq_store::{KpiInputs, ReportWindow, RuleFailures, SeverityViolations, TargetCoverage};

fn window() -> ReportWindow {
    ReportWindow {
        since: common::at(0),
        until: common::at(59) + chrono::Duration::seconds(60),
    }
}

fn freshness(name: &str, dataset: &str, severity: Severity) -> Rule {
    let mut rule = common::rule(name, "x");
    rule.target = "lake".into();
    rule.dataset = Dataset::parse(dataset).unwrap();
    rule.check = Check::Freshness {
        column: Identifier::new("loaded_at").unwrap(),
    };
    rule.severity = severity;
    rule
}

/// A run of `rule` at `minute` (or, past 59, that many minutes after
/// `at(0)`) taking `ms`, with a violation of `violation` severity.
struct Seed<'a> {
    rule: &'a Rule,
    minute: i64,
    status: RunStatus,
    ms: Option<u64>,
    observed: Option<f64>,
    violation: Option<Severity>,
}

async fn seed(t: &common::TestStore, seeds: &[Seed<'_>]) {
    for s in seeds {
        let at = common::at(0) + chrono::Duration::minutes(s.minute);
        let mut run = dq_store::NewRun::for_rule(s.rule, at, s.status);
        run.started_at = Some(at);
        run.finished_at = Some(at + chrono::Duration::seconds(2));
        run.duration_ms = s.ms;
        run.observed_value = s.observed;
        run.severity = s.violation;
        let violation = s.violation.map(|severity| dq_store::NewViolation {
            severity,
            detected_at: at + chrono::Duration::seconds(2),
            message: "bad".into(),
            observed_value: s.observed,
            expected: String::new(),
            sample: Vec::new(),
        });
        assert!(t
            .store
            .record_run(&run, violation.as_ref(), &[])
            .await
            .unwrap());
    }
}

/// Rules: `crit` (CRITICAL) and `high` (HIGH) null counts on
/// warehouse.public.orders; freshness rules `fresh` (LOW) and `fresh2`
/// (LOW) on lake; `off`, a disabled freshness rule.
async fn seeded(backend: Backend) -> common::TestStore {
    let t = common::open(backend).await;
    let mut crit = common::rule("crit", "x");
    crit.severity = Severity::Critical;
    let high = common::rule("high", "x");
    let fresh = freshness("fresh", "public.events", Severity::Low);
    let fresh2 = freshness("fresh2", "public.clicks", Severity::Low);
    let mut off = freshness("off", "public.old", Severity::High);
    off.enabled = false;
    let all = [&crit, &high, &fresh, &fresh2, &off].map(|r| r.clone());
    t.store.apply_load(&all, "m.yaml").await.unwrap();
    use RunStatus::*;
    let s = |rule, minute, status, ms, observed, violation| Seed {
        rule,
        minute,
        status,
        ms,
        observed,
        violation,
    };
    seed(
        &t,
        &[
            // Before the window: not counted.
            s(&crit, -5, Failed, Some(100), None, Some(Severity::Critical)),
            s(&crit, 0, Passed, Some(961), None, None),
            s(&crit, 5, Failed, Some(3000), None, Some(Severity::Critical)),
            s(&crit, 10, Passed, Some(2000), None, None),
            s(&high, 0, Error, None, None, None),
            s(&high, 5, Timeout, Some(500), None, None),
            s(&high, 10, Passed, Some(1500), None, None),
            s(&high, 15, Warned, Some(1000), None, Some(Severity::Medium)),
            s(&high, 20, Failed, Some(1000), None, Some(Severity::Medium)),
            s(&fresh, 0, Passed, Some(10), Some(100.0), None),
            s(
                &fresh,
                5,
                Failed,
                Some(10),
                Some(9000.0),
                Some(Severity::Low),
            ),
            // An ERROR observes nothing: the age stays the last judged one.
            s(&fresh, 10, Error, None, None, None),
            s(&fresh2, 0, Passed, Some(10), Some(50.0), None),
            // A disabled rule's age does not count.
            s(
                &off,
                0,
                Failed,
                Some(10),
                Some(99999.0),
                Some(Severity::High),
            ),
            // After the window: not counted.
            s(&high, 70, Failed, Some(100), None, Some(Severity::Medium)),
        ],
    )
    .await;
    // Not final: not counted.
    let pending = dq_store::NewRun::for_rule(&crit, common::at(30), Pending);
    t.store.enqueue_runs(None, &[pending]).await.unwrap();
    t
}

async fn violation_of(t: &common::TestStore, rule: &str, minute: i64) -> i64 {
    let detected = common::at(0) + chrono::Duration::minutes(minute) + chrono::Duration::seconds(2);
    let all = t
        .store
        .violations(&dq_store::ViolationFilter::default())
        .await
        .unwrap();
    all.iter()
        .find(|v| v.rule_name.as_str() == rule && v.detected_at == detected)
        .unwrap()
        .id
}

async fn failing_rules_with_their_rates(backend: Backend) {
    let t = seeded(backend).await;
    let failures = t.store.rule_failures(window()).await.unwrap();
    let ended = |minute: u32| Some(common::at(minute) + chrono::Duration::seconds(2));
    let expected = vec![
        RuleFailures {
            rule: "off".into(),
            runs: 1,
            passed: 0,
            warned: 0,
            failed: 1,
            errors: 0,
            failure_rate: 1.0,
            last_failure: ended(0),
        },
        RuleFailures {
            rule: "fresh".into(),
            runs: 3,
            passed: 1,
            warned: 0,
            failed: 1,
            errors: 1,
            failure_rate: 2.0 / 3.0,
            last_failure: ended(10),
        },
        RuleFailures {
            rule: "high".into(),
            runs: 5,
            passed: 1,
            warned: 1,
            failed: 1,
            errors: 2,
            failure_rate: 3.0 / 5.0,
            last_failure: ended(20),
        },
        RuleFailures {
            rule: "crit".into(),
            runs: 3,
            passed: 2,
            warned: 0,
            failed: 1,
            errors: 0,
            failure_rate: 1.0 / 3.0,
            last_failure: ended(5),
        },
    ];
    assert_eq!(failures, expected);
    let empty = ReportWindow {
        since: common::at(30),
        until: common::at(40),
    };
    assert_eq!(t.store.rule_failures(empty).await.unwrap(), []);
}

async fn coverage_counts_enabled_rules_per_target(backend: Backend) {
    let t = seeded(backend).await;
    let coverage = t.store.rule_coverage().await.unwrap();
    assert_eq!(
        coverage,
        [
            TargetCoverage {
                target: "lake".into(),
                rules: 2,
                datasets: 2,
                check_kinds: vec![("freshness".into(), 2)],
                severities: vec![(Severity::Low, 2)],
            },
            TargetCoverage {
                target: "warehouse".into(),
                rules: 2,
                datasets: 1,
                check_kinds: vec![("null_count".into(), 2)],
                severities: vec![(Severity::Critical, 1), (Severity::High, 1)],
            },
        ]
    );
}

async fn violations_by_severity_and_by_rule(backend: Backend) {
    let t = seeded(backend).await;
    // crit's :05 acknowledged after 10 minutes, high's :15 after 2.
    let crit = violation_of(&t, "crit", 5).await;
    let high = violation_of(&t, "high", 15).await;
    for (id, minute) in [(crit, 15), (high, 17)] {
        let at = common::at(minute) + chrono::Duration::seconds(2);
        t.store.acknowledge(&[id], "ana", None, at).await.unwrap();
    }
    let summary = t.store.violation_summary(window(), 2).await.unwrap();
    assert_eq!(
        summary.by_severity,
        [
            SeverityViolations {
                severity: Severity::Critical,
                violations: 1,
                acknowledged: 1,
                mean_ack_delay_ms: Some(600_000.0),
            },
            SeverityViolations {
                severity: Severity::High,
                violations: 1,
                acknowledged: 0,
                mean_ack_delay_ms: None,
            },
            SeverityViolations {
                severity: Severity::Medium,
                violations: 2,
                acknowledged: 1,
                mean_ack_delay_ms: Some(120_000.0),
            },
            SeverityViolations {
                severity: Severity::Low,
                violations: 1,
                acknowledged: 0,
                mean_ack_delay_ms: None,
            },
        ]
    );
    let top: Vec<(String, u64, u64)> = summary
        .top_rules
        .iter()
        .map(|r| (r.rule.clone(), r.violations, r.unacknowledged))
        .collect();
    assert_eq!(
        top,
        [("high".to_string(), 2, 1), ("crit".to_string(), 1, 0)],
        "most first, then the most recent, then by name"
    );
    assert_eq!(
        summary.top_rules[0].last_detected,
        common::at(20) + chrono::Duration::seconds(2)
    );
}

async fn kpi_inputs_match_the_prometheus_definitions(backend: Backend) {
    let t = seeded(backend).await;
    assert_eq!(
        t.store
            .kpi_inputs(ReportWindow {
                since: common::at(30),
                until: common::at(40),
            })
            .await
            .unwrap(),
        KpiInputs {
            // Freshness is the latest age before the window's end, whatever
            // ran in it.
            freshness_rules: 2,
            data_freshness_seconds: Some(9000.0),
            stalest_rule: Some("fresh".into()),
            ..KpiInputs::default()
        },
        "no run and no acknowledgement in the window"
    );
    // One acknowledgement in the window (10 minutes), one after it.
    let crit = violation_of(&t, "crit", 5).await;
    let late = violation_of(&t, "fresh", 5).await;
    for (id, minute) in [(crit, 15), (late, 75)] {
        let at = common::at(0) + chrono::Duration::minutes(minute) + chrono::Duration::seconds(2);
        t.store.acknowledge(&[id], "ana", None, at).await.unwrap();
    }
    let kpis = t.store.kpi_inputs(window()).await.unwrap();
    // 13 final runs in the window (crit 3, high 5, fresh 3, fresh2 1, off 1).
    let timed: [u64; 11] = [961, 3000, 2000, 500, 1500, 1000, 1000, 10, 10, 10, 10];
    let mean = timed.iter().sum::<u64>() as f64 / timed.len() as f64 / 1000.0;
    assert_eq!(
        kpis,
        KpiInputs {
            final_runs: 13,
            passed_runs: 5,
            check_success_rate: Some(5.0 / 13.0),
            timed_runs: 11,
            average_check_duration_seconds: Some(mean),
            acknowledged_violations: 1,
            alert_response_time_seconds: Some(600.0),
            critical_runs: 3,
            critical_passed: 2,
            critical_rule_pass_rate: Some(2.0 / 3.0),
            freshness_rules: 2,
            data_freshness_seconds: Some(9000.0),
            stalest_rule: Some("fresh".into()),
        }
    );
    let empty = common::open(backend).await;
    assert_eq!(
        empty.store.kpi_inputs(window()).await.unwrap(),
        KpiInputs::default(),
        "no data: every KPI is None"
    );
}

on_each_backend!(
    failing_rules_with_their_rates,
    coverage_counts_enabled_rules_per_target,
    violations_by_severity_and_by_rule,
    kpi_inputs_match_the_prometheus_definitions,
);
