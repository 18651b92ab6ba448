//! The beat's side of runs: one PENDING row per (rule, tick) whoever
//! enqueues it, the publish outbox, and where a beat resumes.

mod common;

use std::collections::BTreeSet;

use common::{on_each_backend, Backend};
use dq_core::{RunId, RunStatus, Severity};
use dq_store::{NewRun, RunFilter, RunRecord, RunResult, StoreError};

fn ids(runs: &[NewRun]) -> Vec<RunId> {
    runs.iter().map(|r| r.id).collect()
}

fn labels(runs: &[RunRecord]) -> Vec<String> {
    runs.iter()
        .map(|r| {
            let minute = (r.scheduled_for - common::at(0)).num_minutes();
            format!("{}@{minute}", r.rule_name)
        })
        .collect()
}

async fn enqueueing_the_same_ticks_again_inserts_nothing(backend: Backend) {
    let t = common::open(backend).await;
    let (a, b) = (common::rule("a", "x"), common::rule("b", "x"));
    t.store
        .apply_load(&[a.clone(), b.clone()], "m.yaml")
        .await
        .unwrap();
    let batch = vec![
        common::pending(&a, 2),
        common::pending(&b, 0),
        common::pending(&a, 0),
        // The same tick twice in one batch is one run.
        common::pending(&a, 2),
    ];
    let inserted = t.store.enqueue_runs(None, &batch).await.unwrap();
    assert_eq!(inserted, ids(&batch[..3]), "new ones, in input order");
    let again = t.store.enqueue_runs(None, &batch).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(t.count("runs").await, 3);

    let stored = t.store.runs(&RunFilter::default()).await.unwrap();
    let mut stored_labels = labels(&stored);
    stored_labels.sort();
    assert_eq!(stored_labels, ["a@0", "a@10", "b@0"]);
    for run in &stored {
        assert_eq!(run.status, RunStatus::Pending);
        assert_eq!((run.enqueued_at, run.started_at), (None, None));
    }
    assert_eq!(t.store.enqueue_runs(None, &[]).await.unwrap(), []);
}

async fn concurrent_enqueues_of_the_same_ticks_insert_each_once(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    let batch: Vec<NewRun> = (0..50).map(|i| common::pending(&rule, i)).collect();
    // Two beats, each with the ticks in its own order.
    let mut reversed = batch.clone();
    reversed.reverse();
    let tasks: Vec<_> = [batch.clone(), reversed]
        .into_iter()
        .map(|runs| {
            let store = t.store.clone();
            tokio::spawn(async move { store.enqueue_runs(None, &runs).await })
        })
        .collect();
    let mut all = BTreeSet::new();
    let mut total = 0;
    for task in tasks {
        let inserted = task.await.unwrap().unwrap();
        total += inserted.len();
        all.extend(inserted);
    }
    assert_eq!(total, 50, "no id inserted twice");
    assert_eq!(all, ids(&batch).into_iter().collect());
    assert_eq!(t.count("runs").await, 50);
}

async fn enqueueing_a_bad_batch_is_refused_and_writes_nothing(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    let mut passed = common::pending(&rule, 1);
    passed.status = RunStatus::Passed;
    let mut nan = common::pending(&rule, 1);
    nan.observed_value = Some(f64::NAN);
    let unknown = common::pending(&common::rule("ghost", "x"), 1);
    let cases: Vec<(&str, NewRun, common::Refusal)> = vec![
        (
            "a status other than PENDING",
            passed,
            |e| matches!(e, StoreError::Invalid(m) if m.contains("PASSED")),
        ),
        ("a non-finite number", nan, |e| {
            matches!(e, StoreError::Invalid(_))
        }),
        (
            "a run of an unknown rule",
            unknown,
            |e| matches!(e, StoreError::NotFound(m) if m.contains("rule ghost")),
        ),
    ];
    for (label, bad, expected) in cases {
        let batch = [common::pending(&rule, 0), bad];
        let err = t.store.enqueue_runs(None, &batch).await.unwrap_err();
        assert!(expected(&err), "{label}: {err}");
        assert_eq!(t.count("runs").await, 0, "{label}");
    }
}

