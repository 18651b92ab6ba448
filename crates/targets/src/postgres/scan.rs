//! Computing a plan's metrics: in one read-only, repeatable-read
//! transaction (so every query sees the same snapshot), one catalogue
//! query (columns are checked before they are used, types word the SQL,
//! the planner's size estimate picks the sample), one fused aggregate
//! statement for every scan aggregate, and one GROUP BY per duplicate-count
//! column that also brings the most repeated values as samples. Then each
//! custom SQL query in a transaction of its own, under its rule's timeout.

use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_core::{
    rule::DEFAULT_TIMEOUT, ColumnInfo, CustomSqlMode, Identifier, MetricRequest, MetricValue,
    RowPredicate, ScanPlan,
};
use serde_json::Value;
use sqlx::postgres::Postgres;
use sqlx::{PgConnection, Row, Transaction};

use super::sql::{self, Columns, Source};
use super::{rows, Context, PostgresTarget};
use crate::custom_sql::{scalar_row_count_error, scalar_value_error};
use crate::error::TargetError;
use crate::execute::{Computed, ExecuteOptions};
use crate::stats::QueryKind;

type Tx = Transaction<'static, Postgres>;

pub(crate) async fn compute(
    target: &PostgresTarget,
    plan: &ScanPlan<'_>,
    options: &ExecuteOptions,
) -> Computed {
    let (mut scanned, custom) = tokio::join!(
        scan_metrics(target, plan, options),
        custom_metrics(target, plan)
    );
    scanned.merge(custom);
    scanned
}

/// The longest timeout among the rules: the scan serves them all, so none
/// is cut short by a stricter neighbour.
fn scan_timeout(plan: &ScanPlan<'_>) -> Duration {
    plan.rules
        .iter()
        .map(|r| r.timeout)
        .max()
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Errors after which no other query on this dataset can succeed.
fn aborts_scan(e: &TargetError) -> bool {
    matches!(
        e,
        TargetError::Connect { .. }
            | TargetError::DatasetNotFound { .. }
            | TargetError::Timeout { .. }
    )
}

/// The same seed for every statement of one run, so a sampled scope's
/// aggregates and duplicate counts come from the same pages.
fn seed(now: DateTime<Utc>) -> f64 {
    now.timestamp_millis().rem_euclid(1 << 31) as f64
}

async fn scan_metrics(
    target: &PostgresTarget,
    plan: &ScanPlan<'_>,
    options: &ExecuteOptions,
) -> Computed {
    let requests: Vec<&MetricRequest> = plan
        .metrics
        .iter()
        .filter(|m| !matches!(m, MetricRequest::CustomSql { .. }))
        .collect();
    let mut computed = Computed::default();
    if requests.is_empty() {
        return computed;
    }
    let timeout = scan_timeout(plan);
    let scan = Scan {
        target,
        plan,
        options,
        timeout,
    };
    if let Err(e) = PostgresTarget::bounded(timeout, scan.run(&mut computed)).await {
        for request in requests {
            computed.fail_if_missing(request.key(), &e);
        }
    }
    computed
}

struct Scan<'a> {
    target: &'a PostgresTarget,
    plan: &'a ScanPlan<'a>,
    options: &'a ExecuteOptions,
    timeout: Duration,
}

struct Catalogue {
    columns: Vec<ColumnInfo>,
    reltuples: f64,
    relpages: i64,
}

