//! `dq serve`: the beat and one worker per queue in one process. On the
//! embedded default (SQLite store, in-process queues) it needs no service;
//! with a configured store and broker it is a one-machine fleet.

use std::path::Path;

use anyhow::Result;
use dq_beat::{Beat, BeatConfig};
use dq_core::Queue;
use dq_worker::{PoolKind, Worker, WorkerConfig};

use crate::cli::ServeArgs;
use crate::commands::shutdown;
use crate::commands::worker::targets;
use crate::exit;

pub async fn run(config_path: Option<&Path>, args: ServeArgs) -> Result<u8> {
    let (config, store) = super::open(config_path).await?;
    let broker = super::connect_broker(&config).await?;
    let stop = shutdown::on_signal();
    // One registry: the API's /metrics shows the beat's, workers' and alerts' families.
    let metrics = dq_metrics::Metrics::new();
    let listen = args
        .listen
        .clone()
        .unwrap_or_else(|| config.api.listen.clone());
    let api = super::api::spawn(
        &config,
        store.clone(),
        Some(broker.clone()),
        metrics.clone(),
        &listen,
        stop.clone(),
    )
    .await?;
    let mut beat_config = BeatConfig::new(shutdown::process_name("beat"));
    beat_config.max_attempts = config.broker.max_attempts;
    let mut tasks = tokio::task::JoinSet::new();
    let beat = Beat::new(store.clone(), broker.clone(), beat_config)
        .with_metrics(metrics.clone())
        .with_retention(config.retention.clone());
    let beat_stop = stop.clone();
    tasks.spawn(async move {
        let stats = beat.run(beat_stop).await;
        tracing::info!(?stats, "beat stopped");
    });
    // Each queue gets the pool that fits it (DESIGN.md, "Queues and pools").
    for (queue, pool) in [
        (Queue::Database, PoolKind::Async),
        (Queue::Compute, PoolKind::Threads),
        (Queue::Memory, PoolKind::Process),
    ] {
        let mut worker_config = WorkerConfig::new(queue, pool);
        worker_config.concurrency = args.concurrency.max(1);
        worker_config.process.command = dq_worker::ChildCommand::current_exe().ok();
        worker_config.metrics = metrics.clone();
        let worker = Worker::new(
            worker_config,
            store.clone(),
            broker.clone(),
            targets(&config),
        )?;
        let worker_stop = stop.clone();
        tasks.spawn(async move {
            let summary = worker.run(worker_stop).await;
            tracing::info!(%queue, ?summary, "worker stopped");
        });
    }
    if let Some(alerts) =
        super::alerts::spawn_beside_workers(&config, &store, metrics.clone(), stop.clone())?
    {
        tasks.spawn(async move {
            let _ = alerts.await;
        });
    }
    tracing::info!(store = %crate::config::redact(&config.store_url), broker = %config.broker.url, "serving: beat + 3 workers; Ctrl-C to stop");
    tasks.spawn(async move {
        if let Ok(Err(e)) = api.await {
            tracing::error!(error = %e, "the API server failed");
        }
    });
    while tasks.join_next().await.is_some() {}
    Ok(exit::OK)
}
