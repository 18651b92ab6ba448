//! `dq api`: the HTTP API on its own (health, /metrics, REST). Also what
//! `dq serve`, `dq worker --metrics-listen` and `dq beat --metrics-listen`
//! use to put their endpoints up.

use std::path::Path;

use anyhow::{Context, Result};
use dq_api::{ApiConfig, ApiState};
use dq_broker::Broker;
use dq_metrics::Metrics;
use dq_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cli::ApiArgs;
use crate::commands::shutdown;
use crate::config::Config;
use crate::exit;

pub async fn run(config_path: Option<&Path>, args: ApiArgs) -> Result<u8> {
    let (config, store) = super::open(config_path).await?;
    let broker = super::connect_broker(&config).await?;
    let listen = args.listen.unwrap_or_else(|| config.api.listen.clone());
    let stop = shutdown::on_signal();
    let server = spawn(&config, store, Some(broker), Metrics::new(), &listen, stop).await?;
    server
        .await
        .context("the API server stopped abnormally")??;
    Ok(exit::OK)
}

/// Binds `listen` (failing at once if it cannot) and serves the API there
/// until `stop`.
pub async fn spawn(
    config: &Config,
    store: Store,
    broker: Option<Broker>,
    metrics: Metrics,
    listen: &str,
    stop: watch::Receiver<bool>,
) -> Result<JoinHandle<std::io::Result<()>>> {
    let api_config = ApiConfig {
        token: config.api.token.clone(),
        reads_need_token: config.api.reads_need_token,
        targets: config.targets.keys().cloned().collect(),
        beat_lease: dq_beat::LEASE_NAME.to_string(),
    };
    if api_config.token.is_none() {
        tracing::warn!("no API token is configured ([api] token_env, default DQ_API_TOKEN): writes are refused");
    }
    // Rule changes made through the API are versions by "api".
    let store = store.acting_as("api");
    let router = dq_api::router(ApiState::new(store, broker, metrics, api_config));
    let listener = bind(listen).await?;
    let address = listener
        .local_addr()
        .map_or(listen.to_string(), |a| a.to_string());
    tracing::info!(%address, "API listening: /api/v1/dq/health/, /metrics, /api/v1/dq/openapi.json");
    Ok(tokio::spawn(dq_api::serve(listener, router, stop)))
}

/// `/metrics` alone on `listen`, for a worker or a beat.
pub async fn spawn_metrics(
    listen: &str,
    metrics: Metrics,
    stop: watch::Receiver<bool>,
) -> Result<JoinHandle<std::io::Result<()>>> {
    let listener = bind(listen).await?;
    let address = listener
        .local_addr()
        .map_or(listen.to_string(), |a| a.to_string());
    tracing::info!(%address, "metrics listening: GET /metrics");
    Ok(tokio::spawn(dq_api::serve(
        listener,
        dq_api::metrics_router(metrics),
        stop,
    )))
}

async fn bind(listen: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
}
