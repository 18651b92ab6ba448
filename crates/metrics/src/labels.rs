//! The label sets of the families. Label values are the names dq prints
//! everywhere else: rule names, queue names (`dq_database`), severities and
//! statuses in capitals (`CRITICAL`, `PASSED`).

use prometheus_client::encoding::EncodeLabelSet;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    pub rule: String,
    pub queue: String,
    /// The rule's own severity (not the violation's), so "critical rules'
    /// pass rate" is one selector.
    pub severity: String,
    pub status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SeverityLabels {
    pub severity: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub rule: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FreshnessLabels {
    pub rule: String,
    pub target: String,
    pub dataset: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub queue: String,
    /// `acked`, `retried`, `dead_lettered` or `duplicate`.
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabels {
    /// The channel's name in `[alerts.channels]`.
    pub channel: String,
}
