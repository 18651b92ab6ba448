//! Rows as JSON. PostgreSQL renders each row itself (`row_to_json`), which
//! types every value the way a person expects (numbers as numbers,
//! timestamps as ISO 8601 text, json as json) and keeps column order; this
//! module only reads that text back, keeping what `serde_json` alone would
//! lose: a column name used twice, and numbers too large for an f64.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// One row, from the text of a JSON object.
pub(crate) fn object(text: &str) -> Result<Map<String, Value>, String> {
    parse::<Row>(text).map(|row| row.0)
}

/// Several rows, from the text of a JSON array of objects.
pub(crate) fn objects(text: &str) -> Result<Vec<Map<String, Value>>, String> {
    parse::<Vec<Row>>(text).map(|rows| rows.into_iter().map(|row| row.0).collect())
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).or_else(|first| {
        // Only a number beyond f64 (a huge numeric) makes valid JSON fail.
        serde_json::from_str(&quote_huge_numbers(text))
            .map_err(|_| format!("unreadable row from the server: {first}"))
    })
}

/// The number in the first column of a one-row result (a custom scalar
/// query). NULL is `None`; text that parses as a number is that number;
/// anything else is an error saying what came back.
pub(crate) fn first_number(row: &Map<String, Value>) -> Result<Option<f64>, String> {
    match row.values().next() {
        None => Err("no column".to_string()),
        Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("{n} is not representable as a number")),
        Some(Value::String(text)) => match text.trim().parse::<f64>() {
            Ok(v) => Ok(Some(v)),
            Err(_) => Err(format!("{text:?} is not a number")),
        },
        Some(other) => Err(format!("{other} is not a number")),
    }
}

/// A JSON object whose repeated keys (a join's two `id` columns) get a
/// `:2`, `:3` suffix instead of overwriting the first.
struct Row(Map<String, Value>);

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RowVisitor)
    }
}

struct RowVisitor;

impl<'de> Visitor<'de> for RowVisitor {
    type Value = Row;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (one row)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Row, A::Error> {
        let mut object = Map::new();
        while let Some((key, value)) = access.next_entry::<String, Value>()? {
            let mut name = key.clone();
            let mut n = 1;
            while object.contains_key(&name) {
                n += 1;
                name = format!("{key}:{n}");
            }
            object.insert(name, value);
        }
        Ok(Row(object))
    }
}

/// The JSON text with every number an f64 cannot hold put in quotes, so
/// `1e400` survives as the string "1e400" rather than failing the row.
fn quote_huge_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(escaped) = chars.next() {
                        out.push(escaped);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == '-' || c.is_ascii_digit() {
            let mut number = c.to_string();
            while let Some(&next) = chars.peek() {
                if next.is_ascii_digit() || matches!(next, '.' | 'e' | 'E' | '+' | '-') {
                    number.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            match number.parse::<f64>() {
                Ok(v) if v.is_finite() => out.push_str(&number),
                _ => out.push_str(&format!("\"{number}\"")),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rows_keep_order_repeated_names_and_huge_numbers() {
        let big = format!("1{}", "0".repeat(400));
        for (text, expected) in [
            (
                r#"{"b":1,"a":"x","c":null}"#.to_string(),
                json!({"b": 1, "a": "x", "c": null}),
            ),
            (
                r#"{"v":1,"v":2,"v":3}"#.to_string(),
                json!({"v": 1, "v:2": 2, "v:3": 3}),
            ),
            (
                format!(r#"{{"n":{big},"s":"-1e999 stays","m":-2.5e400,"k":12.50}}"#),
                json!({"n": big, "s": "-1e999 stays", "m": "-2.5e400", "k": 12.5}),
            ),
            (
                r#"{"e":"a \"quoted\" 1e999","x":[1,{"y":2}]}"#.to_string(),
                json!({"e": "a \"quoted\" 1e999", "x": [1, {"y": 2}]}),
            ),
        ] {
            let row = object(&text).unwrap();
            assert_eq!(Value::Object(row.clone()), expected, "{text}");
            let keys: Vec<&String> = row.keys().collect();
            let expected_keys: Vec<&String> = expected.as_object().unwrap().keys().collect();
            assert_eq!(keys, expected_keys, "order of {text}");
        }
        assert!(object("[1]").is_err());
        assert!(object("{").is_err());
        let rows = objects(r#"[{"c":1,"occurrences":3},{"c":2,"occurrences":2}]"#).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["occurrences"], json!(2));
    }

    #[test]
    fn first_numbers() {
        for (row, expected) in [
            (json!({"v": 5}), Ok(Some(5.0))),
            (json!({"v": -3.25, "w": 1}), Ok(Some(-3.25))),
            (json!({"v": "42.5"}), Ok(Some(42.5))),
            (json!({"v": null}), Ok(None)),
            (
                json!({"v": "abc"}),
                Err("\"abc\" is not a number".to_string()),
            ),
            (json!({"v": true}), Err("true is not a number".to_string())),
            (json!({}), Err("no column".to_string())),
        ] {
            let map = row.as_object().unwrap().clone();
            assert_eq!(first_number(&map), expected, "{row}");
        }
    }
}
