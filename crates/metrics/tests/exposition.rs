//! The exposition names every family, in a form Prometheus reads.

use dq_metrics::{Metrics, QueueLabels, RunLabels, SeverityLabels};

#[test]
fn every_family_is_exposed_with_its_samples() {
    let metrics = Metrics::new();
    let f = metrics.families();
    f.runs
        .get_or_create(&RunLabels {
            rule: "orders_fresh".into(),
            queue: "dq_database".into(),
            severity: "CRITICAL".into(),
            status: "PASSED".into(),
        })
        .inc();
    f.check_duration
        .get_or_create(&QueueLabels {
            queue: "dq_database".into(),
        })
        .observe(0.2);
    f.violation_ack
        .get_or_create(&SeverityLabels {
            severity: "HIGH".into(),
        })
        .observe(600.0);
    f.beat_lag.set(0.25);
    let text = metrics.encode().expect("encodes");
    for line in [
        r#"dq_runs_total{rule="orders_fresh",queue="dq_database",severity="CRITICAL",status="PASSED"} 1"#,
        r#"dq_check_duration_seconds_bucket{le="0.25",queue="dq_database"} 1"#,
        r#"dq_violation_ack_seconds_count{severity="HIGH"} 1"#,
        "dq_beat_lag_seconds 0.25",
        "# TYPE dq_beat_is_leader gauge",
        "# EOF",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[test]
fn the_text_format_names_counters_by_their_samples() {
    let metrics = Metrics::new();
    metrics.families().beat_runs_enqueued.inc_by(3);
    let text = metrics.encode_text().expect("encodes");
    assert!(
        text.contains(
            "# TYPE dq_beat_runs_enqueued_total counter\ndq_beat_runs_enqueued_total 3\n"
        ),
        "{text}"
    );
    assert!(
        !text.contains("# EOF") && !text.contains("# UNIT"),
        "{text}"
    );
}
