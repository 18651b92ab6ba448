//! Target-agnostic orchestration: metrics -> observe -> judge -> samples ->
//! one outcome per rule. A backend only computes metrics and fetches
//! samples; what the numbers mean and how they are judged is dq-core's.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dq_core::{
    judge, observe, ColumnInfo, DatasetMetrics, MetricRequest, Observation, Rule, RuleName,
    RunStatus, ScanPlan, Verdict,
};

use crate::error::TargetError;
use crate::Target;

/// Rows shown per failing rule unless the caller asks otherwise.
pub const DEFAULT_SAMPLE_LIMIT: usize = 5;

#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// The instant freshness and windows are measured against.
    pub now: DateTime<Utc>,
    /// Failing rows fetched per FAILED or WARNED rule; 0 fetches none.
    pub sample_limit: usize,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            now: Utc::now(),
            sample_limit: DEFAULT_SAMPLE_LIMIT,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome {
    pub rule: RuleName,
    pub verdict: Verdict,
    pub observation: Option<Observation>,
    /// Failing rows as JSON objects, at most `sample_limit`.
    pub samples: Vec<serde_json::Value>,
    /// Rows actually checked, when the scope samples the dataset.
    pub effective_sample_size: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// An ERROR caused by a connection problem: running it again may pass.
    pub retriable: bool,
}

impl RuleOutcome {
    /// An outcome with no observation: the check could not run.
    pub fn failed(
        rule: &Rule,
        verdict: Verdict,
        retriable: bool,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    ) -> RuleOutcome {
        RuleOutcome {
            rule: rule.name.clone(),
            verdict,
            observation: None,
            samples: Vec::new(),
            effective_sample_size: None,
            started_at,
            finished_at,
            retriable,
        }
    }
}

/// What a backend computed for a plan: every metric either has a value or
/// the error that prevented it, so each rule fails only for its own metrics.
#[derive(Debug, Default)]
pub(crate) struct Computed {
    pub(crate) metrics: DatasetMetrics,
    pub(crate) failures: BTreeMap<String, TargetError>,
    /// Failing rows a backend got as a by-product of computing a metric (by
    /// metric key), e.g. the most repeated values of a duplicate count. A
    /// violated rule that needs that metric shows these instead of issuing
    /// a sample query.
    pub(crate) samples: BTreeMap<String, Vec<serde_json::Value>>,
    /// The dataset's columns as the scan's catalogue query saw them, for
    /// backends whose sample queries depend on column types.
    pub(crate) columns: Option<Vec<ColumnInfo>>,
}

impl Computed {
    pub(crate) fn merge(&mut self, other: Computed) {
        self.metrics.extend(other.metrics);
        self.failures.extend(other.failures);
        self.samples.extend(other.samples);
        if other.columns.is_some() {
            self.columns = other.columns;
        }
    }

    /// Rows prefetched for one of `rule`'s metrics, if any.
    fn prefetched_samples(&self, rule: &Rule) -> Option<&Vec<serde_json::Value>> {
        rule.check
            .metric_requests()
            .iter()
            .find_map(|r| self.samples.get(&r.key()))
    }

    pub(crate) fn fail_if_missing(&mut self, key: String, error: &TargetError) {
        if !self.metrics.contains_key(&key) {
            self.failures.entry(key).or_insert_with(|| error.clone());
        }
    }

    /// The first failure among `requests`, in their order.
    fn failure<'a>(&'a self, requests: &[MetricRequest]) -> Option<&'a TargetError> {
        requests.iter().find_map(|r| self.failures.get(&r.key()))
    }
}

/// Every metric of `plan`, or the first error (in plan order) that kept one
/// from being computed.
pub async fn compute_metrics(
    target: &Target,
    plan: &ScanPlan<'_>,
    options: &ExecuteOptions,
) -> Result<DatasetMetrics, TargetError> {
    let computed = target.compute(plan, options).await;
    match computed.failure(&plan.metrics) {
        Some(e) => Err(e.clone()),
        None => Ok(computed.metrics),
    }
}

/// Runs a plan and judges each of its rules. Never fails as a whole: a query
/// error becomes an ERROR verdict (TIMEOUT on timeout) for the rules that
/// needed that query, with the cause in the message.
pub async fn execute(
    target: &Target,
    plan: &ScanPlan<'_>,
    options: &ExecuteOptions,
) -> Vec<RuleOutcome> {
    if let Target::Noop(noop) = target {
        return noop.execute(plan).await;
    }
    let started_at = Utc::now();
    let computed = target.compute(plan, options).await;
    let mut outcomes = Vec::with_capacity(plan.rules.len());
    for &rule in &plan.rules {
        let outcome = judge_rule(target, plan, rule, &computed, options, started_at).await;
        tracing::debug!(
            rule = %outcome.rule,
            status = %outcome.verdict.status,
            message = %outcome.verdict.message,
            "rule judged"
        );
        outcomes.push(outcome);
    }
    outcomes
}

async fn judge_rule(
    target: &Target,
    plan: &ScanPlan<'_>,
    rule: &Rule,
    computed: &Computed,
    options: &ExecuteOptions,
    started_at: DateTime<Utc>,
) -> RuleOutcome {
    let errored = |verdict: Verdict, retriable: bool| {
        RuleOutcome::failed(rule, verdict, retriable, started_at, Utc::now())
    };
    if crate::reconcile::against_target(rule).is_some() {
        let why = "a reconciliation reads two targets: it runs through dq_targets::reconcile";
        return errored(Verdict::error(why), false);
    }
    if let Some(e) = computed.failure(&rule.check.metric_requests()) {
        return errored(failure_verdict(e), e.is_retriable());
    }
    let now_unix = options.now.timestamp_millis() as f64 / 1000.0;
    let observation = match observe(rule, &computed.metrics, now_unix) {
        Ok(observation) => observation,
        Err(e) => return errored(Verdict::error(e.to_string()), false),
    };
    let verdict = judge(rule, &observation);
    let mut samples = Vec::new();
    if verdict.status.is_violation() && options.sample_limit > 0 {
        if let Some(rows) = computed.prefetched_samples(rule) {
            samples = rows.clone();
            samples.truncate(options.sample_limit);
        } else if let Some(request) = rule.check.sample_request() {
            match target
                .fetch_samples(plan, rule, &request, computed, options)
                .await
            {
                Ok(rows) => samples = rows,
                // The verdict stands without its illustration.
                Err(e) => {
                    tracing::warn!(rule = %rule.name, error = %e, "could not fetch failing rows")
                }
            }
            samples.truncate(options.sample_limit);
        }
    }
    // The rows the sampled scan really counted: a page or row sample is
    // only about `sample_size`, and a table too small or never analysed is
    // read whole.
    let effective_sample_size = plan.scope.sample_size.and(observation.row_count);
    RuleOutcome {
        rule: rule.name.clone(),
        verdict,
        observation: Some(observation),
        samples,
        effective_sample_size,
        started_at,
        finished_at: Utc::now(),
        retriable: false,
    }
}

fn failure_verdict(e: &TargetError) -> Verdict {
    let mut verdict = Verdict::error(e.to_string());
    if matches!(e, TargetError::Timeout { .. }) {
        verdict.status = RunStatus::Timeout;
    }
    verdict
}
