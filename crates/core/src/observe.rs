//! From the metrics a target computed to what one rule observed: the measures
//! its thresholds apply to, with the semantics written down in `check.rs`.

use serde::{Deserialize, Serialize};

use crate::check::{Check, Unit};
use crate::metric::{ColumnInfo, DatasetMetrics, Distribution, MetricRequest, MetricValue};
use crate::rule::Rule;
use crate::threshold::Thresholds;

/// One number judged against bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    pub name: String,
    /// `None` when SQL gave NULL (no rows to average, no timestamps).
    pub value: Option<f64>,
    pub unit: Unit,
    pub thresholds: Thresholds,
    /// What a missing value means for this measure.
    pub when_missing: WhenMissing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WhenMissing {
    /// Nothing to judge (an average over no rows): not a failure.
    Skip,
    /// The absence is itself the failure (no timestamps: not fresh).
    Fail(String),
    /// The check could not measure (a scalar query returned NULL).
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The first measure is the primary one: its value is the run's observed value.
    pub measures: Vec<Measure>,
    /// Rows the check saw, when it scanned the dataset.
    pub row_count: Option<u64>,
    /// Problems that are not numbers (missing columns, wrong types), each one line.
    pub problems: Vec<String>,
    /// The dataset's columns in order, kept by `schema_change` rules so
    /// the next run can tell what changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnInfo>,
    /// The column's distribution, kept by `drift` rules: the next runs'
    /// baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Distribution>,
}

