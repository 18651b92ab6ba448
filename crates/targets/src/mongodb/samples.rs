//! Failing documents of a FAILED/WARNED rule, for a person to look at:
//! always `$limit n` after the scope's `$match` (never `$sample`: they are
//! real failing documents either way), never a full fetch. Duplicate
//! counts need none of this: their pipeline already brought the most
//! repeated values.

use dq_core::{Rule, SampleRequest, ScanPlan, Tuning};
use mongodb::action::Action;
use mongodb::bson::{doc, Bson, Document};
use serde_json::Value;

use super::hint::QueryHint;
use super::scan::{user_pipeline, Scan};
use super::{bounded, expr, json_schema, values, MongoTarget};
use crate::error::TargetError;
use crate::execute::ExecuteOptions;
use crate::stats::QueryKind;

pub(crate) async fn fetch_samples(
    target: &MongoTarget,
    plan: &ScanPlan<'_>,
    rule: &Rule,
    request: &SampleRequest,
    options: &ExecuteOptions,
) -> Result<Vec<Value>, TargetError> {
    let scan = Scan {
        target,
        plan,
        options,
        timeout: rule.timeout,
        collection: target.collection(&plan.dataset),
        hint: QueryHint::of(&Tuning::of(rule))?,
    };
    bounded(rule.timeout, fetch(&scan, request)).await
}

async fn fetch(scan: &Scan<'_>, request: &SampleRequest) -> Result<Vec<Value>, TargetError> {
    let limit = i64::try_from(scan.options.sample_limit).unwrap_or(i64::MAX);
    let mut pipeline = expr::scope_stages(&scan.plan.scope, scan.options.now, false)?;
    match request {
        SampleRequest::Where(predicate) => {
            pipeline.push(doc! { "$match": { "$expr": expr::predicate(predicate) } });
        }
        SampleRequest::CustomPipeline(text) => pipeline.extend(user_pipeline(text)?),
        SampleRequest::FailingJsonSchema(schema) => {
            let Bson::Document(bson_schema) = values::from_json_text(schema, "the JSON Schema")?
            else {
                return Err(TargetError::query("the JSON Schema is not an object"));
            };
            let mut failing = pipeline.clone();
            failing.push(doc! { "$match": { "$nor": [{ "$jsonSchema": bson_schema }] } });
            failing.push(doc! { "$limit": limit });
            return match scan.aggregate_hinted(failing, QueryKind::Sample).await {
                Ok(found) => Ok(found.into_iter().map(values::json).collect()),
                Err(e) if json_schema::unsupported_by_server(&e) => {
                    failing_in_worker(scan, pipeline, schema).await
                }
                Err(e) => Err(e),
            };
        }
        SampleRequest::CustomSql(_) => {
            return Err(TargetError::query(
                "custom_sql runs only on SQL targets; on MongoDB write a custom_pipeline",
            ))
        }
    }
    pipeline.push(doc! { "$limit": limit });
    let found = scan.aggregate_hinted(pipeline, QueryKind::Sample).await?;
    Ok(found.into_iter().map(values::json).collect())
}

/// The first failing documents of the scope, validated here: the cursor
/// stops as soon as enough are found.
async fn failing_in_worker(
    scan: &Scan<'_>,
    pipeline: Vec<Document>,
    schema: &str,
) -> Result<Vec<Value>, TargetError> {
    let validator = json_schema::Validator::new(schema)?;
    scan.target.record(QueryKind::Sample);
    let error = |e| {
        scan.target.map_error(
            e,
            crate::error::Context::Dataset(&scan.plan.dataset),
            scan.timeout,
        )
    };
    let mut cursor = scan
        .collection
        .aggregate(pipeline)
        .max_time(scan.timeout)
        .optional(scan.hint.as_ref(), |a, h| a.hint(h.hint.clone()))
        .await
        .map_err(error)?;
    let mut failing = Vec::new();
    while failing.len() < scan.options.sample_limit && cursor.advance().await.map_err(error)? {
        let document = values::json(cursor.deserialize_current().map_err(error)?);
        if !validator.is_valid(&document) {
            failing.push(document);
        }
    }
    Ok(failing)
}