async fn the_outbox_holds_pending_runs_never_marked_enqueued(backend: Backend) {
    let t = common::open(backend).await;
    let (a, b) = (common::rule("a", "x"), common::rule("b", "x"));
    t.store
        .apply_load(&[a.clone(), b.clone()], "m.yaml")
        .await
        .unwrap();
    let batch = [
        common::pending(&a, 0),
        common::pending(&a, 1),
        common::pending(&b, 1),
        common::pending(&a, 2),
        common::pending(&a, 3),
        common::pending(&a, 4),
    ];
    t.store.enqueue_runs(None, &batch).await.unwrap();
    // a@0 published; a@2 taken by a worker before its beat marked it (the
    // beat died in between); a@3 finished that way.
    t.store
        .mark_enqueued(&[batch[0].id], common::at(1))
        .await
        .unwrap();
    t.store
        .start_runs(&[batch[3].id], "w1", 1, common::at(11))
        .await
        .unwrap();
    let result = RunResult {
        run: common::finished(&batch[4], RunStatus::Passed, "w1"),
        violation: None,
        metrics: Vec::new(),
    };
    t.store.finish_runs(&[result]).await.unwrap();

    let cases: Vec<(&str, u32, u32, Vec<&str>)> = vec![
        (
            "all, oldest tick first",
            30,
            100,
            vec!["a@5", "b@5", "a@20"],
        ),
        ("scheduled at or before", 5, 100, vec!["a@5", "b@5"]),
        ("none that old", 4, 100, vec![]),
        ("limit", 30, 1, vec!["a@5"]),
    ];
    for (label, older_than, limit, expected) in cases {
        let outbox = t
            .store
            .unpublished_runs(common::at(older_than), limit)
            .await
            .unwrap();
        assert_eq!(labels(&outbox), expected, "{label}");
        assert!(outbox.iter().all(|r| r.status == RunStatus::Pending));
    }

    t.store
        .mark_enqueued(&[batch[1].id, batch[2].id, batch[5].id], common::at(40))
        .await
        .unwrap();
    let outbox = t.store.unpublished_runs(common::at(59), 100).await.unwrap();
    assert!(outbox.is_empty(), "{:?}", labels(&outbox));

    // Marking again keeps the first time.
    t.store
        .mark_enqueued(&[batch[0].id], common::at(50))
        .await
        .unwrap();
    t.store.mark_enqueued(&[], common::at(50)).await.unwrap();
    let stored = t.store.runs(&RunFilter::default()).await.unwrap();
    let enqueued_at = |id: RunId| stored.iter().find(|r| r.id == id).unwrap().enqueued_at;
    assert_eq!(enqueued_at(batch[0].id), Some(common::at(1)));
    assert_eq!(enqueued_at(batch[1].id), Some(common::at(40)));
    assert_eq!(enqueued_at(batch[3].id), None, "never published by a beat");
}

async fn last_scheduled_is_the_latest_tick_of_each_rule(backend: Backend) {
    let t = common::open(backend).await;
    let rules: Vec<_> = ["a", "b", "never_ran"]
        .into_iter()
        .map(|name| common::rule(name, "x"))
        .collect();
    t.store.apply_load(&rules, "m.yaml").await.unwrap();
    assert!(t.store.last_scheduled().await.unwrap().is_empty());
    let (a, b) = (&rules[0], &rules[1]);
    t.store
        .enqueue_runs(None, &[common::pending(a, 3), common::pending(b, 1)])
        .await
        .unwrap();
    let mut late = common::finished(&common::pending(a, 7), RunStatus::Failed, "dq-run");
    late.severity = Some(Severity::High);
    let violation = common::violation(Severity::High, 35);
    t.store
        .record_run(&late, Some(&violation), &[])
        .await
        .unwrap();
    t.store
        .enqueue_runs(None, &[common::pending(a, 0)])
        .await
        .unwrap();

    let last = t.store.last_scheduled().await.unwrap();
    let expected = [
        ("a".to_string(), common::tick(7)),
        ("b".to_string(), common::tick(1)),
    ];
    assert_eq!(last.into_iter().collect::<Vec<_>>(), expected);
}

on_each_backend!(
    enqueueing_the_same_ticks_again_inserts_nothing,
    concurrent_enqueues_of_the_same_ticks_insert_each_once,
    enqueueing_a_bad_batch_is_refused_and_writes_nothing,
    the_outbox_holds_pending_runs_never_marked_enqueued,
    last_scheduled_is_the_latest_tick_of_each_rule,
);
