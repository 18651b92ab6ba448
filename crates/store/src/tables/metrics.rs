//! The metrics table: the history of every measured value, read by anomaly
//! checks and trend reports.

use sqlx::Pool;

use super::AwaitingRuleId;
use crate::error::{Result, StoreError};
use crate::model::{MetricFilter, MetricPoint};
use crate::sql::{self, Arg, Conditions, Dialect, Fields, Statement, StoredRow};

const INSERT_METRIC: &str = "INSERT INTO metrics (run_id, target, dataset, column_name, name, \
         value, observed_at, rule_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

const SELECT_METRICS: &str = "SELECT id, run_id, rule_id, target, dataset, column_name, name, \
     value, observed_at FROM metrics";

/// For `record_run`'s transaction: the points are the run's, and one that
/// names another run is a bug in the caller, caught before anything is
/// written. A point without a rule id gets the run's.
pub(super) fn inserts(points: &[MetricPoint], run_id: &str) -> Result<Vec<AwaitingRuleId>> {
    points
        .iter()
        .map(|point| {
            if let Some(other) = point.run_id.as_deref().filter(|id| *id != run_id) {
                return Err(StoreError::Invalid(format!(
                    "metric {} names run {other}, but is recorded with run {run_id}",
                    point.name
                )));
            }
            let statement = Statement::new(INSERT_METRIC)
                .arg(run_id)
                .arg(point.target.as_str())
                .arg(point.dataset.as_str())
                .arg(point.column.as_deref())
                .arg(point.name.as_str())
                .arg(Arg::finite(
                    Some(point.value),
                    &format!("metric {}", point.name),
                )?)
                .arg(point.observed_at);
            Ok(AwaitingRuleId::new(statement, point.rule_id))
        })
        .collect()
}

pub(crate) async fn list<DB: Dialect>(
    pool: &Pool<DB>,
    filter: &MetricFilter,
) -> Result<Vec<MetricPoint>> {
    let mut conditions = Conditions::<DB>::select(SELECT_METRICS);
    if let Some(target) = &filter.target {
        conditions.bind("target = ", target.as_str(), "");
    }
    if let Some(dataset) = &filter.dataset {
        conditions.bind("dataset = ", dataset.as_str(), "");
    }
    if let Some(name) = &filter.name {
        conditions.bind("name = ", name.as_str(), "");
    }
    if let Some(since) = filter.since {
        conditions.bind("observed_at >= ", since, "");
    }
    let rows = sql::fetch(pool, conditions.order_by("observed_at, id", None)).await?;
    rows.iter().map(metric_point).collect()
}

fn metric_point<R: StoredRow>(row: &R) -> Result<MetricPoint> {
    let (f, _) = Fields::keyed_by_int(row, "metric", "id")?;
    Ok(MetricPoint {
        run_id: f.opt_text("run_id")?,
        rule_id: f.opt_int("rule_id")?,
        target: f.text("target")?,
        dataset: f.text("dataset")?,
        column: f.opt_text("column_name")?,
        name: f.text("name")?,
        value: f.real("value")?,
        observed_at: f.time("observed_at")?,
    })
}
