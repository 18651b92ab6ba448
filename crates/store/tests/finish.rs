//! The worker's side of runs: start, then finish once with the violation
//! and metrics, in one transaction per batch, whatever is redelivered.

mod common;

use std::collections::BTreeSet;

use common::{on_each_backend, Backend};
use dq_core::{Rule, RunId, RunStatus, Severity};
use dq_store::{MetricFilter, MetricPoint, NewRun, RunFilter, RunRecord, RunResult, StoreError};

fn point(run: &NewRun, name: &str, value: f64) -> MetricPoint {
    MetricPoint {
        run_id: None,
        rule_id: None,
        target: run.target.clone(),
        dataset: run.dataset.to_string(),
        column: None,
        name: name.to_string(),
        value,
        observed_at: run.scheduled_for,
    }
}

/// A FAILED result for `run` by `worker`, with its violation and two metrics.
fn failed(run: &NewRun, worker: &str) -> RunResult {
    let mut done = common::finished(run, RunStatus::Failed, worker);
    done.severity = Some(Severity::High);
    done.worker = Some(worker.to_string());
    let mut violation = common::violation(Severity::High, 0);
    violation.message = format!("seen by {worker}");
    RunResult {
        metrics: vec![
            point(&done, "null_count", 3.0),
            point(&done, "row_count", 9.0),
        ],
        run: done,
        violation: Some(violation),
    }
}

fn passed(run: &NewRun, worker: &str) -> RunResult {
    RunResult {
        run: common::finished(run, RunStatus::Passed, worker),
        violation: None,
        metrics: vec![point(run, "row_count", 9.0)],
    }
}

async fn stored(t: &common::TestStore, id: RunId) -> RunRecord {
    let runs = t.store.runs(&RunFilter::default()).await.unwrap();
    runs.into_iter().find(|r| r.id == id).unwrap()
}

async fn counts(t: &common::TestStore) -> (i64, i64, i64) {
    (
        t.count("runs").await,
        t.count("violations").await,
        t.count("metrics").await,
    )
}

async fn a_run_is_started_then_finished_once_whatever_is_redelivered(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    let run = common::pending(&rule, 0);
    t.store
        .enqueue_runs(None, std::slice::from_ref(&run))
        .await
        .unwrap();
    t.store
        .mark_enqueued(&[run.id], common::at(0))
        .await
        .unwrap();

    let started = t
        .store
        .start_runs(&[run.id], "w1", 1, common::at(1))
        .await
        .unwrap();
    assert_eq!(started, [run.id]);
    let running = stored(&t, run.id).await;
    assert_eq!(running.status, RunStatus::Running);
    assert_eq!(
        (
            running.worker.as_deref(),
            running.attempt,
            running.started_at
        ),
        (Some("w1"), 1, Some(common::at(1)))
    );

    // The result lacks a start time: the started run's stays.
    let mut first = failed(&run, "w1");
    first.run.started_at = None;
    assert_eq!(t.store.finish_runs(&[first]).await.unwrap(), [run.id]);
    assert_eq!(counts(&t).await, (1, 1, 2));

    // The job is redelivered to w2: nothing to run, nothing rewritten.
    let restarted = t
        .store
        .start_runs(&[run.id], "w2", 2, common::at(2))
        .await
        .unwrap();
    assert!(restarted.is_empty(), "{restarted:?}");
    let mut second = failed(&run, "w2");
    second.run.status = RunStatus::Error;
    assert!(t.store.finish_runs(&[second]).await.unwrap().is_empty());
    assert_eq!(counts(&t).await, (1, 1, 2), "no duplicates");

    let kept = stored(&t, run.id).await;
    assert_eq!(kept.status, RunStatus::Failed);
    assert_eq!(kept.message, "finished by w1");
    assert_eq!(
        (kept.worker.as_deref(), kept.attempt),
        (Some("w1"), 1),
        "the first result stands"
    );
    assert_eq!(
        (kept.enqueued_at, kept.started_at),
        (Some(common::at(0)), Some(common::at(1))),
        "what the beat and the start wrote stays"
    );
    let violations = t.store.violations(&Default::default()).await.unwrap();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].message, "seen by w1");
    let metrics = t.store.metrics(&MetricFilter::default()).await.unwrap();
    assert!(metrics
        .iter()
        .all(|p| p.run_id.as_deref() == Some(run.id.to_string().as_str())));
}

