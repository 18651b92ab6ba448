//! JSON Schema in the worker, for servers without `$jsonSchema` (MongoDB
//! before 3.6, and wire-compatible servers that lack it). It validates the
//! keywords `$jsonSchema` itself supports: `type`/`bsonType`, `required`,
//! `properties`, `additionalProperties` (boolean), `enum`, numeric and
//! length bounds, `pattern`, `items`, `minItems`/`maxItems`, `allOf`,
//! `anyOf`, `oneOf`, `not`. Documents are read as relaxed extended JSON,
//! so a date is `{"$date": ...}` and is told apart by `bsonType: date`.
//! An unknown keyword is refused, so a rule never passes silently.

use serde_json::{Map, Value};

use crate::error::TargetError;

const KEYWORDS: [&str; 25] = [
    "type",
    "bsonType",
    "required",
    "properties",
    "additionalProperties",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "items",
    "minItems",
    "maxItems",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "title",
    "description",
    "minProperties",
    "maxProperties",
    "uniqueItems",
];

/// Whether the server refused the `$jsonSchema` operator itself (not the
/// schema): then the worker validates.
pub(crate) fn unsupported_by_server(e: &TargetError) -> bool {
    match e {
        TargetError::Query { cause } => {
            let cause = cause.to_ascii_lowercase();
            cause.contains("jsonschema")
                && (cause.contains("unknown")
                    || cause.contains("unsupported")
                    || cause.contains("not supported"))
        }
        _ => false,
    }
}

#[derive(Debug)]
pub(crate) struct Validator {
    schema: Value,
}

impl Validator {
    /// `text`: the rule's schema as JSON text. Unknown keywords and invalid
    /// patterns are errors now, not passes later.
    pub(crate) fn new(text: &str) -> Result<Self, TargetError> {
        let schema: Value = serde_json::from_str(text)
            .map_err(|e| TargetError::query(format!("the JSON Schema is not valid JSON: {e}")))?;
        check_schema(&schema)?;
        Ok(Validator { schema })
    }

    pub(crate) fn is_valid(&self, document: &Value) -> bool {
        valid(&self.schema, document)
    }
}

