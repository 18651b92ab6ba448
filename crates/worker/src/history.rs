//! Checks judged against the store's history instead of the target alone:
//! `anomaly` (the rule's own earlier runs within its training window, each
//! with the verdict it got then, decide whether the measured value is
//! anomalous: `dq_core::anomaly`) and `schema_change` (the columns the
//! previous run saw against those seen now: `dq_core::schema_diff`). The
//! workers and `dq run` share it, so a rule reads the same whoever ran it.

use chrono::{DateTime, Utc};
use dq_core::anomaly::{assess, training_set, AnomalySpec, Assessment, Point};
use dq_core::drift::DriftMethod;
use dq_core::format;
use dq_core::metric::ColumnInfo;
use dq_core::{schema_diff, Check, Observation, Rule, RunStatus, Verdict};
use dq_store::{RunFilter, Store};
use dq_targets::RuleOutcome;

/// [`judge_with_history`] for every outcome of a job, each with its run's rule.
pub(crate) async fn judge_job(
    store: &Store,
    job: &dq_broker::Job,
    outcomes: Vec<(dq_core::RunId, RuleOutcome)>,
) -> Vec<(dq_core::RunId, RuleOutcome)> {
    let mut judged = Vec::with_capacity(outcomes.len());
    for (run_id, outcome) in outcomes {
        let outcome = match job.runs.iter().find(|r| r.run_id == run_id) {
            Some(run) => judge_with_history(store, &run.rule, outcome, job.scheduled_for).await,
            None => outcome,
        };
        judged.push((run_id, outcome));
    }
    judged
}

/// Judges `outcome` against the rule's history when the rule is an
/// anomaly rule; any other outcome comes back as it is. `at` is the run's
/// tick: the history is what came before it.
pub async fn judge_with_history(
    store: &Store,
    rule: &Rule,
    mut outcome: RuleOutcome,
    at: DateTime<Utc>,
) -> RuleOutcome {
    if let Check::SchemaChange { .. } = &rule.check {
        return judge_schema(store, rule, outcome, at).await;
    }
    if let Check::Drift {
        method,
        baseline_window,
        ..
    } = &rule.check
    {
        return judge_drift(store, rule, *method, *baseline_window, outcome, at).await;
    }
    let Check::Anomaly { detector: spec, .. } = &rule.check else {
        return outcome;
    };
    if outcome.verdict.status == RunStatus::Passed && outcome.verdict.observed.is_none() {
        outcome.verdict = Verdict::error(format!(
            "the target gave no {} to judge",
            rule.check.measure_name()
        ));
        return outcome;
    }
    // Only a measured value is judged: an ERROR or TIMEOUT stays one.
    let Some(value) = outcome
        .verdict
        .observed
        .filter(|_| outcome.verdict.status == RunStatus::Passed)
    else {
        return outcome;
    };
    let window = chrono::Duration::from_std(spec.training_window).unwrap_or(chrono::Duration::MAX);
    let filter = RunFilter {
        rule_names: vec![rule.name.to_string()],
        since: at.checked_sub_signed(window),
        until: Some(at),
        // Warm-up runs (SKIPPED) measured normal values too.
        statuses: vec![RunStatus::Passed, RunStatus::Failed, RunStatus::Skipped],
        ..RunFilter::default()
    };
    let runs = match store.runs(&filter).await {
        Ok(runs) => runs,
        Err(e) => {
            outcome.verdict = Verdict::error(format!("cannot read the rule's history: {e}"));
            outcome.retriable = true;
            return outcome;
        }
    };
    let mut history: Vec<(Point, bool)> = runs
        .iter()
        .filter_map(|run| {
            let value = run.observed_value?;
            let point = Point {
                at: run.scheduled_for,
                value,
            };
            Some((point, run.status == RunStatus::Failed))
        })
        .collect();
    history.sort_by_key(|(point, _)| point.at);
    let (points, flags): (Vec<Point>, Vec<bool>) = history.into_iter().unzip();
    let detector = spec.detector();
    let training = training_set(&detector, &points, &flags);
    let assessment = assess(&detector, &training, Point { at, value });
    outcome.verdict = verdict(rule, spec, value, training.len(), &assessment);
    outcome
}

