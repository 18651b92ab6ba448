//! The runs table: recording a run with its violation and metrics in one
//! transaction keyed by run id, and listing runs.

use dq_core::{Dataset, RuleName, RunId};
use sqlx::Pool;

use super::{metrics, violations, AwaitingRuleId};
use crate::error::{Result, StoreError};
use crate::model::{MetricPoint, NewRun, NewViolation, RunFilter, RunRecord};
use crate::sql::{self, Arg, Conditions, Dialect, Fields, Statement, StoredRow};

const SELECT_RULE_ID: &str = "SELECT id FROM rules WHERE name = $1";

const INSERT_RUN: &str = "INSERT INTO runs (id, rule_name, target, dataset, scheduled_for, \
         enqueued_at, started_at, finished_at, status, severity, observed_value, expected, \
         message, observation, effective_sample_size, row_count, worker, queue, attempt, error, \
         retriable, duration_ms, rule_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23) \
     ON CONFLICT (id) DO NOTHING";

const SELECT_RUNS: &str = "SELECT id, rule_id, rule_name, target, dataset, scheduled_for, \
     enqueued_at, started_at, finished_at, status, severity, observed_value, expected, message, \
     observation, effective_sample_size, row_count, worker, queue, attempt, error, retriable, \
     duration_ms FROM runs";

pub(crate) async fn record<DB: Dialect>(
    pool: &Pool<DB>,
    run: &NewRun,
    violation: Option<&NewViolation>,
    metric_points: &[MetricPoint],
) -> Result<bool> {
    let run_id = run.id.to_string();
    // Every value is checked before the transaction begins.
    let metric_inserts = metrics::inserts(metric_points, &run_id)?;
    let violation_insert = violation
        .map(|v| violations::insert(&run_id, &run.rule_name, v))
        .transpose()?;
    let run_insert = insert(run)?;

    let mut tx = sql::begin_write(pool).await?;
    let rows = DB::fetch(
        &mut tx,
        Statement::new(SELECT_RULE_ID).arg(run.rule_name.as_str()),
    )
    .await?;
    let Some(row) = rows.first() else {
        return Err(StoreError::NotFound(format!(
            "rule {} (of run {run_id})",
            run.rule_name
        )));
    };
    let (_, rule_id) = Fields::keyed_by_int(row, "rule", "id")?;
    // Concurrent recordings of one id wait on its primary key; all but the
    // first find it taken and insert nothing.
    if DB::execute(&mut tx, run_insert.with_rule_id(rule_id)).await? != 1 {
        // A redelivered job: the first recording stands, untouched.
        tx.rollback().await?;
        return Ok(false);
    }
    if let Some(insert) = violation_insert {
        DB::execute(&mut tx, insert.with_rule_id(rule_id)).await?;
    }
    for insert in metric_inserts {
        DB::execute(&mut tx, insert.with_rule_id(rule_id)).await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub(crate) async fn list<DB: Dialect>(
    pool: &Pool<DB>,
    filter: &RunFilter,
) -> Result<Vec<RunRecord>> {
    let mut conditions = Conditions::<DB>::select(SELECT_RUNS);
    if let Some(since) = filter.since {
        conditions.bind("scheduled_for >= ", since, "");
    }
    conditions.one_of("rule_name", filter.rule_names.clone());
    conditions.one_of(
        "status",
        filter
            .statuses
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
    );
    let statement = conditions.order_by("scheduled_for DESC, id DESC", filter.limit);
    let rows = sql::fetch(pool, statement).await?;
    rows.iter().map(run_record).collect()
}

fn insert(run: &NewRun) -> Result<AwaitingRuleId> {
    let observation = match &run.observation {
        Some(o) => Arg::json(o, "the run's observation")?,
        None => Arg::Json(None),
    };
    let statement = Statement::new(INSERT_RUN)
        .arg(run.id.to_string())
        .arg(run.rule_name.as_str())
        .arg(run.target.as_str())
        .arg(run.dataset.to_string())
        .arg(run.scheduled_for)
        .arg(run.enqueued_at)
        .arg(run.started_at)
        .arg(run.finished_at)
        .arg(run.status.as_str())
        .arg(run.severity.map(|s| s.as_str()))
        .arg(Arg::finite(run.observed_value, "the run's observed value")?)
        .arg(run.expected.as_str())
        .arg(run.message.as_str())
        .arg(observation)
        .arg(Arg::count(
            run.effective_sample_size,
            "effective_sample_size",
        )?)
        .arg(Arg::count(run.row_count, "row_count")?)
        .arg(run.worker.as_deref())
        .arg(run.queue.as_str())
        .arg(i64::from(run.attempt))
        .arg(run.error.as_deref())
        .arg(run.retriable)
        .arg(Arg::count(run.duration_ms, "duration_ms")?);
    Ok(AwaitingRuleId::new(statement, None))
}

fn run_record<R: StoredRow>(row: &R) -> Result<RunRecord> {
    let (f, id) = Fields::keyed_by_text(row, "run", "id")?;
    Ok(RunRecord {
        id: f.convert("id", RunId::parse(&id).ok_or("not a run id"))?,
        rule_id: f.int("rule_id")?,
        rule_name: f.convert("rule_name", RuleName::new(f.text("rule_name")?))?,
        target: f.text("target")?,
        dataset: f.convert("dataset", Dataset::parse(&f.text("dataset")?))?,
        scheduled_for: f.time("scheduled_for")?,
        enqueued_at: f.opt_time("enqueued_at")?,
        started_at: f.opt_time("started_at")?,
        finished_at: f.opt_time("finished_at")?,
        status: f.parsed("status")?,
        severity: f.opt_parsed("severity")?,
        observed_value: f.opt_real("observed_value")?,
        expected: f.text("expected")?,
        message: f.text("message")?,
        observation: f.opt_json("observation")?,
        effective_sample_size: f.count("effective_sample_size")?,
        row_count: f.count("row_count")?,
        worker: f.opt_text("worker")?,
        queue: f.parsed("queue")?,
        attempt: f.convert("attempt", u32::try_from(f.int("attempt")?))?,
        error: f.opt_text("error")?,
        retriable: f.boolean("retriable")?,
        duration_ms: f.count("duration_ms")?,
    })
}
