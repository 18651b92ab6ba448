//! Which rows a check sees. Rules on one dataset with the same scope share
//! one scan; a different scope is a different scan.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::names::Identifier;

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    /// `use_sampling` + `sample_size`: check about this many rows, not all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_size: Option<u64>,
    /// A validated SQL condition ANDed into every query on the dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<RowFilter>,
    /// `partition_column` + `window`: only rows whose column is within the window of now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
}

impl Scope {
    pub fn is_whole_table(&self) -> bool {
        self == &Scope::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Window {
    pub column: Identifier,
    #[serde(with = "crate::rule::duration_secs")]
    pub length: Duration,
}

/// A WHERE condition written by a rule author. It is pasted into SQL, so it
/// is screened here (no statement separators, comments or write keywords,
/// balanced quotes and parentheses) and then only ever run read-only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RowFilter(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("is empty")]
    Empty,
    #[error("contains {0:?}; a filter is one condition, not statements or comments")]
    Forbidden(&'static str),
    #[error("contains the keyword {0}; a filter may only read")]
    WriteKeyword(String),
    #[error("has an unterminated string literal")]
    UnterminatedString,
    #[error("has unbalanced parentheses")]
    UnbalancedParentheses,
}

const WRITE_KEYWORDS: [&str; 14] = [
    "INSERT", "UPDATE", "DELETE", "DROP", "ALTER", "CREATE", "TRUNCATE", "GRANT", "REVOKE",
    "ATTACH", "DETACH", "PRAGMA", "VACUUM", "COPY",
];

impl RowFilter {
    pub fn new(text: &str) -> Result<Self, FilterError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(FilterError::Empty);
        }
        let outside = outside_string_literals(text)?;
        for forbidden in [";", "--", "/*", "*/"] {
            if outside.contains(forbidden) {
                return Err(FilterError::Forbidden(forbidden));
            }
        }
        let mut depth = 0i32;
        for c in outside.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth < 0 {
                return Err(FilterError::UnbalancedParentheses);
            }
        }
        if depth != 0 {
            return Err(FilterError::UnbalancedParentheses);
        }
        let upper = outside.to_ascii_uppercase();
        for word in upper.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if WRITE_KEYWORDS.contains(&word) {
                return Err(FilterError::WriteKeyword(word.to_string()));
            }
        }
        Ok(RowFilter(text.to_string()))
    }

    pub fn as_sql(&self) -> &str {
        &self.0
    }
}

/// The text with the contents of '...' and "..." literals blanked, so the
/// screening above does not trip on `note = 'drop; it'`.
fn outside_string_literals(text: &str) -> Result<String, FilterError> {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => out.push(' '),
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    // A doubled quote ('it''s') closes and reopens, which the loop handles.
    if quote.is_some() {
        return Err(FilterError::UnterminatedString);
    }
    Ok(out)
}

impl TryFrom<String> for RowFilter {
    type Error = FilterError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RowFilter::new(&value)
    }
}

impl From<RowFilter> for String {
    fn from(value: RowFilter) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_screened() {
        for (input, expected) in [
            ("status = 'paid'", Ok(())),
            ("note = 'drop; it -- now'", Ok(())),
            ("name = 'it''s'", Ok(())),
            ("amount > 0 AND (country = 'FR' OR country = 'DE')", Ok(())),
            ("updated_at > '2025-01-01'", Ok(())),
            ("", Err(FilterError::Empty)),
            ("1=1; DELETE FROM t", Err(FilterError::Forbidden(";"))),
            ("1=1 -- comment", Err(FilterError::Forbidden("--"))),
            ("1=1 /* x */", Err(FilterError::Forbidden("/*"))),
            (
                "id IN (DELETE FROM t RETURNING id)",
                Err(FilterError::WriteKeyword("DELETE".into())),
            ),
            ("status = 'paid", Err(FilterError::UnterminatedString)),
            ("(a = 1", Err(FilterError::UnbalancedParentheses)),
            ("a = 1)", Err(FilterError::UnbalancedParentheses)),
            ("updated = 1", Ok(())),
        ] {
            assert_eq!(RowFilter::new(input).map(|_| ()), expected, "{input:?}");
        }
    }
}
