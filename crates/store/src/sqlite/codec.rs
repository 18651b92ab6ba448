//! How model values sit in SQLite columns: timestamps as fixed-width RFC 3339
//! text in UTC with microseconds (text order is time order, and PostgreSQL's
//! timestamptz keeps the same precision), JSON as text, counts as INTEGER,
//! enums and names by their text form. Reading back, anything that does not
//! parse is `Corrupt`, naming the table row and column.

use std::fmt::Display;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::error::{Result, StoreError};

pub(super) fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(super) fn opt_ts(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(ts)
}

pub(super) fn json_text(value: &impl Serialize, what: &str) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Invalid(format!("{what} cannot be written as JSON: {e}")))
}

pub(super) fn count_to_sql(value: Option<u64>, what: &str) -> Result<Option<i64>> {
    value
        .map(|v| {
            i64::try_from(v).map_err(|_| StoreError::Invalid(format!("{what} {v} is too large")))
        })
        .transpose()
}

/// SQLite stores NaN as NULL (and PostgreSQL would keep it): neither is a
/// measurement, so non-finite numbers are refused before writing.
pub(super) fn finite(value: Option<f64>, what: &str) -> Result<Option<f64>> {
    match value {
        Some(v) if !v.is_finite() => Err(StoreError::Invalid(format!(
            "{what} is {v}, which is not a finite number"
        ))),
        _ => Ok(value),
    }
}

/// Where a stored value came from, for `Corrupt` messages.
#[derive(Clone, Copy)]
pub(super) struct Origin<'a> {
    pub table: &'static str,
    pub key: &'a dyn Display,
}

impl Origin<'_> {
    pub(super) fn parse<T, E: Display>(
        self,
        column: &str,
        parsed: std::result::Result<T, E>,
    ) -> Result<T> {
        parsed.map_err(|e| {
            StoreError::corrupt(
                format_args!("{} {} column {column}", self.table, self.key),
                e,
            )
        })
    }

    pub(super) fn ts(self, column: &str, text: &str) -> Result<DateTime<Utc>> {
        self.parse(
            column,
            DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)),
        )
    }

    pub(super) fn opt_ts(self, column: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>> {
        text.map(|t| self.ts(column, t)).transpose()
    }

    pub(super) fn json<T: serde::de::DeserializeOwned>(
        self,
        column: &str,
        text: &str,
    ) -> Result<T> {
        self.parse(column, serde_json::from_str(text))
    }

    pub(super) fn count(self, column: &str, value: Option<i64>) -> Result<Option<u64>> {
        value
            .map(|v| self.parse(column, u64::try_from(v)))
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
        let key = "x";
        let origin = Origin {
            table: "runs",
            key: &key,
        };
        assert_eq!(origin.ts("at", &texts[2]).unwrap(), times[2]);
        assert!(matches!(
            origin.ts("at", "yesterday"),
            Err(StoreError::Corrupt(m)) if m.contains("runs x column at")
        ));
    }
}
