mod common;

use common::{on_each_backend, Backend};

use dq_core::{RunId, RunStatus, Severity};
use dq_store::{MetricFilter, MetricPoint, RunFilter, StoreError};

fn point(name: &str, value: f64, minute: u32) -> MetricPoint {
    MetricPoint {
        run_id: None,
        rule_id: None,
        target: "warehouse".to_string(),
        dataset: "public.orders".to_string(),
        column: Some("customer_id".to_string()),
        name: name.to_string(),
        value,
        observed_at: common::at(minute),
    }
}

async fn recording_a_run_twice_writes_it_once(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "orders_nulls", "customer_id").await;
    let rule_id = t
        .store
        .rule_by_name("orders_nulls")
        .await
        .unwrap()
        .unwrap()
        .id;

    let mut run = common::run(&rule, 5, RunStatus::Failed);
    run.severity = Some(Severity::High);
    run.observation = Some(serde_json::json!({"measures": [], "row_count": 40}));
    run.row_count = Some(40);
    run.worker = Some("worker-1".to_string());
    run.duration_ms = Some(2_000);
    let violation = common::violation(Severity::High, 5);
    let points = [point("null_count", 3.0, 5), point("row_count", 40.0, 5)];

    assert!(t
        .store
        .record_run(&run, Some(&violation), &points)
        .await
        .unwrap());
    let mut redelivered = run.clone();
    redelivered.status = RunStatus::Error;
    redelivered.attempt = 2;
    assert!(!t
        .store
        .record_run(&redelivered, Some(&violation), &points)
        .await
        .unwrap());

    assert_eq!(t.count("runs").await, 1);
    assert_eq!(t.count("violations").await, 1);
    assert_eq!(t.count("metrics").await, 2);
    let runs = t.store.runs(&RunFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1);
    let stored = &runs[0];
    assert_eq!(stored.id, RunId::for_tick(&rule.name, common::at(5)));
    assert_eq!(stored.rule_id, rule_id);
    assert_eq!(
        stored.status,
        RunStatus::Failed,
        "the first recording stands"
    );
    assert_eq!(stored.attempt, 1);
    assert_eq!(stored.observation, run.observation);
    assert_eq!(
        (
            stored.row_count,
            stored.duration_ms,
            stored.worker.as_deref()
        ),
        (Some(40), Some(2_000), Some("worker-1"))
    );
    assert_eq!(
        (stored.scheduled_for, stored.finished_at),
        (run.scheduled_for, run.finished_at)
    );

    let recorded = t.store.metrics(&MetricFilter::default()).await.unwrap();
    assert!(recorded
        .iter()
        .all(|p| p.run_id == Some(run.id.to_string()) && p.rule_id == Some(rule_id)));
}

async fn runs_of_unknown_rules_and_bad_values_are_refused_before_writing(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "known", "a").await;

    let unknown = common::run(&common::rule("unknown", "a"), 0, RunStatus::Passed);
    let err = t.store.record_run(&unknown, None, &[]).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(m) if m.contains("rule unknown")),
        "{err}"
    );

    let run = common::run(&rule, 0, RunStatus::Passed);
    let mut nan_run = run.clone();
    nan_run.observed_value = Some(f64::NAN);
    let mut other_run = point("x", 1.0, 0);
    other_run.run_id = Some("someone-else".to_string());
    let mut open_run = run.clone();
    open_run.status = RunStatus::Running;
    let bad: Vec<(&str, _, Vec<MetricPoint>)> = vec![
        ("NaN observed value", nan_run, vec![]),
        ("status not final", open_run, vec![]),
        (
            "infinite metric",
            run.clone(),
            vec![point("x", f64::INFINITY, 0)],
        ),
        ("metric of another run", run.clone(), vec![other_run]),
    ];
    for (label, run, points) in bad {
        let err = t.store.record_run(&run, None, &points).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{label}: {err}");
    }
    assert_eq!(t.count("runs").await, 0);
    assert_eq!(t.count("metrics").await, 0);
}

