//! The threads pool: N OS threads, each with its own current-thread tokio
//! runtime and its own target connections, fed through a bounded channel.
//! It is for checks computed in the worker (CPU bound), which would stall
//! the async pool's shared runtime; today they run the same executor.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use dq_broker::Job;
use tokio::sync::{mpsc, oneshot};

use super::JobOutput;
use crate::error::WorkerError;
use crate::execute::{run_job, ExecLimits, TargetCache};

/// How much longer than the hard limit the caller waits for a thread that
/// does not give control back (CPU-bound code never reaching an await).
const STUCK_GRACE: Duration = Duration::from_secs(5);
/// On shutdown, how long to wait for the threads to finish.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

struct ThreadJob {
    job: Job,
    hard_limit: Duration,
    reply: oneshot::Sender<JobOutput>,
}

type Inbox = Arc<Mutex<mpsc::Receiver<ThreadJob>>>;

pub(crate) struct ThreadPool {
    sender: mpsc::Sender<ThreadJob>,
    threads: Vec<JoinHandle<()>>,
}

impl ThreadPool {
    pub(crate) fn start(
        count: usize,
        targets: BTreeMap<String, String>,
        limits: ExecLimits,
    ) -> Result<Self, WorkerError> {
        let (sender, receiver) = mpsc::channel(count);
        let inbox: Inbox = Arc::new(Mutex::new(receiver));
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| pool_error(format!("runtime: {e}")))?;
            let inbox = inbox.clone();
            let targets = targets.clone();
            let thread = std::thread::Builder::new()
                .name(format!("dq-check-{index}"))
                .spawn(move || serve(runtime, inbox, TargetCache::new(targets), limits))
                .map_err(|e| pool_error(format!("thread: {e}")))?;
            threads.push(thread);
        }
        Ok(ThreadPool { sender, threads })
    }

    pub(crate) async fn run(&self, job: Job, hard_limit: Duration) -> JobOutput {
        let (reply, answer) = oneshot::channel();
        let message = ThreadJob {
            job,
            hard_limit,
            reply,
        };
        if self.sender.send(message).await.is_err() {
            return JobOutput::Unavailable("the check threads have stopped".into());
        }
        match tokio::time::timeout(hard_limit + STUCK_GRACE, answer).await {
            Ok(Ok(output)) => output,
            Ok(Err(_)) => JobOutput::Died("the check thread stopped during the job".into()),
            // The thread stays busy until its code yields; the job is
            // abandoned all the same.
            Err(_) => JobOutput::HardTimeout(hard_limit),
        }
    }

    pub(crate) async fn shutdown(self) {
        let ThreadPool { sender, threads } = self;
        drop(sender);
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        });
        if tokio::time::timeout(JOIN_TIMEOUT, joined).await.is_err() {
            tracing::warn!("check threads still busy at shutdown; leaving them");
        }
    }
}

fn pool_error(cause: String) -> WorkerError {
    WorkerError::Pool {
        pool: "threads",
        cause,
    }
}

fn serve(runtime: tokio::runtime::Runtime, inbox: Inbox, targets: TargetCache, limits: ExecLimits) {
    loop {
        // A poisoned lock only means another thread panicked while waiting;
        // the receiver itself is intact.
        let next = inbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .blocking_recv();
        let Some(message) = next else { break };
        let hard_limit = message.hard_limit;
        let job = &message.job;
        let ran = catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(async {
                tokio::select! {
                    outcomes = run_job(&targets, job, &limits) => JobOutput::Outcomes(outcomes),
                    _ = tokio::time::sleep(hard_limit) => JobOutput::HardTimeout(hard_limit),
                }
            })
        }));
        let output = ran.unwrap_or_else(|panic| {
            JobOutput::Died(format!(
                "the check thread panicked: {}",
                panic_text(&*panic)
            ))
        });
        let _ = message.reply.send(output);
    }
    runtime.block_on(targets.close());
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
