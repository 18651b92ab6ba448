//! How model values sit in SQLite columns: timestamps as fixed-width RFC 3339
//! text in UTC with microseconds (text order is time order, and PostgreSQL's
//! timestamptz keeps the same precision), JSON as text, lists as one JSON
//! array (read with `json_each`). Counts, numbers, booleans and text are
//! SQLite's own.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite};

use crate::sql::{Codec, Query};

fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn text(row: &SqliteRow, column: &str) -> Result<Option<String>, String> {
    row.try_get(column).map_err(|e| e.to_string())
}

impl Codec for Sqlite {
    fn bind_time(query: Query<'_, Self>, at: Option<DateTime<Utc>>) -> Query<'_, Self> {
        query.bind(at.map(ts))
    }

    fn bind_json(query: Query<'_, Self>, value: Option<serde_json::Value>) -> Query<'_, Self> {
        query.bind(value.map(|v| v.to_string()))
    }

    fn bind_texts(query: Query<'_, Self>, values: Vec<String>) -> Query<'_, Self> {
        query.bind(serde_json::Value::from(values).to_string())
    }

    fn bind_ints(query: Query<'_, Self>, values: Vec<i64>) -> Query<'_, Self> {
        query.bind(serde_json::Value::from(values).to_string())
    }

    fn read_time(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>, String> {
        text(row, column)?
            .map(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| format!("{t:?}: {e}"))
            })
            .transpose()
    }

    fn read_json(row: &SqliteRow, column: &str) -> Result<Option<serde_json::Value>, String> {
        text(row, column)?
            .map(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_are_fixed_width_so_text_order_is_time_order() {
        let base = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
        let times = [
            base,
            base + chrono::Duration::nanoseconds(1_000),
            base + chrono::Duration::milliseconds(500),
            base + chrono::Duration::seconds(1),
        ];
        let texts: Vec<String> = times.iter().map(|t| ts(*t)).collect();
        assert_eq!(texts[0], "2026-03-29T01:00:00.000000Z");
        assert!(texts.windows(2).all(|w| w[0] < w[1]), "{texts:?}");
        assert!(texts.iter().all(|t| t.len() == texts[0].len()));
        let parsed: Vec<DateTime<Utc>> = texts
            .iter()
            .map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
            .collect();
        assert_eq!(parsed, times);
    }
}
