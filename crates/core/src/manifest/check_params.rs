//! A rule's check kind and its own parameters to a `check::Check`.

use std::collections::BTreeMap;

use super::baseline_params;
use super::error::{Field, Problems};
use super::fields::{self, wrong_type, A_COLUMN};
use super::rule_builder::RuleInput;
use super::yaml::{Scalar, Value};
use crate::check::{Check, CustomSqlMode, Literal, Missing, NamedFormat, Pattern, BSON_TYPES};
use crate::names::Identifier;

pub fn build(p: &mut Problems<'_>, input: &RuleInput<'_>, kind: &str) -> Option<Check> {
    match kind {
        "row_count" => Some(Check::RowCount),
        "not_empty" => Some(Check::NotEmpty),
        "null_count" | "null_rate" => null_check(p, input, kind),
        "duplicate_count" => Some(Check::DuplicateCount {
            column: column(p, input, kind)?,
        }),
        "accepted_values" => accepted_values(p, input, kind),
        "value_range" => value_range(p, input, kind),
        "regex" => regex(p, input, kind),
        "string_length" => string_length(p, input, kind),
        "freshness" => Some(Check::Freshness {
            column: column(p, input, kind)?,
        }),
        "schema" => schema(p, input),
        "custom_sql" => custom_sql(p, input),
        "field_types" => field_types(p, input, kind),
        "json_schema" => json_schema(p, input),
        "custom_pipeline" => custom_pipeline(p, input),
        "anomaly" => baseline_params::anomaly(p, input),
        "schema_change" => baseline_params::schema_change(p, input),
        "drift" => baseline_params::drift(p, input),
        _ => None,
    }
}

/// A check of `kind` with placeholder parameters, whose unit and default
/// bounds are those of the real one: it lets thresholds be validated even
/// when a parameter (say the column) is wrong, so both problems are reported.
pub fn shape(kind: &str, input: &RuleInput<'_>) -> Option<Check> {
    let column = Identifier::new("placeholder").ok()?;
    Some(match kind {
        "row_count" => Check::RowCount,
        "not_empty" => Check::NotEmpty,
        "freshness" => Check::Freshness { column },
        "null_rate" => Check::NullRate { column },
        "field_types" => Check::FieldTypes {
            column,
            types: Vec::new(),
        },
        "custom_sql" => Check::CustomSql {
            sql: String::new(),
            mode: shape_mode(input),
        },
        "custom_pipeline" => Check::CustomPipeline {
            pipeline: serde_json::Value::Array(Vec::new()),
            mode: shape_mode(input),
        },
        _ => Check::NullCount { column },
    })
}

fn shape_mode(input: &RuleInput<'_>) -> CustomSqlMode {
    match input.own("mode").map(|f| &f.node.value) {
        Some(Value::Scalar(Scalar::Str(m))) if m == "scalar" => CustomSqlMode::Scalar,
        _ => CustomSqlMode::Rows,
    }
}

pub(super) fn column(
    p: &mut Problems<'_>,
    input: &RuleInput<'_>,
    kind: &str,
) -> Option<Identifier> {
    let expected = format!("the column that check {kind} is about");
    let field = input.own_required(p, "column", &expected)?;
    fields::identifier(p, &field)
}

fn optional<'n, T>(
    p: &mut Problems<'_>,
    input: &RuleInput<'n>,
    key: &str,
    read: impl Fn(&mut Problems<'_>, &Field<'n>) -> Option<T>,
) -> Result<Option<T>, ()> {
    match input.own(key) {
        None => Ok(None),
        Some(field) => read(p, &field).map(Some).ok_or(()),
    }
}

fn literal(p: &mut Problems<'_>, f: &Field<'_>) -> Option<Literal> {
    match &f.node.value {
        Value::Scalar(Scalar::Int(i)) => Some(Literal::Integer(*i)),
        Value::Scalar(Scalar::Float(x)) if x.is_finite() => Some(Literal::Float(*x)),
        Value::Scalar(Scalar::Bool(b)) => Some(Literal::Bool(*b)),
        Value::Scalar(Scalar::Str(s)) => Some(Literal::Text(s.clone())),
        _ => {
            p.at(
                f,
                wrong_type(f.node, "a text, finite number or boolean value"),
            );
            None
        }
    }
}

