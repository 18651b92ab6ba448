//! Values as both backends agree on them: a key part that orders the way
//! both databases sort it (integers numerically, text bytewise), and a
//! column value reduced to a canonical text before it is hashed, so the
//! same datum stored by SQLite and by PostgreSQL hashes the same.
//!
//! Canonical forms: numbers by value (`5`, `5.0` and `5.00` are one
//! number), timestamps as the UTC instant they denote (naive ones read as
//! UTC, as everywhere in dq), booleans as `1`/`0` (SQLite's spelling; the
//! PostgreSQL reader selects them so), blobs in hex as PostgreSQL writes a bytea, everything else as
//! its text.

use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::Value;

/// One column of a row's key. Integers sort before text, as in SQLite.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum KeyPart {
    Int(i64),
    Text(String),
}

impl KeyPart {
    pub(crate) fn to_json(&self) -> Value {
        match self {
            KeyPart::Int(v) => Value::from(*v),
            KeyPart::Text(v) => Value::from(v.as_str()),
        }
    }
}

/// A column value as a driver decoded it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Datum<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// The hash of a value's canonical form: equal for equal data whichever
/// backend read it. Only compared within one run, so the hasher need not
/// be stable across builds.
pub(crate) fn hash(datum: Datum<'_>) -> u64 {
    let mut hasher = DefaultHasher::new();
    match datum {
        Datum::Null => 0u8.hash(&mut hasher),
        other => {
            1u8.hash(&mut hasher);
            canonical(other).hash(&mut hasher);
        }
    }
    hasher.finish()
}

fn canonical(datum: Datum<'_>) -> String {
    match datum {
        Datum::Null => String::new(),
        Datum::Int(v) => v.to_string(),
        Datum::Real(v) => number_text(v),
        // PostgreSQL's text of a bytea.
        Datum::Blob(bytes) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("\\x{hex}")
        }
        Datum::Text(text) => numeric_text(text)
            .or_else(|| timestamp_text(text))
            .unwrap_or_else(|| text.to_string()),
    }
}

/// A float as the shortest text that reads back as it; whole values with
/// no fraction, so `5.0` is `5`.
fn number_text(v: f64) -> String {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if v.fract() == 0.0 && v.abs() < EXACT {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Text that is a decimal number (PostgreSQL's text of an integer, numeric
/// or float), in canonical form.
fn numeric_text(text: &str) -> Option<String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        // Exponents and infinities (`1e+20`, `Infinity`) take the float path.
        let lower = text.to_ascii_lowercase();
        let floaty = text.starts_with(|c: char| c.is_ascii_digit() || c == '-')
            && (lower.contains('e') || lower.ends_with("infinity") || lower == "nan");
        return floaty
            .then(|| text.parse::<f64>().ok())
            .flatten()
            .map(number_text);
    }
    if !digits.contains('.') {
        // Whole numbers beyond f64's exact range stay exact.
        return text.parse::<i128>().ok().map(|v| v.to_string());
    }
    if digits.matches('.').count() > 1 || digits.starts_with('.') || digits.ends_with('.') {
        return None;
    }
    text.parse::<f64>().ok().map(number_text)
}

/// Text that is a timestamp, as the UTC instant it denotes.
fn timestamp_text(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let looks_like = bytes.len() >= 19
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && matches!(bytes[10], b' ' | b'T')
        && bytes[13] == b':';
    if !looks_like {
        return None;
    }
    let instant: DateTime<Utc> = DateTime::parse_from_rfc3339(text)
        .ok()
        // PostgreSQL's `2025-06-30 12:00:00+00` and `+05:30`.
        .or_else(|| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z").ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
                .map(|naive| naive.and_utc())
        })?;
    Some(instant.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_data_same_hash_across_spellings() {
        let same = [
            vec![
                Datum::Int(5),
                Datum::Real(5.0),
                Datum::Text("5"),
                Datum::Text("5.00"),
            ],
            vec![
                Datum::Real(12.5),
                Datum::Text("12.50"),
                Datum::Text("1.25e1"),
            ],
            vec![Datum::Int(-3), Datum::Text("-3"), Datum::Text("-3.0")],
            vec![
                Datum::Text("12345678901234567890"),
                Datum::Text("12345678901234567890"),
            ],
            vec![
                Datum::Text("2025-06-30 12:00:00+00"),
                Datum::Text("2025-06-30T12:00:00Z"),
                Datum::Text("2025-06-30 12:00:00"),
                Datum::Text("2025-06-30T14:00:00+02:00"),
            ],
            vec![
                Datum::Text("2025-06-30 12:00:00.250+00"),
                Datum::Text("2025-06-30T12:00:00.25Z"),
            ],
            vec![Datum::Text("paid"), Datum::Text("paid")],
            vec![Datum::Blob(&[0xde, 0xad]), Datum::Text("\\xdead")],
        ];
        for group in &same {
            let first = hash(group[0]);
            for datum in group {
                assert_eq!(hash(*datum), first, "{datum:?} vs {:?}", group[0]);
            }
        }
        for (a, b) in [
            (Datum::Null, Datum::Text("")),
            (Datum::Int(5), Datum::Real(5.5)),
            (Datum::Text("paid"), Datum::Text("Paid")),
            (
                Datum::Text("12345678901234567890"),
                Datum::Text("12345678901234567891"),
            ),
            (
                Datum::Text("2025-06-30 12:00:00+00"),
                Datum::Text("2025-06-30 12:00:01+00"),
            ),
            (Datum::Text("1.2.3"), Datum::Text("1.2.30")),
        ] {
            assert_ne!(hash(a), hash(b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn keys_order_like_sqlite() {
        let mut keys = vec![
            KeyPart::Text("b".into()),
            KeyPart::Int(10),
            KeyPart::Text("B".into()),
            KeyPart::Int(-1),
            KeyPart::Text("é".into()),
        ];
        keys.sort();
        assert_eq!(
            keys,
            [
                KeyPart::Int(-1),
                KeyPart::Int(10),
                KeyPart::Text("B".into()),
                KeyPart::Text("b".into()),
                KeyPart::Text("é".into()),
            ]
        );
    }
}
