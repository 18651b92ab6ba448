//! From a rule's outcome to what the store keeps: the run, its violation
//! (FAILED or WARNED) and the metrics it observed, as one [`RunResult`]
//! that the store writes in one transaction keyed by the run id. `dq run`
//! and the workers share it, so a run reads the same whoever ran it.

use chrono::{DateTime, Utc};
use dq_core::{Queue, Rule, RunId, RunStatus, ScanPlan, Verdict};
use dq_store::{MetricPoint, NewRun, NewViolation, RunResult};
use dq_targets::RuleOutcome;

/// Who ran a rule's run, and which run of it.
#[derive(Debug, Clone, Copy)]
pub struct RunContext<'a> {
    pub run_id: RunId,
    pub scheduled_for: DateTime<Utc>,
    /// The worker name the run is stored under.
    pub worker: &'a str,
    pub queue: Queue,
    /// Which delivery of the job ran it (1-based).
    pub attempt: u32,
}

impl<'a> RunContext<'a> {
    /// A first attempt on the rule's own queue.
    pub fn first_attempt(rule: &Rule, run_id: RunId, at: DateTime<Utc>, worker: &'a str) -> Self {
        RunContext {
            run_id,
            scheduled_for: at,
            worker,
            queue: rule.queue,
            attempt: 1,
        }
    }
}

/// The run, violation and metrics to store for `outcome`.
pub fn run_result(rule: &Rule, outcome: &RuleOutcome, ctx: &RunContext<'_>) -> RunResult {
    let verdict = &outcome.verdict;
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    let mut run = NewRun::for_rule(rule, ctx.scheduled_for, verdict.status);
    run.id = ctx.run_id;
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
    run.worker = Some(ctx.worker.to_string());
    run.queue = ctx.queue;
    run.attempt = ctx.attempt;
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
    RunResult {
        run,
        violation,
        metrics: metric_points(rule, outcome, ctx.run_id),
    }
}

/// Every finite measure the rule observed, plus the dataset's row count:
/// the history that trends and anomaly checks read.
pub fn metric_points(rule: &Rule, outcome: &RuleOutcome, run_id: RunId) -> Vec<MetricPoint> {
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

/// Outcomes for every rule of a scan whose target could not be reached:
/// ERROR, retriable (the target may be back soon).
pub fn unreachable_target(
    plan: &ScanPlan<'_>,
    cause: &str,
    now: DateTime<Utc>,
) -> Vec<RuleOutcome> {
    let message = format!("target {} unavailable: {cause}", plan.target);
    plan.rules
        .iter()
        .map(|rule| RuleOutcome::failed(rule, Verdict::error(message.clone()), true, now, now))
        .collect()
}
