//! The crate's one error type. A failing check is never an error here (it
//! is a run with status ERROR); these are the worker's own failures.

use dq_broker::BrokerError;
use dq_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot start the {pool} pool: {cause}")]
    Pool { pool: &'static str, cause: String },
    #[error("cannot consume from the queue: {0}")]
    Broker(#[from] BrokerError),
    #[error("store error: {0}")]
    Store(#[from] StoreError),
    /// The process-pool child's own failures (bad request, broken pipe).
    #[error("worker child: {0}")]
    Child(String),
}
