//! One delivery, from the queue to the writer: mark its runs started (a
//! redelivery of finished work stops here), run them in the pool while
//! keeping the claim alive, then either retry the job later (its target was
//! unreachable and attempts remain) or hand its results to the writer,
//! which acks (or, when the job gave up, dead-letters) after the commit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_broker::{Delivery, Envelope, Job, RetryOutcome};
use dq_core::{RunId, RunStatus, Verdict};
use dq_targets::RuleOutcome;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use crate::config::{format_limit, WorkerConfig};
use crate::events;
use crate::history;
use crate::metrics::{JobOutcome, RuleFacts};
use crate::pool::{JobOutput, Pool};
use crate::record::{self, RunContext};
use crate::starter::Starter;
use crate::stats::Counters;
use crate::writer::{Settle, Write};

/// What every delivery's task shares.
pub(crate) struct Shared {
    pub(crate) config: WorkerConfig,
    /// For the history anomaly checks are judged against.
    pub(crate) store: dq_store::Store,
    pub(crate) starter: Starter,
    pub(crate) pool: Pool,
    pub(crate) writer: mpsc::Sender<Write>,
    pub(crate) counters: Arc<Counters>,
    /// How often a running job renews its claim on the message.
    pub(crate) extend_every: Duration,
}

/// Handles one delivery; `permit` is its slot among the jobs running at
/// once, given back when the results go to the writer.
pub(crate) async fn handle(shared: Arc<Shared>, delivery: Delivery, permit: OwnedSemaphorePermit) {
    let envelope = delivery.envelope().clone();
    let ids: Vec<RunId> = envelope.job.runs.iter().map(|r| r.run_id).collect();
    let config = &shared.config;
    let started = match shared.starter.start(ids, envelope.attempt).await {
        Ok(started) => {
            if !started.is_empty() {
                tracing::info!(
                    job = %envelope.id,
                    attempt = envelope.attempt,
                    runs = started.len(),
                    "job started"
                );
            }
            started
        }
        Err(e) => {
            let reason = format!("cannot mark the runs started: {e}");
            retry_later(&shared, delivery, &reason).await;
            return;
        }
    };
    if started.is_empty() {
        tracing::info!(job = %envelope.id, "redelivery of finished work: acked without running");
        Counters::bump(&shared.counters.duplicates);
        shared.counters.exported.job_settled(JobOutcome::Duplicate);
        if let Err(e) = delivery.ack().await {
            tracing::warn!(job = %envelope.id, error = %e, "cannot ack a finished job");
        }
        return;
    }
    let mut job = envelope.job.clone();
    job.runs.retain(|run| started.contains(&run.run_id));
    events::checks_started(
        &job,
        &envelope.id,
        envelope.queue,
        &config.name,
        envelope.attempt,
    );
    let active = shared.counters.exported.active_task();

    let began = Utc::now();
    let output = run_keeping_claim(&shared, job.clone(), &delivery).await;
    let outcomes = outcomes_of(&job, output, began);
    let mut outcomes = history::judge_job(&shared.store, &job, outcomes).await;

    let cause = outcomes
        .iter()
        .find(|(_, o)| o.retriable)
        .map(|(_, o)| o.verdict.message.clone());
    let settle = match cause {
        None => Settle::Ack,
        Some(cause) if !envelope.is_last_attempt() => {
            drop(permit);
            retry_later(&shared, delivery, &cause).await;
            return;
        }
        Some(cause) => {
            let gave_up = format!("gave up after {} attempts: {cause}", envelope.attempt);
            for (_, outcome) in outcomes.iter_mut().filter(|(_, o)| o.retriable) {
                outcome.verdict = Verdict::error(&gave_up);
            }
            Settle::DeadLetter(gave_up)
        }
    };
    let write = to_write(config, &envelope, &job, outcomes, delivery, settle);
    drop(active);
    drop(permit);
    if shared.writer.send(write).await.is_err() {
        // Only at a shutdown past its deadline: the unacked message comes back.
        tracing::warn!(job = %envelope.id, "the result writer is gone; the job will be redelivered");
    }
}

