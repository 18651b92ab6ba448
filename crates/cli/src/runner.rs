//! Runs rules in this process: plan the scans, connect the targets, execute
//! the scans a few at a time, store every run, and hand back what happened.
//! The fleet's workers (later) run the same planner, executor and recorder.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use dq_core::{format, Rule, RunId, RunStatus, Severity};
use dq_store::Store;
use dq_targets::{ExecuteOptions, RuleOutcome, Target};
use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::record;

/// Scans of different datasets run concurrently, up to this many at once.
const CONCURRENT_SCANS: usize = 4;

#[derive(Debug, Clone)]
pub struct RuleResult {
    pub rule: Rule,
    pub status: RunStatus,
    pub severity: Option<Severity>,
    pub message: String,
    pub observed: Option<String>,
    pub expected: String,
    pub duration: Duration,
    pub samples: Vec<serde_json::Value>,
    pub effective_sample_size: Option<u64>,
}

pub struct RunOptions {
    pub sample_limit: usize,
    pub show_progress: bool,
}

pub async fn run_rules(
    store: &Store,
    config: &Config,
    rules: &[Rule],
    options: &RunOptions,
) -> Result<Vec<RuleResult>> {
    let now = Utc::now();
    // Reconciliations read two targets each; every other rule is planned.
    let (reconciliations, refs): (Vec<&Rule>, Vec<&Rule>) = rules
        .iter()
        .partition(|rule| dq_targets::against_target(rule).is_some());
    let plans = dq_core::plan(&refs);
    let names = plans
        .iter()
        .map(|p| p.target.as_str())
        .chain(reconciliations.iter().flat_map(|r| {
            [
                r.target.as_str(),
                dq_targets::against_target(r).unwrap_or_default(),
            ]
        }));
    let targets = connect_targets(config, names).await;

    let progress = progress_bar(rules.len() as u64, options.show_progress);
    let execute_options = ExecuteOptions {
        now,
        sample_limit: options.sample_limit,
    };
    let outcomes: Vec<RuleOutcome> = stream::iter(plans.iter())
        .map(|plan| {
            let targets = &targets;
            let execute_options = &execute_options;
            let progress = &progress;
            async move {
                let outcomes = match targets.get(&plan.target) {
                    Some(Ok(target)) => dq_targets::execute(target, plan, execute_options).await,
                    Some(Err(cause)) => record::unreachable_target(plan, cause, Utc::now()),
                    None => record::unreachable_target(plan, "target not connected", Utc::now()),
                };
                progress.inc(outcomes.len() as u64);
                progress.set_message(format!("{}", plan.dataset));
                outcomes
            }
        })
        .buffer_unordered(CONCURRENT_SCANS)
        .flat_map(stream::iter)
        .chain(
            stream::iter(reconciliations)
                .map(|rule| reconcile(&targets, rule, &execute_options, &progress))
                .buffer_unordered(CONCURRENT_SCANS),
        )
        .collect()
        .await;
    progress.finish_and_clear();

    let mut by_name: BTreeMap<String, RuleOutcome> = outcomes
        .into_iter()
        .map(|o| (o.rule.to_string(), o))
        .collect();
    let mut results = Vec::with_capacity(rules.len());
    for rule in rules {
        let Some(outcome) = by_name.remove(rule.name.as_str()) else {
            continue;
        };
        let outcome = dq_worker::history::judge_with_history(store, rule, outcome, now).await;
        let run_id = RunId::for_tick(&rule.name, now);
        record::store_outcome(store, rule, &outcome, run_id, now).await?;
        results.push(to_result(rule, outcome));
    }
    Ok(results)
}

/// A reconciliation rule on its two connected targets.
async fn reconcile(
    targets: &BTreeMap<String, Result<Target, String>>,
    rule: &Rule,
    options: &ExecuteOptions,
    progress: &ProgressBar,
) -> RuleOutcome {
    let against = dq_targets::against_target(rule).unwrap_or_default();
    let connected = |name: &str| match targets.get(name) {
        Some(Ok(target)) => Ok(target),
        Some(Err(cause)) => Err(cause.clone()),
        None => Err(format!("target {name} not connected")),
    };
    let outcome = match (connected(&rule.target), connected(against)) {
        (Ok(source), Ok(against)) => dq_targets::reconcile(source, against, rule, options).await,
        (Err(cause), _) | (_, Err(cause)) => {
            let now = Utc::now();
            RuleOutcome::failed(rule, dq_core::Verdict::error(cause), true, now, now)
        }
    };
    progress.inc(1);
    outcome
}

async fn connect_targets<'a>(
    config: &Config,
    names: impl Iterator<Item = &'a str>,
) -> BTreeMap<String, Result<Target, String>> {
    let mut targets = BTreeMap::new();
    for name in names {
        if targets.contains_key(name) {
            continue;
        }
        let target = match config.targets.get(name) {
            None => Err(format!(
                "target {name} is not configured ({}); add [targets.{name}] to dq.toml",
                config.origin
            )),
            Some(t) => Target::connect(name, &t.url)
                .await
                .map_err(|e| e.to_string()),
        };
        targets.insert(name.to_string(), target);
    }
    targets
}

fn progress_bar(len: u64, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {pos}/{len} rules [{bar:30}] {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn to_result(rule: &Rule, outcome: RuleOutcome) -> RuleResult {
    let unit = rule.check.unit();
    let verdict = outcome.verdict;
    RuleResult {
        rule: rule.clone(),
        status: verdict.status,
        severity: verdict.severity,
        message: verdict.message,
        observed: verdict.observed.map(|v| format::value(unit, v)),
        expected: verdict.expected,
        duration: (outcome.finished_at - outcome.started_at)
            .to_std()
            .unwrap_or_default(),
        samples: outcome.samples,
        effective_sample_size: outcome.effective_sample_size,
    }
}
