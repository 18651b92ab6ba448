//! The worker's side of a run: starting it, and finishing it with its
//! violation and metrics. A run is written final once: a finish applies only
//! to a run still PENDING or RUNNING (or not there yet), so a redelivered
//! job, or two workers given the same one, rewrite nothing. The worker acks
//! a job only after its finish committed.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use dq_core::{RunId, RunStatus};
use sqlx::Pool;

use super::{id_list, in_id_order, insert_runs, is_final, rule_ids, run_id, values};
use crate::error::{Result, StoreError};
use crate::model::{JobStart, MetricPoint, NewRun, NewViolation};
use crate::sql::{self, Conditions, Dialect, Statement};
use crate::tables::{alerts, metrics, violations, AwaitingRuleId};

/// Inserts a run the beat never wrote (`dq run --async`), or completes one
/// still open. What the beat wrote stays: the tick, the queue, when it was
/// enqueued; a start time or worker the result lacks keeps the started
/// run's. On PostgreSQL a concurrent finish of the same run waits on its row
/// and then re-checks the status, so only the first applies.
const FINISH: &str = "ON CONFLICT (id) DO UPDATE SET \
         enqueued_at = COALESCE(runs.enqueued_at, excluded.enqueued_at), \
         started_at = COALESCE(excluded.started_at, runs.started_at), \
         finished_at = excluded.finished_at, status = excluded.status, \
         severity = excluded.severity, observed_value = excluded.observed_value, \
         expected = excluded.expected, message = excluded.message, \
         observation = excluded.observation, \
         effective_sample_size = excluded.effective_sample_size, \
         row_count = excluded.row_count, worker = COALESCE(excluded.worker, runs.worker), \
         attempt = excluded.attempt, error = excluded.error, retriable = excluded.retriable, \
         duration_ms = excluded.duration_ms \
     WHERE runs.status IN ('PENDING', 'RUNNING') \
     RETURNING id";

/// One finished run, borrowed: `Store::finish_runs` and `Store::record_run`
/// both end here.
pub(crate) struct Finished<'a> {
    pub run: &'a NewRun,
    pub violation: Option<&'a NewViolation>,
    pub metrics: &'a [MetricPoint],
}

/// A finished run's writes, every value checked before the transaction.
struct Writes {
    run: AwaitingRuleId,
    then: ThenWrites,
}

/// What is written only if the run's own write applied.
struct ThenWrites {
    violation: Option<AwaitingRuleId>,
    metrics: Vec<AwaitingRuleId>,
}

impl Finished<'_> {
    fn writes(&self) -> Result<Writes> {
        let run = self.run;
        if !is_final(run.status) {
            return Err(StoreError::Invalid(format!(
                "run {} of rule {} is finished with status {}, which is not final",
                run.id,
                run.rule_name,
                run.status.as_str()
            )));
        }
        let id = run.id.to_string();
        Ok(Writes {
            run: values(run)?,
            then: ThenWrites {
                violation: self
                    .violation
                    .map(|v| violations::insert(&id, &run.rule_name, v))
                    .transpose()?,
                metrics: metrics::inserts(self.metrics, &id)?,
            },
        })
    }
}