/// Runs the job in the pool, renewing the claim on its message meanwhile
/// so the broker does not hand it to another worker.
async fn run_keeping_claim(shared: &Shared, job: Job, delivery: &Delivery) -> JobOutput {
    let hard_limit = shared.config.hard_limit_for(&job);
    let work = shared.pool.run(job, hard_limit);
    tokio::pin!(work);
    let every = shared.extend_every;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            output = &mut work => return output,
            _ = ticks.tick() => {
                if let Err(e) = delivery.extend().await {
                    tracing::warn!(job = %delivery.envelope().id, error = %e, "cannot extend the claim");
                }
            }
        }
    }
}

/// One outcome per run of `job`: the pool's, or the same failure for all
/// when the pool could not finish the job.
fn outcomes_of(job: &Job, output: JobOutput, began: DateTime<Utc>) -> Vec<(RunId, RuleOutcome)> {
    let (verdict, retriable) = match output {
        JobOutput::Outcomes(outcomes) => return outcomes,
        JobOutput::HardTimeout(limit) => {
            let mut verdict =
                Verdict::error(format!("hard time limit {} exceeded", format_limit(limit)));
            verdict.status = RunStatus::Timeout;
            (verdict, false)
        }
        JobOutput::Died(message) => (Verdict::error(message), false),
        JobOutput::Unavailable(message) => (Verdict::error(message), true),
    };
    let now = Utc::now();
    job.runs
        .iter()
        .map(|run| {
            let outcome = RuleOutcome::failed(&run.rule, verdict.clone(), retriable, began, now);
            (run.run_id, outcome)
        })
        .collect()
}

fn to_write(
    config: &WorkerConfig,
    envelope: &Envelope,
    job: &Job,
    outcomes: Vec<(RunId, RuleOutcome)>,
    delivery: Delivery,
    settle: Settle,
) -> Write {
    let mut by_run: BTreeMap<RunId, RuleOutcome> = outcomes.into_iter().collect();
    let mut failed = false;
    let facts = job
        .runs
        .iter()
        .map(|run| RuleFacts::of(&run.rule))
        .collect();
    let results = job
        .runs
        .iter()
        .map(|run| {
            let outcome = by_run.remove(&run.run_id).unwrap_or_else(|| {
                let now = Utc::now();
                let verdict = Verdict::error("the pool returned no outcome for this run");
                RuleOutcome::failed(&run.rule, verdict, false, now, now)
            });
            failed |= matches!(
                outcome.verdict.status,
                RunStatus::Error | RunStatus::Timeout
            );
            let ctx = RunContext {
                run_id: run.run_id,
                scheduled_for: job.scheduled_for,
                worker: &config.name,
                queue: envelope.queue,
                attempt: envelope.attempt,
            };
            record::run_result(&run.rule, &outcome, &ctx)
        })
        .collect();
    Write {
        results,
        facts,
        delivery,
        settle,
        failed,
    }
}

/// Sends the job back for a later attempt, after the backoff for this one.
async fn retry_later(shared: &Shared, delivery: Delivery, reason: &str) {
    let envelope = delivery.envelope();
    let (attempt, id) = (envelope.attempt, envelope.id.clone());
    let delay = shared.config.retry.delay(attempt);
    let worker = &shared.config.name;
    events::job_retry(
        &envelope.job,
        &id,
        envelope.queue,
        worker,
        attempt,
        delay,
        reason,
    );
    match delivery.retry(delay, reason).await {
        Ok(RetryOutcome::Scheduled) => {
            Counters::bump(&shared.counters.retried);
            shared.counters.exported.job_settled(JobOutcome::Retried);
        }
        Ok(RetryOutcome::DeadLettered) => {
            Counters::bump(&shared.counters.dead_lettered);
            shared
                .counters
                .exported
                .job_settled(JobOutcome::DeadLettered);
        }
        Err(e) => tracing::warn!(job = %id, error = %e, "cannot schedule the retry"),
    }
}
