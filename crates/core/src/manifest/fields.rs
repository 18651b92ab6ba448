//! Typed readers for single values: each returns the value, or reports what
//! is wrong with it (and what was expected) and returns `None`.

use std::time::Duration;

use super::error::{Field, Problems};
use super::yaml::{Node, Scalar, Value};
use crate::names::{Dataset, Identifier, NameError};

pub const A_COLUMN: &str = "a column name such as customer_id";
pub const A_DURATION: &str = "a duration such as 30s, 15m, 2h or 1d";

/// "5 is a number (expected a string)": what the value is, then what was expected.
pub fn wrong_type(node: &Node, expected: &str) -> String {
    let what = match &node.value {
        Value::Map(_) => "is a mapping".to_string(),
        Value::Seq(_) => "is a list".to_string(),
        Value::Scalar(Scalar::Null) => "has no value".to_string(),
        Value::Scalar(Scalar::Bool(b)) => format!("{b} is a boolean"),
        Value::Scalar(Scalar::Int(i)) => format!("{i} is a number"),
        Value::Scalar(Scalar::Float(f)) => format!("{f} is a number"),
        Value::Scalar(Scalar::Str(s)) => format!("{s:?} is a string"),
    };
    format!("{what} (expected {expected})")
}

/// A name error, with what was expected when the error does not say it.
pub fn name_problem(error: &NameError, expected: &str) -> String {
    match error {
        NameError::Empty => format!("is empty (expected {expected})"),
        NameError::BadStart(_) | NameError::EmptyPart(_) => {
            format!("{error} (expected {expected})")
        }
        _ => error.to_string(),
    }
}

/// A field the same reader applies to at another place (a list item).
fn item<'n>(field: &Field<'n>, node: &'n Node) -> Field<'n> {
    Field {
        line: node.line,
        node,
        ..*field
    }
}

pub fn text(p: &mut Problems<'_>, f: &Field<'_>) -> Option<String> {
    match &f.node.value {
        Value::Scalar(Scalar::Str(s)) if s.trim().is_empty() => {
            p.at(f, "is empty (expected some text)");
            None
        }
        Value::Scalar(Scalar::Str(s)) => Some(s.clone()),
        _ => {
            p.at(f, wrong_type(f.node, "a string"));
            None
        }
    }
}

pub fn boolean(p: &mut Problems<'_>, f: &Field<'_>) -> Option<bool> {
    match f.node.value {
        Value::Scalar(Scalar::Bool(b)) => Some(b),
        _ => {
            p.at(f, wrong_type(f.node, "true or false"));
            None
        }
    }
}

pub fn number(p: &mut Problems<'_>, f: &Field<'_>) -> Option<f64> {
    match f.node.value {
        Value::Scalar(Scalar::Int(i)) => Some(i as f64),
        Value::Scalar(Scalar::Float(x)) => Some(x),
        _ => {
            p.at(f, wrong_type(f.node, "a number"));
            None
        }
    }
}

/// A whole number in `[low, u64::MAX]`.
pub fn whole(p: &mut Problems<'_>, f: &Field<'_>, low: u64) -> Option<u64> {
    let expected = match low {
        0 => "a whole number >= 0".to_string(),
        _ => format!("a whole number >= {low}"),
    };
    let value = match f.node.value {
        Value::Scalar(Scalar::Int(i)) => u64::try_from(i).ok(),
        // `as` saturates, so a huge whole float cannot wrap around.
        Value::Scalar(Scalar::Float(x)) if x.fract() == 0.0 => (x >= 0.0).then_some(x as u64),
        Value::Scalar(Scalar::Float(x)) => {
            p.at(
                f,
                format!("{x} is not a whole number (expected {expected})"),
            );
            return None;
        }
        _ => {
            p.at(f, wrong_type(f.node, &expected));
            return None;
        }
    };
    match value {
        Some(v) if v >= low => Some(v),
        _ => {
            p.at(
                f,
                format!("{} is too small (expected {expected})", show(f.node)),
            );
            None
        }
    }
}

pub fn whole_u32(p: &mut Problems<'_>, f: &Field<'_>) -> Option<u32> {
    let value = whole(p, f, 0)?;
    match u32::try_from(value) {
        Ok(v) => Some(v),
        Err(_) => {
            p.at(
                f,
                format!("{value} is too large (expected at most {})", u32::MAX),
            );
            None
        }
    }
}

fn show(node: &Node) -> String {
    match &node.value {
        Value::Scalar(Scalar::Int(i)) => i.to_string(),
        Value::Scalar(Scalar::Float(x)) => x.to_string(),
        _ => "the value".to_string(),
    }
}

