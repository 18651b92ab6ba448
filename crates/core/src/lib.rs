//! dq-core: the rule model, the check catalogue, manifests, schedules and
//! the judge. Pure: no I/O, no async; everything here is tested with plain
//! data-driven unit tests.

pub mod anomaly;
pub mod catch_up;
pub mod check;
pub mod drift;
pub mod format;
pub mod judge;
pub mod manifest;
pub mod metric;
pub mod names;
pub mod observe;
pub mod plan;
pub mod queue;
pub mod reconciliation;
pub mod redact;
pub mod rule;
pub mod run_id;
pub mod schedule;
pub mod schema_diff;
pub mod scope;
pub mod severity;
pub mod threshold;
pub mod tuning;
pub mod verdict;

pub use check::{Check, CustomSqlMode, Literal, NamedFormat, Pattern, Unit};
pub use judge::judge;
pub use metric::{
    ColumnInfo, DatasetMetrics, Distribution, MetricRequest, MetricValue, RowPredicate,
    SampleRequest,
};
pub use names::{Dataset, Identifier, RuleName};
pub use observe::{observe, Measure, Observation, ObserveError};
pub use plan::{plan, ScanPlan};
pub use queue::Queue;
pub use redact::redact_url;
pub use rule::Rule;
pub use run_id::RunId;
pub use schedule::Schedule;
pub use scope::{RowFilter, Scope, Window};
pub use severity::Severity;
pub use threshold::{Bounds, Thresholds};
pub use tuning::Tuning;
pub use verdict::{RunStatus, Verdict};
