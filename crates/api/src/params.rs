//! Query parameters, read by hand so that every problem names its
//! parameter: an unknown one, a repeated one, a value that does not parse.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};

use crate::error::ApiError;

/// Most items one page holds, and how many when `limit` is not given.
pub const MAX_PAGE: u32 = 1000;
pub const DEFAULT_PAGE: u32 = 100;

pub struct Params {
    values: BTreeMap<String, Vec<String>>,
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::bad_request(format!("unreadable query string: {e}")))?;
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in pairs {
            values.entry(name).or_default().push(value);
        }
        Ok(Params { values })
    }
}

impl Params {
    /// Refuses any parameter not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.values.keys().find(|k| !known.contains(&k.as_str())) {
            Some(unknown) => Err(ApiError::bad_field(
                unknown,
                format!(
                    "unknown parameter {unknown:?} (expected one of {})",
                    known.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    /// Every value given for `name` (it may repeat), each parsed.
    pub fn all<T: FromStr>(&self, name: &str) -> Result<Vec<T>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        self.values
            .get(name)
            .into_iter()
            .flatten()
            .map(|v| parse(name, v))
            .collect()
    }

    /// The one value of `name`, parsed; repeating it is an error.
    pub fn one<T: FromStr>(&self, name: &str) -> Result<Option<T>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        match self.values.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([value]) => parse(name, value).map(Some),
            Some(_) => Err(ApiError::bad_field(
                name,
                format!("{name} is given more than once"),
            )),
        }
    }

    /// An RFC 3339 time (`2026-11-26T06:00:00Z`).
    pub fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.one::<DateTime<Utc>>(name)
    }

    pub fn flag(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.one::<bool>(name)
    }

    /// Page size: 1 to [`MAX_PAGE`], [`DEFAULT_PAGE`] when absent.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.one::<u32>("limit")? {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::bad_field(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}, not {n}"),
            )),
        }
    }
}

fn parse<T: FromStr>(name: &str, value: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e| ApiError::bad_field(name, format!("{name}={value:?}: {e}")))
}

/// A position in a listing ordered newest first: the (time, id) of the
/// last item of the previous page, written `MICROS_ID`.
pub fn cursor(at: DateTime<Utc>, id: impl std::fmt::Display) -> String {
    format!("{}_{id}", at.timestamp_micros())
}

pub fn parse_cursor<T: FromStr>(text: &str) -> Result<(DateTime<Utc>, T), ApiError> {
    let bad = || ApiError::bad_field("cursor", "not a cursor this API returned (next_cursor)");
    let (micros, id) = text.split_once('_').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}