/// One transaction for the whole batch (group commit): on any error nothing
/// of it is written. Returns the runs this call finished, in input order.
pub(crate) async fn finish<DB: Dialect>(
    pool: &Pool<DB>,
    results: &[Finished<'_>],
) -> Result<Vec<RunId>> {
    let (mut run_rows, mut then): (Vec<_>, Vec<_>) = results
        .iter()
        .map(|r| r.writes().map(|w| (Some(w.run), Some(w.then))))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    if run_rows.is_empty() {
        return Ok(Vec::new());
    }
    let runs: Vec<&NewRun> = results.iter().map(|r| r.run).collect();
    let order = in_id_order(&runs);
    let mut tx = sql::begin_write(pool).await?;
    let rule_ids = rule_ids::<DB>(&mut tx, runs.iter().copied()).await?;
    // Every run in a few multi-row upserts. A run final already is not
    // returned: its first result stands, with its violation and metrics,
    // and this one's are not written.
    let rows = order
        .iter()
        .filter_map(|&i| run_rows[i].take().map(|r| r.with_rule(rule_ids[i])))
        .collect();
    let finished = insert_runs::<DB>(&mut tx, rows, FINISH).await?;
    let passed: BTreeSet<i64> = order
        .iter()
        .filter(|&&i| runs[i].status == RunStatus::Passed && finished.contains(&runs[i].id))
        .map(|&i| rule_ids[i].id)
        .collect();
    let mut open = alerts::rules_with_open_violations::<DB>(&mut tx, passed).await?;
    // In time order, so a rule failing then passing within one batch ends
    // resolved, as it would across two.
    let mut order = order;
    order.sort_by_key(|&i| (runs[i].scheduled_for, runs[i].id));
    let mut applied = BTreeSet::new();
    for i in order {
        let (Some(writes), rule) = (then[i].take(), rule_ids[i]) else {
            continue;
        };
        if !finished.contains(&runs[i].id) {
            continue;
        }
        applied.insert(i);
        let mut violation_id = None;
        if let Some(insert) = writes.violation {
            let rows = DB::fetch(&mut tx, insert.with_rule_id(rule.id)).await?;
            violation_id = Some(violations::inserted_id(&rows)?);
        }
        for insert in writes.metrics {
            DB::execute(&mut tx, insert.with_rule_id(rule.id)).await?;
        }
        // The pending alert, in the same transaction as the result.
        let violation = violation_id.zip(results[i].violation);
        alerts::on_finished::<DB>(&mut tx, rule.id, runs[i], violation, &mut open, rule.shadow)
            .await?;
    }
    tx.commit().await?;
    Ok(applied.into_iter().map(|i| runs[i].id).collect())
}

pub(crate) async fn record<DB: Dialect>(
    pool: &Pool<DB>,
    run: &NewRun,
    violation: Option<&NewViolation>,
    metrics: &[MetricPoint],
) -> Result<bool> {
    let finished = Finished {
        run,
        violation,
        metrics,
    };
    Ok(!finish(pool, &[finished]).await?.is_empty())
}

/// Marks the runs of several jobs RUNNING under `worker`, each job's runs
/// with its own delivery's attempt. Returns, per job and in input order,
/// the runs the worker should execute: those now RUNNING, and those with no
/// row at all (a job published without one; finishing it inserts it). A
/// run missing from a job's list is final already: that job is a
/// redelivery.
///
/// One UPDATE per distinct attempt (nearly always one), each committed on
/// its own: a statement locks its rows in id order, so two workers
/// starting overlapping runs never deadlock; two statements in one
/// transaction could.
pub(crate) async fn start<DB: Dialect>(
    pool: &Pool<DB>,
    jobs: &[JobStart<'_>],
    worker: &str,
    at: DateTime<Utc>,
) -> Result<Vec<Vec<RunId>>> {
    if worker.trim().is_empty() {
        return Err(StoreError::Invalid(
            "a run is started by a named worker".to_string(),
        ));
    }
    let mut by_attempt: BTreeMap<u32, Vec<RunId>> = BTreeMap::new();
    for job in jobs {
        by_attempt
            .entry(job.attempt)
            .or_default()
            .extend_from_slice(job.run_ids);
    }
    let mut runnable = BTreeSet::new();
    for (attempt, ids) in &by_attempt {
        runnable.extend(start_attempt(pool, ids, worker, *attempt, at).await?);
    }
    // A run asked twice (in one job or two) is handed out once.
    let mut seen = HashSet::new();
    Ok(jobs
        .iter()
        .map(|job| {
            job.run_ids
                .iter()
                .filter(|id| runnable.contains(*id) && seen.insert(**id))
                .copied()
                .collect()
        })
        .collect())
}

/// The runs of `run_ids` to execute: now RUNNING, or without a row.
///
/// No transaction: the UPDATE is atomic on its own, and a row that appears
/// between it and the existence check was inserted final by whoever
/// finished the run, which is what the check then reports. When every run
/// was started, as nearly always, this is ONE statement.
async fn start_attempt<DB: Dialect>(
    pool: &Pool<DB>,
    run_ids: &[RunId],
    worker: &str,
    attempt: u32,
    at: DateTime<Utc>,
) -> Result<BTreeSet<RunId>> {
    let asked: BTreeSet<RunId> = run_ids.iter().copied().collect();
    if asked.is_empty() {
        return Ok(asked);
    }
    let mark = Statement::new(DB::START_RUNS)
        .arg(id_list(run_ids))
        .arg(worker)
        .arg(i64::from(attempt))
        .arg(at);
    let started = ids_of(sql::fetch(pool, mark).await?)?;
    if started.len() == asked.len() {
        return Ok(started);
    }
    let mut existing = Conditions::<DB>::select("SELECT id FROM runs");
    existing.one_of("id", asked.iter().map(RunId::to_string).collect());
    let existing = ids_of(sql::fetch(pool, existing.order_by("id", None)).await?)?;
    Ok(asked
        .into_iter()
        .filter(|id| started.contains(id) || !existing.contains(id))
        .collect())
}

fn ids_of<R: sql::StoredRow>(rows: Vec<R>) -> Result<BTreeSet<RunId>> {
    rows.iter().map(run_id).collect()
}

/// Puts ERROR/TIMEOUT runs that were marked retriable (a job given up on and
/// dead-lettered) back to PENDING, so replaying the dead letter runs them.
/// Final runs of any other kind stay as they are.
pub(crate) async fn reopen<DB: Dialect>(pool: &Pool<DB>, run_ids: &[RunId]) -> Result<Vec<RunId>> {
    if run_ids.is_empty() {
        return Ok(Vec::new());
    }
    let statement = Statement::new(DB::REOPEN_RUNS).arg(id_list(run_ids));
    let mut tx = sql::begin_write(pool).await?;
    let reopened = ids_of(DB::fetch(&mut tx, statement).await?)?;
    tx.commit().await?;
    Ok(reopened.into_iter().collect())
}
