//! Running one job's rules, whatever the pool: plan the scans of the job's
//! dataset (`dq_core::plan`), execute each on its target
//! (`dq_targets::execute`), and return one outcome per run, in job order.
//! Every pool calls this; only where it runs differs.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use dq_broker::Job;
use dq_core::{Rule, RunId, Verdict};
use dq_targets::{ExecuteOptions, RuleOutcome, Target};
use tokio::sync::Mutex;

use crate::record;

const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a job's execution needs besides the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExecLimits {
    pub(crate) sample_limit: usize,
    /// Caps every rule's timeout (the soft limit).
    pub(crate) soft_time_limit: Option<Duration>,
}

/// Connected targets by name, connected on first use and kept: a pool of
/// connections per target, not one per job. Each runtime (the async pool,
/// each thread, each child) has its own, since a connection pool belongs to
/// the runtime that made it.
#[derive(Debug, Default)]
pub(crate) struct TargetCache {
    urls: BTreeMap<String, String>,
    connected: Mutex<BTreeMap<String, Target>>,
}

impl TargetCache {
    pub(crate) fn new(urls: BTreeMap<String, String>) -> Self {
        TargetCache {
            urls,
            connected: Mutex::default(),
        }
    }

    pub(crate) fn urls(&self) -> &BTreeMap<String, String> {
        &self.urls
    }

    /// The connected target, or why it cannot be had. A failed connection
    /// is not kept: the next job tries again.
    pub(crate) async fn get(&self, name: &str) -> Result<Target, String> {
        if let Some(target) = self.connected.lock().await.get(name) {
            return Ok(target.clone());
        }
        let Some(url) = self.urls.get(name) else {
            return Err(format!(
                "target {name} is not configured on this worker (known: {})",
                self.known()
            ));
        };
        let target = Target::connect(name, url)
            .await
            .map_err(|e| e.to_string())?;
        let mut connected = self.connected.lock().await;
        // Another job may have connected meanwhile: keep the first pool.
        Ok(connected.entry(name.to_string()).or_insert(target).clone())
    }

    fn known(&self) -> String {
        if self.urls.is_empty() {
            return "none".to_string();
        }
        self.urls.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// Closes the connections, waiting at most [`CLOSE_TIMEOUT`] for each:
    /// a query abandoned at its job's hard limit may still hold one until
    /// its own timeout stops it.
    pub(crate) async fn close(&self) {
        let targets: Vec<Target> = std::mem::take(&mut *self.connected.lock().await)
            .into_values()
            .collect();
        for target in targets {
            if tokio::time::timeout(CLOSE_TIMEOUT, target.close())
                .await
                .is_err()
            {
                tracing::warn!(
                    target = target.name(),
                    "a query still runs; not waiting for it"
                );
            }
        }
    }
}

/// A reconciliation rule, with its dataset's target and the one it is
/// compared against both from the cache.
async fn reconcile(targets: &TargetCache, rule: &Rule, options: &ExecuteOptions) -> RuleOutcome {
    let against = dq_targets::against_target(rule).unwrap_or(&rule.target);
    match (targets.get(&rule.target).await, targets.get(against).await) {
        (Ok(source), Ok(against)) => dq_targets::reconcile(&source, &against, rule, options).await,
        (Err(cause), _) | (_, Err(cause)) => {
            let now = Utc::now();
            RuleOutcome::failed(rule, Verdict::error(cause), true, now, now)
        }
    }
}

/// Runs every rule of `job` and returns `(run id, outcome)` in job order.
/// Never fails: an unreachable target is a retriable ERROR per rule.
pub(crate) async fn run_job(
    targets: &TargetCache,
    job: &Job,
    limits: &ExecLimits,
) -> Vec<(RunId, RuleOutcome)> {
    let rules: Vec<Rule> = job
        .runs
        .iter()
        .map(|run| {
            let mut rule = run.rule.clone();
            if let Some(cap) = limits.soft_time_limit {
                rule.timeout = rule.timeout.min(cap);
            }
            rule
        })
        .collect();
    // Reconciliations read two targets each; every other rule is planned.
    let (reconciliations, refs): (Vec<&Rule>, Vec<&Rule>) = rules
        .iter()
        .partition(|rule| dq_targets::against_target(rule).is_some());
    let options = ExecuteOptions {
        now: Utc::now(),
        sample_limit: limits.sample_limit,
    };
    let mut by_rule: BTreeMap<String, RuleOutcome> = BTreeMap::new();
    for rule in reconciliations {
        let outcome = reconcile(targets, rule, &options).await;
        by_rule.insert(rule.name.to_string(), outcome);
    }
    for plan in dq_core::plan(&refs) {
        let outcomes = match targets.get(&plan.target).await {
            Ok(target) => dq_targets::execute(&target, &plan, &options).await,
            Err(cause) => record::unreachable_target(&plan, &cause, Utc::now()),
        };
        by_rule.extend(outcomes.into_iter().map(|o| (o.rule.to_string(), o)));
    }
    job.runs
        .iter()
        .zip(&rules)
        .map(|(run, rule)| {
            let outcome = by_rule.remove(rule.name.as_str()).unwrap_or_else(|| {
                let now = Utc::now();
                let verdict = Verdict::error("the executor returned no outcome for this rule");
                RuleOutcome::failed(rule, verdict, false, now, now)
            });
            (run.run_id, outcome)
        })
        .collect()
}