fn check_schema(schema: &Value) -> Result<(), TargetError> {
    let Value::Object(map) = schema else {
        return Err(TargetError::query("a JSON Schema must be an object"));
    };
    for (key, value) in map {
        if !KEYWORDS.contains(&key.as_str()) {
            return Err(TargetError::query(format!(
                "JSON Schema keyword {key:?} is not supported (expected one of {})",
                KEYWORDS.join(", ")
            )));
        }
        match key.as_str() {
            "properties" => {
                for sub in value.as_object().into_iter().flat_map(|m| m.values()) {
                    check_schema(sub)?;
                }
            }
            "items" | "not" => check_schema(value)?,
            "allOf" | "anyOf" | "oneOf" => {
                for sub in value.as_array().into_iter().flatten() {
                    check_schema(sub)?;
                }
            }
            "pattern" => {
                let pattern = value.as_str().unwrap_or_default();
                regex::Regex::new(pattern).map_err(|e| {
                    TargetError::query(format!("JSON Schema pattern {pattern:?}: {e}"))
                })?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn names(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The BSON type of a relaxed extended JSON value.
fn bson_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "double",
        Value::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => "int",
            _ => "long",
        },
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(map) => match map.keys().next().map(String::as_str) {
            Some("$date") if map.len() == 1 => "date",
            Some("$oid") if map.len() == 1 => "objectId",
            Some("$numberDecimal") if map.len() == 1 => "decimal",
            Some("$binary") => "binData",
            Some("$timestamp") => "timestamp",
            Some("$regularExpression") => "regex",
            _ => "object",
        },
    }
}

fn json_type_matches(name: &str, value: &Value) -> bool {
    match name {
        "integer" => value.as_f64().is_some_and(|x| x.fract() == 0.0),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "array" => value.is_array(),
        "object" => bson_type(value) == "object",
        _ => false,
    }
}

fn bson_type_matches(name: &str, value: &Value) -> bool {
    let actual = bson_type(value);
    match name {
        "number" => matches!(actual, "int" | "long" | "double" | "decimal"),
        // A whole double reads back as an integer in relaxed JSON.
        "double" => matches!(actual, "double" | "int" | "long"),
        "long" => matches!(actual, "int" | "long"),
        other => other == actual,
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64)
}

fn valid(schema: &Value, value: &Value) -> bool {
    let Value::Object(s) = schema else {
        return true;
    };
    let types = names(s.get("type"));
    if !types.is_empty() && !types.iter().any(|t| json_type_matches(t, value)) {
        return false;
    }
    let bson_types = names(s.get("bsonType"));
    if !bson_types.is_empty() && !bson_types.iter().any(|t| bson_type_matches(t, value)) {
        return false;
    }
    if let Some(Value::Array(allowed)) = s.get("enum") {
        if !allowed.contains(value) {
            return false;
        }
    }
    if let Some(x) = value.as_f64() {
        if !numeric_bounds(s, x) {
            return false;
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as f64;
        if number(s.get("minLength")).is_some_and(|m| length < m)
            || number(s.get("maxLength")).is_some_and(|m| length > m)
        {
            return false;
        }
        if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
            if !regex::Regex::new(pattern).is_ok_and(|re| re.is_match(text)) {
                return false;
            }
        }
    }
    if let Value::Array(items) = value {
        let count = items.len() as f64;
        if number(s.get("minItems")).is_some_and(|m| count < m)
            || number(s.get("maxItems")).is_some_and(|m| count > m)
        {
            return false;
        }
        if let Some(item_schema) = s.get("items") {
            if !items.iter().all(|item| valid(item_schema, item)) {
                return false;
            }
        }
    }
    if bson_type(value) == "object" {
        if let Value::Object(object) = value {
            if !object_valid(s, object) {
                return false;
            }
        }
    }
    combinators(s, value)
}

fn numeric_bounds(s: &Map<String, Value>, x: f64) -> bool {
    // Draft 4: exclusiveMinimum is a boolean on minimum; later drafts a number.
    let exclusive = |key: &str| s.get(key).and_then(Value::as_bool).unwrap_or(false);
    if let Some(min) = number(s.get("minimum")) {
        if x < min || (exclusive("exclusiveMinimum") && x == min) {
            return false;
        }
    }
    if let Some(max) = number(s.get("maximum")) {
        if x > max || (exclusive("exclusiveMaximum") && x == max) {
            return false;
        }
    }
    !(number(s.get("exclusiveMinimum")).is_some_and(|m| x <= m)
        || number(s.get("exclusiveMaximum")).is_some_and(|m| x >= m))
}

fn object_valid(s: &Map<String, Value>, object: &Map<String, Value>) -> bool {
    let required = names(s.get("required"));
    if !required.iter().all(|name| object.contains_key(*name)) {
        return false;
    }
    let count = object.len() as f64;
    if number(s.get("minProperties")).is_some_and(|m| count < m)
        || number(s.get("maxProperties")).is_some_and(|m| count > m)
    {
        return false;
    }
    let properties = s.get("properties").and_then(Value::as_object);
    if let Some(properties) = properties {
        for (name, sub) in properties {
            if let Some(field) = object.get(name) {
                if !valid(sub, field) {
                    return false;
                }
            }
        }
    }
    if s.get("additionalProperties") == Some(&Value::Bool(false)) {
        let known = |name: &String| properties.is_some_and(|p| p.contains_key(name));
        if !object.keys().all(known) {
            return false;
        }
    }
    true
}

fn combinators(s: &Map<String, Value>, value: &Value) -> bool {
    let list = |key: &str| s.get(key).and_then(Value::as_array);
    if let Some(all) = list("allOf") {
        if !all.iter().all(|sub| valid(sub, value)) {
            return false;
        }
    }
    if let Some(any) = list("anyOf") {
        if !any.iter().any(|sub| valid(sub, value)) {
            return false;
        }
    }
    if let Some(one) = list("oneOf") {
        if one.iter().filter(|sub| valid(sub, value)).count() != 1 {
            return false;
        }
    }
    if let Some(not) = s.get("not") {
        if valid(not, value) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validates_the_supported_keywords() {
        let schema = json!({
            "required": ["id", "type"],
            "properties": {
                "id": {"bsonType": "int"},
                "type": {"enum": ["click", "view"]},
                "at": {"bsonType": "date"},
                "email": {"type": "string", "pattern": "^[^@]+@[^@]+$", "maxLength": 20},
                "n": {"bsonType": ["int", "long"], "minimum": 0},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}
            }
        });
        let validator = Validator::new(&schema.to_string()).unwrap();
        for (document, expected) in [
            (json!({"id": 1, "type": "click"}), true),
            (
                json!({"id": 1, "type": "click", "at": {"$date": "2025-01-01T00:00:00Z"}}),
                true,
            ),
            (json!({"id": 1}), false),
            (json!({"id": "1", "type": "view"}), false),
            (json!({"id": 1, "type": "buy"}), false),
            (json!({"id": 1, "type": "view", "at": "2025-01-01"}), false),
            (json!({"id": 1, "type": "view", "email": "a@b"}), true),
            (json!({"id": 1, "type": "view", "email": "ab"}), false),
            (json!({"id": 1, "type": "view", "n": -1}), false),
            (json!({"id": 1, "type": "view", "tags": ["a", 1]}), false),
            (
                json!({"id": 1, "type": "view", "tags": ["a", "b", "c"]}),
                false,
            ),
        ] {
            assert_eq!(validator.is_valid(&document), expected, "{document}");
        }
    }

    #[test]
    fn unknown_keywords_and_bad_patterns_are_refused() {
        assert!(Validator::new(r#"{"requird": ["a"]}"#).is_err());
        assert!(Validator::new(r#"{"properties": {"a": {"pattern": "("}}}"#).is_err());
        assert!(Validator::new("[1]").is_err());
    }
}
