//! How model values sit in PostgreSQL columns: all native. Timestamps are
//! `timestamptz` (microseconds, like SQLite's text form), JSON is `jsonb`,
//! lists are arrays (compared with `= ANY`).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, Row};

use crate::sql::{Codec, Query};

impl Codec for Postgres {
    fn bind_time(query: Query<'_, Self>, at: Option<DateTime<Utc>>) -> Query<'_, Self> {
        query.bind(at)
    }

    fn bind_json(query: Query<'_, Self>, value: Option<serde_json::Value>) -> Query<'_, Self> {
        query.bind(value.map(Json))
    }

    fn bind_texts(query: Query<'_, Self>, values: Vec<String>) -> Query<'_, Self> {
        query.bind(values)
    }

    fn bind_ints(query: Query<'_, Self>, values: Vec<i64>) -> Query<'_, Self> {
        query.bind(values)
    }

    fn read_time(row: &PgRow, column: &str) -> Result<Option<DateTime<Utc>>, String> {
        row.try_get(column).map_err(|e| e.to_string())
    }

    fn read_json(row: &PgRow, column: &str) -> Result<Option<serde_json::Value>, String> {
        let value: Option<Json<serde_json::Value>> =
            row.try_get(column).map_err(|e| e.to_string())?;
        Ok(value.map(|Json(v)| v))
    }
}
