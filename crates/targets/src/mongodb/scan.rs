//! MongoDB's part of computing a plan's metrics. One catalogue command
//! proves the collection exists; every scan aggregate of every rule on the
//! collection goes into ONE `$group` (conditional sums, `$avg`, `$max`)
//! after the scope's `$match`/`$sample`, retried metric by metric if one
//! bad rule (an invalid regex) breaks it; one pipeline per duplicate
//! column also brings the most repeated values as samples; schema rules
//! read field presence and types from a bounded `$sample`; JSON Schema
//! rules count with `$jsonSchema`, or in the worker where the server has
//! none; custom pipelines run after the scope's stages.

use std::time::Duration;

use dq_core::{
    rule::DEFAULT_TIMEOUT, ColumnInfo, CustomSqlMode, Identifier, MetricRequest, MetricValue,
    ScanPlan, Tuning,
};
use mongodb::action::Action;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Collection;
use serde_json::Value;

use super::hint::QueryHint;
use super::{bounded, expr, json_schema, values, MongoTarget};
use crate::custom_sql::{scalar_row_count_error, scalar_value_error};
use crate::error::{Context, TargetError};
use crate::execute::{Computed, ExecuteOptions};
use crate::stats::QueryKind;

/// Documents read to infer a collection's fields and their types.
pub(crate) const SCHEMA_SAMPLE: i64 = 1000;

pub(crate) async fn compute(
    target: &MongoTarget,
    plan: &ScanPlan<'_>,
    options: &ExecuteOptions,
) -> Computed {
    let timeout = plan
        .rules
        .iter()
        .map(|r| r.timeout)
        .max()
        .unwrap_or(DEFAULT_TIMEOUT);
    let mut computed = Computed::default();
    let hint = QueryHint::of(&Tuning::for_rules(plan.rules.iter().copied()));
    let result = match hint {
        Ok(hint) => {
            let scan = Scan {
                target,
                plan,
                options,
                timeout,
                collection: target.collection(&plan.dataset),
                hint,
            };
            bounded(timeout, scan.run(&mut computed)).await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        for request in &plan.metrics {
            computed.fail_if_missing(request.key(), &e);
        }
    }
    computed
}

pub(crate) struct Scan<'a> {
    pub(crate) target: &'a MongoTarget,
    pub(crate) plan: &'a ScanPlan<'a>,
    pub(crate) options: &'a ExecuteOptions,
    pub(crate) timeout: Duration,
    pub(crate) collection: Collection<Document>,
    /// The rules' `query_hint`, sent with the `$group` pass and samples.
    pub(crate) hint: Option<QueryHint>,
}

/// Errors after which no other command on this collection can succeed.
fn aborts_scan(e: &TargetError) -> bool {
    matches!(
        e,
        TargetError::Connect { .. }
            | TargetError::DatasetNotFound { .. }
            | TargetError::Timeout { .. }
    )
}

