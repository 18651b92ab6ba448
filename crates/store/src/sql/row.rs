//! Reading stored rows, backend-neutral. [`StoredRow`] is each backend's
//! row type seen column by column; [`Fields`] reads one row of one table and
//! turns anything unreadable into `Corrupt`, naming the row and column.

use std::fmt::Display;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::{ColumnIndex, Database, Decode, Row, Type};

use super::Codec;
use crate::error::{Result, StoreError};

/// A row's columns as the model's value types; `Err` says what is wrong
/// with the stored value.
pub(crate) trait StoredRow {
    fn text(&self, column: &str) -> Result<Option<String>, String>;
    fn int(&self, column: &str) -> Result<Option<i64>, String>;
    fn real(&self, column: &str) -> Result<Option<f64>, String>;
    fn boolean(&self, column: &str) -> Result<Option<bool>, String>;
    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, String>;
    fn json(&self, column: &str) -> Result<Option<serde_json::Value>, String>;
}

impl<R> StoredRow for R
where
    R: Row,
    R::Database: Database<Row = R> + Codec,
    for<'c> &'c str: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i64: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    f64: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    bool: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &str) -> Result<Option<String>, String> {
        self.try_get(column).map_err(|e| e.to_string())
    }

    fn int(&self, column: &str) -> Result<Option<i64>, String> {
        self.try_get(column).map_err(|e| e.to_string())
    }

    fn real(&self, column: &str) -> Result<Option<f64>, String> {
        self.try_get(column).map_err(|e| e.to_string())
    }

    fn boolean(&self, column: &str) -> Result<Option<bool>, String> {
        self.try_get(column).map_err(|e| e.to_string())
    }

    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, String> {
        R::Database::read_time(self, column)
    }

    fn json(&self, column: &str) -> Result<Option<serde_json::Value>, String> {
        R::Database::read_json(self, column)
    }
}

/// One row of `table`, known by `key` in error messages.
pub(crate) struct Fields<'r, R> {
    row: &'r R,
    table: &'static str,
    key: String,
}

impl<'r, R: StoredRow> Fields<'r, R> {
    /// Reads the row's text key column first, to name the row in errors.
    pub(crate) fn keyed_by_text(
        row: &'r R,
        table: &'static str,
        column: &str,
    ) -> Result<(Self, String)> {
        let key = Self::unkeyed(row, table).text(column)?;
        Ok((Self::keyed(row, table, &key), key))
    }

    /// Reads the row's integer key column first, to name the row in errors.
    pub(crate) fn keyed_by_int(
        row: &'r R,
        table: &'static str,
        column: &str,
    ) -> Result<(Self, i64)> {
        let key = Self::unkeyed(row, table).int(column)?;
        Ok((Self::keyed(row, table, key), key))
    }

    /// A row with no key of its own (an aggregate).
    pub(crate) fn of(row: &'r R, table: &'static str) -> Self {
        Self::keyed(row, table, "(aggregate)")
    }

    fn unkeyed(row: &'r R, table: &'static str) -> Self {
        Self::keyed(row, table, "?")
    }

    fn keyed(row: &'r R, table: &'static str, key: impl Display) -> Self {
        Fields {
            row,
            table,
            key: key.to_string(),
        }
    }

    pub(crate) fn corrupt(&self, column: &str, detail: impl Display) -> StoreError {
        StoreError::corrupt(
            format_args!("{} {} column {column}", self.table, self.key),
            detail,
        )
    }

    fn checked<T>(&self, column: &str, value: Result<Option<T>, String>) -> Result<Option<T>> {
        value.map_err(|e| self.corrupt(column, e))
    }

    fn required<T>(&self, column: &str, value: Result<Option<T>, String>) -> Result<T> {
        self.checked(column, value)?
            .ok_or_else(|| self.corrupt(column, "is NULL"))
    }

    pub(crate) fn text(&self, column: &str) -> Result<String> {
        self.required(column, self.row.text(column))
    }

    pub(crate) fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.checked(column, self.row.text(column))
    }

    pub(crate) fn int(&self, column: &str) -> Result<i64> {
        self.required(column, self.row.int(column))
    }

    pub(crate) fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.checked(column, self.row.int(column))
    }

    pub(crate) fn real(&self, column: &str) -> Result<f64> {
        self.required(column, self.row.real(column))
    }

    pub(crate) fn opt_real(&self, column: &str) -> Result<Option<f64>> {
        self.checked(column, self.row.real(column))
    }

    pub(crate) fn boolean(&self, column: &str) -> Result<bool> {
        self.required(column, self.row.boolean(column))
    }

    pub(crate) fn time(&self, column: &str) -> Result<DateTime<Utc>> {
        self.required(column, self.row.time(column))
    }

    pub(crate) fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        self.checked(column, self.row.time(column))
    }

    pub(crate) fn raw_json(&self, column: &str) -> Result<serde_json::Value> {
        self.required(column, self.row.json(column))
    }

    pub(crate) fn json<T: DeserializeOwned>(&self, column: &str) -> Result<T> {
        let value = self.raw_json(column)?;
        serde_json::from_value(value).map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn opt_json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>> {
        self.checked(column, self.row.json(column))?
            .map(|value| serde_json::from_value(value).map_err(|e| self.corrupt(column, e)))
            .transpose()
    }

    /// A non-negative count.
    pub(crate) fn count(&self, column: &str) -> Result<Option<u64>> {
        self.opt_int(column)?
            .map(|v| u64::try_from(v).map_err(|e| self.corrupt(column, e)))
            .transpose()
    }

    /// A text column holding an enum or a validated name.
    pub(crate) fn parsed<T>(&self, column: &str) -> Result<T>
    where
        T: FromStr<Err: Display>,
    {
        let text = self.text(column)?;
        text.parse().map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn opt_parsed<T>(&self, column: &str) -> Result<Option<T>>
    where
        T: FromStr<Err: Display>,
    {
        self.opt_text(column)?
            .map(|text| text.parse().map_err(|e| self.corrupt(column, e)))
            .transpose()
    }

    /// Any other conversion of a column's value.
    pub(crate) fn convert<T, E: Display>(
        &self,
        column: &str,
        converted: std::result::Result<T, E>,
    ) -> Result<T> {
        converted.map_err(|e| self.corrupt(column, e))
    }
}
