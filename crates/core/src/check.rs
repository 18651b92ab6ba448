//! The check catalogue: what each kind measures, its parameters, its default
//! queue and thresholds, and the semantics users get burned by when tools
//! disagree (denominators, NULLs, duplicates).
//!
//! | kind | primary measure | default bound |
//! |---|---|---|
//! | row_count | rows | (user: min/max) |
//! | not_empty | rows | min 1 |
//! | null_count | rows where column IS NULL | max 0 |
//! | null_rate | NULL rows / all rows (0 when the table is empty) | max 0 |
//! | duplicate_count | non-NULL rows whose value occurs more than once | max 0 |
//! | accepted_values | non-NULL rows whose value is not in `values` | max 0 |
//! | value_range | non-NULL rows outside [min_value, max_value]; plus avg bounds | max 0 |
//! | regex | non-NULL rows not matching (NULLs never match, never fail) | max 0 |
//! | string_length | non-NULL rows whose length is outside [min_length, max_length] | max 0 |
//! | freshness | seconds since max(column) | max_age |
//! | schema | missing columns + type mismatches | max 0 |
//! | custom_sql (rows) | rows returned by the query (the failing rows) | max 0 |
//! | custom_sql (scalar) | the single value the query returns | (user: min/max) |
//! | field_types | documents whose field is not of an expected BSON type / all documents | max 0 |
//! | json_schema | documents that fail the JSON Schema | max 0 |
//! | custom_pipeline (rows) | documents the aggregation pipeline returns | max 0 |
//! | custom_pipeline (scalar) | the single value the pipeline returns | (user: min/max) |
//! | anomaly | another kind's measure, judged against the rule's own history | (the history) |
//! | reconciliation | keys missing on either side + rows whose compared columns differ, against another dataset | max 0 |
//! | schema_change | columns added, dropped, retyped or reordered since the previous run | max 0 |
//! | drift | the distance of a column's distribution from its baseline (KS, PSI, chi-square) | per method |
//!
//! The last three are for document targets (MongoDB); SQL targets answer
//! them with an ERROR naming the kind, as MongoDB does for custom_sql.
//!
//! Documents can lack a field or hold an explicit null. `null_count` and
//! `null_rate` count both by default (`missing: null_or_missing`, which is
//! what SQL's IS NULL means); `missing: null` counts explicit nulls only and
//! `missing: missing` absent fields only. Those two are the `*Of` variants,
//! so the default keeps the original variant (and every stored rule) as is.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::anomaly::AnomalySpec;
use crate::drift::DriftMethod;
use crate::names::{Dataset, Identifier};
use crate::queue::Queue;
use crate::threshold::Bounds;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Check {
    /// How far a column's distribution moved from its baseline (the
    /// previous run's, or every run's of `baseline_window`): the statistic
    /// of `method`, computed in the worker.
    Drift {
        column: Identifier,
        method: DriftMethod,
        /// Values read per run (random values, or the most frequent ones).
        sample_size: u64,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_secs")]
        baseline_window: Option<std::time::Duration>,
    },
    /// Changes to the dataset's columns since the rule's previous run:
    /// added, dropped, retyped, reordered (all columns, or those listed).
    /// The snapshot is kept with each run; the worker compares.
    SchemaChange {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        columns: Vec<Identifier>,
    },
    /// The rule's dataset compared with `against_dataset` on
    /// `against_target`, row by row in `key` order: rows on one side only,
    /// and rows whose `columns` (all common non-key columns when empty)
    /// differ. Read in pages of `page_size` rows
    /// (`crate::reconciliation`), in the worker's memory queue.
    Reconciliation {
        against_target: String,
        against_dataset: Dataset,
        key: Vec<Identifier>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        columns: Vec<Identifier>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page_size: Option<u32>,
    },
    /// Another kind's measure (`measure`), judged against the rule's own
    /// history instead of fixed bounds (`crate::anomaly`), in the worker.
    Anomaly {
        measure: Box<Check>,
        detector: AnomalySpec,
    },
    RowCount,
    NotEmpty,
    NullCount {
        column: Identifier,
    },
    NullRate {
        column: Identifier,
    },
    DuplicateCount {
        column: Identifier,
    },
    AcceptedValues {
        column: Identifier,
        values: Vec<Literal>,
    },
    ValueRange {
        column: Identifier,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_value: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_value: Option<f64>,
        #[serde(default, skip_serializing_if = "Bounds::is_unbounded")]
        avg: Bounds,
    },
    Regex {
        column: Identifier,
        pattern: Pattern,
    },
    StringLength {
        column: Identifier,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_length: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<u64>,
    },
    Freshness {
        column: Identifier,
    },
    Schema {
        columns: Vec<Identifier>,
        /// Expected type per column, compared case-insensitively against the
        /// type the target reports (e.g. `integer`, `text`).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        types: BTreeMap<Identifier, String>,
    },
    CustomSql {
        sql: String,
        mode: CustomSqlMode,
    },
    /// `null_count` with `missing: null` or `missing: missing`.
    #[serde(rename = "null_count_of")]
    NullCountOf {
        column: Identifier,
        missing: Missing,
    },
    /// `null_rate` with `missing: null` or `missing: missing`.
    #[serde(rename = "null_rate_of")]
    NullRateOf {
        column: Identifier,
        missing: Missing,
    },
    /// The share of documents whose field is not of one of `types` (BSON
    /// type aliases such as `string`, `int`, `date`, or `number`). An
    /// absent field has no type, so it counts against the share; list
    /// `null` to accept explicit nulls.
    FieldTypes {
        column: Identifier,
        types: Vec<String>,
    },
    /// Documents that do not satisfy a JSON Schema (MongoDB's `$jsonSchema`
    /// dialect: draft 4 keywords plus `bsonType`).
    JsonSchema {
        schema: serde_json::Value,
    },
    /// A user aggregation pipeline (a JSON array of stages) on the dataset.
    CustomPipeline {
        pipeline: serde_json::Value,
        mode: CustomSqlMode,
    },
}

