//! Result rows decoded by each value's runtime type, not the declared one:
//! SQLite columns hold whatever was stored, so a `TEXT` column may return an
//! integer and an untyped one anything.

use serde_json::{Map, Number, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, Row, TypeInfo, ValueRef};

/// Blobs up to this size are shown in hex; larger ones only by size.
const BLOB_HEX_MAX: usize = 32;

/// A row as a JSON object. A column name used twice (a join in custom SQL)
/// gets a `:2`, `:3` suffix rather than overwriting the first.
pub(crate) fn to_json(row: &SqliteRow) -> Map<String, Value> {
    let mut object = Map::new();
    for (index, column) in row.columns().iter().enumerate() {
        let mut name = column.name().to_string();
        let mut n = 1;
        while object.contains_key(&name) {
            n += 1;
            name = format!("{}:{n}", column.name());
        }
        object.insert(name, value(row, index));
    }
    object
}

fn value(row: &SqliteRow, index: usize) -> Value {
    let kind = match row.try_get_raw(index) {
        Ok(raw) if raw.is_null() => return Value::Null,
        Ok(raw) => raw.type_info().name().to_string(),
        Err(e) => return Value::String(format!("<unreadable: {e}>")),
    };
    let decoded = match kind.as_str() {
        "INTEGER" => row
            .try_get_unchecked::<i64, _>(index)
            .map(|v| Value::Number(v.into())),
        "REAL" => row.try_get_unchecked::<f64, _>(index).map(|v| {
            // JSON has no NaN or infinity; keep them readable as text.
            Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number)
        }),
        "BLOB" => row.try_get_unchecked::<Vec<u8>, _>(index).map(blob),
        _ => row.try_get_unchecked::<String, _>(index).map(Value::String),
    };
    decoded.unwrap_or_else(|e| Value::String(format!("<unreadable {kind}: {e}>")))
}

fn blob(bytes: Vec<u8>) -> Value {
    if bytes.len() > BLOB_HEX_MAX {
        return Value::String(format!("<blob {} bytes>", bytes.len()));
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Value::String(format!("0x{hex}"))
}

/// A number from an aggregate or a scalar query. NULL is `None`; text that
/// parses as a number is that number; anything else is an error saying what
/// came back.
pub(crate) fn number(row: &SqliteRow, index: usize) -> Result<Option<f64>, String> {
    match value(row, index) {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("{n} is not representable as a number")),
        Value::String(text) => match text.trim().parse::<f64>() {
            Ok(v) => Ok(Some(v)),
            Err(_) => Err(format!("{text:?} is not a number")),
        },
        other => Err(format!("{other} is not a number")),
    }
}