fn accepted_values(p: &mut Problems<'_>, input: &RuleInput<'_>, kind: &str) -> Option<Check> {
    const EXPECTED: &str = "a non-empty list of accepted values such as [new, paid]";
    let column = column(p, input, kind);
    let values = input
        .own_required(p, "values", EXPECTED)
        .and_then(|f| fields::non_empty_list_of(p, &f, EXPECTED, literal));
    Some(Check::AcceptedValues {
        column: column?,
        values: values?,
    })
}

pub(super) fn finite(p: &mut Problems<'_>, f: &Field<'_>) -> Option<f64> {
    let value = fields::number(p, f)?;
    if value.is_finite() {
        Some(value)
    } else {
        p.at(
            f,
            format!("{value} is not a finite number (expected a number)"),
        );
        None
    }
}

/// Checks `min <= max` for a pair of optional bounds, reporting on `min`.
fn ordered<T: PartialOrd + std::fmt::Display>(
    p: &mut Problems<'_>,
    input: &RuleInput<'_>,
    (min_key, min): (&str, Option<T>),
    (max_key, max): (&str, Option<T>),
) -> bool {
    match (min, max, input.own(min_key)) {
        (Some(min), Some(max), Some(field)) if min > max => {
            let message =
                format!("{min} is greater than {max_key} {max} (expected {min_key} <= {max_key})");
            p.at(&field, message);
            false
        }
        _ => true,
    }
}

fn value_range(p: &mut Problems<'_>, input: &RuleInput<'_>, kind: &str) -> Option<Check> {
    let column = column(p, input, kind);
    let min_value = optional(p, input, "min_value", finite);
    let max_value = optional(p, input, "max_value", finite);
    let avg_min = optional(p, input, "avg_min", finite);
    let avg_max = optional(p, input, "avg_max", finite);
    let (min_value, max_value, avg_min, avg_max) = (
        min_value.ok()?,
        max_value.ok()?,
        avg_min.ok()?,
        avg_max.ok()?,
    );
    if [min_value, max_value, avg_min, avg_max]
        .iter()
        .all(Option::is_none)
    {
        p.push(
            input.line,
            "min_value/max_value",
            "missing (expected at least one of min_value, max_value, avg_min, avg_max)",
        );
        return None;
    }
    let rows_ok = ordered(p, input, ("min_value", min_value), ("max_value", max_value));
    let avg_ok = ordered(p, input, ("avg_min", avg_min), ("avg_max", avg_max));
    if !(rows_ok && avg_ok) {
        return None;
    }
    Some(Check::ValueRange {
        column: column?,
        min_value,
        max_value,
        avg: crate::threshold::Bounds {
            min: avg_min,
            max: avg_max,
        },
    })
}

fn regex(p: &mut Problems<'_>, input: &RuleInput<'_>, kind: &str) -> Option<Check> {
    let column = column(p, input, kind);
    let pattern = match (input.own("pattern"), input.own("format")) {
        (Some(_), Some(format)) => {
            p.at(
                &format,
                "is set together with pattern (expected exactly one of them)",
            );
            None
        }
        (None, None) => {
            p.push(
                input.line,
                "pattern/format",
                "missing (expected a pattern, or a format: email or uuid)",
            );
            None
        }
        (Some(pattern), None) => user_regex(p, &pattern),
        (None, Some(format)) => named_format(p, &format),
    };
    Some(Check::Regex {
        column: column?,
        pattern: pattern?,
    })
}

fn user_regex(p: &mut Problems<'_>, f: &Field<'_>) -> Option<Pattern> {
    let text = fields::text(p, f)?;
    match regex::Regex::new(&text) {
        Ok(_) => Some(Pattern::Regex(text)),
        Err(e) => {
            // The regex crate explains on several lines; the last one says what is wrong.
            let rendered = e.to_string();
            let reason = rendered
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or(rendered.as_str())
                .to_string();
            p.at(
                f,
                format!("{text:?} is not a valid regex: {reason} (expected a regular expression)"),
            );
            None
        }
    }
}