impl Scan<'_> {
    fn error(&self, e: mongodb::error::Error) -> TargetError {
        self.target
            .map_error(e, Context::Dataset(&self.plan.dataset), self.timeout)
    }

    /// Every document `pipeline` returns, under the scan's `maxTimeMS`.
    pub(crate) async fn aggregate(
        &self,
        pipeline: Vec<Document>,
        kind: QueryKind,
    ) -> Result<Vec<Document>, TargetError> {
        self.run_aggregate(pipeline, kind, None).await
    }

    /// [`Scan::aggregate`] with the rules' `query_hint` as its `hint`.
    pub(crate) async fn aggregate_hinted(
        &self,
        pipeline: Vec<Document>,
        kind: QueryKind,
    ) -> Result<Vec<Document>, TargetError> {
        self.run_aggregate(pipeline, kind, self.hint.as_ref()).await
    }

    async fn run_aggregate(
        &self,
        pipeline: Vec<Document>,
        kind: QueryKind,
        hint: Option<&QueryHint>,
    ) -> Result<Vec<Document>, TargetError> {
        self.target.record(kind);
        let explain = |e: TargetError| match hint {
            Some(hint) => hint.explain(e),
            None => e,
        };
        let mut cursor = self
            .collection
            .aggregate(pipeline)
            .max_time(self.timeout)
            .optional(hint, |action, h| action.hint(h.hint.clone()))
            .await
            .map_err(|e| explain(self.error(e)))?;
        let mut found = Vec::new();
        while cursor.advance().await.map_err(|e| explain(self.error(e)))? {
            found.push(cursor.deserialize_current().map_err(|e| self.error(e))?);
        }
        Ok(found)
    }

    fn stages(&self, sampled: bool) -> Result<Vec<Document>, TargetError> {
        expr::scope_stages(&self.plan.scope, self.options.now, sampled)
    }

    async fn run(&self, computed: &mut Computed) -> Result<(), TargetError> {
        let stages = self.stages(true)?;
        self.require_collection().await?;
        if self.plan.metrics.contains(&MetricRequest::Columns) {
            let columns = self.infer_columns().await;
            let columns = record(computed, MetricRequest::Columns.key(), columns)?;
            computed.columns = columns.clone();
            if let Some(columns) = columns {
                computed
                    .metrics
                    .insert(MetricRequest::Columns.key(), MetricValue::Columns(columns));
            }
        }
        self.fused(&stages, computed).await?;
        for request in &self.plan.metrics {
            let result = match request {
                MetricRequest::DuplicateRows(column) => {
                    match self.duplicates(&stages, column).await {
                        Ok((value, samples)) => {
                            computed.samples.insert(request.key(), samples);
                            Ok(value)
                        }
                        Err(e) => Err(e),
                    }
                }
                MetricRequest::JsonSchemaViolations(schema) => {
                    self.schema_violations(&stages, schema).await
                }
                MetricRequest::CustomPipeline { pipeline, mode } => {
                    self.custom_pipeline(pipeline, *mode).await
                }
                MetricRequest::CustomSql { .. } => Err(TargetError::query(
                    "custom_sql runs only on SQL targets; on MongoDB write a custom_pipeline",
                )),
                MetricRequest::Distribution { .. } => Err(TargetError::query(
                    "drift runs on SQL targets only, for now",
                )),
                _ => continue,
            };
            record(
                computed,
                request.key(),
                result.map(|v| MetricValue::Number(Some(v))),
            )?;
        }
        Ok(())
    }

    /// A collection that does not exist reads as empty in MongoDB; a rule
    /// naming one is more likely a typo, reported as on SQL targets.
    async fn require_collection(&self) -> Result<(), TargetError> {
        self.target.record(QueryKind::Catalogue);
        let (database, name) = self.target.namespace(&self.plan.dataset);
        let names = self
            .target
            .client
            .database(database)
            .list_collection_names()
            .filter(doc! { "name": name })
            .await
            .map_err(|e| self.error(e))?;
        if names.iter().any(|n| n == name) {
            return Ok(());
        }
        Err(TargetError::DatasetNotFound {
            dataset: self.plan.dataset.to_string(),
            target: self.target.name().to_string(),
        })
    }

    /// Field presence and dominant type from a bounded `$sample` of the
    /// scope: what schema rules compare and schema-change detection reads.
    async fn infer_columns(&self) -> Result<Vec<ColumnInfo>, TargetError> {
        let mut pipeline = self.stages(false)?;
        pipeline.push(doc! { "$sample": { "size": SCHEMA_SAMPLE } });
        let documents = self.aggregate(pipeline, QueryKind::Catalogue).await?;
        Ok(infer(&documents)
            .into_iter()
            .map(|f| ColumnInfo {
                data_type: f.dominant_type().to_string(),
                name: f.name,
            })
            .collect())
    }

    /// The one `$group` of every scan aggregate; if it fails, each
    /// aggregate alone, so only the broken rule errors.
    async fn fused(&self, stages: &[Document], computed: &mut Computed) -> Result<(), TargetError> {
        let requests: Vec<&MetricRequest> = self.plan.scan_aggregates().collect();
        if requests.is_empty() {
            return Ok(());
        }
        match self.group(stages, &requests).await {
            Ok(values) => {
                for (request, value) in requests.iter().zip(values) {
                    computed.metrics.insert(request.key(), value);
                }
                Ok(())
            }
            Err(e) if aborts_scan(&e) || requests.len() == 1 => {
                record(computed, requests[0].key(), Err::<(), _>(e)).map(|_| ())
            }
            Err(_) => {
                for request in requests {
                    let result = self.group(stages, &[request]).await.and_then(|v| {
                        v.into_iter().next().ok_or_else(|| {
                            TargetError::query(format!("{}: no value", request.key()))
                        })
                    });
                    record(computed, request.key(), result)?;
                }
                Ok(())
            }
        }
    }

    async fn group(
        &self,
        stages: &[Document],
        requests: &[&MetricRequest],
    ) -> Result<Vec<MetricValue>, TargetError> {
        let mut group = doc! { "_id": Bson::Null };
        for (i, request) in requests.iter().enumerate() {
            let accumulator = expr::accumulator(request).ok_or_else(|| {
                TargetError::query(format!("{}: not an aggregate", request.key()))
            })?;
            group.insert(format!("m{i}"), accumulator);
        }
        let mut pipeline = stages.to_vec();
        pipeline.push(doc! { "$group": group });
        let found = self
            .aggregate_hinted(pipeline, QueryKind::Aggregate)
            .await?;
        // No document in scope: `$group` returns nothing, where SQL's
        // aggregate returns counts of 0 and NULL averages.
        let row = found.into_iter().next().unwrap_or_default();
        requests
            .iter()
            .enumerate()
            .map(|(i, request)| {
                let value = values::number(row.get(format!("m{i}")), &request.key())?;
                Ok(MetricValue::Number(match request {
                    MetricRequest::RowCount | MetricRequest::CountWhere(_) => {
                        Some(value.unwrap_or(0.0))
                    }
                    _ => value,
                }))
            })
            .collect()
    }

    /// Documents whose (present) value occurs more than once, and the most
    /// repeated values with their occurrences, as PostgreSQL gives them.
    async fn duplicates(
        &self,
        stages: &[Document],
        column: &Identifier,
    ) -> Result<(f64, Vec<Value>), TargetError> {
        let limit = i64::try_from(self.options.sample_limit).unwrap_or(i64::MAX);
        let mut pipeline = stages.to_vec();
        pipeline.extend([
            // `$ne: null` leaves out explicit nulls and absent fields alike.
            doc! { "$match": { column.as_str(): { "$ne": Bson::Null } } },
            doc! { "$group": { "_id": format!("${column}"), "n": { "$sum": 1 } } },
            doc! { "$match": { "n": { "$gt": 1 } } },
            doc! { "$sort": { "n": -1, "_id": 1 } },
            doc! { "$group": {
                "_id": Bson::Null,
                "rows": { "$sum": "$n" },
                "top": { "$push": { "v": "$_id", "n": "$n" } },
            } },
            doc! { "$project": { "rows": 1, "top": { "$slice": ["$top", limit.max(1)] } } },
        ]);
        let found = self.aggregate(pipeline, QueryKind::GroupBy).await?;
        let Some(row) = found.into_iter().next() else {
            return Ok((0.0, Vec::new()));
        };
        let rows = values::number(row.get("rows"), "duplicate rows")?.unwrap_or(0.0);
        let mut samples = Vec::new();
        if let Ok(top) = row.get_array("top") {
            for item in top.iter().take(self.options.sample_limit) {
                if let Bson::Document(item) = item {
                    let mut sample = Document::new();
                    sample.insert(
                        column.as_str(),
                        item.get("v").cloned().unwrap_or(Bson::Null),
                    );
                    sample.insert("occurrences", item.get("n").cloned().unwrap_or(Bson::Null));
                    samples.push(values::json(sample));
                }
            }
        }
        Ok((rows, samples))
    }

    /// Documents in scope that fail the schema: counted by the server with
    /// `$jsonSchema` where it has it, else validated here.
    async fn schema_violations(
        &self,
        stages: &[Document],
        schema: &str,
    ) -> Result<f64, TargetError> {
        let Bson::Document(bson_schema) = values::from_json_text(schema, "the JSON Schema")? else {
            return Err(TargetError::query("the JSON Schema is not an object"));
        };
        let mut pipeline = stages.to_vec();
        pipeline.push(doc! { "$match": { "$nor": [{ "$jsonSchema": bson_schema }] } });
        pipeline.push(doc! { "$count": "n" });
        match self.aggregate(pipeline, QueryKind::Aggregate).await {
            Ok(found) => {
                let row = found.into_iter().next().unwrap_or_default();
                Ok(values::number(row.get("n"), "json_schema")?.unwrap_or(0.0))
            }
            Err(e) if json_schema::unsupported_by_server(&e) => {
                let validator = json_schema::Validator::new(schema)?;
                let documents = self
                    .aggregate(stages.to_vec(), QueryKind::Aggregate)
                    .await?;
                Ok(documents
                    .iter()
                    .filter(|d| !validator.is_valid(&values::json((*d).clone())))
                    .count() as f64)
            }
            Err(e) => Err(e),
        }
    }

    /// A user pipeline after the scope's stages: the documents it returns
    /// (rows) or the one number it returns (scalar).
    async fn custom_pipeline(
        &self,
        pipeline: &str,
        mode: CustomSqlMode,
    ) -> Result<f64, TargetError> {
        let mut stages = self.stages(true)?;
        stages.extend(user_pipeline(pipeline)?);
        match mode {
            CustomSqlMode::Rows => {
                stages.push(doc! { "$count": "n" });
                let found = self.aggregate(stages, QueryKind::Custom).await?;
                let row = found.into_iter().next().unwrap_or_default();
                Ok(values::number(row.get("n"), "custom_pipeline")?.unwrap_or(0.0))
            }
            CustomSqlMode::Scalar => {
                stages.push(doc! { "$limit": 2 });
                let found = self.aggregate(stages, QueryKind::Custom).await?;
                let [row] = found.as_slice() else {
                    return Err(scalar_row_count_error(found.len()));
                };
                let value = row
                    .iter()
                    .find(|(key, _)| key.as_str() != "_id")
                    .map(|(_, value)| value);
                match value {
                    Some(value) => values::number(Some(value), "custom_pipeline")
                        .map_err(|e| scalar_value_error(&e.to_string()))?
                        .ok_or_else(|| scalar_value_error("it returned null")),
                    None => Err(scalar_value_error("it returned a document without fields")),
                }
            }
        }
    }
}