async fn starting_returns_the_runs_to_execute_in_input_order(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    let (open, done, missing) = (
        common::pending(&rule, 0),
        common::pending(&rule, 1),
        common::pending(&rule, 2),
    );
    t.store
        .enqueue_runs(None, &[open.clone(), done.clone()])
        .await
        .unwrap();
    t.store.finish_runs(&[passed(&done, "w0")]).await.unwrap();

    let asked = [missing.id, done.id, open.id, missing.id];
    let started = t
        .store
        .start_runs(&asked, "w1", 3, common::at(5))
        .await
        .unwrap();
    assert_eq!(
        started,
        [missing.id, open.id],
        "final ones left out, once each"
    );
    assert_eq!(t.count("runs").await, 2, "starting inserts nothing");
    assert_eq!(stored(&t, done.id).await.status, RunStatus::Passed);
    let running = stored(&t, open.id).await;
    assert_eq!((running.status, running.attempt), (RunStatus::Running, 3));

    // A second start (a redelivery before the first finished) takes over.
    let again = t
        .store
        .start_runs(&[open.id], "w2", 4, common::at(6))
        .await
        .unwrap();
    assert_eq!(again, [open.id]);
    assert_eq!(stored(&t, open.id).await.worker.as_deref(), Some("w2"));

    assert!(t
        .store
        .start_runs(&[], "w1", 1, common::at(7))
        .await
        .unwrap()
        .is_empty());
    let err = t
        .store
        .start_runs(&[open.id], " ", 1, common::at(7))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
}

async fn finishing_a_run_never_enqueued_inserts_it(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    let (adhoc, open, done) = (
        common::pending(&rule, 0),
        common::pending(&rule, 1),
        common::pending(&rule, 2),
    );
    t.store
        .enqueue_runs(None, &[open.clone(), done.clone()])
        .await
        .unwrap();
    t.store.finish_runs(&[passed(&done, "w0")]).await.unwrap();

    let batch = [
        failed(&adhoc, "w1"),
        failed(&done, "w1"),
        passed(&open, "w1"),
    ];
    let applied = t.store.finish_runs(&batch).await.unwrap();
    assert_eq!(applied, [adhoc.id, open.id]);
    let inserted = stored(&t, adhoc.id).await;
    assert_eq!(
        (
            inserted.status,
            inserted.enqueued_at,
            inserted.worker.as_deref()
        ),
        (RunStatus::Failed, None, Some("w1"))
    );
    assert_eq!(stored(&t, done.id).await.status, RunStatus::Passed);
    // done's first result and metric, adhoc's violation and two metrics,
    // open's metric.
    assert_eq!(counts(&t).await, (3, 1, 4));
}

async fn runs_given_up_on_reopen_for_a_replay_and_nothing_else_does(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    let (gave_up, data_error, passed_run) = (
        common::pending(&rule, 0),
        common::pending(&rule, 1),
        common::pending(&rule, 2),
    );
    t.store
        .enqueue_runs(
            None,
            &[gave_up.clone(), data_error.clone(), passed_run.clone()],
        )
        .await
        .unwrap();
    let mut retriable = common::finished(&gave_up, RunStatus::Error, "w1");
    retriable.retriable = true;
    retriable.error = Some("gave up after 3 attempts".into());
    let results = [
        RunResult {
            run: retriable,
            violation: None,
            metrics: vec![],
        },
        RunResult {
            run: common::finished(&data_error, RunStatus::Error, "w1"),
            violation: None,
            metrics: vec![],
        },
        passed(&passed_run, "w1"),
    ];
    t.store.finish_runs(&results).await.unwrap();

    let ids = [gave_up.id, data_error.id, passed_run.id];
    assert_eq!(t.store.reopen_runs(&ids).await.unwrap(), [gave_up.id]);
    let reopened = stored(&t, gave_up.id).await;
    assert_eq!(
        (
            reopened.status,
            reopened.finished_at,
            reopened.error,
            reopened.retriable
        ),
        (RunStatus::Pending, None, None, false)
    );
    assert_eq!(stored(&t, data_error.id).await.status, RunStatus::Error);
    assert_eq!(stored(&t, passed_run.id).await.status, RunStatus::Passed);
    // Reopening twice changes nothing more, and the replay can start it.
    assert!(t.store.reopen_runs(&ids).await.unwrap().is_empty());
    let started = t
        .store
        .start_runs(&ids, "w2", 1, common::tick(3))
        .await
        .unwrap();
    assert_eq!(started, [gave_up.id]);
}

/// 100 enqueued runs and their results, every third FAILED.
async fn hundred(backend: Backend) -> (common::TestStore, Rule, Vec<RunResult>) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    let runs: Vec<NewRun> = (0..100).map(|i| common::pending(&rule, i)).collect();
    t.store.enqueue_runs(None, &runs).await.unwrap();
    let results = runs
        .iter()
        .enumerate()
        .map(|(i, run)| match i % 3 {
            0 => failed(run, "w1"),
            _ => passed(run, "w1"),
        })
        .collect();
    (t, rule, results)
}

