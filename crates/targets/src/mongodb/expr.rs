//! Row predicates as aggregation expressions (counted with conditional
//! sums in the fused `$group`, reused under `$expr` to find failing
//! documents), and a plan's scope as the stages every pipeline starts with.
//!
//! The semantics are the SQL backends': "NULL" is an explicit null or an
//! absent field unless a rule says which (`missing:`), and such values
//! never fail a value check, never match a regex, never count as
//! duplicates. BSON types are told apart with `$type`, so an absent field
//! (`"missing"`) and an explicit null (`"null"`) are never confused.

use chrono::{DateTime, Utc};
use dq_core::{Identifier, Literal, MetricRequest, RowPredicate, Scope};
use mongodb::bson::{doc, Bson, Document};

use crate::error::TargetError;

/// `$type` names of numbers.
const NUMERIC: [&str; 4] = ["double", "int", "long", "decimal"];
/// Operators a filter may not use: they run JavaScript or are not queries.
const FORBIDDEN_IN_FILTER: [&str; 5] = ["$where", "$function", "$accumulator", "$out", "$merge"];

fn field(c: &Identifier) -> String {
    format!("${c}")
}

fn type_of(c: &Identifier) -> Bson {
    Bson::Document(doc! { "$type": field(c) })
}

fn type_in(c: &Identifier, types: &[&str]) -> Bson {
    Bson::Document(doc! { "$in": [type_of(c), types.to_vec()] })
}

fn not(expression: Bson) -> Bson {
    Bson::Document(doc! { "$not": [expression] })
}

/// Neither null nor absent.
fn present(c: &Identifier) -> Bson {
    not(type_in(c, &["null", "missing"]))
}

/// `then` only for documents whose field is of `types`, else false, with
/// `$cond` so `then` never sees another type (`$strLenCP` of a number fails).
fn when_type(c: &Identifier, types: &[&str], then: Bson) -> Bson {
    Bson::Document(doc! { "$cond": [type_in(c, types), then, false] })
}

fn outside(value: Bson, min: Option<Bson>, max: Option<Bson>) -> Bson {
    let mut either = Vec::new();
    if let Some(min) = min {
        either.push(Bson::Document(doc! { "$lt": [value.clone(), min] }));
    }
    if let Some(max) = max {
        either.push(Bson::Document(doc! { "$gt": [value, max] }));
    }
    Bson::Document(doc! { "$or": either })
}

pub(crate) fn literal(value: &Literal) -> Bson {
    match value {
        Literal::Integer(i) => Bson::Int64(*i),
        Literal::Float(f) => Bson::Double(*f),
        Literal::Bool(b) => Bson::Boolean(*b),
        Literal::Text(s) => Bson::String(s.clone()),
    }
}

/// The `$type` names a `field_types` list stands for (`number` is four).
pub(crate) fn expand_types(types: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    for t in types {
        if t == "number" {
            out.extend(NUMERIC);
        } else {
            out.push(t.as_str());
        }
    }
    out
}

/// True for a document that meets `predicate`.
pub(crate) fn predicate(predicate: &RowPredicate) -> Bson {
    match predicate {
        RowPredicate::IsNull(c) => type_in(c, &["null", "missing"]),
        RowPredicate::IsExplicitNull(c) => type_in(c, &["null"]),
        RowPredicate::IsAbsent(c) => type_in(c, &["missing"]),
        RowPredicate::TypeNotIn(c, types) => not(type_in(c, &expand_types(types))),
        RowPredicate::NotIn(c, values) => {
            let values: Vec<Bson> = values.iter().map(literal).collect();
            let listed = Bson::Document(doc! { "$in": [field(c), values] });
            Bson::Document(doc! { "$and": [present(c), not(listed)] })
        }
        // Numbers only: BSON orders every string above every number, so a
        // text value would otherwise be "above" any max_value.
        RowPredicate::OutsideRange(c, min, max) => when_type(
            c,
            &NUMERIC,
            outside(
                Bson::String(field(c)),
                min.map(Bson::Double),
                max.map(Bson::Double),
            ),
        ),
        // A present value that is not text cannot match a pattern on text.
        RowPredicate::RegexMismatch(c, regex) => {
            let matches = Bson::Document(doc! {
                "$regexMatch": { "input": field(c), "regex": regex.as_str() }
            });
            let mismatch =
                Bson::Document(doc! { "$cond": [type_in(c, &["string"]), not(matches), true] });
            Bson::Document(doc! { "$and": [present(c), mismatch] })
        }
        RowPredicate::LengthOutside(c, min, max) => {
            let length = Bson::Document(doc! { "$strLenCP": field(c) });
            let bound =
                |v: &Option<u64>| v.map(|v| Bson::Int64(i64::try_from(v).unwrap_or(i64::MAX)));
            when_type(c, &["string"], outside(length, bound(min), bound(max)))
        }
        // Counted by its own pipeline; as a filter it is never used.
        RowPredicate::Duplicated(_) => Bson::Boolean(false),
    }
}