/// A rule's pipeline text as stages, refusing any that write or run code.
pub(crate) fn user_pipeline(text: &str) -> Result<Vec<Document>, TargetError> {
    let Bson::Array(stages) = values::from_json_text(text, "the pipeline")? else {
        return Err(TargetError::query("the pipeline is not a list of stages"));
    };
    if let Some(operator) = expr::forbidden_operator(&Bson::Array(stages.clone())) {
        return Err(TargetError::query(format!(
            "the pipeline uses {operator}; checks only read"
        )));
    }
    stages
        .into_iter()
        .map(|stage| match stage {
            Bson::Document(d) => Ok(d),
            _ => Err(TargetError::query("a pipeline stage is not a document")),
        })
        .collect()
}

/// Keeps a metric's result (or error); an error that dooms the rest of the
/// scan is returned so no further command is sent.
fn record<T>(
    computed: &mut Computed,
    key: String,
    result: Result<T, TargetError>,
) -> Result<Option<T>, TargetError>
where
    T: IntoMetric,
{
    match result {
        Ok(value) => {
            if let Some(metric) = value.metric() {
                computed.metrics.insert(key, metric);
            }
            Ok(Some(value))
        }
        Err(e) if aborts_scan(&e) => {
            computed.failures.insert(key, e.clone());
            Err(e)
        }
        Err(e) => {
            computed.failures.insert(key, e);
            Ok(None)
        }
    }
}

