//! SQLite's failing-row samples: the rule's scope (a sampled scope draws
//! its own rows) filtered by the failing condition, and every row decoded
//! to JSON by its values' runtime types.

use std::time::Duration;

use dq_core::{ColumnInfo, RowPredicate};
use serde_json::Value;

use super::sql::{self, Source, Sql};
use super::{rows, Context, SqliteTarget};
use crate::backend::{Job, Sampler};
use crate::error::TargetError;
use crate::stats::QueryKind;

impl Sampler for SqliteTarget {
    fn sample_where(&self, job: &Job<'_>, predicate: &RowPredicate, _: &[ColumnInfo]) -> Sql {
        let source = Source::new(&job.plan.dataset, &job.plan.scope, job.options.now);
        sql::sample_where(&source, predicate, job.options.sample_limit)
    }

    async fn fetch_rows(
        &self,
        query: &Sql,
        context: Context<'_>,
        timeout: Duration,
    ) -> Result<Vec<Value>, TargetError> {
        let mut conn = self.acquire(timeout).await?;
        self.record(QueryKind::Sample);
        let found = query
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.map_error(e, context, timeout))?;
        self.release(conn).await;
        Ok(found
            .iter()
            .map(|row| Value::Object(rows::to_json(row)))
            .collect())
    }
}
