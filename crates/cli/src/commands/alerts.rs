//! `dq alerts dispatch` (the alert dispatcher as a service, or `--once`)
//! and `dq alerts status` (recent deliveries); and the dispatcher that
//! `dq worker` and `dq serve` run beside their workers.

use std::path::Path;

use anyhow::{Context, Result};
use comfy_table::{presets, ContentArrangement, Table};
use dq_alerts::{AlertsConfig, Dispatcher};
use dq_store::{DeliveryFilter, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cli::{AlertsCommand, AlertsStatusArgs, DispatchArgs};
use crate::commands::shutdown;
use crate::config::Config;
use crate::exit;

pub async fn run(config_path: Option<&Path>, command: AlertsCommand) -> Result<u8> {
    let (config, store) = super::open(config_path).await?;
    match command {
        AlertsCommand::Dispatch(args) => dispatch(&config, store, args).await,
        AlertsCommand::Status(args) => status(&store, args).await,
    }
}

fn alerts_config(config: &Config) -> AlertsConfig {
    config.alerts.clone().unwrap_or_else(|| {
        tracing::warn!(
            "no [alerts] section in {}: events are recorded, nothing is sent",
            config.origin
        );
        AlertsConfig::default()
    })
}

fn dispatcher(config: &Config, store: Store, name: String) -> Result<Dispatcher> {
    Dispatcher::new(store, alerts_config(config), name, &|var| {
        std::env::var(var).ok()
    })
    .context("cannot start the alert dispatcher")
}

async fn dispatch(config: &Config, store: Store, args: DispatchArgs) -> Result<u8> {
    let name = args
        .name
        .unwrap_or_else(|| shutdown::process_name("alerts"));
    let dispatcher = dispatcher(config, store, name)?;
    if args.once {
        let left = dispatcher.drain(args.within).await?;
        println!(
            "dispatched; left: {} unplanned event(s), {} undelivered deliveries",
            left.unplanned, left.undelivered
        );
        return Ok(exit::OK);
    }
    dispatcher.run(shutdown::on_signal()).await;
    Ok(exit::OK)
}

/// The dispatcher a worker process runs, unless `[alerts] dispatch = false`
/// or there is no `[alerts]` section (then nothing would be sent).
pub fn spawn_beside_workers(
    config: &Config,
    store: &Store,
    metrics: dq_metrics::Metrics,
    stop: watch::Receiver<bool>,
) -> Result<Option<JoinHandle<()>>> {
    match &config.alerts {
        Some(alerts) if alerts.dispatch => {
            let d = dispatcher(config, store.clone(), shutdown::process_name("alerts"))?
                .with_metrics(metrics);
            Ok(Some(tokio::spawn(d.run(stop))))
        }
        _ => Ok(None),
    }
}

async fn status(store: &Store, args: AlertsStatusArgs) -> Result<u8> {
    let deliveries = store
        .deliveries(&DeliveryFilter {
            states: args.states,
            limit: Some(args.limit),
            ..DeliveryFilter::default()
        })
        .await?;
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            "ID",
            "CREATED (UTC)",
            "CHANNEL",
            "ROUTE",
            "ITEMS",
            "STATE",
            "ATTEMPTS",
            "SENT",
            "LAST ERROR",
        ]);
    for d in &deliveries {
        table.add_row(vec![
            d.id.to_string(),
            d.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            d.channel.clone(),
            d.batch_key.clone(),
            d.items.len().to_string(),
            d.state.to_string(),
            d.attempts.to_string(),
            d.sent_at
                .map(|s| s.format("%H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into()),
            d.last_error
                .as_deref()
                .map(|e| e.chars().take(60).collect())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    println!("{table}");
    let backlog = store.alert_backlog().await?;
    println!(
        "backlog: {} event(s) to plan, {} deliveries to send",
        backlog.unplanned, backlog.undelivered
    );
    Ok(exit::OK)
}
