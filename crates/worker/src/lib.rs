//! dq-worker: the executor service. A [`Worker`] takes jobs from one queue
//! and, for each delivery:
//!
//! 1. marks its runs started in the store, through the one starter task
//!    that batches the starts of concurrent deliveries (`start_jobs`); if
//!    none is left to run (a redelivery of finished work) it acks and stops
//!    there;
//! 2. runs the job's rules in its pool — `dq_core::plan`, then
//!    `dq_targets::execute` — under the job's hard time limit, renewing its
//!    claim on the message meanwhile (`Delivery::extend`);
//! 3. if a rule's target could not be reached and attempts remain, sends the
//!    job back with exponential backoff and jitter (`Delivery::retry`),
//!    finishing nothing; on the last attempt those runs end ERROR ("gave up
//!    after N attempts: ...") and the envelope goes to the dead letters;
//! 4. otherwise hands the results to the one writer task, which commits
//!    batches of them (`finish_runs`, group commit) and acks each delivery
//!    only after its results are committed.
//!
//! Pools (`pool/`): `async` (tokio tasks), `threads` (OS threads with a
//! runtime each), `process` (children of the same binary running
//! [`child_main`], spoken to in JSON lines, each with a memory limit, killed
//! at the hard limit, recycled after N jobs). The worker sends heartbeats
//! to the store and shuts down gracefully when told to.
//!
//! [`record`] is the mapping from a rule's outcome to what the store keeps;
//! `dq run` uses it too.

mod child;
pub mod config;
mod error;
mod events;
mod execute;
mod heartbeat;
pub mod history;
mod job;
mod metrics;
mod pool;
pub mod protocol;
pub mod record;
mod starter;
mod stats;
mod worker;
mod writer;

pub use child::child_main;
pub use config::{ChildCommand, PoolKind, ProcessOptions, RetryPolicy, UnknownPool, WorkerConfig};
pub use error::WorkerError;
pub use stats::WorkerSummary;
pub use worker::Worker;
