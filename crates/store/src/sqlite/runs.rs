//! The runs table: recording a run with its violation and metrics in one
//! transaction keyed by run id, and listing runs.

use dq_core::{Dataset, RuleName, RunId};
use sqlx::FromRow;

use super::codec::{self, Origin};
use super::conditions::Conditions;
use super::{metrics, violations, SqliteStore, BEGIN_WRITE};
use crate::error::{Result, StoreError};
use crate::model::{MetricPoint, NewRun, NewViolation, RunFilter, RunRecord};

const INSERT_RUN: &str = "INSERT INTO runs (id, rule_id, rule_name, target, dataset, \
         scheduled_for, enqueued_at, started_at, finished_at, status, severity, observed_value, \
         expected, message, observation, effective_sample_size, row_count, worker, queue, \
         attempt, error, retriable, duration_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
         ?19, ?20, ?21, ?22, ?23) \
     ON CONFLICT (id) DO NOTHING";

const SELECT_RUNS: &str = "SELECT id, rule_id, rule_name, target, dataset, scheduled_for, \
     enqueued_at, started_at, finished_at, status, severity, observed_value, expected, message, \
     observation, effective_sample_size, row_count, worker, queue, attempt, error, retriable, \
     duration_ms FROM runs";

#[derive(FromRow)]
struct RunRow {
    id: String,
    rule_id: i64,
    rule_name: String,
    target: String,
    dataset: String,
    scheduled_for: String,
    enqueued_at: Option<String>,
    started_at: Option<String>,
    finished_at: Option<String>,
    status: String,
    severity: Option<String>,
    observed_value: Option<f64>,
    expected: String,
    message: String,
    observation: Option<String>,
    effective_sample_size: Option<i64>,
    row_count: Option<i64>,
    worker: Option<String>,
    queue: String,
    attempt: i64,
    error: Option<String>,
    retriable: bool,
    duration_ms: Option<i64>,
}

impl SqliteStore {
    pub(crate) async fn record_run(
        &self,
        run: &NewRun,
        violation: Option<&NewViolation>,
        metric_points: &[MetricPoint],
    ) -> Result<bool> {
        let run_id = run.id.to_string();
        check_points(&run_id, metric_points)?;
        codec::finite(run.observed_value, "the run's observed value")?;
        if let Some(v) = violation {
            codec::finite(v.observed_value, "the violation's observed value")?;
        }
        let observation = run
            .observation
            .as_ref()
            .map(|o| codec::json_text(o, "the run's observation"))
            .transpose()?;

        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let rule_id: i64 = sqlx::query_scalar("SELECT id FROM rules WHERE name = ?1")
            .bind(run.rule_name.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::NotFound(format!("rule {} (of run {run_id})", run.rule_name))
            })?;
        let inserted = sqlx::query(INSERT_RUN)
            .bind(&run_id)
            .bind(rule_id)
            .bind(run.rule_name.as_str())
            .bind(&run.target)
            .bind(run.dataset.to_string())
            .bind(codec::ts(run.scheduled_for))
            .bind(codec::opt_ts(run.enqueued_at))
            .bind(codec::opt_ts(run.started_at))
            .bind(codec::opt_ts(run.finished_at))
            .bind(run.status.as_str())
            .bind(run.severity.map(|s| s.as_str()))
            .bind(run.observed_value)
            .bind(&run.expected)
            .bind(&run.message)
            .bind(observation)
            .bind(codec::count_to_sql(
                run.effective_sample_size,
                "effective_sample_size",
            )?)
            .bind(codec::count_to_sql(run.row_count, "row_count")?)
            .bind(run.worker.as_deref())
            .bind(run.queue.as_str())
            .bind(i64::from(run.attempt))
            .bind(run.error.as_deref())
            .bind(run.retriable)
            .bind(codec::count_to_sql(run.duration_ms, "duration_ms")?)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !inserted {
            // A redelivered job: the first recording stands, untouched.
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(violation) = violation {
            violations::insert(&mut tx, &run_id, rule_id, &run.rule_name, violation).await?;
        }
        metrics::insert(&mut tx, metric_points, &run_id, rule_id).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        let mut conditions = Conditions::select(SELECT_RUNS);
        if let Some(since) = filter.since {
            conditions.bind("scheduled_for >= ", codec::ts(since), "");
        }
        conditions.one_of("rule_name", filter.rule_names.clone());
        conditions.one_of(
            "status",
            filter.statuses.iter().map(|s| s.as_str()).collect(),
        );
        let mut query = conditions.order_by("scheduled_for DESC, id DESC", filter.limit);
        let rows: Vec<RunRow> = query.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(run_record).collect()
    }
}

/// Points recorded with a run belong to it: naming another run is a bug in
/// the caller, caught before anything is written.
fn check_points(run_id: &str, points: &[MetricPoint]) -> Result<()> {
    for point in points {
        if let Some(other) = point.run_id.as_deref().filter(|id| *id != run_id) {
            return Err(StoreError::Invalid(format!(
                "metric {} names run {other}, but is recorded with run {run_id}",
                point.name
            )));
        }
        codec::finite(Some(point.value), &format!("metric {}", point.name))?;
    }
    Ok(())
}

fn run_record(row: RunRow) -> Result<RunRecord> {
    let origin = Origin {
        table: "run",
        key: &row.id,
    };
    Ok(RunRecord {
        id: origin.parse("id", RunId::parse(&row.id).ok_or("not a run id"))?,
        rule_id: row.rule_id,
        rule_name: origin.parse("rule_name", RuleName::new(row.rule_name.as_str()))?,
        dataset: origin.parse("dataset", Dataset::parse(&row.dataset))?,
        scheduled_for: origin.ts("scheduled_for", &row.scheduled_for)?,
        enqueued_at: origin.opt_ts("enqueued_at", row.enqueued_at.as_deref())?,
        started_at: origin.opt_ts("started_at", row.started_at.as_deref())?,
        finished_at: origin.opt_ts("finished_at", row.finished_at.as_deref())?,
        status: origin.parse("status", row.status.parse())?,
        severity: row
            .severity
            .as_deref()
            .map(|s| origin.parse("severity", s.parse()))
            .transpose()?,
        observation: row
            .observation
            .as_deref()
            .map(|o| origin.json("observation", o))
            .transpose()?,
        effective_sample_size: origin.count("effective_sample_size", row.effective_sample_size)?,
        row_count: origin.count("row_count", row.row_count)?,
        queue: origin.parse("queue", row.queue.parse())?,
        attempt: origin.parse("attempt", u32::try_from(row.attempt))?,
        duration_ms: origin.count("duration_ms", row.duration_ms)?,
        target: row.target,
        observed_value: row.observed_value,
        expected: row.expected,
        message: row.message,
        worker: row.worker,
        error: row.error,
        retriable: row.retriable,
    })
}