/// A positive humantime duration of whole seconds (stored as seconds).
pub fn duration(p: &mut Problems<'_>, f: &Field<'_>) -> Option<Duration> {
    let Value::Scalar(Scalar::Str(text)) = &f.node.value else {
        p.at(f, wrong_type(f.node, A_DURATION));
        return None;
    };
    match humantime::parse_duration(text.trim()) {
        Err(e) => {
            // Only the unknown unit is worth naming; the examples say the rest.
            let reason = match e {
                humantime::DurationError::UnknownUnit { unit, .. } => {
                    format!(": unknown unit {unit:?}")
                }
                humantime::DurationError::NumberOverflow => ": too long".to_string(),
                _ => String::new(),
            };
            p.at(
                f,
                format!("{text:?} is not a duration{reason} (expected {A_DURATION})"),
            );
            None
        }
        Ok(d) if d.is_zero() => {
            p.at(f, format!("{text:?} is zero (expected {A_DURATION})"));
            None
        }
        Ok(d) if d.subsec_nanos() != 0 => {
            p.at(
                f,
                format!("{text:?} is not a whole number of seconds (expected {A_DURATION})"),
            );
            None
        }
        Ok(d) => Some(d),
    }
}

pub fn identifier(p: &mut Problems<'_>, f: &Field<'_>) -> Option<Identifier> {
    let Value::Scalar(Scalar::Str(text)) = &f.node.value else {
        p.at(f, wrong_type(f.node, A_COLUMN));
        return None;
    };
    Identifier::new(text.as_str())
        .map_err(|e| p.at(f, name_problem(&e, A_COLUMN)))
        .ok()
}

pub fn dataset(p: &mut Problems<'_>, f: &Field<'_>) -> Option<Dataset> {
    const EXPECTED: &str = "a table such as orders or public.orders";
    let Value::Scalar(Scalar::Str(text)) = &f.node.value else {
        p.at(f, wrong_type(f.node, EXPECTED));
        return None;
    };
    Dataset::parse(text)
        .map_err(|e| p.at(f, name_problem(&e, EXPECTED)))
        .ok()
}

/// The items of a list, each with its own line.
pub fn list<'n>(p: &mut Problems<'_>, f: &Field<'n>, expected: &str) -> Option<Vec<Field<'n>>> {
    match &f.node.value {
        Value::Seq(items) => Some(items.iter().map(|node| item(f, node)).collect()),
        _ => {
            p.at(f, wrong_type(f.node, expected));
            None
        }
    }
}

/// A list whose items all read with `read`; `None` if any item is bad.
pub fn list_of<'n, T>(
    p: &mut Problems<'_>,
    f: &Field<'n>,
    expected: &str,
    read: impl Fn(&mut Problems<'_>, &Field<'n>) -> Option<T>,
) -> Option<Vec<T>> {
    let items = list(p, f, expected)?;
    let values: Vec<Option<T>> = items.iter().map(|i| read(p, i)).collect();
    values.into_iter().collect()
}

pub fn non_empty_list_of<'n, T>(
    p: &mut Problems<'_>,
    f: &Field<'n>,
    expected: &str,
    read: impl Fn(&mut Problems<'_>, &Field<'n>) -> Option<T>,
) -> Option<Vec<T>> {
    let values = list_of(p, f, expected, read)?;
    if values.is_empty() {
        p.at(f, format!("is an empty list (expected {expected})"));
        return None;
    }
    Some(values)
}

/// The entries of a mapping: each key, and its value as a field named like
/// the mapping (`types`) but at the entry's own line.
pub fn map_entries<'n>(
    p: &mut Problems<'_>,
    f: &Field<'n>,
    expected: &str,
) -> Option<Vec<(&'n str, Field<'n>)>> {
    let Some(entries) = f.node.as_map() else {
        p.at(f, wrong_type(f.node, expected));
        return None;
    };
    Some(
        entries
            .iter()
            .map(|e| {
                let field = Field {
                    line: e.key_line,
                    node: &e.value,
                    ..*f
                };
                (e.key.as_str(), field)
            })
            .collect(),
    )
}

/// A free map kept as JSON (the rule's `parameters`).
pub fn json_object(
    p: &mut Problems<'_>,
    f: &Field<'_>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    match f.node.as_map() {
        Some(_) => match to_json(f.node) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            Ok(_) => None,
            Err(line) => {
                let at = Field { line, ..*f };
                p.at(
                    &at,
                    "has a number JSON cannot store (expected finite numbers)",
                );
                None
            }
        },
        None => {
            p.at(f, wrong_type(f.node, "a mapping of free parameters"));
            None
        }
    }
}

/// JSON for a YAML value; the error is the line of a non-finite number.
fn to_json(node: &Node) -> Result<serde_json::Value, usize> {
    use serde_json::Value as J;
    Ok(match &node.value {
        Value::Scalar(Scalar::Null) => J::Null,
        Value::Scalar(Scalar::Bool(b)) => J::Bool(*b),
        Value::Scalar(Scalar::Int(i)) => J::from(*i),
        Value::Scalar(Scalar::Float(x)) => {
            J::Number(serde_json::Number::from_f64(*x).ok_or(node.line)?)
        }
        Value::Scalar(Scalar::Str(s)) => J::String(s.clone()),
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|e| Ok((e.key.clone(), to_json(&e.value)?)))
                .collect::<Result<_, usize>>()?,
        ),
    })
}