/// The columns seen now against those the rule's previous run saw: each
/// change is one line, their number the measure judged by the rule's bounds.
async fn judge_schema(
    store: &Store,
    rule: &Rule,
    mut outcome: RuleOutcome,
    at: DateTime<Utc>,
) -> RuleOutcome {
    let Some(observation) = outcome
        .observation
        .as_mut()
        .filter(|_| outcome.verdict.status == RunStatus::Passed)
    else {
        return outcome;
    };
    let filter = RunFilter {
        rule_names: vec![rule.name.to_string()],
        until: Some(at),
        statuses: vec![RunStatus::Passed, RunStatus::Warned, RunStatus::Failed],
        limit: Some(1),
        ..RunFilter::default()
    };
    let previous = match store.runs(&filter).await {
        Ok(runs) => runs.into_iter().next(),
        Err(e) => {
            outcome.verdict = Verdict::error(format!("cannot read the previous snapshot: {e}"));
            outcome.retriable = true;
            return outcome;
        }
    };
    let before: Option<Vec<ColumnInfo>> = previous
        .and_then(|run| run.observation)
        .and_then(|json| serde_json::from_value::<Observation>(json).ok())
        .map(|o| o.columns)
        .filter(|columns| !columns.is_empty());
    let Some(before) = before else {
        outcome.verdict.message = format!(
            "first snapshot: {} columns recorded ({})",
            observation.columns.len(),
            observation
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return outcome;
    };
    let changes = schema_diff::changes(&before, &observation.columns);
    if let Some(measure) = observation.measures.first_mut() {
        measure.value = Some(changes.len() as f64);
        measure.thresholds = rule.thresholds;
    }
    let mut verdict = dq_core::judge(rule, observation);
    if !changes.is_empty() {
        verdict.message = format!(
            "{} schema change(s) since the last run: {}",
            changes.len(),
            changes.join("; ")
        );
    }
    observation.problems = changes;
    outcome.verdict = verdict;
    outcome
}

/// The distribution seen now against the baseline: the previous run's, or
/// every run's of `baseline_window` together. The statistic is the measure,
/// judged by the rule's bounds; the first run only records its values.
async fn judge_drift(
    store: &Store,
    rule: &Rule,
    method: DriftMethod,
    baseline_window: Option<std::time::Duration>,
    mut outcome: RuleOutcome,
    at: DateTime<Utc>,
) -> RuleOutcome {
    let Some(observation) = outcome
        .observation
        .as_mut()
        .filter(|_| outcome.verdict.status == RunStatus::Passed)
    else {
        return outcome;
    };
    let Some(current) = observation.distribution.clone() else {
        return outcome;
    };
    // What is stored for later runs: the values as quantiles, so a run's
    // row stays small whatever `max_values` is.
    if let Some(kept) = observation.distribution.as_mut() {
        kept.values = quantiles(&current.values, STORED_QUANTILES);
    }
    let since = baseline_window
        .and_then(|w| chrono::Duration::from_std(w).ok())
        .and_then(|w| at.checked_sub_signed(w));
    let filter = RunFilter {
        rule_names: vec![rule.name.to_string()],
        since,
        until: Some(at),
        statuses: vec![RunStatus::Passed, RunStatus::Warned, RunStatus::Failed],
        limit: baseline_window.is_none().then_some(1),
        ..RunFilter::default()
    };
    let earlier = match store.runs(&filter).await {
        Ok(runs) => runs,
        Err(e) => {
            outcome.verdict = Verdict::error(format!("cannot read the baseline: {e}"));
            outcome.retriable = true;
            return outcome;
        }
    };
    let mut baseline = dq_core::Distribution::default();
    let mut runs_in_baseline = 0;
    for run in earlier {
        let kept = run
            .observation
            .and_then(|json| serde_json::from_value::<Observation>(json).ok())
            .and_then(|o| o.distribution);
        if let Some(distribution) = kept {
            baseline.merge(distribution);
            runs_in_baseline += 1;
        }
    }
    let size = |d: &dq_core::Distribution| d.values.len() as u64 + d.counts.values().sum::<u64>();
    if baseline.is_empty() {
        outcome.verdict.message = format!(
            "baseline recorded: {} values of {} (drift is measured from the next run)",
            size(&current),
            rule.check
                .column()
                .map_or("the column".into(), |c| c.to_string())
        );
        return outcome;
    }
    let Some(statistic) = method.statistic(&baseline, &current) else {
        outcome.verdict = Verdict {
            status: RunStatus::Skipped,
            severity: None,
            message: format!(
                "nothing to compare: {} values now, {} in the baseline",
                size(&current),
                size(&baseline)
            ),
            observed: None,
            expected: String::new(),
        };
        return outcome;
    };
    if let Some(measure) = observation.measures.first_mut() {
        measure.value = Some(statistic);
        measure.thresholds = rule.thresholds;
    }
    let mut verdict = dq_core::judge(rule, observation);
    let against = match baseline_window {
        Some(w) => format!(
            "the {runs_in_baseline} runs of the last {}",
            format::value(dq_core::Unit::Seconds, w.as_secs_f64())
        ),
        None => "the previous run".to_string(),
    };
    verdict.message = format!(
        "{} {statistic:.4} against {against} ({} values now, {} then): {}",
        method.name(),
        size(&current),
        size(&baseline),
        verdict.message
    );
    outcome.verdict = verdict;
    outcome
}

/// Values a drift run keeps for later runs' baselines.
const STORED_QUANTILES: usize = 1000;

/// At most `n` evenly spaced order statistics of `values`.
fn quantiles(values: &[f64], n: usize) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.len() <= n {
        return sorted;
    }
    (0..n)
        .map(|i| sorted[i * (sorted.len() - 1) / (n - 1)])
        .collect()
}

