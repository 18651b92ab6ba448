//! A bounded sample of a failing rule's rows, for a person to look at:
//! always `LIMIT n`, never a full fetch.

use dq_core::{Rule, SampleRequest, ScanPlan};
use serde_json::Value;

use super::sql::{self, Source};
use super::{rows, Context, SqliteTarget};
use crate::error::TargetError;
use crate::execute::ExecuteOptions;
use crate::stats::QueryKind;

pub(crate) async fn fetch_samples(
    target: &SqliteTarget,
    plan: &ScanPlan<'_>,
    rule: &Rule,
    request: &SampleRequest,
    options: &ExecuteOptions,
) -> Result<Vec<Value>, TargetError> {
    let timeout = rule.timeout;
    let (query, context) = match request {
        SampleRequest::Where(predicate) => {
            let source = Source::new(&plan.dataset, &plan.scope, options.now);
            let query = sql::sample_where(&source, predicate, options.sample_limit);
            (query, Context::Dataset(&plan.dataset))
        }
        SampleRequest::CustomSql(text) => {
            let body = crate::custom_sql::custom_body(text)?;
            let query = sql::custom_sample(&body, options.sample_limit);
            (query, Context::CustomSql)
        }
    };
    let fetch = async {
        let mut conn = target.acquire(timeout).await?;
        target.record(QueryKind::Sample);
        let found = query
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| target.map_error(e, context, timeout))?;
        target.release(conn).await;
        Ok(found
            .iter()
            .map(|row| Value::Object(rows::to_json(row)))
            .collect())
    };
    match tokio::time::timeout(timeout, fetch).await {
        Ok(result) => result,
        Err(_) => Err(TargetError::Timeout { after: timeout }),
    }
}
