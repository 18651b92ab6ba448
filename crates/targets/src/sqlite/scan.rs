//! Computing a plan's metrics: one catalogue query (columns are checked
//! before they are used), one fused aggregate query for every scan
//! aggregate and one GROUP BY per duplicate-count column, all inside one
//! read transaction (so they see the same data) under
//! the plan's timeout; then each custom SQL query under its own rule's timeout.

use std::time::Duration;

use dq_core::{
    rule::DEFAULT_TIMEOUT, ColumnInfo, CustomSqlMode, Identifier, MetricRequest, MetricValue,
    RowPredicate, ScanPlan,
};
use sqlx::{Row, SqliteConnection};

use super::sql::{self, Source};
use super::{rows, Context, SqliteTarget};
use crate::error::TargetError;
use crate::execute::{Computed, ExecuteOptions};
use crate::stats::QueryKind;

pub(crate) async fn compute(
    target: &SqliteTarget,
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

async fn scan_metrics(
    target: &SqliteTarget,
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
    let source = Source::new(&plan.dataset, &plan.scope, options.now);
    let scan = Scan {
        target,
        plan,
        source: &source,
        timeout,
    };
    let aborted = match tokio::time::timeout(timeout, scan.run(&mut computed)).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(TargetError::Timeout { after: timeout }),
    };
    if let Some(e) = aborted {
        for request in requests {
            computed.fail_if_missing(request.key(), &e);
        }
    }
    computed
}

struct Scan<'a> {
    target: &'a SqliteTarget,
    plan: &'a ScanPlan<'a>,
    source: &'a Source,
    timeout: Duration,
}

impl Scan<'_> {
    /// Records what it computes (or fails to) in `computed` as it goes, so a
    /// timeout part-way keeps the metrics already done.
    async fn run(&self, computed: &mut Computed) -> Result<(), TargetError> {
        let mut conn = self.target.acquire(self.timeout).await?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        // The catalogue comes first, for the schema rules and because SQLite
        // reads a misspelt "column" as a string literal: checking names here
        // turns a silently wrong count into an error naming the column.
        let columns = self.columns(&mut tx).await?;
        if self.plan.metrics.contains(&MetricRequest::Columns) {
            computed.metrics.insert(
                MetricRequest::Columns.key(),
                MetricValue::Columns(columns.clone()),
            );
        }
        if let Some(window) = &self.plan.scope.window {
            self.require_column(&columns, window.column.as_str())?;
        }
        let mut aggregates: Vec<&MetricRequest> = Vec::new();
        for request in self.plan.scan_aggregates() {
            match self.check_columns(&columns, request) {
                Ok(()) => aggregates.push(request),
                Err(e) => self.record(computed, request.key(), Err(e))?,
            }
        }
        if !aggregates.is_empty() {
            match self.aggregates(&mut tx, &aggregates).await {
                Ok(values) => {
                    for (request, value) in aggregates.iter().zip(values) {
                        computed.metrics.insert(request.key(), value);
                    }
                }
                Err(e) if aborts_scan(&e) || aggregates.len() == 1 => {
                    self.record(computed, aggregates[0].key(), Err(e))?;
                }
                // One bad rule (an invalid regex) must not take down every
                // rule on the dataset: retry each aggregate on its own.
                Err(_) => {
                    for request in &aggregates {
                        let result = self.aggregates(&mut tx, &[request]).await.and_then(|v| {
                            v.into_iter().next().ok_or_else(|| {
                                TargetError::query(format!("{}: no value", request.key()))
                            })
                        });
                        self.record(computed, request.key(), result)?;
                    }
                }
            }
        }
        for request in &self.plan.metrics {
            if let MetricRequest::DuplicateRows(column) = request {
                let result = match self.check_columns(&columns, request) {
                    Ok(()) => {
                        let sql = sql::duplicate_rows(self.source, column);
                        self.number(&mut tx, &sql, QueryKind::GroupBy).await
                    }
                    Err(e) => Err(e),
                };
                self.record(computed, request.key(), result)?;
            }
        }
        // Nothing was written; ending the read transaction either way is the same.
        tx.rollback().await.map_err(|e| self.error(e))?;
        self.target.release(conn).await;
        Ok(())
    }

    fn check_columns(
        &self,
        columns: &[ColumnInfo],
        request: &MetricRequest,
    ) -> Result<(), TargetError> {
        match request_column(request) {
            Some(column) => self.require_column(columns, column.as_str()),
            None => Ok(()),
        }
    }

    fn require_column(&self, columns: &[ColumnInfo], name: &str) -> Result<(), TargetError> {
        // SQLite column names are case-insensitive.
        if columns.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
            return Ok(());
        }
        Err(TargetError::ColumnNotFound {
            column: name.to_string(),
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

    async fn columns(&self, conn: &mut SqliteConnection) -> Result<Vec<ColumnInfo>, TargetError> {
        self.target.record(QueryKind::Catalogue);
        let rows = sql::columns(&self.plan.dataset)
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        // pragma_table_info answers an unknown table with no rows, not an error.
        if rows.is_empty() {
            return Err(TargetError::DatasetNotFound {
                dataset: self.plan.dataset.to_string(),
                target: self.target.name().to_string(),
            });
        }
        let columns = rows
            .iter()
            .map(|row| {
                Ok(ColumnInfo {
                    name: row.try_get::<String, _>(0)?,
                    data_type: row.try_get::<String, _>(1)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(|e| self.error(e))?;
        Ok(columns)
    }

    async fn aggregates(
        &self,
        conn: &mut SqliteConnection,
        requests: &[&MetricRequest],
    ) -> Result<Vec<MetricValue>, TargetError> {
        self.target.record(QueryKind::Aggregate);
        let row = sql::fused_scan(self.source, requests)
            .query()
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        (0..requests.len())
            .map(|i| {
                rows::number(&row, i)
                    .map(MetricValue::Number)
                    .map_err(|why| TargetError::query(format!("{}: {why}", requests[i].key())))
            })
            .collect()
    }

    async fn number(
        &self,
        conn: &mut SqliteConnection,
        sql: &sql::Sql,
        kind: QueryKind,
    ) -> Result<MetricValue, TargetError> {
        self.target.record(kind);
        let row = sql
            .query()
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        rows::number(&row, 0)
            .map(MetricValue::Number)
            .map_err(TargetError::query)
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
async fn custom_metrics(target: &SqliteTarget, plan: &ScanPlan<'_>) -> Computed {
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
        let result = match tokio::time::timeout(timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(TargetError::Timeout { after: timeout }),
        };
        match result {
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
    target: &SqliteTarget,
    sql: &str,
    mode: CustomSqlMode,
    timeout: Duration,
) -> Result<Option<f64>, TargetError> {
    let body = crate::custom_sql::custom_body(sql)?;
    let query = match mode {
        CustomSqlMode::Rows => sql::custom_count(&body),
        CustomSqlMode::Scalar => sql::custom_scalar(&body),
    };
    let mut conn = target.acquire(timeout).await?;
    target.record(QueryKind::Custom);
    let rows = query
        .query()
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| target.map_error(e, Context::CustomSql, timeout))?;
    target.release(conn).await;
    let [first] = rows.as_slice() else {
        return Err(crate::custom_sql::scalar_row_count_error(rows.len()));
    };
    rows::number(first, 0).map_err(|why| crate::custom_sql::scalar_value_error(&why))
}