fn verdict(
    rule: &Rule,
    spec: &AnomalySpec,
    value: f64,
    trained_on: usize,
    assessment: &Assessment,
) -> Verdict {
    let unit = rule.check.unit();
    let measure = rule.check.measure_name();
    let shown = format::value(unit, value);
    let window = format::value(dq_core::Unit::Seconds, spec.training_window.as_secs_f64());
    match assessment {
        Assessment::NotEnoughHistory { have, need } => Verdict {
            status: RunStatus::Skipped,
            severity: None,
            message: format!(
                "{measure} {shown}: not judged yet, {have} of the {need} points of history \
                 an anomaly check needs ({} over {window})",
                spec.strategy.name()
            ),
            observed: Some(value),
            expected: String::new(),
        },
        Assessment::Judged {
            anomalous,
            score,
            expected_low,
            expected_high,
        } => {
            let expected = format!(
                "{}..{}",
                format::value(unit, *expected_low),
                format::value(unit, *expected_high)
            );
            let how = format!(
                "{} score {score:.1} against {trained_on} points over {window}",
                spec.strategy.name()
            );
            if *anomalous {
                Verdict {
                    status: RunStatus::Failed,
                    severity: Some(rule.severity),
                    message: format!("{measure} {shown} is anomalous: expected {expected} ({how})"),
                    observed: Some(value),
                    expected,
                }
            } else {
                Verdict {
                    status: RunStatus::Passed,
                    severity: None,
                    message: format!("{measure} {shown} is within {expected} ({how})"),
                    observed: Some(value),
                    expected,
                }
            }
        }
    }
}
