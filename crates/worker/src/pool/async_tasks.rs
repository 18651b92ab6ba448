//! The async pool: each job is a tokio task on the worker's runtime, which
//! suits checks that wait on a database. The hard limit aborts the task;
//! a query it left running on the target still stops at its own timeout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dq_broker::Job;

use super::JobOutput;
use crate::execute::{run_job, ExecLimits, TargetCache};

pub(crate) struct AsyncPool {
    targets: Arc<TargetCache>,
    limits: ExecLimits,
}

impl AsyncPool {
    pub(crate) fn new(targets: BTreeMap<String, String>, limits: ExecLimits) -> Self {
        AsyncPool {
            targets: Arc::new(TargetCache::new(targets)),
            limits,
        }
    }

    pub(crate) async fn run(&self, job: Job, hard_limit: Duration) -> JobOutput {
        let targets = self.targets.clone();
        let limits = self.limits;
        let task = tokio::spawn(async move { run_job(&targets, &job, &limits).await });
        let abort = task.abort_handle();
        match tokio::time::timeout(hard_limit, task).await {
            Ok(Ok(outcomes)) => JobOutput::Outcomes(outcomes),
            Ok(Err(e)) => JobOutput::Died(format!("the job's task failed: {e}")),
            Err(_) => {
                abort.abort();
                JobOutput::HardTimeout(hard_limit)
            }
        }
    }

    pub(crate) async fn shutdown(self) {
        self.targets.close().await;
    }
}
