//! The run starter: ONE task through which every delivery marks its runs
//! RUNNING. Whatever requests arrive while a start is being committed go
//! out together in the next (`Store::start_jobs`), so a burst of small jobs
//! pays one commit per batch rather than one each, and a lone job waits
//! for no timer.

use dq_core::RunId;
use dq_store::{JobStart, Store};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Jobs started per transaction, at most.
const MAX_BATCH: usize = 256;

struct Request {
    run_ids: Vec<RunId>,
    attempt: u32,
    reply: oneshot::Sender<Result<Vec<RunId>, String>>,
}

/// A handle to the starter task; cheap to clone.
#[derive(Clone)]
pub(crate) struct Starter {
    requests: mpsc::Sender<Request>,
}

impl Starter {
    pub(crate) fn spawn(store: Store, worker: String) -> (Starter, JoinHandle<()>) {
        let (requests, receiver) = mpsc::channel(MAX_BATCH);
        let task = tokio::spawn(run(store, worker, receiver));
        (Starter { requests }, task)
    }

    /// The runs of the job to execute (see `Store::start_runs`), or why
    /// they could not be marked.
    pub(crate) async fn start(
        &self,
        run_ids: Vec<RunId>,
        attempt: u32,
    ) -> Result<Vec<RunId>, String> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            run_ids,
            attempt,
            reply,
        };
        if self.requests.send(request).await.is_err() {
            return Err("the run starter has stopped".to_string());
        }
        answer
            .await
            .unwrap_or_else(|_| Err("the run starter has stopped".to_string()))
    }
}

/// Until every handle is gone.
async fn run(store: Store, worker: String, mut receiver: mpsc::Receiver<Request>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let jobs: Vec<JobStart<'_>> = batch
            .iter()
            .map(|r| JobStart {
                run_ids: &r.run_ids,
                attempt: r.attempt,
            })
            .collect();
        let started = store.start_jobs(&jobs, &worker, chrono::Utc::now()).await;
        match started {
            Ok(started) => {
                for (request, runs) in batch.into_iter().zip(started) {
                    let _ = request.reply.send(Ok(runs));
                }
            }
            Err(e) => {
                let cause = e.to_string();
                for request in batch {
                    let _ = request.reply.send(Err(cause.clone()));
                }
            }
        }
    }
}
