//! PostgreSQL's part of computing a plan's metrics: one read-only,
//! repeatable-read transaction (so every statement sees the same snapshot),
//! opened by a catalogue query whose column types word the SQL and whose
//! size estimate picks the sample; the fused aggregate statement and the
//! duplicate statements (which also bring the most repeated values as
//! samples) that [`scan_common::measure`] asks for. Then each custom SQL
//! query in a transaction of its own.

use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_core::{ColumnInfo, CustomSqlMode, Identifier, MetricRequest, MetricValue, Tuning};
use serde_json::Value;
use sqlx::postgres::Postgres;
use sqlx::{PgConnection, Row, Transaction};

use super::sql::{self, Columns, PostgresDialect, Source};
use super::{rows, Context, PostgresTarget};
use crate::backend::{Job, Scanner};
use crate::custom_sql::{scalar_row_count_error, scalar_value_error};
use crate::error::TargetError;
use crate::execute::Computed;
use crate::scan_common::{self, ScanSession};
use crate::sql_common::{custom_count, custom_scalar};
use crate::stats::QueryKind;

type Tx = Transaction<'static, Postgres>;

/// The same seed for every statement of one run, so a sampled scope's
/// aggregates and duplicate counts come from the same pages.
fn seed(now: DateTime<Utc>) -> f64 {
    now.timestamp_millis().rem_euclid(1 << 31) as f64
}

struct Scan<'a> {
    target: &'a PostgresTarget,
    job: &'a Job<'a>,
}

struct Catalogue {
    columns: Vec<ColumnInfo>,
    reltuples: f64,
    relpages: i64,
}

impl Scan<'_> {
    async fn run(&self, computed: &mut Computed) -> Result<(), TargetError> {
        let Job { plan, options, .. } = *self.job;
        let mut tx = self.begin().await?;
        let catalogue = self.catalogue(&mut tx).await?;
        let columns = Columns(&catalogue.columns);
        let sample = sql::sample(
            plan.scope.sample_size,
            catalogue.reltuples,
            catalogue.relpages,
            seed(options.now),
        );
        let source = Source::new(&plan.dataset, &plan.scope, options.now, columns, sample);
        let session = Session {
            scan: self,
            source,
            columns,
            tx,
        };
        let name = self.target.name();
        let session =
            scan_common::measure(session, plan, name, &catalogue.columns, computed).await?;
        // Nothing was written; ending the read transaction either way is the same.
        session.tx.rollback().await.map_err(|e| self.error(e))
    }

    async fn begin(&self) -> Result<Tx, TargetError> {
        let context = Context::Dataset(&self.job.plan.dataset);
        let mut tx = self.target.begin(self.job.timeout, context).await?;
        let tuning = Tuning::for_rules(self.job.plan.rules.iter().copied());
        self.target
            .tune(&mut tx, &tuning, context, self.job.timeout)
            .await?;
        Ok(tx)
    }

    fn error(&self, e: sqlx::Error) -> TargetError {
        self.target.map_error(
            e,
            Context::Dataset(&self.job.plan.dataset),
            self.job.timeout,
        )
    }

    async fn catalogue(&self, conn: &mut PgConnection) -> Result<Catalogue, TargetError> {
        self.target.record(QueryKind::Catalogue);
        let found = sql::catalogue(&self.job.plan.dataset)
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        let Some(first) = found.first() else {
            return Err(TargetError::DatasetNotFound {
                dataset: self.job.plan.dataset.to_string(),
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
}

struct Session<'s> {
    scan: &'s Scan<'s>,
    source: Source,
    columns: Columns<'s>,
    tx: Tx,
}

impl ScanSession for Session<'_> {
    /// Names are matched exactly: the queries quote them, and a quoted
    /// PostgreSQL name is case-sensitive.
    fn is_column(name: &str, wanted: &str) -> bool {
        name == wanted
    }

    async fn aggregates(
        &mut self,
        requests: &[&MetricRequest],
    ) -> Result<Vec<MetricValue>, TargetError> {
        self.scan.target.record(QueryKind::Aggregate);
        let row = sql::fused_scan(&self.source, requests, self.columns)
            .query()
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| self.scan.error(e))?;
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

    async fn duplicates(
        &mut self,
        column: &Identifier,
    ) -> Result<(MetricValue, Option<Vec<Value>>), TargetError> {
        self.scan.target.record(QueryKind::GroupBy);
        let limit = self.scan.job.options.sample_limit;
        let row = sql::duplicates(&self.source, column, limit)
            .query()
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| self.scan.error(e))?;
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
        Ok((MetricValue::Number(Some(count as f64)), Some(samples)))
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
                    row.try_get(0).ok().flatten()
                } else {
                    None
                };
                let number: Option<f64> = if categorical {
                    None
                } else {
                    row.try_get(0).ok().flatten()
                };
                let count: Option<i64> = row.try_get(1).ok().flatten();
                (text, number, count)
            })
            .collect();
        Ok(scan_common::distribution_of(rows, categorical))
    }

    /// A failed statement aborts PostgreSQL's transaction: the next one
    /// needs a fresh transaction.
    async fn recover(self) -> Result<Self, TargetError> {
        let Session {
            scan,
            source,
            columns,
            tx,
        } = self;
        if let Err(e) = tx.rollback().await {
            // The connection goes back to the pool, which tests it.
            tracing::debug!(error = %e, "rollback of a failed scan transaction");
        }
        let tx = scan.begin().await?;
        Ok(Session {
            scan,
            source,
            columns,
            tx,
        })
    }
}

impl Scanner for PostgresTarget {
    async fn scan(&self, job: &Job<'_>, computed: &mut Computed) -> Result<(), TargetError> {
        Scan { target: self, job }.run(computed).await
    }

    /// The number a custom query gives in `mode`, in a transaction of its own.
    async fn custom_value(
        &self,
        body: &str,
        mode: CustomSqlMode,
        timeout: Duration,
        tuning: &Tuning,
    ) -> Result<Option<f64>, TargetError> {
        let error = |e: sqlx::Error| self.map_error(e, Context::CustomSql, timeout);
        let mut tx = self.begin(timeout, Context::CustomSql).await?;
        self.tune(&mut tx, tuning, Context::CustomSql, timeout)
            .await?;
        self.record(QueryKind::Custom);
        let value = match mode {
            CustomSqlMode::Rows => {
                let row = custom_count::<PostgresDialect>(body)
                    .query()
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(error)?;
                let count: i64 = row.try_get(0).map_err(error)?;
                Some(count as f64)
            }
            CustomSqlMode::Scalar => {
                let found = custom_scalar::<PostgresDialect>(body)
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
}
