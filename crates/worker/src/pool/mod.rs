//! Where a job's checks run. Every pool runs the same executor
//! (`execute::run_job`) and bounds a job by its hard time limit; they differ
//! in isolation: tokio tasks (`async_tasks`), OS threads with a runtime each
//! (`threads`), or child processes with a memory limit (`process`). How
//! many jobs run at once is bounded by the worker, for every pool alike.

mod async_tasks;
mod process;
mod threads;

use std::collections::BTreeMap;
use std::time::Duration;

use dq_broker::Job;
use dq_core::RunId;
use dq_targets::RuleOutcome;

use crate::config::{PoolKind, WorkerConfig};
use crate::error::WorkerError;
use crate::execute::ExecLimits;

/// What became of a job handed to a pool.
#[derive(Debug)]
pub(crate) enum JobOutput {
    /// One outcome per run, in job order.
    Outcomes(Vec<(RunId, RuleOutcome)>),
    /// The hard limit fired and the job was abandoned.
    HardTimeout(Duration),
    /// What ran the job died under it (a child past its memory limit, a
    /// panic). Final: running it again would do the same.
    Died(String),
    /// The pool could not take the job (a child did not start). Retriable.
    Unavailable(String),
}

pub(crate) enum Pool {
    Async(async_tasks::AsyncPool),
    Threads(threads::ThreadPool),
    Process(process::ProcessPool),
}

impl Pool {
    pub(crate) fn start(
        config: &WorkerConfig,
        targets: BTreeMap<String, String>,
    ) -> Result<Pool, WorkerError> {
        let limits = ExecLimits {
            sample_limit: config.sample_limit,
            soft_time_limit: config.soft_time_limit,
        };
        let workers = config.concurrency.max(1);
        Ok(match config.pool {
            PoolKind::Async => Pool::Async(async_tasks::AsyncPool::new(targets, limits)),
            PoolKind::Threads => {
                Pool::Threads(threads::ThreadPool::start(workers, targets, limits)?)
            }
            PoolKind::Process => {
                Pool::Process(process::ProcessPool::new(&config.process, targets, limits)?)
            }
        })
    }

    pub(crate) async fn run(&self, job: Job, hard_limit: Duration) -> JobOutput {
        match self {
            Pool::Async(pool) => pool.run(job, hard_limit).await,
            Pool::Threads(pool) => pool.run(job, hard_limit).await,
            Pool::Process(pool) => pool.run(job, hard_limit).await,
        }
    }

    /// The pids of every child the pool started, oldest first (process
    /// pool only).
    pub(crate) fn child_pids(&self) -> Vec<u32> {
        match self {
            Pool::Process(pool) => pool.child_pids(),
            _ => Vec::new(),
        }
    }

    /// Stops threads and children and closes target connections.
    pub(crate) async fn shutdown(self) {
        match self {
            Pool::Async(pool) => pool.shutdown().await,
            Pool::Threads(pool) => pool.shutdown().await,
            Pool::Process(pool) => pool.shutdown().await,
        }
    }
}
