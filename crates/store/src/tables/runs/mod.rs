//! The runs table, through a run's life: a beat enqueues it PENDING
//! (`enqueue.rs`, with the publish outbox), a worker starts it and finishes
//! it with its violation and metrics (`finish.rs`). Here: the run's columns
//! and their mapping, the rule ids runs are written under, and the reads.

mod enqueue;
mod finish;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use dq_core::{Dataset, RuleName, RunId, RunStatus};
use sqlx::Pool;

use super::{AwaitingRuleId, RuleRef};
use crate::error::{Result, StoreError};
use crate::model::{NewRun, RunFilter, RunRecord};
use crate::sql::{self, Arg, Conditions, Dialect, Fields, StoredRow};

pub(crate) use enqueue::{enqueue, mark_enqueued, unpublished};
pub(crate) use finish::{finish, record, reopen, start, Finished};

/// The run's columns, in the order [`values`] binds them; `rule_id` last.
const INSERT_RUNS: &str = "INSERT INTO runs (id, rule_name, target, dataset, scheduled_for, \
     enqueued_at, started_at, finished_at, status, severity, observed_value, expected, message, \
     observation, effective_sample_size, row_count, worker, queue, attempt, error, retriable, \
     duration_ms, rule_id, rule_version) VALUES";

/// Rows per multi-row insert: 100 runs are 2,300 values, well inside
/// both backends' limits on bound parameters.
const ROWS_PER_INSERT: usize = 100;

const SELECT_RUNS: &str = "SELECT id, rule_id, rule_name, target, dataset, scheduled_for, \
     enqueued_at, started_at, finished_at, status, severity, observed_value, expected, message, \
     observation, effective_sample_size, row_count, worker, queue, attempt, error, retriable, \
     duration_ms, rule_version FROM runs";

/// One index probe per rule (`runs_rule_scheduled`), rather than a scan of
/// the whole history; rules that never ran give NULL.
const LAST_SCHEDULED: &str = "SELECT name, \
         (SELECT MAX(scheduled_for) FROM runs WHERE runs.rule_id = rules.id) AS last_scheduled \
     FROM rules";

/// One index probe per final status (`runs_status_finished`), where a
/// MAX over all of them at once would scan.
const LAST_FINISHED: &str = "SELECT MAX(last) AS last FROM (\
     SELECT MAX(finished_at) AS last FROM runs WHERE status = 'PASSED' \
     UNION ALL SELECT MAX(finished_at) FROM runs WHERE status = 'WARNED' \
     UNION ALL SELECT MAX(finished_at) FROM runs WHERE status = 'FAILED' \
     UNION ALL SELECT MAX(finished_at) FROM runs WHERE status = 'SKIPPED' \
     UNION ALL SELECT MAX(finished_at) FROM runs WHERE status = 'ERROR' \
     UNION ALL SELECT MAX(finished_at) FROM runs WHERE status = 'TIMEOUT') AS finals";

/// A run in a status no later write may change.
fn is_final(status: RunStatus) -> bool {
    !matches!(status, RunStatus::Pending | RunStatus::Running)
}