impl Observation {
    pub fn primary(&self) -> Option<&Measure> {
        self.measures.first()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObserveError {
    #[error("the target did not compute metric {0}")]
    Missing(String),
    #[error("metric {0} has the wrong shape (expected {1})")]
    WrongShape(String, &'static str),
}

fn number(metrics: &DatasetMetrics, request: &MetricRequest) -> Result<Option<f64>, ObserveError> {
    let key = request.key();
    match metrics.get(&key) {
        Some(MetricValue::Number(v)) => Ok(*v),
        Some(MetricValue::Columns(_) | MetricValue::Distribution(_)) => {
            Err(ObserveError::WrongShape(key, "a number"))
        }
        None => Err(ObserveError::Missing(key)),
    }
}

fn columns(metrics: &DatasetMetrics) -> Result<&[ColumnInfo], ObserveError> {
    let key = MetricRequest::Columns.key();
    match metrics.get(&key) {
        Some(MetricValue::Columns(c)) => Ok(c),
        Some(MetricValue::Number(_) | MetricValue::Distribution(_)) => {
            Err(ObserveError::WrongShape(key, "a column list"))
        }
        None => Err(ObserveError::Missing(key)),
    }
}

fn distribution(
    metrics: &DatasetMetrics,
    request: &MetricRequest,
) -> Result<Distribution, ObserveError> {
    let key = request.key();
    match metrics.get(&key) {
        Some(MetricValue::Distribution(d)) => Ok(d.clone()),
        Some(_) => Err(ObserveError::WrongShape(key, "a distribution")),
        None => Err(ObserveError::Missing(key)),
    }
}

/// `now_unix` is the time freshness is measured against (seconds).
pub fn observe(
    rule: &Rule,
    metrics: &DatasetMetrics,
    now_unix: f64,
) -> Result<Observation, ObserveError> {
    if let Check::Anomaly { measure, .. } = &rule.check {
        // The measure as its own kind observes it, unbounded: the worker
        // judges it against the rule's history.
        let inner = Rule {
            check: (**measure).clone(),
            thresholds: Thresholds::default(),
            ..rule.clone()
        };
        let mut observation = observe(&inner, metrics, now_unix)?;
        for measure in &mut observation.measures {
            measure.thresholds = Thresholds::default();
        }
        return Ok(observation);
    }
    let requests = rule.check.metric_requests();
    let row_count = match requests.first() {
        Some(MetricRequest::RowCount) => number(metrics, &MetricRequest::RowCount)?.map(|v| {
            if v.is_finite() && v > 0.0 {
                v as u64
            } else {
                0
            }
        }),
        _ => None,
    };
    let rows = row_count.unwrap_or(0) as f64;
    let primary = |value: Option<f64>, when_missing: WhenMissing| Measure {
        name: rule.check.measure_name().to_string(),
        value,
        unit: rule.check.unit(),
        thresholds: rule.thresholds,
        when_missing,
    };
    let error_if_missing = || WhenMissing::Error("the query returned NULL".into());
    let mut problems = Vec::new();
    let mut snapshot = Vec::new();
    let mut seen_distribution = None;
    let measures = match &rule.check {
        Check::RowCount | Check::NotEmpty => vec![primary(Some(rows), error_if_missing())],
        Check::NullRate { .. } | Check::NullRateOf { .. } | Check::FieldTypes { .. } => {
            let nulls = number(metrics, &requests[1])?.unwrap_or(0.0);
            // An empty table has no NULLs: rate 0, never a division error.
            let rate = if rows > 0.0 { nulls / rows } else { 0.0 };
            vec![primary(Some(rate), error_if_missing())]
        }
        Check::NullCount { .. }
        | Check::AcceptedValues { .. }
        | Check::Regex { .. }
        | Check::StringLength { .. }
        | Check::DuplicateCount { .. }
        | Check::NullCountOf { .. }
        | Check::JsonSchema { .. } => {
            let count = number(metrics, &requests[1])?.unwrap_or(0.0);
            vec![primary(Some(count), error_if_missing())]
        }
        Check::ValueRange { avg, .. } => {
            let mut measures = Vec::new();
            for request in &requests[1..] {
                match request {
                    MetricRequest::CountWhere(_) => measures.push(primary(
                        Some(number(metrics, request)?.unwrap_or(0.0)),
                        error_if_missing(),
                    )),
                    MetricRequest::Avg(column) => measures.push(Measure {
                        name: format!("avg({column})"),
                        value: number(metrics, request)?,
                        unit: Unit::Number,
                        thresholds: Thresholds::fail(*avg),
                        when_missing: WhenMissing::Skip,
                    }),
                    _ => {}
                }
            }
            measures
        }
        Check::Freshness { column } => {
            let latest = number(metrics, &requests[1])?;
            let age = latest.map(|t| (now_unix - t).max(0.0));
            vec![primary(
                age,
                WhenMissing::Fail(format!("no non-NULL {column} values, so no data is fresh")),
            )]
        }
        Check::Schema {
            columns: required,
            types,
        } => {
            let actual = columns(metrics)?;
            let find = |name: &str| actual.iter().find(|c| c.name.eq_ignore_ascii_case(name));
            for column in required {
                if find(column.as_str()).is_none() {
                    problems.push(format!("missing column {column}"));
                }
            }
            for (column, expected) in types {
                match find(column.as_str()) {
                    Some(found) if !found.data_type.eq_ignore_ascii_case(expected.trim()) => {
                        problems.push(format!(
                            "column {column} is {} (expected {expected})",
                            found.data_type
                        ))
                    }
                    Some(_) => {}
                    None if required.contains(column) => {}
                    None => problems.push(format!("missing column {column}")),
                }
            }
            vec![primary(Some(problems.len() as f64), error_if_missing())]
        }
        // Observed above, as its measure.
        Check::Anomaly { .. } => Vec::new(),
        // Observed from its merge counts (`crate::reconciliation::Counts`).
        Check::Reconciliation { .. } => {
            return Err(ObserveError::Missing("reconciliation counts".into()))
        }
        Check::Drift { .. } => {
            seen_distribution = Some(distribution(metrics, &requests[0])?);
            // The statistic needs the baseline: the worker computes it.
            vec![Measure {
                thresholds: Thresholds::default(),
                ..primary(Some(0.0), error_if_missing())
            }]
        }
        Check::SchemaChange { columns: watched } => {
            let actual = columns(metrics)?;
            snapshot = actual
                .iter()
                .filter(|c| {
                    watched.is_empty()
                        || watched
                            .iter()
                            .any(|w| w.as_str().eq_ignore_ascii_case(&c.name))
                })
                .cloned()
                .collect();
            // What changed is known once compared with the previous run's
            // snapshot, in the worker; until then nothing is counted.
            vec![Measure {
                thresholds: Thresholds::default(),
                ..primary(Some(0.0), error_if_missing())
            }]
        }
        Check::CustomSql { .. } | Check::CustomPipeline { .. } => {
            vec![primary(number(metrics, &requests[0])?, error_if_missing())]
        }
    };
    Ok(Observation {
        measures,
        row_count,
        problems,
        columns: snapshot,
        distribution: seen_distribution,
    })
}

/// The bounds a rule with this check gets when it gives none.
pub fn default_thresholds(check: &Check) -> Option<Thresholds> {
    check.default_bounds().map(Thresholds::fail)
}
