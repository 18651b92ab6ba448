//! `dq report schema`: schema stability, the runbook's "fewer than 5
//! changes a month" per dataset, from what `schema_change` rules recorded
//! (each run's observed value is the number of changes since the one
//! before, its observation the changes themselves).

use std::collections::BTreeMap;

use anyhow::Result;
use dq_core::{Observation, RunStatus};
use dq_store::{ReportWindow, RuleFilter, RunFilter, Store};
use serde::Serialize;

use super::table;
use crate::cli::ReportFormat;
use crate::exit;

/// The runbook's target: fewer than this many changes per 30 days.
const CHANGES_PER_MONTH: f64 = 5.0;

#[derive(Debug, Serialize)]
struct DatasetStability {
    target: String,
    dataset: String,
    rules: Vec<String>,
    changes: u64,
    /// `changes` scaled to 30 days.
    per_month: f64,
    stable: bool,
    /// The changes, oldest first (`when: what`).
    recent: Vec<String>,
}

pub async fn run(
    store: &Store,
    window: ReportWindow,
    days: u32,
    format: ReportFormat,
) -> Result<u8> {
    let rules: Vec<_> = store
        .rules(&RuleFilter::default())
        .await?
        .into_iter()
        .filter(|r| r.rule.check.kind() == "schema_change")
        .collect();
    let mut by_dataset: BTreeMap<(String, String), DatasetStability> = BTreeMap::new();
    for stored in &rules {
        let rule = &stored.rule;
        let entry = by_dataset
            .entry((rule.target.clone(), rule.dataset.to_string()))
            .or_insert_with(|| DatasetStability {
                target: rule.target.clone(),
                dataset: rule.dataset.to_string(),
                rules: Vec::new(),
                changes: 0,
                per_month: 0.0,
                stable: true,
                recent: Vec::new(),
            });
        entry.rules.push(rule.name.to_string());
        let mut runs = store
            .runs(&RunFilter {
                rule_names: vec![rule.name.to_string()],
                since: Some(window.since),
                until: Some(window.until),
                statuses: vec![RunStatus::Passed, RunStatus::Warned, RunStatus::Failed],
                ..RunFilter::default()
            })
            .await?;
        runs.reverse();
        for run in runs {
            let Some(observation) = run
                .observation
                .and_then(|json| serde_json::from_value::<Observation>(json).ok())
            else {
                continue;
            };
            entry.changes += observation.problems.len() as u64;
            let when = run.scheduled_for.format("%Y-%m-%d %H:%M");
            entry
                .recent
                .extend(observation.problems.iter().map(|p| format!("{when}: {p}")));
        }
    }
    let mut datasets: Vec<DatasetStability> = by_dataset.into_values().collect();
    for d in &mut datasets {
        d.per_month = d.changes as f64 * 30.0 / f64::from(days.max(1));
        d.stable = d.per_month < CHANGES_PER_MONTH;
    }
    let unstable = datasets.iter().filter(|d| !d.stable).count();
    if format == ReportFormat::Json {
        let json = serde_json::json!({
            "since": window.since,
            "until": window.until,
            "target_per_month": CHANGES_PER_MONTH,
            "datasets": datasets,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!(
            "Schema stability: {} .. {} UTC (target: fewer than {CHANGES_PER_MONTH} changes per 30 days)\n",
            window.since.format("%Y-%m-%d %H:%M"),
            window.until.format("%Y-%m-%d %H:%M")
        );
        let mut t = table(&[
            "TARGET",
            "DATASET",
            "CHANGES",
            "PER 30 DAYS",
            "",
            "LAST CHANGE",
        ]);
        for d in &datasets {
            t.add_row(vec![
                d.target.clone(),
                d.dataset.clone(),
                d.changes.to_string(),
                format!("{:.1}", d.per_month),
                if d.stable { "ok" } else { "UNSTABLE" }.to_string(),
                d.recent.last().cloned().unwrap_or_default(),
            ]);
        }
        println!("{t}");
        println!(
            "{} dataset(s) watched by schema_change rules; {unstable} above the target.",
            datasets.len()
        );
    }
    Ok(if unstable > 0 { exit::FAILED } else { exit::OK })
}
