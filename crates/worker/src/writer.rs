//! The result writer: ONE task that takes every finished job's results,
//! commits them in batches (group commit: up to `batch_size` runs, or what
//! came within `batch_delay`), and only then settles each job's delivery
//! (ack-after-write). A crash before the commit means the broker delivers
//! the job again and the store's run-id keys make the rewrite a no-op.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use dq_broker::Delivery;
use dq_core::RunId;
use dq_store::{RunResult, Store, StoreError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::RetryPolicy;
use crate::events;
use crate::metrics::{JobOutcome, RuleFacts};
use crate::stats::Counters;

/// One job's results and what to do with its delivery once they are stored.
pub(crate) struct Write {
    pub(crate) results: Vec<RunResult>,
    /// One per result, in the same order: what its metrics need.
    pub(crate) facts: Vec<RuleFacts>,
    pub(crate) delivery: Delivery,
    pub(crate) settle: Settle,
    /// Some run could not run (ERROR or TIMEOUT).
    pub(crate) failed: bool,
}

pub(crate) enum Settle {
    Ack,
    /// The job gave up (its last attempt could not reach the target): the
    /// envelope goes to the dead letters so operators can replay it.
    DeadLetter(String),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct WriterConfig {
    pub(crate) batch_size: usize,
    pub(crate) batch_delay: Duration,
    /// When a job's results cannot be written for a passing reason (the
    /// store is unreachable), its delivery is retried after this backoff.
    pub(crate) retry: RetryPolicy,
}

pub(crate) fn spawn(
    store: Store,
    config: WriterConfig,
    counters: Arc<Counters>,
) -> (mpsc::Sender<Write>, JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel(config.batch_size.max(1) * 2);
    let writer = Writer {
        store,
        config,
        counters,
    };
    (sender, tokio::spawn(writer.run(receiver)))
}

struct Writer {
    store: Store,
    config: WriterConfig,
    counters: Arc<Counters>,
}

impl Writer {
    /// Until every sender is gone and everything sent is written.
    async fn run(self, mut receiver: mpsc::Receiver<Write>) {
        while let Some(first) = receiver.recv().await {
            let mut runs = first.results.len();
            let mut batch = vec![first];
            let deadline = Instant::now() + self.config.batch_delay;
            while runs < self.config.batch_size {
                match tokio::time::timeout_at(deadline, receiver.recv()).await {
                    Ok(Some(write)) => {
                        runs += write.results.len();
                        batch.push(write);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            self.commit(batch).await;
        }
    }

    async fn commit(&self, mut batch: Vec<Write>) {
        let mut all = Vec::new();
        let mut facts = Vec::new();
        let mut ranges: Vec<Range<usize>> = Vec::with_capacity(batch.len());
        for write in &mut batch {
            let start = all.len();
            all.append(&mut write.results);
            facts.append(&mut write.facts);
            ranges.push(start..all.len());
        }
        match self.finish(&all, &facts).await {
            Ok(()) => {
                futures::future::join_all(batch.into_iter().map(|w| self.settle(w))).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, jobs = batch.len(), "batch write failed; writing job by job");
                // One bad job must not keep the others from their commit.
                for (write, range) in batch.into_iter().zip(ranges) {
                    match self.finish(&all[range.clone()], &facts[range]).await {
                        Ok(()) => self.settle(write).await,
                        Err(e) => self.refuse(write, &e).await,
                    }
                }
            }
        }
    }

    async fn finish(&self, results: &[RunResult], facts: &[RuleFacts]) -> Result<(), StoreError> {
        let finished = self.store.finish_runs(results).await?;
        Counters::bump(&self.counters.write_transactions);
        Counters::add(&self.counters.runs_written, finished.len() as u64);
        // Only what this commit finished: a run final already counted once.
        let finished: HashSet<RunId> = finished.into_iter().collect();
        for (result, facts) in results.iter().zip(facts) {
            if finished.contains(&result.run.id) {
                self.counters.exported.run_stored(result, *facts);
                events::check_ended(result);
            }
        }
        Ok(())
    }

    async fn settle(&self, write: Write) {
        Counters::bump(&self.counters.processed);
        if write.failed {
            Counters::bump(&self.counters.failed);
        }
        let id = write.delivery.envelope().id.clone();
        let settled = match write.settle {
            Settle::Ack => {
                self.counters.exported.job_settled(JobOutcome::Acked);
                write.delivery.ack().await
            }
            Settle::DeadLetter(reason) => {
                Counters::bump(&self.counters.dead_lettered);
                self.counters.exported.job_settled(JobOutcome::DeadLettered);
                write.delivery.dead_letter(&reason).await
            }
        };
        if let Err(e) = settled {
            // The results are stored: a redelivery will find the runs final.
            tracing::warn!(job = %id, error = %e, "cannot settle a written job");
        }
    }

    /// A job whose results the store refused: tried again later when the
    /// store may come back, dead-lettered when it never will.
    async fn refuse(&self, write: Write, error: &StoreError) {
        let envelope = write.delivery.envelope();
        let (id, attempt) = (envelope.id.clone(), envelope.attempt);
        let reason = format!("cannot write the results: {error}");
        tracing::error!(job = %id, %reason, "results not written");
        let settled = if matches!(error, StoreError::Database(_)) {
            Counters::bump(&self.counters.retried);
            self.counters.exported.job_settled(JobOutcome::Retried);
            let delay = self.config.retry.delay(attempt);
            write.delivery.retry(delay, &reason).await.map(drop)
        } else {
            Counters::bump(&self.counters.dead_lettered);
            self.counters.exported.job_settled(JobOutcome::DeadLettered);
            write.delivery.dead_letter(&reason).await
        };
        if let Err(e) = settled {
            tracing::warn!(job = %id, error = %e, "cannot settle a refused job");
        }
    }
}
