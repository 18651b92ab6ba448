//! What a target must compute for a set of rules. Targets translate these
//! requests into their own query language; everything else (which requests a
//! rule needs, what the numbers mean) is decided here, once for all targets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check::{Check, CustomSqlMode, Literal, Missing};
use crate::names::Identifier;

/// A condition on one row. Counted with `count(*) FILTER (WHERE ...)` in the
/// fused scan, and reused to fetch a bounded sample of failing rows.
#[derive(Debug, Clone, PartialEq)]
pub enum RowPredicate {
    IsNull(Identifier),
    /// Non-NULL and not one of the values.
    NotIn(Identifier, Vec<Literal>),
    /// Non-NULL and below `min` or above `max`.
    OutsideRange(Identifier, Option<f64>, Option<f64>),
    /// Non-NULL and not matching the (unanchored unless anchored) regex.
    RegexMismatch(Identifier, String),
    /// Non-NULL and its character length below `min` or above `max`.
    LengthOutside(Identifier, Option<u64>, Option<u64>),
    /// Non-NULL and its value occurs more than once. Only used for samples:
    /// the count comes from [`MetricRequest::DuplicateRows`].
    Duplicated(Identifier),
    /// An explicit null (documents only; SQL's NULL is one).
    IsExplicitNull(Identifier),
    /// The field is absent (documents only; a SQL row has every column).
    IsAbsent(Identifier),
    /// The field's BSON type is none of these (documents only).
    TypeNotIn(Identifier, Vec<String>),
}

/// One number (or catalogue answer) a target computes for a dataset.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricRequest {
    RowCount,
    CountWhere(RowPredicate),
    /// Average of the non-NULL values; NULL when there are none.
    Avg(Identifier),
    /// The latest value of a timestamp column as Unix seconds; NULL when none.
    MaxTimestamp(Identifier),
    /// Non-NULL rows whose value occurs more than once (Great Expectations'
    /// convention). Needs a GROUP BY, so targets may run it as its own query.
    DuplicateRows(Identifier),
    /// The dataset's columns and their types, from the catalogue.
    Columns,
    /// A column's distribution for drift checks: up to `limit` random
    /// non-NULL values (numeric), or the `limit` most frequent values with
    /// their counts (categorical). Its own query.
    Distribution {
        column: Identifier,
        categorical: bool,
        limit: u64,
    },
    /// A user query: rows mode counts the rows it returns; scalar mode reads
    /// the one value it returns.
    CustomSql {
        sql: String,
        mode: CustomSqlMode,
    },
    /// Documents that fail a JSON Schema (compact JSON text).
    JsonSchemaViolations(String),
    /// A user aggregation pipeline (compact JSON text of the stage array).
    CustomPipeline {
        pipeline: String,
        mode: CustomSqlMode,
    },
}

impl MetricRequest {
    /// A stable key: two rules that need the same metric share it.
    pub fn key(&self) -> String {
        match self {
            MetricRequest::RowCount => "row_count".into(),
            MetricRequest::CountWhere(p) => format!("count_where({})", p.key()),
            MetricRequest::Avg(c) => format!("avg({c})"),
            MetricRequest::MaxTimestamp(c) => format!("max_timestamp({c})"),
            MetricRequest::DuplicateRows(c) => format!("duplicate_rows({c})"),
            MetricRequest::Columns => "columns".into(),
            MetricRequest::Distribution {
                column,
                categorical,
                limit,
            } => format!("distribution({column},{categorical},{limit})"),
            MetricRequest::CustomSql { sql, mode } => format!("custom_sql({mode:?}:{sql})"),
            MetricRequest::JsonSchemaViolations(schema) => format!("json_schema({schema})"),
            MetricRequest::CustomPipeline { pipeline, mode } => {
                format!("custom_pipeline({mode:?}:{pipeline})")
            }
        }
    }

    /// Whether the request is an aggregate that fits in the one fused scan.
    pub fn is_scan_aggregate(&self) -> bool {
        matches!(
            self,
            MetricRequest::RowCount
                | MetricRequest::CountWhere(_)
                | MetricRequest::Avg(_)
                | MetricRequest::MaxTimestamp(_)
        )
    }
}

impl RowPredicate {
    pub fn key(&self) -> String {
        match self {
            RowPredicate::IsNull(c) => format!("is_null({c})"),
            RowPredicate::NotIn(c, values) => {
                let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                format!("not_in({c}, [{}])", values.join(", "))
            }
            RowPredicate::OutsideRange(c, min, max) => {
                format!("outside_range({c}, {min:?}, {max:?})")
            }
            RowPredicate::RegexMismatch(c, re) => format!("regex_mismatch({c}, {re:?})"),
            RowPredicate::LengthOutside(c, min, max) => {
                format!("length_outside({c}, {min:?}, {max:?})")
            }
            RowPredicate::Duplicated(c) => format!("duplicated({c})"),
            RowPredicate::IsExplicitNull(c) => format!("is_explicit_null({c})"),
            RowPredicate::IsAbsent(c) => format!("is_absent({c})"),
            RowPredicate::TypeNotIn(c, types) => {
                format!("type_not_in({c}, [{}])", types.join(", "))
            }
        }
    }

