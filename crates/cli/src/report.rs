//! What a person reads after a run: one line per rule, then each violation
//! with its failing rows, then a summary.

use std::fmt::Write as _;
use std::time::Duration;

use comfy_table::{presets, ContentArrangement, Table};
use dq_core::RunStatus;

use crate::runner::RuleResult;

const MAX_SAMPLE_COLUMNS: usize = 8;
const MAX_CELL_CHARS: usize = 40;

pub fn render(results: &[RuleResult]) -> String {
    let mut out = String::new();
    out.push_str(&results_table(results));
    out.push('\n');
    let mut violations: Vec<&RuleResult> = results
        .iter()
        .filter(|r| {
            r.status.is_violation() || matches!(r.status, RunStatus::Error | RunStatus::Timeout)
        })
        .collect();
    // Worst first: failures by severity, then checks that could not run, then warnings.
    violations.sort_by_key(|r| {
        let group = match r.status {
            RunStatus::Failed => 0,
            RunStatus::Error | RunStatus::Timeout => 1,
            _ => 2,
        };
        (group, std::cmp::Reverse(r.rule.severity))
    });
    if !violations.is_empty() {
        let _ = writeln!(out, "\nProblems ({}):", violations.len());
        for result in violations {
            out.push_str(&problem(result));
        }
    }
    let _ = writeln!(out, "\n{}", summary(results));
    out
}

fn results_table(results: &[RuleResult]) -> String {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            "RULE", "DATASET", "STATUS", "SEVERITY", "OBSERVED", "EXPECTED", "TIME",
        ]);
    for r in results {
        table.add_row(vec![
            r.rule.name.to_string(),
            r.rule.dataset.to_string(),
            r.status.to_string(),
            r.rule.severity.to_string(),
            r.observed.clone().unwrap_or_else(|| "-".into()),
            r.expected.clone(),
            duration(r.duration),
        ]);
    }
    table.to_string()
}

fn problem(r: &RuleResult) -> String {
    let mut out = String::new();
    let status = match (r.status, r.severity) {
        (RunStatus::Failed | RunStatus::Warned, Some(severity)) => {
            format!("{} ({})", r.status, severity.as_str())
        }
        _ => r.status.to_string(),
    };
    let _ = writeln!(
        out,
        "\n  {status} {} on {}.{}",
        r.rule.name, r.rule.target, r.rule.dataset
    );
    match r.effective_sample_size {
        Some(rows) => {
            let _ = writeln!(out, "    {} (in a random sample of {rows} rows)", r.message);
        }
        None => {
            let _ = writeln!(out, "    {}", r.message);
        }
    }
    if let Some(description) = &r.rule.description {
        let _ = writeln!(out, "    rule: {description}");
    }
    if !r.samples.is_empty() {
        let _ = writeln!(out, "    failing rows (first {}):", r.samples.len());
        for line in samples_table(&r.samples).lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

fn samples_table(samples: &[serde_json::Value]) -> String {
    let columns: Vec<String> = samples
        .iter()
        .find_map(|s| s.as_object())
        .map(|o| o.keys().take(MAX_SAMPLE_COLUMNS).cloned().collect())
        .unwrap_or_default();
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns.clone());
    for sample in samples {
        let row: Vec<String> = columns
            .iter()
            .map(|c| cell(sample.get(c).unwrap_or(&serde_json::Value::Null)))
            .collect();
        table.add_row(row);
    }
    table.to_string()
}

fn cell(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::Null => "NULL".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > MAX_CELL_CHARS {
        let cut: String = text.chars().take(MAX_CELL_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

pub fn summary(results: &[RuleResult]) -> String {
    let count = |status: RunStatus| results.iter().filter(|r| r.status == status).count();
    let mut parts = vec![format!("{} rules", results.len())];
    for status in RunStatus::ALL {
        let n = count(status);
        if n > 0 {
            parts.push(format!("{n} {}", status.as_str().to_lowercase()));
        }
    }
    parts.join(", ")
}

pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
