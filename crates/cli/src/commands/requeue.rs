//! `dq requeue QUEUE`: replay the dead letters of a queue (after fixing what
//! killed them), attempt counter reset.

use std::path::Path;

use anyhow::{Context, Result};
use dq_broker::Broker;

use crate::cli::RequeueArgs;
use crate::config::redact;
use crate::exit;

pub async fn run(config_path: Option<&Path>, args: RequeueArgs) -> Result<u8> {
    let (config, _store) = super::open(config_path).await?;
    let broker = Broker::connect(&config.broker.to_broker_config())
        .await
        .with_context(|| {
            format!(
                "cannot connect to the broker {}",
                redact(&config.broker.url)
            )
        })?;
    let replayed = broker.requeue_dead(args.queue, args.limit).await?;
    println!("requeued {replayed} dead letter(s) of {}", args.queue);
    Ok(exit::OK)
}
