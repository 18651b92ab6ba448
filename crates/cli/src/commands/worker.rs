//! `dq worker -Q QUEUE --pool POOL -c N`: one queue's executor service.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use dq_worker::{ChildCommand, Worker, WorkerConfig};

use crate::cli::WorkerArgs;
use crate::commands::shutdown;
use crate::config::Config;
use crate::exit;

pub async fn run(config_path: Option<&Path>, args: WorkerArgs) -> Result<u8> {
    let (config, store) = super::open(config_path).await?;
    let broker = super::connect_broker(&config).await?;
    let mut worker_config = worker_config(&args);
    tracing::info!(
        worker = %worker_config.name,
        queue = %worker_config.queue,
        pool = %worker_config.pool,
        concurrency = worker_config.concurrency,
        "worker starting"
    );
    let stop = shutdown::on_signal();
    let metrics = worker_config.metrics.clone();
    let endpoint = match &args.metrics_listen {
        Some(listen) => {
            Some(super::api::spawn_metrics(listen, metrics.clone(), stop.clone()).await?)
        }
        None => None,
    };
    let alerts =
        super::alerts::spawn_beside_workers(&config, &store, metrics.clone(), stop.clone())?;
    worker_config.metrics = metrics;
    let worker = Worker::new(worker_config, store, broker, targets(&config))?;
    let summary = worker.run(stop).await;
    tracing::info!(?summary, "worker stopped");
    if let Some(endpoint) = endpoint {
        let _ = endpoint.await;
    }
    if let Some(alerts) = alerts {
        let _ = alerts.await;
    }
    Ok(exit::OK)
}

pub fn worker_config(args: &WorkerArgs) -> WorkerConfig {
    let mut config = WorkerConfig::new(args.queue, args.pool);
    if let Some(name) = &args.name {
        config.name = name.clone();
    }
    config.concurrency = args.concurrency.max(1);
    config.hard_time_limit = args.hard_time_limit;
    config.shutdown_deadline = args.shutdown_deadline;
    if let Some(delay) = args.retry_delay {
        config.retry.min_delay = delay;
    }
    config.process.memory_limit_mb = args.memory_limit_mb;
    config.process.max_tasks_per_child = args.max_tasks_per_child;
    config.process.command = ChildCommand::current_exe().ok();
    config
}

pub fn targets(config: &Config) -> BTreeMap<String, String> {
    config
        .targets
        .iter()
        .map(|(name, t)| (name.clone(), t.url.clone()))
        .collect()
}