pub(crate) async fn list<DB: Dialect>(
    pool: &Pool<DB>,
    filter: &RunFilter,
) -> Result<Vec<RunRecord>> {
    let mut conditions = Conditions::<DB>::select(SELECT_RUNS);
    if let Some(since) = filter.since {
        conditions.bind("scheduled_for >= ", since, "");
    }
    if let Some(until) = filter.until {
        conditions.bind("scheduled_for < ", until, "");
    }
    if let Some((scheduled_for, id)) = filter.after {
        conditions.after_desc("scheduled_for", scheduled_for, "id", id.to_string());
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

pub(crate) async fn by_id<DB: Dialect>(pool: &Pool<DB>, id: RunId) -> Result<Option<RunRecord>> {
    let mut conditions = Conditions::<DB>::select(SELECT_RUNS);
    conditions.bind("id = ", id.to_string(), "");
    let rows = sql::fetch(pool, conditions.order_by("id", None)).await?;
    rows.first().map(run_record).transpose()
}

pub(crate) async fn last_finished<DB: Dialect>(pool: &Pool<DB>) -> Result<Option<DateTime<Utc>>> {
    let rows = sql::fetch(pool, sql::Statement::new(LAST_FINISHED)).await?;
    match rows.first() {
        Some(row) => Fields::of(row, "runs").opt_time("last"),
        None => Ok(None),
    }
}

pub(crate) async fn last_scheduled<DB: Dialect>(
    pool: &Pool<DB>,
) -> Result<BTreeMap<String, DateTime<Utc>>> {
    let rows = sql::fetch(pool, sql::Statement::new(LAST_SCHEDULED)).await?;
    let mut last = BTreeMap::new();
    for row in &rows {
        let (f, name) = Fields::keyed_by_text(row, "rule", "name")?;
        if let Some(at) = f.opt_time("last_scheduled")? {
            last.insert(name, at);
        }
    }
    Ok(last)
}

/// The rule of each of `runs`, in order, read inside their transaction.
/// A run of an unknown rule is `NotFound`, naming every unknown rule.
async fn rule_ids<'r, DB: Dialect>(
    conn: &mut DB::Connection,
    runs: impl Iterator<Item = &'r NewRun> + Clone,
) -> Result<Vec<RuleRef>> {
    let names: BTreeSet<String> = runs.clone().map(|r| r.rule_name.to_string()).collect();
    let mut conditions = Conditions::<DB>::select("SELECT id, name, version, shadow FROM rules");
    conditions.one_of("name", names.into_iter().collect());
    let rows = DB::fetch(conn, conditions.order_by("name", None)).await?;
    let mut known = HashMap::new();
    for row in &rows {
        let (f, name) = Fields::keyed_by_text(row, "rule", "name")?;
        let rule = RuleRef {
            id: f.int("id")?,
            version: f.convert("version", u32::try_from(f.int("version")?))?,
            shadow: f.boolean("shadow")?,
        };
        known.insert(name, rule);
    }
    let mut ids = Vec::new();
    let mut unknown = BTreeMap::new();
    for run in runs {
        match known.get(run.rule_name.as_str()) {
            Some(id) => ids.push(*id),
            None => {
                unknown.entry(run.rule_name.as_str()).or_insert(run.id);
            }
        }
    }
    if unknown.is_empty() {
        return Ok(ids);
    }
    let named: Vec<String> = unknown
        .iter()
        .map(|(rule, run)| format!("rule {rule} (of run {run})"))
        .collect();
    Err(StoreError::NotFound(named.join(", ")))
}

/// The run's values, each checked, awaiting its rule id: one row of an
/// [`insert_runs`].
fn values(run: &NewRun) -> Result<AwaitingRuleId> {
    let observation = match &run.observation {
        Some(o) => Arg::json(o, "the run's observation")?,
        None => Arg::Json(None),
    };
    let statement = sql::Statement::new("")
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

/// Inserts `rows` (from [`values`], with their rule ids bound) followed by
/// `tail` (the conflict clause, `RETURNING id`), [`ROWS_PER_INSERT`] at a
/// time; returns the ids the statements returned. A batch holds each run
/// id once: one statement may not upsert a row twice.
async fn insert_runs<DB: Dialect>(
    conn: &mut DB::Connection,
    rows: Vec<sql::Statement>,
    tail: &'static str,
) -> Result<BTreeSet<RunId>> {
    let mut returned = BTreeSet::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<sql::Statement> = rows.by_ref().take(ROWS_PER_INSERT).collect();
        let statement = sql::Statement::rows(INSERT_RUNS, chunk, tail);
        for row in DB::fetch(conn, statement).await? {
            returned.insert(run_id(&row)?);
        }
    }
    Ok(returned)
}

/// The positions of `runs` in run-id order, each id once (its first
/// position). Batches are written in this order, so that two overlapping
/// batches lock their rows in the same order and cannot deadlock on
/// PostgreSQL; and a run given twice is written once, as its first.
fn in_id_order(runs: &[&NewRun]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by_key(|&i| runs[i].id);
    order.dedup_by_key(|i| runs[*i].id);
    order
}

/// Run ids as one list argument.
fn id_list(ids: &[RunId]) -> Arg {
    Arg::Texts(ids.iter().map(RunId::to_string).collect())
}

fn run_id<R: StoredRow>(row: &R) -> Result<RunId> {
    let (f, id) = Fields::keyed_by_text(row, "run", "id")?;
    f.convert("id", RunId::parse(&id).ok_or("not a run id"))
}

fn run_record<R: StoredRow>(row: &R) -> Result<RunRecord> {
    let (f, _) = Fields::keyed_by_text(row, "run", "id")?;
    Ok(RunRecord {
        id: run_id(row)?,
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
        rule_version: f
            .opt_int("rule_version")?
            .map(|v| f.convert("rule_version", u32::try_from(v)))
            .transpose()?,
    })
}
