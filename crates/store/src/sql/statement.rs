//! A statement and its arguments, held backend-neutral until a backend
//! binds them. Arguments are checked here on the way in (finite numbers,
//! counts that fit a column, values that serialise), so both backends refuse
//! the same bad values with the same message.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Encode, SqlSafeStr, SqlStr, Type};

use super::{Codec, Query};
use crate::error::{Result, StoreError};

pub(crate) struct Statement {
    sql: SqlStr,
    args: Vec<Arg>,
}

/// One bound value. `Texts` and `Ints` are whole lists in one placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
    Bool(bool),
    Time(Option<DateTime<Utc>>),
    Json(Option<serde_json::Value>),
    Texts(Vec<String>),
    Ints(Vec<i64>),
}

impl Statement {
    pub(crate) fn new(sql: &'static str) -> Self {
        Statement {
            sql: sql.into_sql_str(),
            args: Vec::new(),
        }
    }

    /// SQL assembled at run time by [`super::Conditions`], only ever from
    /// `&'static str` fragments and placeholders.
    pub(super) fn assembled(sql: String, args: Vec<Arg>) -> Self {
        Statement {
            sql: AssertSqlSafe(sql).into_sql_str(),
            args,
        }
    }

    /// One statement writing many rows: `head` (ending in `VALUES`), a
    /// parenthesised group of placeholders per row, then `tail`. Each row
    /// is a statement whose arguments are its values (its SQL unused), all
    /// rows the same width. Only static fragments and placeholders go in.
    pub(crate) fn rows(head: &'static str, rows: Vec<Statement>, tail: &'static str) -> Self {
        let mut sql = String::from(head);
        let mut args = Vec::new();
        for (i, row) in rows.into_iter().enumerate() {
            sql.push_str(if i == 0 { " (" } else { ", (" });
            for j in 0..row.args.len() {
                if j > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", args.len() + j + 1));
            }
            sql.push(')');
            args.extend(row.args);
        }
        sql.push(' ');
        sql.push_str(tail);
        Statement::assembled(sql, args)
    }

    /// Binds the next placeholder.
    pub(crate) fn arg(mut self, value: impl Into<Arg>) -> Self {
        self.args.push(value.into());
        self
    }

    #[cfg(test)]
    pub(crate) fn parts(&self) -> (&str, &[Arg]) {
        (self.sql.as_str(), &self.args)
    }
}

impl Arg {
    pub(crate) fn json(value: &impl Serialize, what: &str) -> Result<Arg> {
        serde_json::to_value(value)
            .map(|v| Arg::Json(Some(v)))
            .map_err(|e| StoreError::Invalid(format!("{what} cannot be written as JSON: {e}")))
    }

    /// A count in a signed 64-bit column.
    pub(crate) fn count(value: Option<u64>, what: &str) -> Result<Arg> {
        value
            .map(|v| {
                i64::try_from(v)
                    .map_err(|_| StoreError::Invalid(format!("{what} {v} is too large")))
            })
            .transpose()
            .map(Arg::Int)
    }

    /// SQLite stores NaN as NULL and PostgreSQL would keep it: neither is a
    /// measurement, so non-finite numbers are refused before writing.
    pub(crate) fn finite(value: Option<f64>, what: &str) -> Result<Arg> {
        match value {
            Some(v) if !v.is_finite() => Err(StoreError::Invalid(format!(
                "{what} is {v}, which is not a finite number"
            ))),
            _ => Ok(Arg::Real(value)),
        }
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(Some(value.to_string()))
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(Some(value))
    }
}

impl From<Option<&str>> for Arg {
    fn from(value: Option<&str>) -> Self {
        Arg::Text(value.map(str::to_string))
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::Int(Some(value))
    }
}

impl From<bool> for Arg {
    fn from(value: bool) -> Self {
        Arg::Bool(value)
    }
}

impl From<DateTime<Utc>> for Arg {
    fn from(value: DateTime<Utc>) -> Self {
        Arg::Time(Some(value))
    }
}

impl From<Option<DateTime<Utc>>> for Arg {
    fn from(value: Option<DateTime<Utc>>) -> Self {
        Arg::Time(value)
    }
}

/// The sqlx query for `statement` on `DB`, every argument bound.
pub(crate) fn bound<'q, DB>(statement: Statement) -> Query<'q, DB>
where
    DB: Codec,
    Option<String>: for<'t> Encode<'t, DB> + Type<DB>,
    Option<i64>: for<'t> Encode<'t, DB> + Type<DB>,
    Option<f64>: for<'t> Encode<'t, DB> + Type<DB>,
    bool: for<'t> Encode<'t, DB> + Type<DB>,
{
    let query = sqlx::query(statement.sql);
    statement
        .args
        .into_iter()
        .fold(query, |query, arg| match arg {
            Arg::Text(v) => query.bind(v),
            Arg::Int(v) => query.bind(v),
            Arg::Real(v) => query.bind(v),
            Arg::Bool(v) => query.bind(v),
            Arg::Time(v) => DB::bind_time(query, v),
            Arg::Json(v) => DB::bind_json(query, v),
            Arg::Texts(v) => DB::bind_texts(query, v),
            Arg::Ints(v) => DB::bind_ints(query, v),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_refused_with_what_they_are() {
        let cases: Vec<(&str, Result<Arg>, Option<&str>)> = vec![
            ("finite", Arg::finite(Some(1.5), "v"), None),
            ("missing", Arg::finite(None, "v"), None),
            ("NaN", Arg::finite(Some(f64::NAN), "v"), Some("v is NaN")),
            (
                "infinite",
                Arg::finite(Some(f64::NEG_INFINITY), "v"),
                Some("v is -inf"),
            ),
            ("small count", Arg::count(Some(7), "rows"), None),
            (
                "huge count",
                Arg::count(Some(u64::MAX), "rows"),
                Some("rows 18446744073709551615 is too large"),
            ),
        ];
        for (label, result, refusal) in cases {
            match (result, refusal) {
                (Ok(_), None) => {}
                (Err(StoreError::Invalid(m)), Some(expected)) => {
                    assert!(m.contains(expected), "{label}: {m}")
                }
                (other, _) => panic!("{label}: {other:?}"),
            }
        }
        assert_eq!(Arg::count(Some(7), "rows").unwrap(), Arg::Int(Some(7)));
    }
}
