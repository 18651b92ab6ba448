//! `dq beat`: the scheduler service. Run two or more for high availability:
//! one holds the leader lease and enqueues, the others stand by.

use std::path::Path;

use anyhow::Result;
use dq_beat::{Beat, BeatConfig};

use crate::cli::BeatArgs;
use crate::commands::shutdown;
use crate::config::redact;
use crate::exit;

pub async fn run(config_path: Option<&Path>, args: BeatArgs) -> Result<u8> {
    let (config, store) = super::open(config_path).await?;
    let broker = super::connect_broker(&config).await?;
    let owner = args.owner.unwrap_or_else(|| shutdown::process_name("beat"));
    let mut beat_config = BeatConfig::new(owner.clone());
    beat_config.max_attempts = config.broker.max_attempts;
    if let Some(ttl) = args.lease_ttl {
        beat_config.lease_ttl = ttl;
    }
    tracing::info!(%owner, broker = %redact(&config.broker.url), "beat starting");
    let stop = shutdown::on_signal();
    let metrics = dq_metrics::Metrics::new();
    let endpoint = match &args.metrics_listen {
        Some(listen) => {
            Some(super::api::spawn_metrics(listen, metrics.clone(), stop.clone()).await?)
        }
        None => None,
    };
    let stats = Beat::new(store, broker, beat_config)
        .with_metrics(metrics)
        .with_retention(config.retention.clone())
        .run(stop)
        .await;
    if let Some(endpoint) = endpoint {
        let _ = endpoint.await;
    }
    tracing::info!(
        runs = stats.runs_enqueued,
        jobs = stats.jobs_published,
        dropped = stats.ticks_dropped,
        "beat stopped"
    );
    Ok(exit::OK)
}
