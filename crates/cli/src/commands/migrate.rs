//! `dq migrate`: bring the store's schema up to date.

use std::path::Path;

use anyhow::{Context, Result};
use dq_store::Store;

use crate::config::{redact, Config};
use crate::exit;

pub async fn run(config_path: Option<&Path>) -> Result<u8> {
    let config = Config::discover(config_path)?;
    let url = redact(&config.store_url);
    let store = Store::open(&config.store_url)
        .await
        .with_context(|| format!("cannot open the store {url}"))?;
    store
        .migrate()
        .await
        .with_context(|| format!("cannot migrate the store {url}"))?;
    println!("store {url} is up to date");
    Ok(exit::OK)
}
