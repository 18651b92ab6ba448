//! `dq violations [--unacknowledged] [--since 24h] [--severity HIGH]
//! [--rule NAME]`: what on-call people look at, newest first.

use std::path::Path;

use anyhow::Result;
use chrono::Utc;
use comfy_table::{presets, ContentArrangement, Table};
use dq_store::ViolationFilter;

use crate::cli::ViolationsArgs;
use crate::exit;
use crate::report::duration;

pub async fn run(config_path: Option<&Path>, args: ViolationsArgs) -> Result<u8> {
    let (_, store) = super::open(config_path).await?;
    let since = match args.since {
        Some(span) => Some(Utc::now() - chrono::Duration::from_std(span)?),
        None => None,
    };
    let violations = store
        .violations(&ViolationFilter {
            since,
            rule_names: args.rules.clone(),
            unacknowledged_only: args.unacknowledged,
            min_severity: args.severity,
            limit: Some(args.limit),
            ..ViolationFilter::default()
        })
        .await?;
    if args.json {
        for v in &violations {
            println!("{}", serde_json::to_string(v)?);
        }
        return Ok(exit::OK);
    }
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            "ID",
            "DETECTED (UTC)",
            "RULE",
            "SEVERITY",
            "OBSERVED",
            "EXPECTED",
            "ACK BY",
            "ACK AFTER",
            "RESOLVED",
        ]);
    for v in &violations {
        table.add_row(vec![
            v.id.to_string(),
            v.detected_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            v.rule_name.to_string(),
            v.severity.to_string(),
            v.observed_value
                .map(|o| o.to_string())
                .unwrap_or_else(|| "-".into()),
            v.expected.clone(),
            v.acknowledged_by.clone().unwrap_or_else(|| "-".into()),
            v.ack_delay_ms
                .map(|ms| duration(std::time::Duration::from_millis(ms)))
                .unwrap_or_else(|| "-".into()),
            v.resolved_at
                .map(|r| r.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    println!("{table}");
    let open = violations.iter().filter(|v| !v.acknowledged).count();
    println!(
        "{} violation(s), {open} unacknowledged. Acknowledge with `dq ack ID...`.",
        violations.len()
    );
    Ok(exit::OK)
}
