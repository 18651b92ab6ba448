//! The metrics table: the history of every measured value, read by anomaly
//! checks and trend reports.

use sqlx::{FromRow, SqliteConnection};

use super::codec::{self, Origin};
use super::conditions::Conditions;
use super::SqliteStore;
use crate::error::Result;
use crate::model::{MetricFilter, MetricPoint};

const INSERT_METRIC: &str = "INSERT INTO metrics (run_id, rule_id, target, dataset, column_name, \
         name, value, observed_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

const SELECT_METRICS: &str = "SELECT id, run_id, rule_id, target, dataset, column_name, name, \
     value, observed_at FROM metrics";

#[derive(FromRow)]
struct MetricRow {
    id: i64,
    run_id: Option<String>,
    rule_id: Option<i64>,
    target: String,
    dataset: String,
    column_name: Option<String>,
    name: String,
    value: f64,
    observed_at: String,
}

/// Inside `record_run`'s transaction: points missing a run or rule id are
/// the run's (the caller checked that none names another run).
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    points: &[MetricPoint],
    run_id: &str,
    rule_id: i64,
) -> Result<()> {
    for point in points {
        sqlx::query(INSERT_METRIC)
            .bind(point.run_id.as_deref().unwrap_or(run_id))
            .bind(point.rule_id.unwrap_or(rule_id))
            .bind(&point.target)
            .bind(&point.dataset)
            .bind(point.column.as_deref())
            .bind(&point.name)
            .bind(point.value)
            .bind(codec::ts(point.observed_at))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn metrics(&self, filter: &MetricFilter) -> Result<Vec<MetricPoint>> {
        let mut conditions = Conditions::select(SELECT_METRICS);
        if let Some(target) = &filter.target {
            conditions.bind("target = ", target.clone(), "");
        }
        if let Some(dataset) = &filter.dataset {
            conditions.bind("dataset = ", dataset.clone(), "");
        }
        if let Some(name) = &filter.name {
            conditions.bind("name = ", name.clone(), "");
        }
        if let Some(since) = filter.since {
            conditions.bind("observed_at >= ", codec::ts(since), "");
        }
        let mut query = conditions.order_by("observed_at, id", None);
        let rows: Vec<MetricRow> = query.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(metric_point).collect()
    }
}

fn metric_point(row: MetricRow) -> Result<MetricPoint> {
    let origin = Origin {
        table: "metric",
        key: &row.id,
    };
    Ok(MetricPoint {
        observed_at: origin.ts("observed_at", &row.observed_at)?,
        run_id: row.run_id,
        rule_id: row.rule_id,
        target: row.target,
        dataset: row.dataset,
        column: row.column_name,
        name: row.name,
        value: row.value,
    })
}