async fn a_batch_of_results_is_one_transaction(backend: Backend) {
    let (t, _, results) = hundred(backend).await;
    let all_pending = |runs: Vec<RunRecord>| runs.iter().all(|r| r.status == RunStatus::Pending);

    let mut nan = results.clone();
    nan[49].metrics[0].value = f64::NAN;
    // Refused by the database, after the first 49 were written.
    let mut orphan = results.clone();
    orphan[49].metrics[0].rule_id = Some(999_999);
    let mut other_rule = results.clone();
    other_rule[49].run.rule_name = dq_core::RuleName::new("ghost").unwrap();
    let failures: Vec<(&str, Vec<RunResult>, common::Refusal)> = vec![
        ("a NaN metric in the 50th", nan, |e| {
            matches!(e, StoreError::Invalid(_))
        }),
        ("a foreign key failure in the 50th", orphan, |e| {
            matches!(e, StoreError::Invalid(_))
        }),
        (
            "an unknown rule in the 50th",
            other_rule,
            |e| matches!(e, StoreError::NotFound(m) if m.contains("ghost")),
        ),
    ];
    for (label, batch, expected) in failures {
        let err = t.store.finish_runs(&batch).await.unwrap_err();
        assert!(expected(&err), "{label}: {err}");
        assert_eq!(counts(&t).await, (100, 0, 0), "{label}");
        let runs = t.store.runs(&RunFilter::default()).await.unwrap();
        assert!(all_pending(runs), "{label}: none finished");
    }

    let applied = t.store.finish_runs(&results).await.unwrap();
    let expected: Vec<RunId> = results.iter().map(|r| r.run.id).collect();
    assert_eq!(applied, expected);
    // 34 FAILED runs with a violation and two metrics, 66 PASSED with one.
    assert_eq!(counts(&t).await, (100, 34, 134));
    assert!(t.store.finish_runs(&results).await.unwrap().is_empty());
    assert_eq!(counts(&t).await, (100, 34, 134));
}

async fn concurrent_batches_finish_each_run_once(backend: Backend) {
    let (t, _, results) = hundred(backend).await;
    // Two workers given overlapping batches, each in its own order.
    let first: Vec<RunResult> = results[..70].to_vec();
    let mut second: Vec<RunResult> = results[30..].to_vec();
    second.reverse();
    let tasks: Vec<_> = [first, second]
        .into_iter()
        .map(|batch| {
            let store = t.store.clone();
            tokio::spawn(async move { store.finish_runs(&batch).await })
        })
        .collect();
    let mut all = BTreeSet::new();
    let mut total = 0;
    for task in tasks {
        let applied = task.await.unwrap().unwrap();
        total += applied.len();
        all.extend(applied);
    }
    assert_eq!(total, 100, "each run finished by one batch");
    assert_eq!(all.len(), 100);
    assert_eq!(counts(&t).await, (100, 34, 134));
}

async fn marking_starting_and_finishing_at_once_never_deadlock(backend: Backend) {
    let (t, _, results) = hundred(backend).await;
    let ids: Vec<RunId> = results.iter().map(|r| r.run.id).collect();
    // Rewritten rows move (PostgreSQL keeps versions), so scan order is no
    // longer id order.
    let odd: Vec<RunId> = ids.iter().skip(1).step_by(2).copied().collect();
    t.store
        .start_runs(&odd, "w0", 1, common::at(1))
        .await
        .unwrap();

    let mut backwards = ids.clone();
    backwards.reverse();
    let mut results_backwards = results.clone();
    results_backwards.reverse();
    let (beat, worker, finisher) = (t.store.clone(), t.store.clone(), t.store.clone());
    let marking = tokio::spawn(async move { beat.mark_enqueued(&backwards, common::at(2)).await });
    let mut shuffled = ids.clone();
    shuffled.rotate_left(37);
    let starting =
        tokio::spawn(async move { worker.start_runs(&shuffled, "w1", 2, common::at(3)).await });
    let finishing = tokio::spawn(async move { finisher.finish_runs(&results_backwards).await });
    marking.await.unwrap().unwrap();
    let started = starting.await.unwrap().unwrap();
    let finished = finishing.await.unwrap().unwrap();

    assert_eq!(finished.len(), 100, "started runs are still finished");
    assert!(started.len() <= 100);
    let runs = t.store.runs(&RunFilter::default()).await.unwrap();
    assert!(runs.iter().all(|r| r.enqueued_at == Some(common::at(2))));
    assert!(runs
        .iter()
        .all(|r| matches!(r.status, RunStatus::Passed | RunStatus::Failed)));
    assert_eq!(counts(&t).await, (100, 34, 134));
}

on_each_backend!(
    marking_starting_and_finishing_at_once_never_deadlock,
    a_run_is_started_then_finished_once_whatever_is_redelivered,
    starting_returns_the_runs_to_execute_in_input_order,
    finishing_a_run_never_enqueued_inserts_it,
    a_batch_of_results_is_one_transaction,
    concurrent_batches_finish_each_run_once,
    runs_given_up_on_reopen_for_a_replay_and_nothing_else_does,
);
