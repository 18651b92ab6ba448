//! `dq ack ID... [--by NAME] [--note TEXT]`: acknowledge violations. An
//! acknowledged incident stops repeating and escalating; the time from
//! detection to acknowledgement is stored.

use std::path::Path;

use anyhow::{bail, Result};
use chrono::Utc;
use dq_store::ViolationFilter;

use crate::cli::AckArgs;
use crate::exit;
use crate::report::duration;

pub async fn run(config_path: Option<&Path>, args: AckArgs) -> Result<u8> {
    let by = match args.by.or_else(|| std::env::var("USER").ok()) {
        Some(by) if !by.trim().is_empty() => by,
        _ => bail!("say who acknowledges: --by NAME (no $USER to default to)"),
    };
    let (_, store) = super::open(config_path).await?;
    let acknowledged = store
        .acknowledge(&args.ids, &by, args.note.as_deref(), Utc::now())
        .await?;
    // Read back to show the response time of what was acknowledged now.
    let recent = store
        .violations(&ViolationFilter {
            limit: None,
            ..ViolationFilter::default()
        })
        .await?;
    for id in &args.ids {
        let record = recent.iter().find(|v| v.id == *id);
        match (acknowledged.contains(id), record) {
            (true, Some(v)) => println!(
                "acknowledged {id} ({}, {}) by {by}, {} after detection",
                v.rule_name,
                v.severity,
                v.ack_delay_ms
                    .map(|ms| duration(std::time::Duration::from_millis(ms)))
                    .unwrap_or_else(|| "-".into())
            ),
            (true, None) => println!("acknowledged {id} by {by}"),
            (false, Some(v)) => println!(
                "{id} was already acknowledged by {}",
                v.acknowledged_by.as_deref().unwrap_or("?")
            ),
            (false, None) => println!("{id} was already acknowledged"),
        }
    }
    Ok(exit::OK)
}
