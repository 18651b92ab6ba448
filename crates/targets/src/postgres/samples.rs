//! PostgreSQL's failing-row samples, each row rendered as JSON by the
//! server. Duplicate counts need none of this: their scan statement already
//! brought the most repeated values.
//!
//! A sampled scope's failing rows are looked for in the whole scope (filter
//! and window, no TABLESAMPLE): they are real failing rows either way, and
//! the LIMIT stops the scan as soon as enough are found.

use std::time::Duration;

use dq_core::{ColumnInfo, RowPredicate};
use serde_json::Value;
use sqlx::Row;

use super::sql::{self, Columns, Source, Sql};
use super::{rows, Context, PostgresTarget};
use crate::backend::{Job, Sampler};
use crate::error::TargetError;
use crate::stats::QueryKind;

impl Sampler for PostgresTarget {
    /// Worded by the column types the plan's scan found.
    fn sample_where(&self, job: &Job<'_>, predicate: &RowPredicate, columns: &[ColumnInfo]) -> Sql {
        let (plan, options, columns) = (job.plan, job.options, Columns(columns));
        let source = Source::new(&plan.dataset, &plan.scope, options.now, columns, None);
        sql::sample_where(&source, predicate, columns, options.sample_limit)
    }

    async fn fetch_rows(
        &self,
        query: &Sql,
        context: Context<'_>,
        timeout: Duration,
    ) -> Result<Vec<Value>, TargetError> {
        let error = |e: sqlx::Error| self.map_error(e, context, timeout);
        let mut tx = self.begin(timeout, context).await?;
        self.record(QueryKind::Sample);
        let found = query.query().fetch_all(&mut *tx).await.map_err(error)?;
        tx.rollback().await.map_err(error)?;
        found
            .iter()
            .map(|row| {
                let text: String = row.try_get(0).map_err(error)?;
                rows::object(&text)
                    .map(Value::Object)
                    .map_err(TargetError::query)
            })
            .collect()
    }
}
