//! A bounded sample of a failing rule's rows, for a person to look at:
//! always `LIMIT n`, never a full fetch, each row rendered as JSON by the
//! server. Duplicate counts need none of this: their scan statement already
//! brought the most repeated values.
//!
//! A sampled scope's failing rows are looked for in the whole scope (filter
//! and window, no TABLESAMPLE): they are real failing rows either way, and
//! the LIMIT stops the scan as soon as enough are found.

use dq_core::{Rule, SampleRequest, ScanPlan};
use serde_json::Value;
use sqlx::Row;

use super::sql::{self, Columns, Source};
use super::{rows, Context, PostgresTarget};
use crate::error::TargetError;
use crate::execute::{Computed, ExecuteOptions};
use crate::stats::QueryKind;

pub(crate) async fn fetch_samples(
    target: &PostgresTarget,
    plan: &ScanPlan<'_>,
    rule: &Rule,
    request: &SampleRequest,
    computed: &Computed,
    options: &ExecuteOptions,
) -> Result<Vec<Value>, TargetError> {
    let timeout = rule.timeout;
    let (query, context) = match request {
        SampleRequest::Where(predicate) => {
            let columns = Columns(computed.columns.as_deref().unwrap_or_default());
            let source = Source::new(&plan.dataset, &plan.scope, options.now, columns, None);
            let query = sql::sample_where(&source, predicate, columns, options.sample_limit);
            (query, Context::Dataset(&plan.dataset))
        }
        SampleRequest::CustomSql(text) => {
            let body = crate::custom_sql::custom_body(text)?;
            (
                sql::custom_sample(&body, options.sample_limit),
                Context::CustomSql,
            )
        }
    };
    let fetch = async {
        let error = |e: sqlx::Error| target.map_error(e, context, timeout);
        let mut tx = target.begin(timeout, context).await?;
        target.record(QueryKind::Sample);
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
    };
    PostgresTarget::bounded(timeout, fetch).await
}