fn named_format(p: &mut Problems<'_>, f: &Field<'_>) -> Option<Pattern> {
    let text = fields::text(p, f)?;
    match NamedFormat::parse(text.trim()) {
        Some(format) => Some(Pattern::Format(format)),
        None => {
            let names: Vec<&str> = NamedFormat::ALL.iter().map(|f| f.name()).collect();
            p.at(
                f,
                format!(
                    "unknown format {text:?} (expected one of {})",
                    names.join(", ")
                ),
            );
            None
        }
    }
}

fn string_length(p: &mut Problems<'_>, input: &RuleInput<'_>, kind: &str) -> Option<Check> {
    let column = column(p, input, kind);
    let read = |p: &mut Problems<'_>, f: &Field<'_>| fields::whole(p, f, 0);
    let min_length = optional(p, input, "min_length", read);
    let max_length = optional(p, input, "max_length", read);
    let (min_length, max_length) = (min_length.ok()?, max_length.ok()?);
    if min_length.is_none() && max_length.is_none() {
        p.push(
            input.line,
            "min_length/max_length",
            "missing (expected min_length, max_length or both)",
        );
        return None;
    }
    if !ordered(
        p,
        input,
        ("min_length", min_length),
        ("max_length", max_length),
    ) {
        return None;
    }
    Some(Check::StringLength {
        column: column?,
        min_length,
        max_length,
    })
}

fn schema(p: &mut Problems<'_>, input: &RuleInput<'_>) -> Option<Check> {
    const EXPECTED: &str = "a non-empty list of column names such as [id, email]";
    let columns = input
        .own_required(p, "columns", EXPECTED)
        .and_then(|f| fields::non_empty_list_of(p, &f, EXPECTED, fields::identifier));
    let types = match input.own("types") {
        None => Some(BTreeMap::new()),
        Some(f) => column_types(p, &f, columns.as_deref()),
    };
    Some(Check::Schema {
        columns: columns?,
        types: types?,
    })
}

fn column_types(
    p: &mut Problems<'_>,
    f: &Field<'_>,
    columns: Option<&[Identifier]>,
) -> Option<BTreeMap<Identifier, String>> {
    let entries = fields::map_entries(p, f, "a mapping of column name to type name")?;
    let mut types = BTreeMap::new();
    let mut ok = true;
    for (name, entry) in entries {
        let key = match Identifier::new(name) {
            Ok(column) => Some(column),
            Err(e) => {
                p.at(&entry, fields::name_problem(&e, A_COLUMN));
                None
            }
        };
        let type_name = fields::text(p, &entry);
        if let (Some(column), Some(listed)) = (&key, columns) {
            if !listed.contains(column) {
                p.at(
                    &entry,
                    format!("column {column} is not in columns (expected a type only for a listed column)"),
                );
                ok = false;
            }
        }
        match (key, type_name) {
            (Some(column), Some(type_name)) => {
                types.insert(column, type_name.trim().to_string());
            }
            _ => ok = false,
        }
    }
    ok.then_some(types)
}

fn custom_sql(p: &mut Problems<'_>, input: &RuleInput<'_>) -> Option<Check> {
    let sql = input
        .own_required(p, "sql", "the SQL query to run")
        .and_then(|f| fields::text(p, &f));
    let mode = mode(p, input);
    Some(Check::CustomSql {
        sql: sql?,
        mode: mode?,
    })
}

fn mode(p: &mut Problems<'_>, input: &RuleInput<'_>) -> Option<CustomSqlMode> {
    match input.own("mode") {
        None => Some(CustomSqlMode::Rows),
        Some(f) => match fields::text(p, &f)?.trim() {
            "rows" => Some(CustomSqlMode::Rows),
            "scalar" => Some(CustomSqlMode::Scalar),
            other => {
                p.at(
                    &f,
                    format!("unknown mode {other:?} (expected rows or scalar)"),
                );
                None
            }
        },
    }
}