/// What a null count counts in a document, where a field can be absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Absent fields and explicit nulls: SQL's `IS NULL`. The default.
    NullOrMissing,
    /// Explicit nulls only.
    Null,
    /// Absent fields only.
    Missing,
}

impl Missing {
    pub const ALL: [Missing; 3] = [Missing::NullOrMissing, Missing::Null, Missing::Missing];

    pub fn name(self) -> &'static str {
        match self {
            Missing::NullOrMissing => "null_or_missing",
            Missing::Null => "null",
            Missing::Missing => "missing",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Missing::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The BSON type names `field_types` accepts: MongoDB's `$type` aliases.
pub const BSON_TYPES: [&str; 16] = [
    "double",
    "string",
    "object",
    "array",
    "binData",
    "objectId",
    "bool",
    "date",
    "null",
    "regex",
    "int",
    "timestamp",
    "long",
    "decimal",
    "number",
    "missing",
];

/// The kinds users write in a manifest, in catalogue order.
pub const CHECK_KINDS: [&str; 19] = [
    "row_count",
    "not_empty",
    "null_count",
    "null_rate",
    "duplicate_count",
    "accepted_values",
    "value_range",
    "regex",
    "string_length",
    "freshness",
    "schema",
    "custom_sql",
    "field_types",
    "json_schema",
    "custom_pipeline",
    "anomaly",
    "schema_change",
    "reconciliation",
    "drift",
];

/// The kinds only document targets (MongoDB) run.
pub const DOCUMENT_KINDS: [&str; 3] = ["field_types", "json_schema", "custom_pipeline"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomSqlMode {
    /// The query returns the failing rows; the measure is how many.
    Rows,
    /// The query returns one number, compared with min/max.
    Scalar,
}

/// A value in an `accepted_values` list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    Integer(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Integer(v) => write!(f, "{v}"),
            Literal::Float(v) => write!(f, "{v}"),
            Literal::Bool(v) => write!(f, "{v}"),
            Literal::Text(v) => write!(f, "{v:?}"),
        }
    }
}

