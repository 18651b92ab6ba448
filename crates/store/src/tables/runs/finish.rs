//! The worker's side of a run: starting it, and finishing it with its
//! violation and metrics. A run is written final once: a finish applies only
//! to a run still PENDING or RUNNING (or not there yet), so a redelivered
//! job, or two workers given the same one, rewrite nothing. The worker acks
//! a job only after its finish committed.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use dq_core::RunId;
use sqlx::Pool;

use super::{id_list, in_id_order, insert_run, is_final, rule_ids, run_id, values};
use crate::error::{Result, StoreError};
use crate::model::{MetricPoint, NewRun, NewViolation};
use crate::sql::{self, Conditions, Dialect, Statement};
use crate::tables::{metrics, violations, AwaitingRuleId};

/// Inserts a run the beat never wrote (`dq run --async`), or completes one
/// still open. What the beat wrote stays: the tick, the queue, when it was
/// enqueued; a start time or worker the result lacks keeps the started
/// run's. On PostgreSQL a concurrent finish of the same run waits on its row
/// and then re-checks the status, so only the first applies.
const FINISH: &str = insert_run!(
    "ON CONFLICT (id) DO UPDATE SET \
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
     RETURNING id"
);

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
            run: values(FINISH, run)?,
            violation: self
                .violation
                .map(|v| violations::insert(&id, &run.rule_name, v))
                .transpose()?,
            metrics: metrics::inserts(self.metrics, &id)?,
        })
    }
}

/// One transaction for the whole batch (group commit): on any error nothing
/// of it is written. Returns the runs this call finished, in input order.
pub(crate) async fn finish<DB: Dialect>(
    pool: &Pool<DB>,
    results: &[Finished<'_>],
) -> Result<Vec<RunId>> {
    let mut writes = results
        .iter()
        .map(|r| r.writes().map(Some))
        .collect::<Result<Vec<_>>>()?;
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    let runs: Vec<&NewRun> = results.iter().map(|r| r.run).collect();
    let mut tx = sql::begin_write(pool).await?;
    let rule_ids = rule_ids::<DB>(&mut tx, runs.iter().copied()).await?;
    let mut applied = BTreeSet::new();
    // Each position comes up once, so `take` always finds its writes.
    for i in in_id_order(&runs) {
        let (Some(writes), rule_id) = (writes[i].take(), rule_ids[i]) else {
            continue;
        };
        if DB::fetch(&mut tx, writes.run.with_rule_id(rule_id))
            .await?
            .is_empty()
        {
            // Final already: the first result stands, with its violation
            // and metrics, and these are not written.
            continue;
        }
        applied.insert(i);
        if let Some(insert) = writes.violation {
            DB::execute(&mut tx, insert.with_rule_id(rule_id)).await?;
        }
        for insert in writes.metrics {
            DB::execute(&mut tx, insert.with_rule_id(rule_id)).await?;
        }
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

/// Marks the runs RUNNING under `worker`. Returns, in input order, the runs
/// the worker should execute: those now RUNNING, and those with no row at
/// all (a job published without one; finishing it inserts it). A run
/// missing from the result is final already: the job is a redelivery.
pub(crate) async fn start<DB: Dialect>(
    pool: &Pool<DB>,
    run_ids: &[RunId],
    worker: &str,
    attempt: u32,
    at: DateTime<Utc>,
) -> Result<Vec<RunId>> {
    if worker.trim().is_empty() {
        return Err(StoreError::Invalid(
            "a run is started by a named worker".to_string(),
        ));
    }
    if run_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mark = Statement::new(DB::START_RUNS)
        .arg(id_list(run_ids))
        .arg(worker)
        .arg(i64::from(attempt))
        .arg(at);
    let mut existing = Conditions::<DB>::select("SELECT id FROM runs");
    existing.one_of("id", run_ids.iter().map(RunId::to_string).collect());

    let mut tx = sql::begin_write(pool).await?;
    let started = ids_of(DB::fetch(&mut tx, mark).await?)?;
    let existing = ids_of(DB::fetch(&mut tx, existing.order_by("id", None)).await?)?;
    tx.commit().await?;

    let mut seen = HashSet::new();
    Ok(run_ids
        .iter()
        .filter(|id| seen.insert(**id))
        .filter(|id| started.contains(id) || !existing.contains(id))
        .copied()
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