impl Scan<'_> {
    /// Records what it computes (or fails to) in `computed` as it goes, so a
    /// timeout part-way keeps the metrics already done.
    async fn run(&self, computed: &mut Computed) -> Result<(), TargetError> {
        let mut tx = self.begin().await?;
        let catalogue = self.catalogue(&mut tx).await?;
        let columns = Columns(&catalogue.columns);
        computed.columns = Some(catalogue.columns.clone());
        if self.plan.metrics.contains(&MetricRequest::Columns) {
            computed.metrics.insert(
                MetricRequest::Columns.key(),
                MetricValue::Columns(catalogue.columns.clone()),
            );
        }
        if let Some(window) = &self.plan.scope.window {
            self.require_column(columns, &window.column)?;
        }
        let scope = &self.plan.scope;
        let sample = sql::sample(
            scope.sample_size,
            catalogue.reltuples,
            catalogue.relpages,
            seed(self.options.now),
        );
        let source = Source::new(&self.plan.dataset, scope, self.options.now, columns, sample);

        let mut aggregates: Vec<&MetricRequest> = Vec::new();
        for request in self.plan.scan_aggregates() {
            match self.check_columns(columns, request) {
                Ok(()) => aggregates.push(request),
                Err(e) => self.record(computed, request.key(), Err(e))?,
            }
        }
        // A failed statement aborts PostgreSQL's transaction: the next
        // statement needs a fresh one.
        let mut broken = false;
        if !aggregates.is_empty() {
            match self
                .aggregates(&mut tx, &source, columns, &aggregates)
                .await
            {
                Ok(values) => {
                    for (request, value) in aggregates.iter().zip(values) {
                        computed.metrics.insert(request.key(), value);
                    }
                }
                Err(e) if aborts_scan(&e) || aggregates.len() == 1 => {
                    broken = true;
                    self.record(computed, aggregates[0].key(), Err(e))?;
                }
                // One bad rule (an invalid regex, avg of a text column) must
                // not take down every rule on the dataset: retry each alone.
                Err(_) => {
                    broken = true;
                    for request in &aggregates {
                        if broken {
                            tx = self.restart(tx).await?;
                        }
                        let result = self
                            .aggregates(&mut tx, &source, columns, &[request])
                            .await
                            .and_then(|v| {
                                v.into_iter().next().ok_or_else(|| {
                                    TargetError::query(format!("{}: no value", request.key()))
                                })
                            });
                        broken = result.is_err();
                        self.record(computed, request.key(), result)?;
                    }
                }
            }
        }
        for request in &self.plan.metrics {
            let MetricRequest::DuplicateRows(column) = request else {
                continue;
            };
            if let Err(e) = self.require_column(columns, column) {
                self.record(computed, request.key(), Err(e))?;
                continue;
            }
            if broken {
                tx = self.restart(tx).await?;
            }
            let result = match self.duplicates(&mut tx, &source, column).await {
                Ok((value, rows)) => {
                    computed.samples.insert(request.key(), rows);
                    Ok(value)
                }
                Err(e) => Err(e),
            };
            broken = result.is_err();
            self.record(computed, request.key(), result)?;
        }
        // Nothing was written; ending the read transaction either way is the same.
        tx.rollback().await.map_err(|e| self.error(e))
    }

    async fn begin(&self) -> Result<Tx, TargetError> {
        self.target
            .begin(self.timeout, Context::Dataset(&self.plan.dataset))
            .await
    }

    async fn restart(&self, tx: Tx) -> Result<Tx, TargetError> {
        if let Err(e) = tx.rollback().await {
            // The connection goes back to the pool, which tests it.
            tracing::debug!(error = %e, "rollback of a failed scan transaction");
        }
        self.begin().await
    }

    fn check_columns(
        &self,
        columns: Columns<'_>,
        request: &MetricRequest,
    ) -> Result<(), TargetError> {
        match request_column(request) {
            Some(column) => self.require_column(columns, column),
            None => Ok(()),
        }
    }

    /// Names are matched exactly: the queries quote them, and a quoted
    /// PostgreSQL name is case-sensitive.
    fn require_column(&self, columns: Columns<'_>, column: &Identifier) -> Result<(), TargetError> {
        if columns.0.iter().any(|c| c.name == column.as_str()) {
            return Ok(());
        }
        Err(TargetError::ColumnNotFound {
            column: column.to_string(),
            dataset: self.plan.dataset.to_string(),
            target: self.target.name().to_string(),
        })
    }

    /// Keeps a metric's result; an error that dooms the rest of the scan is
    /// returned so the caller stops issuing queries.
    fn record(
        &self,
        computed: &mut Computed,
        key: String,
        result: Result<MetricValue, TargetError>,
    ) -> Result<(), TargetError> {
        match result {
            Ok(value) => {
                computed.metrics.insert(key, value);
                Ok(())
            }
            Err(e) if aborts_scan(&e) => {
                computed.failures.insert(key, e.clone());
                Err(e)
            }
            Err(e) => {
                computed.failures.insert(key, e);
                Ok(())
            }
        }
    }

    fn error(&self, e: sqlx::Error) -> TargetError {
        self.target
            .map_error(e, Context::Dataset(&self.plan.dataset), self.timeout)
    }

    async fn catalogue(&self, conn: &mut PgConnection) -> Result<Catalogue, TargetError> {
        self.target.record(QueryKind::Catalogue);
        let found = sql::catalogue(&self.plan.dataset)
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        let Some(first) = found.first() else {
            return Err(TargetError::DatasetNotFound {
                dataset: self.plan.dataset.to_string(),
                target: self.target.name().to_string(),
            });
        };
        let decode = |e: sqlx::Error| TargetError::query(format!("catalogue: {e}"));
        let mut columns = Vec::with_capacity(found.len());
        for row in &found {
            // A table without columns comes back as one row of NULLs.
            let name: Option<String> = row.try_get(0).map_err(decode)?;
            let data_type: Option<String> = row.try_get(1).map_err(decode)?;
            if let (Some(name), Some(data_type)) = (name, data_type) {
                columns.push(ColumnInfo { name, data_type });
            }
        }
        Ok(Catalogue {
            columns,
            reltuples: first.try_get(2).map_err(decode)?,
            relpages: first.try_get(3).map_err(decode)?,
        })
    }

    async fn aggregates(
        &self,
        conn: &mut PgConnection,
        source: &Source,
        columns: Columns<'_>,
        requests: &[&MetricRequest],
    ) -> Result<Vec<MetricValue>, TargetError> {
        self.target.record(QueryKind::Aggregate);
        let row = sql::fused_scan(source, requests, columns)
            .query()
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        requests
            .iter()
            .enumerate()
            .map(|(i, request)| {
                let value = match request {
                    MetricRequest::RowCount | MetricRequest::CountWhere(_) => {
                        row.try_get::<i64, _>(i).map(|v| Some(v as f64))
                    }
                    _ => row.try_get::<Option<f64>, _>(i),
                };
                value
                    .map(MetricValue::Number)
                    .map_err(|e| TargetError::query(format!("{}: {e}", request.key())))
            })
            .collect()
    }

    /// The duplicate count and its most repeated values as sample rows.
    async fn duplicates(
        &self,
        conn: &mut PgConnection,
        source: &Source,
        column: &Identifier,
    ) -> Result<(MetricValue, Vec<Value>), TargetError> {
        self.target.record(QueryKind::GroupBy);
        let row = sql::duplicates(source, column, self.options.sample_limit)
            .query()
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        let decode = |e: sqlx::Error| TargetError::query(format!("duplicate_rows({column}): {e}"));
        let count: i64 = row.try_get(0).map_err(decode)?;
        let top: Option<String> = row.try_get(1).map_err(decode)?;
        let samples = match top {
            Some(text) => rows::objects(&text)
                .map_err(TargetError::query)?
                .into_iter()
                .map(Value::Object)
                .collect(),
            None => Vec::new(),
        };
        Ok((MetricValue::Number(Some(count as f64)), samples))
    }
}

