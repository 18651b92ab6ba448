//! `dq export`: violations, runs, rules or a loadable manifest, to a file or stdout.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::{Duration, Utc};
use dq_store::{RuleFilter, RunFilter, Store, ViolationFilter};
use serde_json::Value;

use crate::cli::{ExportArgs, ExportFormat, ExportKind};
use crate::exit;
use crate::export_format;

pub async fn run(config_path: Option<&Path>, args: ExportArgs) -> Result<u8> {
    let (_config, store) = super::open(config_path).await?;
    let format = export_format::choose(args.format, &args.file);
    let (text, count) = match args.kind {
        ExportKind::Manifest => {
            if format != ExportFormat::Yaml && args.format.is_some() {
                bail!("a manifest is YAML; drop --format or use --format yaml");
            }
            let rules = rules(&store, &args).await?;
            let count = rules.len();
            let rules: Vec<dq_core::Rule> = rules.into_iter().map(|r| r.rule).collect();
            (dq_core::manifest::export_manifest(&rules), count)
        }
        kind => {
            let records = records(&store, kind, &args).await?;
            (export_format::render(&records, format)?, records.len())
        }
    };
    write_output(&args.file, &text)?;
    if args.file.as_os_str() != "-" {
        eprintln!("wrote {count} record(s) to {}", args.file.display());
    }
    Ok(exit::OK)
}

async fn rules(store: &Store, args: &ExportArgs) -> Result<Vec<dq_store::StoredRule>> {
    Ok(store
        .rules(&RuleFilter {
            names: args.rule_names.clone(),
            ..RuleFilter::default()
        })
        .await?)
}

async fn records(store: &Store, kind: ExportKind, args: &ExportArgs) -> Result<Vec<Value>> {
    let since = args.days.map(|d| Utc::now() - Duration::days(i64::from(d)));
    Ok(match kind {
        ExportKind::Violations => {
            let filter = ViolationFilter {
                since,
                rule_names: args.rule_names.clone(),
                ..ViolationFilter::default()
            };
            store
                .violations(&filter)
                .await?
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<_, _>>()?
        }
        ExportKind::Runs => {
            let filter = RunFilter {
                since,
                rule_names: args.rule_names.clone(),
                ..RunFilter::default()
            };
            store
                .runs(&filter)
                .await?
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<_, _>>()?
        }
        ExportKind::Rules => rules(store, args).await?.iter().map(rule_record).collect(),
        ExportKind::Manifest => Vec::new(),
    })
}

/// A rule as one flat record: the columns people filter on, then the full definition.
fn rule_record(stored: &dq_store::StoredRule) -> Value {
    let rule = &stored.rule;
    serde_json::json!({
        "name": rule.name.as_str(),
        "enabled": rule.enabled,
        "target": rule.target,
        "dataset": rule.dataset.to_string(),
        "check": rule.check.kind(),
        "severity": rule.severity.as_str(),
        "queue": rule.queue.as_str(),
        "schedule": rule.schedule.expression(),
        "timezone": rule.schedule.timezone().name(),
        "owner": rule.owner,
        "tags": rule.tags,
        "description": rule.description,
        "source": stored.source,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
        "definition": serde_json::to_value(rule).unwrap_or(Value::Null),
    })
}

fn write_output(file: &Path, text: &str) -> Result<()> {
    if file.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
        return Ok(());
    }
    std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))
}
