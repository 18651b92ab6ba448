//! The worker's stable log events: what operators grep for (text logs) or
//! select with jq (`--log-format json`). Each is one tracing event with a
//! fixed message and fixed fields, emitted from exactly one place (this
//! file), so its shape cannot drift between call sites. The runbook's "Log
//! events" table lists them; change both together.
//!
//! | message              | level | fields                                                    |
//! |----------------------|-------|-----------------------------------------------------------|
//! | `check started`      | info  | rule, run_id, queue, worker, job, attempt                 |
//! | `check finished`     | info  | rule, run_id, queue, worker, attempt, status, duration_ms |
//! | `check error`        | warn  | ... as finished, plus error                               |
//! | `check timeout`      | warn  | ... as finished, plus error                               |
//! | `check memory killed`| warn  | ... as finished, plus error                               |
//! | `job retry`          | warn  | job, queue, worker, attempt, rules, delay_ms, error       |

use std::time::Duration;

use dq_broker::Job;
use dq_core::{Queue, RunStatus};
use dq_store::RunResult;

/// What the message of a run stopped by its child's memory limit starts
/// with (`child::memory_limit_message`).
const MEMORY_LIMIT_SIGN: &str = "exceeded its memory limit";

/// One `check started` per run the worker is about to execute.
pub(crate) fn checks_started(job: &Job, job_id: &str, queue: Queue, worker: &str, attempt: u32) {
    for run in &job.runs {
        tracing::info!(
            rule = %run.rule.name,
            run_id = %run.run_id,
            queue = %queue,
            worker,
            job = job_id,
            attempt,
            "check started"
        );
    }
}

/// How a stored run ended, as the log says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Finished,
    Error,
    Timeout,
    MemoryKilled,
}

impl Ending {
    pub(crate) fn of(result: &RunResult) -> Ending {
        let run = &result.run;
        match run.status {
            RunStatus::Timeout => Ending::Timeout,
            RunStatus::Error
                if run
                    .error
                    .as_deref()
                    .unwrap_or(&run.message)
                    .contains(MEMORY_LIMIT_SIGN) =>
            {
                Ending::MemoryKilled
            }
            RunStatus::Error => Ending::Error,
            _ => Ending::Finished,
        }
    }
}

/// One event per run the store has just finished (after the commit, so a
/// redelivered job that finishes nothing logs nothing).
pub(crate) fn check_ended(result: &RunResult) {
    let run = &result.run;
    let rule = run.rule_name.as_str();
    let run_id = run.id.to_string();
    let queue = run.queue.as_str();
    let worker = run.worker.as_deref().unwrap_or_default();
    let status = run.status.as_str();
    let duration_ms = run.duration_ms.unwrap_or_default();
    let error = run.error.as_deref().unwrap_or(&run.message);
    match Ending::of(result) {
        Ending::Finished => tracing::info!(
            rule,
            run_id,
            queue,
            worker,
            attempt = run.attempt,
            status,
            duration_ms,
            "check finished"
        ),
        Ending::Error => tracing::warn!(
            rule,
            run_id,
            queue,
            worker,
            attempt = run.attempt,
            status,
            duration_ms,
            error,
            "check error"
        ),
        Ending::Timeout => tracing::warn!(
            rule,
            run_id,
            queue,
            worker,
            attempt = run.attempt,
            status,
            duration_ms,
            error,
            "check timeout"
        ),
        Ending::MemoryKilled => tracing::warn!(
            rule,
            run_id,
            queue,
            worker,
            attempt = run.attempt,
            status,
            duration_ms,
            error,
            "check memory killed"
        ),
    }
}

/// The job goes back to the broker for another attempt after `delay`.
pub(crate) fn job_retry(
    job: &Job,
    job_id: &str,
    queue: Queue,
    worker: &str,
    attempt: u32,
    delay: Duration,
    error: &str,
) {
    let rules = job
        .runs
        .iter()
        .map(|run| run.rule.name.as_str())
        .collect::<Vec<_>>()
        .join(",");
    tracing::warn!(
        job = job_id,
        queue = %queue,
        worker,
        attempt,
        rules,
        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        error,
        "job retry"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::memory_limit_message;

    #[test]
    fn the_memory_sign_is_what_the_child_says() {
        assert!(memory_limit_message(64).contains(MEMORY_LIMIT_SIGN));
    }
}
