//! From a rule's outcome to what the store keeps: the run, its violation
//! (FAILED or WARNED) and the metrics it observed, in one transaction keyed
//! by the run id. The mapping is dq-worker's (`dq_worker::record`), so a run
//! from `dq run` reads the same as one from a worker.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use dq_core::{Rule, RunId};
use dq_store::Store;
use dq_targets::RuleOutcome;
use dq_worker::record::{run_result, RunContext};

pub use dq_worker::record::unreachable_target;

/// The worker name runs from `dq run` and `dq demo` are stored under.
const IN_PROCESS_WORKER: &str = "dq-run";

pub async fn store_outcome(
    store: &Store,
    rule: &Rule,
    outcome: &RuleOutcome,
    run_id: RunId,
    scheduled_for: DateTime<Utc>,
) -> Result<()> {
    let ctx = RunContext::first_attempt(rule, run_id, scheduled_for, IN_PROCESS_WORKER);
    let result = run_result(rule, outcome, &ctx);
    store
        .record_run(&result.run, result.violation.as_ref(), &result.metrics)
        .await
        .with_context(|| format!("cannot store the run of rule {}", rule.name))?;
    Ok(())
}