/// The column a request reads, if any.
fn request_column(request: &MetricRequest) -> Option<&Identifier> {
    match request {
        MetricRequest::CountWhere(p) => Some(match p {
            RowPredicate::IsNull(c)
            | RowPredicate::NotIn(c, _)
            | RowPredicate::OutsideRange(c, _, _)
            | RowPredicate::RegexMismatch(c, _)
            | RowPredicate::LengthOutside(c, _, _)
            | RowPredicate::Duplicated(c) => c,
        }),
        MetricRequest::Avg(c)
        | MetricRequest::MaxTimestamp(c)
        | MetricRequest::DuplicateRows(c) => Some(c),
        MetricRequest::RowCount | MetricRequest::Columns | MetricRequest::CustomSql { .. } => None,
    }
}

/// Each custom SQL metric under the timeout of the rules that asked for it.
async fn custom_metrics(target: &PostgresTarget, plan: &ScanPlan<'_>) -> Computed {
    let mut computed = Computed::default();
    for request in &plan.metrics {
        let MetricRequest::CustomSql { sql, mode } = request else {
            continue;
        };
        let key = request.key();
        let timeout = plan
            .rules
            .iter()
            .filter(|r| r.check.metric_requests().iter().any(|m| m.key() == key))
            .map(|r| r.timeout)
            .max()
            .unwrap_or(DEFAULT_TIMEOUT);
        let run = custom_value(target, sql, *mode, timeout);
        match PostgresTarget::bounded(timeout, run).await {
            Ok(value) => {
                computed.metrics.insert(key, MetricValue::Number(value));
            }
            Err(e) => {
                computed.failures.insert(key, e);
            }
        }
    }
    computed
}

async fn custom_value(
    target: &PostgresTarget,
    sql: &str,
    mode: CustomSqlMode,
    timeout: Duration,
) -> Result<Option<f64>, TargetError> {
    let body = crate::custom_sql::custom_body(sql)?;
    let error = |e: sqlx::Error| target.map_error(e, Context::CustomSql, timeout);
    let mut tx = target.begin(timeout, Context::CustomSql).await?;
    target.record(QueryKind::Custom);
    let value = match mode {
        CustomSqlMode::Rows => {
            let row = sql::custom_count(&body)
                .query()
                .fetch_one(&mut *tx)
                .await
                .map_err(error)?;
            let count: i64 = row.try_get(0).map_err(error)?;
            Some(count as f64)
        }
        CustomSqlMode::Scalar => {
            let found = sql::custom_scalar(&body)
                .query()
                .fetch_all(&mut *tx)
                .await
                .map_err(error)?;
            let [row] = found.as_slice() else {
                return Err(scalar_row_count_error(found.len()));
            };
            let text: String = row.try_get(0).map_err(error)?;
            let object = rows::object(&text).map_err(TargetError::query)?;
            rows::first_number(&object).map_err(|why| scalar_value_error(&why))?
        }
    };
    tx.rollback().await.map_err(error)?;
    Ok(value)
}