/// A regex check's pattern: a named format or the user's own expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    Format(NamedFormat),
    Regex(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamedFormat {
    Email,
    Uuid,
}

impl NamedFormat {
    pub const ALL: [NamedFormat; 2] = [NamedFormat::Email, NamedFormat::Uuid];

    pub fn name(self) -> &'static str {
        match self {
            NamedFormat::Email => "email",
            NamedFormat::Uuid => "uuid",
        }
    }

    /// Anchored, and written in the common subset of Rust's regex (SQLite's
    /// REGEXP here) and PostgreSQL's ARE, so both targets agree.
    pub fn regex(self) -> &'static str {
        match self {
            NamedFormat::Email => r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$",
            NamedFormat::Uuid => {
                r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
            }
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        NamedFormat::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl Pattern {
    pub fn regex(&self) -> &str {
        match self {
            Pattern::Format(format) => format.regex(),
            Pattern::Regex(regex) => regex,
        }
    }
}

/// What the primary measure of a kind is, for formatting and for the domain
/// its thresholds must lie in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A number of rows (or problems); shown as an integer.
    Count,
    /// A fraction in [0, 1]; shown as a percentage.
    Rate,
    /// A duration in seconds; shown as `2h 5m`.
    Seconds,
    /// Any number (custom scalars, averages).
    Number,
}

impl Unit {
    /// The values a threshold on this unit may take.
    pub fn domain(self) -> (f64, f64) {
        match self {
            Unit::Count | Unit::Seconds => (0.0, f64::MAX),
            Unit::Rate => (0.0, 1.0),
            Unit::Number => (f64::MIN, f64::MAX),
        }
    }
}

impl Check {
    pub fn kind(&self) -> &'static str {
        match self {
            Check::RowCount => "row_count",
            Check::NotEmpty => "not_empty",
            Check::NullCount { .. } => "null_count",
            Check::NullRate { .. } => "null_rate",
            Check::DuplicateCount { .. } => "duplicate_count",
            Check::AcceptedValues { .. } => "accepted_values",
            Check::ValueRange { .. } => "value_range",
            Check::Regex { .. } => "regex",
            Check::StringLength { .. } => "string_length",
            Check::Freshness { .. } => "freshness",
            Check::Schema { .. } => "schema",
            Check::CustomSql { .. } => "custom_sql",
            Check::NullCountOf { .. } => "null_count",
            Check::NullRateOf { .. } => "null_rate",
            Check::FieldTypes { .. } => "field_types",
            Check::JsonSchema { .. } => "json_schema",
            Check::CustomPipeline { .. } => "custom_pipeline",
            Check::Anomaly { .. } => "anomaly",
            Check::Reconciliation { .. } => "reconciliation",
            Check::SchemaChange { .. } => "schema_change",
            Check::Drift { .. } => "drift",
        }
    }

    /// Kinds pushed down to the target database go to `dq_database`. A
    /// JSON Schema is validated in the worker where the server cannot
    /// (no `$jsonSchema`), which is CPU work: `dq_compute`.
    pub fn default_queue(&self) -> Queue {
        match self {
            Check::JsonSchema { .. } | Check::Anomaly { .. } | Check::Drift { .. } => {
                Queue::Compute
            }
            // Both sides are streamed through the worker's memory.
            Check::Reconciliation { .. } => Queue::Memory,
            _ => Queue::Database,
        }
    }

    /// Which absences a null check counts (`NullOrMissing` for other kinds).
    pub fn missing(&self) -> Missing {
        match self {
            Check::NullCountOf { missing, .. } | Check::NullRateOf { missing, .. } => *missing,
            _ => Missing::NullOrMissing,
        }
    }

    /// The column the check is about, if it is about one.
    pub fn column(&self) -> Option<&Identifier> {
        match self {
            Check::NullCount { column }
            | Check::NullRate { column }
            | Check::DuplicateCount { column }
            | Check::AcceptedValues { column, .. }
            | Check::ValueRange { column, .. }
            | Check::Regex { column, .. }
            | Check::StringLength { column, .. }
            | Check::Freshness { column }
            | Check::NullCountOf { column, .. }
            | Check::NullRateOf { column, .. }
            | Check::FieldTypes { column, .. } => Some(column),
            Check::Anomaly { measure, .. } => measure.column(),
            Check::Reconciliation { .. } => None,
            Check::SchemaChange { .. } => None,
            Check::Drift { column, .. } => Some(column),
            Check::RowCount
            | Check::NotEmpty
            | Check::Schema { .. }
            | Check::CustomSql { .. }
            | Check::JsonSchema { .. }
            | Check::CustomPipeline { .. } => None,
        }
    }

    /// Name of the primary measure, as shown in messages and stored as a metric.
    pub fn measure_name(&self) -> &'static str {
        match self {
            Check::Anomaly { measure, .. } => measure.measure_name(),
            Check::Reconciliation { .. } => "mismatched_rows",
            Check::SchemaChange { .. } => "schema_changes",
            Check::Drift { .. } => "drift",
            Check::RowCount | Check::NotEmpty => "row_count",
            Check::NullCount { .. } | Check::NullCountOf { .. } => "null_count",
            Check::NullRate { .. } | Check::NullRateOf { .. } => "null_rate",
            Check::DuplicateCount { .. } => "duplicate_count",
            Check::AcceptedValues { .. } => "unexpected_values",
            Check::ValueRange { .. } => "out_of_range",
            Check::Regex { .. } => "mismatched",
            Check::StringLength { .. } => "bad_length",
            Check::Freshness { .. } => "age",
            Check::Schema { .. } => "schema_problems",
            Check::CustomSql {
                mode: CustomSqlMode::Rows,
                ..
            } => "failing_rows",
            Check::CustomSql {
                mode: CustomSqlMode::Scalar,
                ..
            }
            | Check::CustomPipeline {
                mode: CustomSqlMode::Scalar,
                ..
            } => "value",
            Check::FieldTypes { .. } => "wrong_type_rate",
            Check::JsonSchema { .. } => "schema_violations",
            Check::CustomPipeline {
                mode: CustomSqlMode::Rows,
                ..
            } => "failing_rows",
        }
    }

    pub fn unit(&self) -> Unit {
        match self {
            Check::Anomaly { measure, .. } => measure.unit(),
            Check::Drift { .. } => Unit::Number,
            Check::NullRate { .. } | Check::NullRateOf { .. } | Check::FieldTypes { .. } => {
                Unit::Rate
            }
            Check::Freshness { .. } => Unit::Seconds,
            Check::CustomSql {
                mode: CustomSqlMode::Scalar,
                ..
            }
            | Check::CustomPipeline {
                mode: CustomSqlMode::Scalar,
                ..
            } => Unit::Number,
            _ => Unit::Count,
        }
    }

    /// Fail bounds a rule of this kind gets when the manifest gives none.
    /// `None` means the user must give at least one bound.
    pub fn default_bounds(&self) -> Option<Bounds> {
        match self {
            // No fixed bound: the history decides.
            Check::Anomaly { .. } => Some(Bounds::default()),
            Check::Drift { method, .. } => method.default_max().map(Bounds::at_most),
            Check::NotEmpty => Some(Bounds::at_least(1.0)),
            Check::RowCount
            | Check::Freshness { .. }
            | Check::CustomSql {
                mode: CustomSqlMode::Scalar,
                ..
            }
            | Check::CustomPipeline {
                mode: CustomSqlMode::Scalar,
                ..
            } => None,
            _ => Some(Bounds::at_most(0.0)),
        }
    }

    /// Row-level checks have failing rows worth showing as a sample.
    pub fn has_failing_rows(&self) -> bool {
        matches!(
            self,
            Check::NullCount { .. }
                | Check::NullRate { .. }
                | Check::DuplicateCount { .. }
                | Check::AcceptedValues { .. }
                | Check::ValueRange { .. }
                | Check::Regex { .. }
                | Check::StringLength { .. }
                | Check::CustomSql {
                    mode: CustomSqlMode::Rows,
                    ..
                }
                | Check::NullCountOf { .. }
                | Check::NullRateOf { .. }
                | Check::FieldTypes { .. }
                | Check::JsonSchema { .. }
                | Check::CustomPipeline {
                    mode: CustomSqlMode::Rows,
                    ..
                }
        )
    }
}

/// An optional duration as whole seconds.
mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}
