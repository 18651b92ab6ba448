//! What can go wrong talking to a target, in words a person can act on.
//! Backends map their driver errors onto these variants at the edge, so the
//! orchestration (and the worker above it) never sees a driver type.

use std::time::Duration;

use dq_core::Dataset;

/// Causes are kept as text: the same error serves every rule that needed the
/// failed query, and ends up in a run's error column anyway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("cannot connect to target {target}: {cause}")]
    Connect { target: String, cause: String },
    #[error("query failed: {cause}")]
    Query { cause: String },
    #[error("dataset {dataset} not found on target {target}")]
    DatasetNotFound { dataset: String, target: String },
    #[error("column {column} not found in dataset {dataset} on target {target}")]
    ColumnNotFound {
        column: String,
        dataset: String,
        target: String,
    },
    #[error("timed out after {}", format_duration(*after))]
    Timeout { after: Duration },
    /// `url` is shown with any password masked ([`redact_url`]).
    #[error(
        "unsupported target url {url:?} (expected sqlite://PATH, sqlite:PATH, \
         postgres://..., postgresql://..., mongodb://..., mongodb+srv://... or noop://)"
    )]
    Unsupported { url: String },
    /// A URL of a known scheme that does not parse: fixing the configuration
    /// is the only cure, so unlike [`TargetError::Connect`] it is not retried.
    #[error("invalid url {url} for target {target}: {cause}")]
    InvalidUrl {
        target: String,
        url: String,
        cause: String,
    },
}

/// Where an error happened, to word it: a missing table in the scan is the
/// rule's dataset; in custom SQL it is whatever the author wrote.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Context<'a> {
    Dataset(&'a Dataset),
    CustomSql,
}

impl TargetError {
    /// A connection problem may go away by itself; a bad query or a missing
    /// table will not, so retrying those only repeats the failure.
    pub fn is_retriable(&self) -> bool {
        matches!(self, TargetError::Connect { .. })
    }

    pub(crate) fn query(cause: impl Into<String>) -> Self {
        TargetError::Query {
            cause: cause.into(),
        }
    }
}

pub use dq_core::redact_url;

/// `30s`, `1.5s`, `250ms`: short, and exact for the whole seconds timeouts
/// are usually given in.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_retriability() {
        for (error, message, retriable) in [
            (
                TargetError::Connect {
                    target: "wh".into(),
                    cause: "file /x.db does not exist".into(),
                },
                "cannot connect to target wh: file /x.db does not exist",
                true,
            ),
            (
                TargetError::query("no such column: x"),
                "query failed: no such column: x",
                false,
            ),
            (
                TargetError::DatasetNotFound {
                    dataset: "orders".into(),
                    target: "wh".into(),
                },
                "dataset orders not found on target wh",
                false,
            ),
            (
                TargetError::ColumnNotFound {
                    column: "custmer_id".into(),
                    dataset: "orders".into(),
                    target: "wh".into(),
                },
                "column custmer_id not found in dataset orders on target wh",
                false,
            ),
            (
                TargetError::Timeout {
                    after: Duration::from_secs(30),
                },
                "timed out after 30s",
                false,
            ),
            (
                TargetError::Timeout {
                    after: Duration::from_millis(250),
                },
                "timed out after 250ms",
                false,
            ),
            (
                TargetError::Timeout {
                    after: Duration::from_millis(1500),
                },
                "timed out after 1.5s",
                false,
            ),
        ] {
            assert_eq!(error.to_string(), message);
            assert_eq!(error.is_retriable(), retriable, "{message}");
        }
    }
}