async fn runs_filter_by_since_rule_and_status_newest_first(backend: Backend) {
    let t = common::open(backend).await;
    let a = common::rule("a", "x");
    let b = common::rule("b", "x");
    t.store
        .apply_load(&[a.clone(), b.clone()], "m.yaml")
        .await
        .unwrap();
    for run in [
        common::run(&a, 0, RunStatus::Passed),
        common::run(&a, 5, RunStatus::Failed),
        common::run(&b, 5, RunStatus::Error),
        common::run(&a, 10, RunStatus::Warned),
        common::run(&b, 15, RunStatus::Passed),
    ] {
        assert!(t.store.record_run(&run, None, &[]).await.unwrap());
    }
    let pending = dq_store::NewRun::for_rule(&b, common::at(20), RunStatus::Pending);
    t.store.enqueue_runs(None, &[pending]).await.unwrap();

    let label = |r: &dq_store::RunRecord| {
        let minute = (r.scheduled_for - common::at(0)).num_minutes();
        format!("{}@{minute}", r.rule_name)
    };
    // Two runs share the tick 5: the listing orders them by id, descending.
    let id_a5 = dq_core::RunId::for_tick(&a.name, common::at(5));
    let id_b5 = dq_core::RunId::for_tick(&b.name, common::at(5));
    let (first_at_5, first_at_5_id, second_at_5) = if id_b5 > id_a5 {
        ("b@5", id_b5, "a@5")
    } else {
        ("a@5", id_a5, "b@5")
    };
    let cases: Vec<(&str, RunFilter, Vec<&str>)> = vec![
        (
            "all, newest first",
            RunFilter::default(),
            vec!["b@20", "b@15", "a@10", first_at_5, second_at_5, "a@0"],
        ),
        (
            "since is inclusive",
            RunFilter {
                since: Some(common::at(10)),
                ..RunFilter::default()
            },
            vec!["b@20", "b@15", "a@10"],
        ),
        (
            "one rule",
            RunFilter {
                rule_names: vec!["a".to_string()],
                ..RunFilter::default()
            },
            vec!["a@10", "a@5", "a@0"],
        ),
        (
            "statuses",
            RunFilter {
                statuses: vec![RunStatus::Failed, RunStatus::Error, RunStatus::Pending],
                ..RunFilter::default()
            },
            vec!["b@20", first_at_5, second_at_5],
        ),
        (
            "rule and status and since",
            RunFilter {
                since: Some(common::at(5)),
                rule_names: vec!["b".to_string()],
                statuses: vec![RunStatus::Passed, RunStatus::Error],
                limit: None,
                ..RunFilter::default()
            },
            vec!["b@15", "b@5"],
        ),
        (
            "until is exclusive",
            RunFilter {
                until: Some(common::at(10)),
                ..RunFilter::default()
            },
            vec![first_at_5, second_at_5, "a@0"],
        ),
        (
            "a page: after the first run at 5",
            RunFilter {
                after: Some((common::at(5), first_at_5_id)),
                ..RunFilter::default()
            },
            vec![second_at_5, "a@0"],
        ),
        (
            "limit",
            RunFilter {
                limit: Some(2),
                ..RunFilter::default()
            },
            vec!["b@20", "b@15"],
        ),
        (
            "unknown rule",
            RunFilter {
                rule_names: vec!["zzz".to_string()],
                ..RunFilter::default()
            },
            vec![],
        ),
    ];
    for (name, filter, expected) in cases {
        let found: Vec<String> = t
            .store
            .runs(&filter)
            .await
            .unwrap()
            .iter()
            .map(label)
            .collect();
        assert_eq!(found, expected, "{name}");
    }
    let one = t.store.run_by_id(id_b5).await.unwrap().expect("b@5");
    assert_eq!(label(&one), "b@5");
    let unknown = dq_core::RunId::for_tick(&a.name, common::at(59));
    assert_eq!(t.store.run_by_id(unknown).await.unwrap(), None);
    // The PENDING run has no finish time: the last finish is b@15's.
    let b15 = t
        .store
        .run_by_id(dq_core::RunId::for_tick(&b.name, common::at(15)))
        .await
        .unwrap()
        .expect("b@15");
    assert_eq!(t.store.last_finished_at().await.unwrap(), b15.finished_at);
}

