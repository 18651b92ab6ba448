//! From a rule's outcome to what the store keeps: the run, its violation
//! (FAILED or WARNED) and the metrics it observed, in one transaction keyed
//! by the run id.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use dq_core::{Rule, RunId, RunStatus, ScanPlan, Verdict};
use dq_store::{MetricPoint, NewRun, NewViolation, Store};
use dq_targets::RuleOutcome;

/// The worker name runs from `dq run` and `dq demo` are stored under.
const IN_PROCESS_WORKER: &str = "dq-run";

pub async fn store_outcome(
    store: &Store,
    rule: &Rule,
    outcome: &RuleOutcome,
    run_id: RunId,
    scheduled_for: DateTime<Utc>,
) -> Result<()> {
    let verdict = &outcome.verdict;
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    let mut run = NewRun::for_rule(rule, scheduled_for, verdict.status);
    run.id = run_id;
    run.started_at = Some(outcome.started_at);
    run.finished_at = Some(outcome.finished_at);
    run.severity = verdict.severity;
    run.observed_value = finite(verdict.observed);
    run.expected = verdict.expected.clone();
    run.message = verdict.message.clone();
    run.observation = outcome
        .observation
        .as_ref()
        .and_then(|o| serde_json::to_value(o).ok());
    run.effective_sample_size = outcome.effective_sample_size;
    run.row_count = outcome.observation.as_ref().and_then(|o| o.row_count);
    run.worker = Some(IN_PROCESS_WORKER.into());
    run.error = matches!(verdict.status, RunStatus::Error | RunStatus::Timeout)
        .then(|| verdict.message.clone());
    run.retriable = outcome.retriable;
    run.duration_ms = (outcome.finished_at - outcome.started_at)
        .num_milliseconds()
        .try_into()
        .ok();

    let violation = match (verdict.status.is_violation(), verdict.severity) {
        (true, Some(severity)) => Some(NewViolation {
            severity,
            detected_at: outcome.finished_at,
            message: verdict.message.clone(),
            observed_value: finite(verdict.observed),
            expected: verdict.expected.clone(),
            sample: outcome.samples.clone(),
        }),
        _ => None,
    };
    let metrics = metric_points(rule, outcome, run_id);
    store
        .record_run(&run, violation.as_ref(), &metrics)
        .await
        .with_context(|| format!("cannot store the run of rule {}", rule.name))?;
    Ok(())
}

/// Every finite measure the rule observed, plus the dataset's row count:
/// the history that trends and anomaly checks read.
fn metric_points(rule: &Rule, outcome: &RuleOutcome, run_id: RunId) -> Vec<MetricPoint> {
    let Some(observation) = &outcome.observation else {
        return Vec::new();
    };
    let point = |name: &str, column: Option<String>, value: f64| MetricPoint {
        run_id: Some(run_id.to_string()),
        rule_id: None,
        target: rule.target.clone(),
        dataset: rule.dataset.to_string(),
        column,
        name: name.to_string(),
        value,
        observed_at: outcome.finished_at,
    };
    let column = rule.column().map(|c| c.to_string());
    let mut points: Vec<MetricPoint> = observation
        .measures
        .iter()
        .filter_map(|m| m.value.filter(|v| v.is_finite()).map(|v| (m, v)))
        .map(|(m, v)| point(&m.name, column.clone(), v))
        .collect();
    if let Some(rows) = observation.row_count {
        if !points.iter().any(|p| p.name == "row_count") {
            points.push(point("row_count", None, rows as f64));
        }
    }
    points
}

/// Outcomes for every rule of a scan whose target could not be reached.
pub fn unreachable_target(
    plan: &ScanPlan<'_>,
    cause: &str,
    now: DateTime<Utc>,
) -> Vec<RuleOutcome> {
    plan.rules
        .iter()
        .map(|rule| RuleOutcome {
            rule: rule.name.clone(),
            verdict: Verdict::error(format!("target {} unavailable: {cause}", plan.target)),
            observation: None,
            samples: Vec::new(),
            effective_sample_size: None,
            started_at: now,
            finished_at: now,
            retriable: true,
        })
        .collect()
}
