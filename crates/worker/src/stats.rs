//! What a worker counts while it runs: reported in its heartbeats and in
//! the summary `Worker::run` returns, and exported to Prometheus.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::WorkerMetrics;

/// What one `Worker::run` did, from start to shutdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    /// Jobs whose results were committed (then acked, or dead-lettered
    /// after a last failed attempt).
    pub processed: u64,
    /// Of those, jobs with at least one run that could not run (ERROR or
    /// TIMEOUT).
    pub failed: u64,
    /// Deliveries sent back for a later attempt (target unreachable).
    pub retried: u64,
    /// Envelopes this worker put in the dead letters.
    pub dead_lettered: u64,
    /// Redeliveries of finished work, acked without running anything.
    pub duplicates: u64,
    /// Runs the store finished for this worker.
    pub runs_written: u64,
    /// `finish_runs` transactions the result writer committed (group commit).
    pub write_transactions: u64,
    /// Jobs still running at the shutdown deadline, left unacked for the
    /// broker to deliver again.
    pub abandoned: u64,
    /// Process pool: the pid of every child started, oldest first.
    pub child_pids: Vec<u32>,
}

#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) exported: WorkerMetrics,
    pub(crate) processed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) runs_written: AtomicU64,
    pub(crate) write_transactions: AtomicU64,
    pub(crate) abandoned: AtomicU64,
}

impl Counters {
    pub(crate) fn new(exported: WorkerMetrics) -> Self {
        Counters {
            exported,
            processed: AtomicU64::default(),
            failed: AtomicU64::default(),
            retried: AtomicU64::default(),
            dead_lettered: AtomicU64::default(),
            duplicates: AtomicU64::default(),
            runs_written: AtomicU64::default(),
            write_transactions: AtomicU64::default(),
            abandoned: AtomicU64::default(),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        Counters::add(counter, 1);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn summary(&self, child_pids: Vec<u32>) -> WorkerSummary {
        WorkerSummary {
            processed: Counters::get(&self.processed),
            failed: Counters::get(&self.failed),
            retried: Counters::get(&self.retried),
            dead_lettered: Counters::get(&self.dead_lettered),
            duplicates: Counters::get(&self.duplicates),
            runs_written: Counters::get(&self.runs_written),
            write_transactions: Counters::get(&self.write_transactions),
            abandoned: Counters::get(&self.abandoned),
            child_pids,
        }
    }
}
