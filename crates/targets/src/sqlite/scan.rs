//! SQLite's part of computing a plan's metrics: one read transaction on a
//! connection armed with the plan's deadline, the catalogue query that
//! opens it, the fused aggregate and GROUP BY statements that
//! [`scan_common::measure`] asks for; and each custom SQL query on a
//! connection of its own.

use std::time::Duration;

use dq_core::{ColumnInfo, CustomSqlMode, Identifier, MetricRequest, MetricValue, Tuning};
use serde_json::Value;
use sqlx::{Row, Sqlite, SqliteConnection, Transaction};

use super::sql::{self, Source, SqliteDialect};
use super::{rows, Context, SqliteTarget};
use crate::backend::{Job, Scanner};
use crate::custom_sql::{scalar_row_count_error, scalar_value_error};
use crate::error::TargetError;
use crate::execute::Computed;
use crate::scan_common::{self, ScanSession};
use crate::sql_common::{custom_count, custom_scalar};
use crate::stats::QueryKind;

struct Scan<'a> {
    target: &'a SqliteTarget,
    job: &'a Job<'a>,
}

impl Scan<'_> {
    async fn run(&self, computed: &mut Computed) -> Result<(), TargetError> {
        let Job {
            plan,
            options,
            timeout,
        } = *self.job;
        let mut conn = self.target.acquire(timeout).await?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        // The catalogue comes first, for the schema rules and because SQLite
        // reads a misspelt "column" as a string literal: checking names
        // turns a silently wrong count into an error naming the column.
        let columns = self.columns(&mut tx).await?;
        let source = Source::new(&plan.dataset, &plan.scope, options.now);
        let session = Session {
            scan: self,
            source,
            tx,
        };
        let name = self.target.name();
        let session = scan_common::measure(session, plan, name, &columns, computed).await?;
        session.finish().await?;
        self.target.release(conn).await;
        Ok(())
    }

    fn error(&self, e: sqlx::Error) -> TargetError {
        self.target.map_error(
            e,
            Context::Dataset(&self.job.plan.dataset),
            self.job.timeout,
        )
    }

    async fn columns(&self, conn: &mut SqliteConnection) -> Result<Vec<ColumnInfo>, TargetError> {
        self.target.record(QueryKind::Catalogue);
        let rows = sql::columns(&self.job.plan.dataset)
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        // pragma_table_info answers an unknown table with no rows, not an error.
        if rows.is_empty() {
            return Err(TargetError::DatasetNotFound {
                dataset: self.job.plan.dataset.to_string(),
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
}

struct Session<'s, 'c> {
    scan: &'s Scan<'s>,
    source: Source,
    tx: Transaction<'c, Sqlite>,
}

impl Session<'_, '_> {
    async fn finish(self) -> Result<(), TargetError> {
        // Nothing was written; ending the read transaction either way is the same.
        self.tx.rollback().await.map_err(|e| self.scan.error(e))
    }
}

impl ScanSession for Session<'_, '_> {
    /// SQLite column names are case-insensitive.
    fn is_column(name: &str, wanted: &str) -> bool {
        name.eq_ignore_ascii_case(wanted)
    }

    async fn aggregates(
        &mut self,
        requests: &[&MetricRequest],
    ) -> Result<Vec<MetricValue>, TargetError> {
        self.scan.target.record(QueryKind::Aggregate);
        let row = sql::fused_scan(&self.source, requests)
            .query()
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| self.scan.error(e))?;
        (0..requests.len())
            .map(|i| {
                rows::number(&row, i)
                    .map(MetricValue::Number)
                    .map_err(|why| TargetError::query(format!("{}: {why}", requests[i].key())))
            })
            .collect()
    }

    /// Only the count: a failing duplicate rule's rows come from a sample
    /// query, whole rows with their copies side by side.
    async fn duplicates(
        &mut self,
        column: &Identifier,
    ) -> Result<(MetricValue, Option<Vec<Value>>), TargetError> {
        self.scan.target.record(QueryKind::GroupBy);
        let row = sql::duplicate_rows(&self.source, column)
            .query()
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| self.scan.error(e))?;
        let count = rows::number(&row, 0).map_err(TargetError::query)?;
        Ok((MetricValue::Number(count), None))
    }

    async fn distribution(
        &mut self,
        column: &Identifier,
        categorical: bool,
        limit: u64,
    ) -> Result<MetricValue, TargetError> {
        self.scan.target.record(QueryKind::GroupBy);
        let found = sql::distribution(&self.source, column, categorical, limit)
            .query()
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.scan.error(e))?;
        let rows = found
            .iter()
            .map(|row| {
                let text: Option<String> = if categorical {
                    row.try_get(0).ok()
                } else {
                    None
                };
                let number = if categorical {
                    None
                } else {
                    rows::number(row, 0).ok().flatten()
                };
                let count: Option<i64> = row.try_get(1).ok();
                (text, number, count)
            })
            .collect();
        Ok(scan_common::distribution_of(rows, categorical))
    }

    /// A failed statement leaves SQLite's transaction usable.
    async fn recover(self) -> Result<Self, TargetError> {
        Ok(self)
    }
}

impl Scanner for SqliteTarget {
    async fn scan(&self, job: &Job<'_>, computed: &mut Computed) -> Result<(), TargetError> {
        Scan { target: self, job }.run(computed).await
    }

    /// The number a custom query gives in `mode`, on a connection of its own.
    async fn custom_value(
        &self,
        body: &str,
        mode: CustomSqlMode,
        timeout: Duration,
        // SQLite has no parallel query and no hints: nothing to honour.
        _tuning: &Tuning,
    ) -> Result<Option<f64>, TargetError> {
        let query = match mode {
            CustomSqlMode::Rows => custom_count::<SqliteDialect>(body),
            CustomSqlMode::Scalar => custom_scalar::<SqliteDialect>(body),
        };
        let mut conn = self.acquire(timeout).await?;
        self.record(QueryKind::Custom);
        let rows = query
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.map_error(e, Context::CustomSql, timeout))?;
        self.release(conn).await;
        let [first] = rows.as_slice() else {
            return Err(scalar_row_count_error(rows.len()));
        };
        rows::number(first, 0).map_err(|why| scalar_value_error(&why))
    }
}