/// What [`record`] stores for a value: a metric, or nothing (the caller
/// stores it).
trait IntoMetric {
    fn metric(&self) -> Option<MetricValue>;
}

impl IntoMetric for MetricValue {
    fn metric(&self) -> Option<MetricValue> {
        Some(self.clone())
    }
}

impl IntoMetric for Vec<ColumnInfo> {
    fn metric(&self) -> Option<MetricValue> {
        None
    }
}

impl IntoMetric for () {
    fn metric(&self) -> Option<MetricValue> {
        None
    }
}

/// One field of a collection as a sample of its documents shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldStats {
    pub(crate) name: String,
    /// Documents that have the field (null or not).
    pub(crate) present: u64,
    /// Documents by the field's `$type` name, most frequent first.
    pub(crate) types: Vec<(&'static str, u64)>,
}

impl FieldStats {
    /// The most frequent type other than null (`null` if only nulls).
    pub(crate) fn dominant_type(&self) -> &'static str {
        self.types
            .iter()
            .find(|(t, _)| *t != "null")
            .or(self.types.first())
            .map_or("null", |(t, _)| t)
    }
}

/// Top-level fields in first-seen order, with presence and type counts.
pub(crate) fn infer(documents: &[Document]) -> Vec<FieldStats> {
    let mut fields: Vec<FieldStats> = Vec::new();
    for document in documents {
        for (name, value) in document {
            let index = match fields.iter().position(|f| &f.name == name) {
                Some(i) => i,
                None => {
                    fields.push(FieldStats {
                        name: name.clone(),
                        present: 0,
                        types: Vec::new(),
                    });
                    fields.len() - 1
                }
            };
            let field = &mut fields[index];
            field.present += 1;
            let type_name = values::type_name(value);
            match field.types.iter_mut().find(|(t, _)| *t == type_name) {
                Some((_, n)) => *n += 1,
                None => field.types.push((type_name, 1)),
            }
        }
    }
    for field in &mut fields {
        field.types.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_counts_presence_and_types() {
        let documents = vec![
            doc! { "a": 1, "b": "x" },
            doc! { "a": Bson::Null, "b": "y" },
            doc! { "a": 2, "c": 1.5 },
        ];
        let fields = infer(&documents);
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(fields[0].present, 3);
        assert_eq!(fields[0].types, [("int", 2), ("null", 1)]);
        assert_eq!(fields[0].dominant_type(), "int");
        assert_eq!(fields[1].present, 2);
        assert_eq!(fields[2].dominant_type(), "double");
    }

    #[test]
    fn pipelines_may_not_write() {
        assert!(user_pipeline(r#"[{"$match": {"a": 1}}]"#).is_ok());
        for bad in [
            r#"[{"$out": "x"}]"#,
            r#"[{"$match": {"a": 1}}, {"$merge": {"into": "x"}}]"#,
            r#"{"$match": {}}"#,
        ] {
            assert!(user_pipeline(bad).is_err(), "{bad}");
        }
    }
}
