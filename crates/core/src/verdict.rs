//! The outcome of judging one rule's observation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::severity::Severity;

/// The life of a run. PENDING and RUNNING belong to the fleet; the others are
/// final. WARNED means the warn bound was crossed but not the fail bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    Pending,
    Running,
    Passed,
    Warned,
    Failed,
    Error,
    Timeout,
    Skipped,
}

impl RunStatus {
    pub const ALL: [RunStatus; 8] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Passed,
        RunStatus::Warned,
        RunStatus::Failed,
        RunStatus::Error,
        RunStatus::Timeout,
        RunStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "PENDING",
            RunStatus::Running => "RUNNING",
            RunStatus::Passed => "PASSED",
            RunStatus::Warned => "WARNED",
            RunStatus::Failed => "FAILED",
            RunStatus::Error => "ERROR",
            RunStatus::Timeout => "TIMEOUT",
            RunStatus::Skipped => "SKIPPED",
        }
    }

    /// A run with this status records a violation.
    pub fn is_violation(self) -> bool {
        matches!(self, RunStatus::Failed | RunStatus::Warned)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown run status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for RunStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: RunStatus,
    /// Set for FAILED (the rule's severity) and WARNED (INFO): the severity
    /// of the violation this verdict records.
    pub severity: Option<Severity>,
    /// One line a person reads: `null_rate 0.62% > 0.5%`.
    pub message: String,
    /// The primary measure, when there is one.
    pub observed: Option<f64>,
    /// What the thresholds allow, as text: `<= 0.5%`.
    pub expected: String,
}

impl Verdict {
    pub fn error(cause: impl Into<String>) -> Self {
        Verdict {
            status: RunStatus::Error,
            severity: None,
            message: cause.into(),
            observed: None,
            expected: String::new(),
        }
    }
}