async fn metrics_filter_by_series_and_since_oldest_first(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    for minute in [0, 5, 10] {
        let mut other_dataset = point("row_count", 1.0, minute);
        other_dataset.dataset = "public.customers".to_string();
        let points = [
            point("row_count", f64::from(minute), minute),
            point("null_count", 0.5, minute),
            other_dataset,
        ];
        let run = common::run(&rule, minute, RunStatus::Passed);
        assert!(t.store.record_run(&run, None, &points).await.unwrap());
    }
    let series = |since: Option<u32>| MetricFilter {
        target: Some("warehouse".to_string()),
        dataset: Some("public.orders".to_string()),
        name: Some("row_count".to_string()),
        since: since.map(common::at),
    };
    let cases: Vec<(&str, MetricFilter, Vec<f64>)> = vec![
        ("one series", series(None), vec![0.0, 5.0, 10.0]),
        ("since", series(Some(5)), vec![5.0, 10.0]),
        (
            "by name only",
            MetricFilter {
                name: Some("null_count".to_string()),
                ..MetricFilter::default()
            },
            vec![0.5, 0.5, 0.5],
        ),
        (
            "other target",
            MetricFilter {
                target: Some("lake".to_string()),
                ..MetricFilter::default()
            },
            vec![],
        ),
    ];
    for (label, filter, expected) in cases {
        let values: Vec<f64> = t
            .store
            .metrics(&filter)
            .await
            .unwrap()
            .iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(values, expected, "{label}");
    }
    assert_eq!(
        t.store
            .metrics(&MetricFilter::default())
            .await
            .unwrap()
            .len(),
        9
    );
}

async fn concurrent_recordings_of_one_run_write_it_once(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    let run = common::run(&rule, 0, RunStatus::Failed);
    let violation = common::violation(Severity::High, 0);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, run, violation) = (t.store.clone(), run.clone(), violation.clone());
            tokio::spawn(async move {
                store
                    .record_run(&run, Some(&violation), &[point("row_count", 1.0, 0)])
                    .await
            })
        })
        .collect();
    let mut inserted = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            inserted += 1;
        }
    }
    assert_eq!(inserted, 1);
    assert_eq!(
        (
            t.count("runs").await,
            t.count("violations").await,
            t.count("metrics").await
        ),
        (1, 1, 1)
    );
}

async fn a_metric_naming_an_unknown_rule_is_invalid_and_writes_nothing(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    let mut stray = point("row_count", 1.0, 0);
    stray.rule_id = Some(999_999);
    let run = common::run(&rule, 0, RunStatus::Failed);
    let violation = common::violation(Severity::High, 0);
    let err = t
        .store
        .record_run(
            &run,
            Some(&violation),
            &[point("null_count", 0.0, 0), stray],
        )
        .await
        .unwrap_err();
    // The database's foreign key refuses it, after the run row was written.
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    for table in ["runs", "violations", "metrics"] {
        assert_eq!(t.count(table).await, 0, "{table} rolled back");
    }
    assert!(t.store.record_run(&run, None, &[]).await.unwrap());
}

async fn unreadable_stored_values_are_corrupt_naming_row_and_column(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    let run = common::run(&rule, 0, RunStatus::Passed);
    assert!(t.store.record_run(&run, None, &[]).await.unwrap());
    t.execute("UPDATE runs SET status = 'NOT_A_STATUS'").await;
    let err = t.store.runs(&RunFilter::default()).await.unwrap_err();
    let expected = format!("run {} column status", run.id);
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains(&expected)),
        "{err}"
    );
}

on_each_backend!(
    recording_a_run_twice_writes_it_once,
    runs_of_unknown_rules_and_bad_values_are_refused_before_writing,
    runs_filter_by_since_rule_and_status_newest_first,
    metrics_filter_by_series_and_since_oldest_first,
    concurrent_recordings_of_one_run_write_it_once,
    a_metric_naming_an_unknown_rule_is_invalid_and_writes_nothing,
    unreadable_stored_values_are_corrupt_naming_row_and_column,
);