    /// The field the predicate reads.
    pub fn column(&self) -> &Identifier {
        match self {
            RowPredicate::IsNull(c)
            | RowPredicate::NotIn(c, _)
            | RowPredicate::OutsideRange(c, _, _)
            | RowPredicate::RegexMismatch(c, _)
            | RowPredicate::LengthOutside(c, _, _)
            | RowPredicate::Duplicated(c)
            | RowPredicate::IsExplicitNull(c)
            | RowPredicate::IsAbsent(c)
            | RowPredicate::TypeNotIn(c, _) => c,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    /// The type as the target declares it (`INTEGER`, `text`, `timestamp with time zone`).
    pub data_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetricValue {
    /// NULL (`None`) where SQL gives NULL: avg or max over no rows.
    Number(Option<f64>),
    Columns(Vec<ColumnInfo>),
    Distribution(Distribution),
}

/// A column's values as a drift check compares them: a sample of numbers,
/// or counts per value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, u64>,
}

impl Distribution {
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.counts.is_empty()
    }

    /// This and `other` together (a reference window of several runs).
    pub fn merge(&mut self, other: Distribution) {
        self.values.extend(other.values);
        for (value, n) in other.counts {
            *self.counts.entry(value).or_default() += n;
        }
    }
}

/// What a target computed, by [`MetricRequest::key`].
pub type DatasetMetrics = BTreeMap<String, MetricValue>;

/// Which rows to show a person when a row-level rule fails.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleRequest {
    Where(RowPredicate),
    CustomSql(String),
    /// Documents failing a JSON Schema (compact JSON text).
    FailingJsonSchema(String),
    /// The documents a rows-mode pipeline returns (compact JSON text).
    CustomPipeline(String),
}

impl Check {
    /// The metrics this check needs from the target.
    pub fn metric_requests(&self) -> Vec<MetricRequest> {
        use MetricRequest as M;
        use RowPredicate as P;
        match self {
            Check::Anomaly { measure, .. } => measure.metric_requests(),
            // Read row by row by `dq_targets::reconcile`, not aggregated.
            Check::Reconciliation { .. } => Vec::new(),
            Check::SchemaChange { .. } => vec![M::Columns],
            Check::Drift {
                column,
                method,
                sample_size,
                ..
            } => vec![M::Distribution {
                column: column.clone(),
                categorical: method.is_categorical(),
                limit: *sample_size,
            }],
            Check::RowCount | Check::NotEmpty => vec![M::RowCount],
            Check::NullCount { column } | Check::NullRate { column } => {
                vec![M::RowCount, M::CountWhere(P::IsNull(column.clone()))]
            }
            Check::DuplicateCount { column } => {
                vec![M::RowCount, M::DuplicateRows(column.clone())]
            }
            Check::AcceptedValues { column, values } => vec![
                M::RowCount,
                M::CountWhere(P::NotIn(column.clone(), values.clone())),
            ],
            Check::ValueRange {
                column,
                min_value,
                max_value,
                avg,
            } => {
                let mut requests = vec![M::RowCount];
                if min_value.is_some() || max_value.is_some() {
                    requests.push(M::CountWhere(P::OutsideRange(
                        column.clone(),
                        *min_value,
                        *max_value,
                    )));
                }
                if !avg.is_unbounded() {
                    requests.push(M::Avg(column.clone()));
                }
                requests
            }
            Check::Regex { column, pattern } => vec![
                M::RowCount,
                M::CountWhere(P::RegexMismatch(
                    column.clone(),
                    pattern.regex().to_string(),
                )),
            ],
            Check::StringLength {
                column,
                min_length,
                max_length,
            } => vec![
                M::RowCount,
                M::CountWhere(P::LengthOutside(column.clone(), *min_length, *max_length)),
            ],
            Check::Freshness { column } => vec![M::RowCount, M::MaxTimestamp(column.clone())],
            Check::Schema { .. } => vec![M::Columns],
            Check::CustomSql { sql, mode } => vec![M::CustomSql {
                sql: sql.clone(),
                mode: *mode,
            }],
            Check::NullCountOf { column, missing } | Check::NullRateOf { column, missing } => {
                let predicate = match missing {
                    Missing::NullOrMissing => P::IsNull(column.clone()),
                    Missing::Null => P::IsExplicitNull(column.clone()),
                    Missing::Missing => P::IsAbsent(column.clone()),
                };
                vec![M::RowCount, M::CountWhere(predicate)]
            }
            Check::FieldTypes { column, types } => vec![
                M::RowCount,
                M::CountWhere(P::TypeNotIn(column.clone(), types.clone())),
            ],
            Check::JsonSchema { schema } => {
                vec![M::RowCount, M::JsonSchemaViolations(schema.to_string())]
            }
            Check::CustomPipeline { pipeline, mode } => vec![M::CustomPipeline {
                pipeline: pipeline.to_string(),
                mode: *mode,
            }],
        }
    }

    /// How to fetch the failing rows of this check, if it has any.
    pub fn sample_request(&self) -> Option<SampleRequest> {
        let requests = self.metric_requests();
        match self {
            // An anomaly is about the measure, not about rows.
            Check::Anomaly { .. } => None,
            Check::DuplicateCount { column } => Some(SampleRequest::Where(
                RowPredicate::Duplicated(column.clone()),
            )),
            Check::CustomSql {
                sql,
                mode: CustomSqlMode::Rows,
            } => Some(SampleRequest::CustomSql(sql.clone())),
            Check::JsonSchema { schema } => {
                Some(SampleRequest::FailingJsonSchema(schema.to_string()))
            }
            Check::CustomPipeline {
                pipeline,
                mode: CustomSqlMode::Rows,
            } => Some(SampleRequest::CustomPipeline(pipeline.to_string())),
            Check::CustomPipeline { .. } => None,
            _ => requests.into_iter().find_map(|r| match r {
                MetricRequest::CountWhere(p) => Some(SampleRequest::Where(p)),
                _ => None,
            }),
        }
    }
}
