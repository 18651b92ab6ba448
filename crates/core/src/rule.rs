//! A rule: one check on one dataset, with everything needed to schedule it,
//! run it, judge it and alert on it. Built only through manifest validation
//! (or deserialised from the store, which stored a validated rule).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::check::Check;
use crate::names::{Dataset, Identifier, RuleName};
use crate::queue::Queue;
use crate::schedule::Schedule;
use crate::scope::Scope;
use crate::severity::Severity;
use crate::threshold::Thresholds;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
pub const DEFAULT_SEVERITY: Severity = Severity::Medium;
pub const DEFAULT_SCHEDULE: &str = "0 * * * *";
pub const DEFAULT_TIMEZONE: &str = "UTC";
pub const DEFAULT_ALERT_COOLDOWN_MINUTES: u32 = 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: RuleName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// A datasource name from the configuration (`[targets.NAME]` in dq.toml).
    pub target: String,
    pub dataset: Dataset,
    pub check: Check,
    pub severity: Severity,
    pub thresholds: Thresholds,
    pub schedule: Schedule,
    pub queue: Queue,
    pub enabled: bool,
    /// Runs and records, but never alerts: a new rule watched before it
    /// pages anyone (`dq load --shadow`, then `dq rules promote`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
    /// Which rows the check sees: sampling, filter, recent partitions.
    #[serde(default, skip_serializing_if = "Scope::is_whole_table")]
    pub scope: Scope,
    #[serde(with = "duration_secs")]
    pub timeout: Duration,
    pub alert_cooldown_minutes: u32,
    /// Free-form parameters kept for the team's own tooling; dq ignores them.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub parameters: serde_json::Map<String, serde_json::Value>,
}

impl Rule {
    pub fn column(&self) -> Option<&Identifier> {
        self.check.column()
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// Durations are stored as whole seconds so the JSON is readable by SQL.
pub mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}