/// The `$group` accumulator of a scan aggregate.
pub(crate) fn accumulator(request: &MetricRequest) -> Option<Bson> {
    Some(Bson::Document(match request {
        MetricRequest::RowCount => doc! { "$sum": 1 },
        MetricRequest::CountWhere(p) => doc! { "$sum": { "$cond": [predicate(p), 1, 0] } },
        MetricRequest::Avg(c) => doc! { "$avg": field(c) },
        // Dates only: `$max` over mixed types would pick by BSON order.
        MetricRequest::MaxTimestamp(c) => {
            doc! { "$max": { "$cond": [type_in(c, &["date"]), field(c), Bson::Null] } }
        }
        _ => return None,
    }))
}

/// The stages every pipeline of a plan starts with: `$match` of the
/// filter and window, then `$sample` when the scope samples. Samples of
/// failing documents pass `sampled: false`: they look in the whole scope.
pub(crate) fn scope_stages(
    scope: &Scope,
    now: DateTime<Utc>,
    sampled: bool,
) -> Result<Vec<Document>, TargetError> {
    let mut stages = Vec::new();
    let filter = scope_filter(scope, now)?;
    if !filter.is_empty() {
        stages.push(doc! { "$match": filter });
    }
    if let (Some(size), true) = (scope.sample_size, sampled) {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        stages.push(doc! { "$sample": { "size": size } });
    }
    Ok(stages)
}

/// The scope's filter and window as one query document (empty: all).
pub(crate) fn scope_filter(scope: &Scope, now: DateTime<Utc>) -> Result<Document, TargetError> {
    let mut all = Vec::new();
    if let Some(filter) = &scope.filter {
        all.push(Bson::Document(parse_filter(filter.as_sql())?));
    }
    if let Some(window) = &scope.window {
        let length = chrono::Duration::from_std(window.length).unwrap_or(chrono::Duration::MAX);
        let cutoff = now
            .checked_sub_signed(length)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let cutoff = mongodb::bson::DateTime::from_millis(cutoff.timestamp_millis());
        all.push(Bson::Document(
            doc! { window.column.as_str(): { "$gte": cutoff } },
        ));
    }
    Ok(match all.len() {
        0 => Document::new(),
        1 => match all.pop() {
            Some(Bson::Document(d)) => d,
            _ => Document::new(),
        },
        _ => doc! { "$and": all },
    })
}

/// A rule's `filter` on a MongoDB target: a query document in (relaxed)
/// extended JSON, such as `{"status": {"$in": ["paid", "shipped"]}}`.
/// It must be an object and may not use operators that run code.
pub(crate) fn parse_filter(text: &str) -> Result<Document, TargetError> {
    let invalid = |why: String| {
        TargetError::query(format!(
            "filter {text:?} is not a MongoDB query document: {why} \
             (expected extended JSON such as {{\"status\": \"paid\"}})"
        ))
    };
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let Bson::Document(document) = Bson::try_from(json).map_err(|e| invalid(e.to_string()))? else {
        return Err(invalid("it is not an object".into()));
    };
    if let Some(operator) = forbidden_operator(&Bson::Document(document.clone())) {
        return Err(invalid(format!("{operator} is not allowed in a filter")));
    }
    Ok(document)
}

/// The first operator anywhere in `value` that a filter or pipeline may
/// not use.
pub(crate) fn forbidden_operator(value: &Bson) -> Option<String> {
    match value {
        Bson::Document(d) => d.iter().find_map(|(key, value)| {
            if FORBIDDEN_IN_FILTER.contains(&key.as_str()) {
                Some(key.clone())
            } else {
                forbidden_operator(value)
            }
        }),
        Bson::Array(items) => items.iter().find_map(forbidden_operator),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_query_documents_without_code() {
        assert_eq!(
            parse_filter(r#"{"status": {"$in": ["paid"]}}"#).ok(),
            Some(doc! { "status": { "$in": ["paid"] } })
        );
        for bad in [
            "status = 'paid'",
            "[1, 2]",
            r#"{"$where": "this.a > 1"}"#,
            r#"{"a": {"$elemMatch": {"$where": "1"}}}"#,
            r#"{"$expr": {"$function": {"body": "x", "args": [], "lang": "js"}}}"#,
        ] {
            let error = parse_filter(bad).expect_err(bad).to_string();
            assert!(
                error.contains("not a MongoDB query document"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn number_expands_to_the_numeric_types() {
        let types = vec!["number".to_string(), "null".to_string()];
        assert_eq!(
            expand_types(&types),
            ["double", "int", "long", "decimal", "null"]
        );
    }
}
