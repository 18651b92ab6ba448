pub mod ack;
pub mod alerts;
pub mod api;
pub mod beat;
pub mod cleanup;
pub mod demo;
pub mod doctor;
pub mod export;
pub mod init;
pub mod inspect;
pub mod load;
pub mod migrate;
pub mod reports;
pub mod requeue;
pub mod rules;
pub mod run;
pub mod schema_report;
pub mod serve;
pub mod shutdown;
pub mod violations;
pub mod worker;

use std::path::Path;

use anyhow::{Context, Result};
use dq_store::Store;

use crate::config::{redact, Config};

/// The broker named in `[broker]` (memory:// by default).
pub async fn connect_broker(config: &Config) -> Result<dq_broker::Broker> {
    dq_broker::Broker::connect(&config.broker.to_broker_config())
        .await
        .with_context(|| {
            format!(
                "cannot connect to the broker {}",
                redact(&config.broker.url)
            )
        })
}

/// The configuration and the store every command (but the demo) starts
/// from; rule changes made through it are recorded as [`actor`]'s.
pub async fn open(config_path: Option<&Path>) -> Result<(Config, Store)> {
    let config = Config::discover(config_path)?;
    let store = Store::open(&config.store_url)
        .await
        .with_context(|| format!("cannot open the store {}", redact(&config.store_url)))?;
    Ok((config, store.acting_as(&actor())))
}

/// Who rule versions name: `DQ_ACTOR`, else the login (`USER`), else `dq`.
pub fn actor() -> String {
    ["DQ_ACTOR", "USER", "LOGNAME"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| dq_store::DEFAULT_ACTOR.to_string())
}

/// A table as every command prints one: borders only, never wrapped.
pub(crate) fn table(header: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header.to_vec());
    table
}