/// `null_count` / `null_rate`, with `missing:` saying which absences count
/// in a document (a SQL target knows only NULL, the default).
fn null_check(p: &mut Problems<'_>, input: &RuleInput<'_>, kind: &str) -> Option<Check> {
    let column = column(p, input, kind);
    let missing = match input.own("missing") {
        None => Some(Missing::NullOrMissing),
        // `missing: null` unquoted is YAML's null, and means what it says.
        Some(f) if matches!(f.node.value, Value::Scalar(Scalar::Null)) => Some(Missing::Null),
        Some(f) => {
            let text = fields::text(p, &f)?;
            let parsed = Missing::parse(text.trim());
            if parsed.is_none() {
                p.at(
                    &f,
                    format!("unknown value {text:?} (expected null_or_missing, null or missing)"),
                );
            }
            parsed
        }
    };
    let (column, missing) = (column?, missing?);
    Some(match (kind, missing) {
        ("null_count", Missing::NullOrMissing) => Check::NullCount { column },
        ("null_rate", Missing::NullOrMissing) => Check::NullRate { column },
        ("null_count", missing) => Check::NullCountOf { column, missing },
        (_, missing) => Check::NullRateOf { column, missing },
    })
}

fn field_types(p: &mut Problems<'_>, input: &RuleInput<'_>, kind: &str) -> Option<Check> {
    const EXPECTED: &str = "a non-empty list of BSON types such as [string, null]";
    let column = column(p, input, kind);
    let bson_type = |p: &mut Problems<'_>, f: &Field<'_>| {
        // `null` unquoted is YAML's null: the BSON type null.
        if matches!(f.node.value, Value::Scalar(Scalar::Null)) {
            return Some("null".to_string());
        }
        let text = fields::text(p, f)?;
        match BSON_TYPES.iter().find(|t| **t == text.trim()) {
            Some(found) => Some(found.to_string()),
            None => {
                p.at(
                    f,
                    format!(
                        "unknown BSON type {text:?} (expected one of {})",
                        BSON_TYPES.join(", ")
                    ),
                );
                None
            }
        }
    };
    let types = input
        .own_required(p, "types", EXPECTED)
        .and_then(|f| fields::non_empty_list_of(p, &f, EXPECTED, bson_type));
    Some(Check::FieldTypes {
        column: column?,
        types: types?,
    })
}

fn json_schema(p: &mut Problems<'_>, input: &RuleInput<'_>) -> Option<Check> {
    const EXPECTED: &str = "a JSON Schema mapping such as {required: [id], properties: {...}}";
    let field = input.own_required(p, "schema", EXPECTED)?;
    let schema = fields::json_object(p, &field)?;
    if schema.is_empty() {
        p.at(&field, format!("is empty (expected {EXPECTED})"));
        return None;
    }
    Some(Check::JsonSchema {
        schema: serde_json::Value::Object(schema),
    })
}

fn custom_pipeline(p: &mut Problems<'_>, input: &RuleInput<'_>) -> Option<Check> {
    const EXPECTED: &str = "a list of aggregation stages such as [{$match: {status: unknown}}]";
    let pipeline = input.own_required(p, "pipeline", EXPECTED).and_then(|f| {
        let stages = fields::list(p, &f, EXPECTED)?;
        let mut out = Vec::with_capacity(stages.len());
        for stage in &stages {
            let object = fields::json_object(p, stage)?;
            if object.len() != 1 || !object.keys().all(|k| k.starts_with('$')) {
                p.at(
                    stage,
                    "is not one stage (expected a mapping with one $stage key)",
                );
                return None;
            }
            if let Some(write) = object
                .keys()
                .find(|k| matches!(k.as_str(), "$out" | "$merge"))
            {
                p.at(
                    stage,
                    format!("{write} writes (expected a read-only pipeline)"),
                );
                return None;
            }
            out.push(serde_json::Value::Object(object));
        }
        Some(serde_json::Value::Array(out))
    });
    let mode = mode(p, input);
    Some(Check::CustomPipeline {
        pipeline: pipeline?,
        mode: mode?,
    })
}
