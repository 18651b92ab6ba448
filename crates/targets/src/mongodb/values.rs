//! BSON to what dq-core and people read: numbers as f64 (dates as Unix
//! seconds), documents as relaxed extended JSON, values by their `$type`
//! name.

use mongodb::bson::{Bson, Document};
use serde_json::Value;

use crate::error::TargetError;

/// A number (or date, as Unix seconds) from an aggregation result; `None`
/// for null or absent, as SQL gives NULL for `avg`/`max` over no rows.
pub(crate) fn number(value: Option<&Bson>, what: &str) -> Result<Option<f64>, TargetError> {
    Ok(match value {
        None | Some(Bson::Null) => None,
        Some(Bson::Int32(i)) => Some(f64::from(*i)),
        Some(Bson::Int64(i)) => Some(*i as f64),
        Some(Bson::Double(x)) => Some(*x),
        Some(Bson::Decimal128(d)) => Some(d.to_string().parse::<f64>().map_err(|_| {
            TargetError::query(format!("{what}: decimal {d} is not a number dq can read"))
        })?),
        Some(Bson::DateTime(t)) => Some(t.timestamp_millis() as f64 / 1000.0),
        Some(Bson::Boolean(b)) => Some(if *b { 1.0 } else { 0.0 }),
        Some(other) => {
            return Err(TargetError::query(format!(
                "{what}: {} is not a number",
                type_name(other)
            )))
        }
    })
}

/// A document as a JSON object for a sample or a message.
pub(crate) fn json(document: Document) -> Value {
    Bson::Document(document).into_relaxed_extjson()
}

/// The name `$type` gives a value's type.
pub(crate) fn type_name(value: &Bson) -> &'static str {
    match value {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Binary(_) => "binData",
        Bson::Undefined => "undefined",
        Bson::ObjectId(_) => "objectId",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "regex",
        Bson::DbPointer(_) => "dbPointer",
        Bson::JavaScriptCode(_) => "javascript",
        Bson::Symbol(_) => "symbol",
        Bson::JavaScriptCodeWithScope(_) => "javascriptWithScope",
        Bson::Int32(_) => "int",
        Bson::Timestamp(_) => "timestamp",
        Bson::Int64(_) => "long",
        Bson::Decimal128(_) => "decimal",
        Bson::MinKey => "minKey",
        Bson::MaxKey => "maxKey",
    }
}

/// JSON text from a rule (a schema, a pipeline) as BSON.
pub(crate) fn from_json_text(text: &str, what: &str) -> Result<Bson, TargetError> {
    let json: Value = serde_json::from_str(text)
        .map_err(|e| TargetError::query(format!("{what} is not valid JSON: {e}")))?;
    Bson::try_from(json).map_err(|e| TargetError::query(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(None, "x").ok(), Some(None));
        assert_eq!(number(Some(&Bson::Int32(3)), "x").ok(), Some(Some(3.0)));
        assert_eq!(number(Some(&Bson::Int64(4)), "x").ok(), Some(Some(4.0)));
        let date = mongodb::bson::DateTime::from_millis(1_500);
        assert_eq!(
            number(Some(&Bson::DateTime(date)), "x").ok(),
            Some(Some(1.5))
        );
        assert!(number(Some(&Bson::String("a".into())), "x").is_err());
    }
}
