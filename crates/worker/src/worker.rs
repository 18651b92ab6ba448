//! The worker's main loop: take a delivery whenever a slot is free, hand it
//! to its own task (`job::handle`), beat, and on shutdown stop taking,
//! let in-flight jobs finish up to the deadline, flush the writer and
//! return what was done.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use dq_broker::{Broker, Consumer};
use dq_store::Store;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::WorkerConfig;
use crate::error::WorkerError;
use crate::heartbeat::Heartbeats;
use crate::job::{self, Shared};
use crate::metrics::WorkerMetrics;
use crate::pool::Pool;
use crate::starter::Starter;
use crate::stats::{Counters, WorkerSummary};
use crate::writer::{self, WriterConfig};

/// The claim on a message is renewed at least this often, whatever the
/// broker's visibility timeout.
const MIN_EXTEND_EVERY: Duration = Duration::from_millis(100);
/// How long the writer may take to commit what is left at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Executes the jobs of one queue.
pub struct Worker {
    config: WorkerConfig,
    store: Store,
    broker: Broker,
    pool: Pool,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .finish()
    }
}

impl Worker {
    /// Starts the pool (threads are spawned now; children on first use).
    /// `targets` maps target names to their URLs.
    pub fn new(
        config: WorkerConfig,
        store: Store,
        broker: Broker,
        targets: BTreeMap<String, String>,
    ) -> Result<Self, WorkerError> {
        let pool = Pool::start(&config, targets)?;
        Ok(Worker {
            config,
            store,
            broker,
            pool,
        })
    }

    /// Runs until `shutdown` becomes true (or its sender is dropped).
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> WorkerSummary {
        let Worker {
            config,
            store,
            broker,
            pool,
        } = self;
        let counters = Arc::new(Counters::new(WorkerMetrics::new(
            config.metrics.clone(),
            config.queue,
        )));
        let (writer, writer_task) = writer::spawn(
            store.clone(),
            WriterConfig {
                batch_size: config.batch_size.max(1),
                batch_delay: config.batch_delay,
                retry: config.retry,
            },
            counters.clone(),
        );
        let (stop_beats, beats_stopped) = watch::channel(false);
        let beats = tokio::spawn(
            Heartbeats {
                store: store.clone(),
                config: config.clone(),
                counters: counters.clone(),
                started_at: Utc::now(),
            }
            .run(beats_stopped),
        );
        let extend_every = (broker.config().visibility_timeout / 3).max(MIN_EXTEND_EVERY);
        let (starter, starter_task) = Starter::spawn(store.clone(), config.name.clone());
        let shared = Arc::new(Shared {
            config,
            store,
            starter,
            pool,
            writer,
            counters: counters.clone(),
            extend_every,
        });
        tracing::info!(worker = %shared.config.name, queue = %shared.config.queue.as_str(),
            pool = %shared.config.pool, concurrency = shared.config.concurrency, "worker started");

        let mut tasks = JoinSet::new();
        let consumer = take_deliveries(&shared, &broker, shutdown, &mut tasks).await;

        let deadline = Instant::now() + shared.config.shutdown_deadline;
        while !tasks.is_empty() {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(_) => {}
                Err(_) => {
                    let left = tasks.len() as u64;
                    tracing::warn!(
                        jobs = left,
                        "shutdown deadline: abandoning jobs still running"
                    );
                    Counters::add(&counters.abandoned, left);
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                }
            }
        }
        // Every task is gone: this is the last handle, and dropping its
        // writer sender lets the writer flush and stop.
        let pool = match Arc::try_unwrap(shared) {
            Ok(shared) => Some(shared.pool),
            Err(_) => None,
        };
        if tokio::time::timeout(FLUSH_TIMEOUT, writer_task)
            .await
            .is_err()
        {
            tracing::error!("the result writer did not finish; unwritten jobs will be redelivered");
        }
        // The last starter handle went with `shared`; nothing waits on it.
        starter_task.abort();
        // Settling needs the consumer's connection (AMQP): dropped only now.
        drop(consumer);
        let _ = stop_beats.send(true);
        let _ = beats.await;
        let child_pids = pool.as_ref().map(Pool::child_pids).unwrap_or_default();
        if let Some(pool) = pool {
            pool.shutdown().await;
        }
        let summary = counters.summary(child_pids);
        tracing::info!(?summary, "worker stopped");
        summary
    }
}

/// Takes deliveries while a slot is free, until shutdown. Returns the
/// consumer, still open, so in-flight deliveries can be settled.
async fn take_deliveries(
    shared: &Arc<Shared>,
    broker: &Broker,
    mut shutdown: watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) -> Option<Consumer> {
    let config = &shared.config;
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut consumer: Option<Consumer> = None;
    let mut failures: u32 = 0;
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        if consumer.is_none() {
            let connect = broker.consumer(config.queue, &config.name, config.concurrency.max(1));
            let connected = tokio::select! {
                connected = connect => connected,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            match connected {
                Ok(c) => consumer = Some(c),
                Err(e) => {
                    failures += 1;
                    if pause_after_error(shared, &e, failures, &mut shutdown).await {
                        break;
                    }
                    continue;
                }
            }
        }
        let Some(current) = consumer.as_mut() else {
            continue;
        };
        let next = tokio::select! {
            next = current.next() => next,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        match next {
            Ok(delivery) => {
                failures = 0;
                tasks.spawn(job::handle(shared.clone(), delivery, permit));
            }
            Err(e) => {
                // A consumer that failed past its reconnect budget is
                // rebuilt from scratch.
                consumer = None;
                failures += 1;
                if pause_after_error(shared, &e, failures, &mut shutdown).await {
                    break;
                }
            }
        }
    }
    consumer
}

/// Waits out a broker error with backoff; `true` if shutdown came first.
async fn pause_after_error(
    shared: &Shared,
    error: &dq_broker::BrokerError,
    failures: u32,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let delay = shared.config.retry.delay(failures);
    tracing::error!(error = %error, ?delay, "cannot take deliveries; trying again");
    tokio::select! {
        _ = tokio::time::sleep(delay) => false,
        _ = shutdown.wait_for(|stop| *stop) => true,
    }
}
