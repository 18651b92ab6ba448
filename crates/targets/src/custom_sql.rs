//! Screening of user-written queries (custom_sql rules) before a backend
//! wraps them as a subquery. The real guarantee is the read-only connection;
//! screening gives the author a clear message instead of a syntax error from
//! the wrapper, and refuses what no check should ever send.

use crate::error::TargetError;

/// Statements a check must never run. Whole words only, outside literals,
/// quoted names and comments; `REPLACE` is left out because it is also a
/// common string function (and `INSERT OR REPLACE` is caught by `INSERT`).
const WRITE_KEYWORDS: [&str; 11] = [
    "INSERT", "UPDATE", "DELETE", "DROP", "ALTER", "CREATE", "ATTACH", "DETACH", "PRAGMA",
    "VACUUM", "REINDEX",
];

/// A user's query, ready to be wrapped as a subquery: one trailing `;`
/// removed, and refused unless it is one query that only reads. The
/// connection is read-only anyway; this gives the author a clear message
/// instead of a syntax error from the wrapper.
pub(crate) fn custom_body(sql: &str) -> Result<String, TargetError> {
    let body = sql.trim();
    let body = body.strip_suffix(';').unwrap_or(body).trim_end();
    let refuse = |why: String| {
        Err(TargetError::query(format!(
            "custom SQL must be one read-only query ({why}); checks run read-only and never write"
        )))
    };
    let keyword = first_keyword(body);
    if !["SELECT", "WITH", "VALUES"].contains(&keyword.to_ascii_uppercase().as_str()) {
        let found = if keyword.is_empty() {
            "nothing"
        } else {
            keyword
        };
        return refuse(format!(
            "starting with SELECT, WITH or VALUES, found {found}"
        ));
    }
    let code = code_only(body);
    if code.contains(';') {
        return refuse("found several statements separated by ';'".into());
    }
    let upper = code.to_ascii_uppercase();
    if let Some(word) = upper
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| WRITE_KEYWORDS.contains(w))
    {
        return refuse(format!("found {word}"));
    }
    Ok(body.to_string())
}

/// A scalar query that did not return exactly one row (`rows` is 0 or 2,
/// for "more than one"): the same words on every backend.
pub(crate) fn scalar_row_count_error(rows: usize) -> TargetError {
    let found = if rows == 0 {
        "no row"
    } else {
        "more than one row"
    };
    TargetError::query(format!(
        "custom SQL in scalar mode returned {found} (expected exactly one row with one value)"
    ))
}

/// A scalar query whose value is no number; `why` says what came back.
pub(crate) fn scalar_value_error(why: &str) -> TargetError {
    TargetError::query(format!(
        "custom SQL in scalar mode returned {why} (expected a number)"
    ))
}

/// The SQL with string literals, quoted names and comments blanked, so
/// screening does not trip on `note = 'drop; it'`.
fn code_only(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let close = match c {
            '\'' | '"' | '`' => Some(c),
            '[' => Some(']'),
            _ => None,
        };
        if let Some(close) = close {
            // A doubled quote closes and reopens, which this handles.
            for inner in chars.by_ref() {
                if inner == close {
                    break;
                }
            }
            out.push(' ');
        } else if c == '-' && chars.peek() == Some(&'-') {
            for inner in chars.by_ref() {
                if inner == '\n' {
                    break;
                }
            }
            out.push(' ');
        } else if c == '/' && chars.peek() == Some(&'*') {
            chars.next();
            let mut previous = ' ';
            for inner in chars.by_ref() {
                if previous == '*' && inner == '/' {
                    break;
                }
                previous = inner;
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// The first word, past whitespace, comments and opening parentheses.
fn first_keyword(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_sql_must_be_a_query() {
        for (input, ok) in [
            ("SELECT * FROM t;", Some("SELECT * FROM t")),
            ("  select 1 ;  ", Some("select 1")),
            (
                "WITH x AS (SELECT 1) SELECT * FROM x",
                Some("WITH x AS (SELECT 1) SELECT * FROM x"),
            ),
            ("-- why\n(SELECT 1)", Some("-- why\n(SELECT 1)")),
            ("/* c */ values (1)", Some("/* c */ values (1)")),
            ("DELETE FROM t", None),
            ("  ;", None),
            ("PRAGMA query_only = OFF", None),
            ("SELECT 1; DELETE FROM t", None),
            ("SELECT 1;; ", None),
            (
                "SELECT ';' AS a, \"x;y\" FROM t -- done; really\n",
                Some("SELECT ';' AS a, \"x;y\" FROM t -- done; really"),
            ),
            ("SELECT 1 /* a; b */ + 1;", Some("SELECT 1 /* a; b */ + 1")),
            ("SELECT 'it''s; fine'", Some("SELECT 'it''s; fine'")),
            ("WITH x AS (SELECT 1) DELETE FROM t", None),
            (
                "SELECT replace(name, 'a', 'b'), \"update\" FROM t",
                Some("SELECT replace(name, 'a', 'b'), \"update\" FROM t"),
            ),
            (
                "SELECT 'drop it' AS note, created_at FROM t",
                Some("SELECT 'drop it' AS note, created_at FROM t"),
            ),
        ] {
            let result = custom_body(input);
            assert_eq!(result.as_deref().ok(), ok, "{input:?}");
            if let Err(e) = result {
                assert!(e.to_string().contains("read-only"), "{e}");
            }
        }
    }
}
