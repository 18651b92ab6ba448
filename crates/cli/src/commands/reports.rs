//! `dq report weekly|alerts|kpis [--days 7] [--format text|json]`: the
//! operator's reviews, computed from the store (not to be confused with
//! `crate::report`, the terminal output of `dq run`).
//!
//! `kpis` judges each KPI against its target from `dq_metrics::KPIS`, the
//! same list Prometheus alerts on, so a KPI means one thing everywhere.

use std::path::Path;

use super::table;
use anyhow::{bail, Result};
use chrono::Utc;
use dq_store::{KpiInputs, ReportWindow, Store};
use serde::Serialize;
use serde_json::json;

use crate::cli::{ReportArgs, ReportCommand, ReportFormat};
use crate::exit;
use crate::report::duration;

pub async fn run(config_path: Option<&Path>, command: ReportCommand) -> Result<u8> {
    let (_, store) = super::open(config_path).await?;
    let now = Utc::now();
    match command {
        ReportCommand::Weekly(args) => weekly(&store, window(&args, now), args.format).await,
        ReportCommand::Alerts(args) => {
            alerts(
                &store,
                window(&args.report, now),
                args.top,
                args.report.format,
            )
            .await
        }
        ReportCommand::Kpis(args) => kpis(&store, window(&args, now), args.format).await,
        ReportCommand::Schema(args) => {
            super::schema_report::run(&store, window(&args, now), args.days, args.format).await
        }
    }
}

fn window(args: &ReportArgs, now: chrono::DateTime<Utc>) -> ReportWindow {
    ReportWindow::last_days(args.days, now)
}

fn heading(title: &str, window: ReportWindow) {
    println!(
        "{title}: {} .. {} UTC\n",
        window.since.format("%Y-%m-%d %H:%M"),
        window.until.format("%Y-%m-%d %H:%M")
    );
}

fn time(at: Option<chrono::DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

fn percent(rate: f64) -> String {
    format!("{:.1} %", rate * 100.0)
}

async fn weekly(store: &Store, window: ReportWindow, format: ReportFormat) -> Result<u8> {
    let failures = store.rule_failures(window).await?;
    let coverage = store.rule_coverage().await?;
    if format == ReportFormat::Json {
        let report = json!({"window": window, "rule_failures": failures, "coverage": coverage});
        println!("{report}");
        return Ok(exit::OK);
    }
    heading("Weekly review", window);
    if failures.is_empty() {
        println!("No rule failed (FAILED, ERROR or TIMEOUT) in the window.\n");
    } else {
        println!("Rules that failed, highest failure rate first:");
        let mut t = table(&[
            "RULE",
            "RUNS",
            "PASSED",
            "WARNED",
            "FAILED",
            "ERRORS",
            "FAILURE RATE",
            "LAST FAILURE (UTC)",
        ]);
        for f in &failures {
            t.add_row(vec![
                f.rule.clone(),
                f.runs.to_string(),
                f.passed.to_string(),
                f.warned.to_string(),
                f.failed.to_string(),
                f.errors.to_string(),
                percent(f.failure_rate),
                time(f.last_failure),
            ]);
        }
        println!("{t}\n");
    }
    println!("Rule coverage (enabled rules) by target:");
    let mut t = table(&["TARGET", "RULES", "DATASETS", "CHECK KINDS", "SEVERITIES"]);
    for c in &coverage {
        let kinds: Vec<String> = c
            .check_kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let severities: Vec<String> = c
            .severities
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        t.add_row(vec![
            c.target.clone(),
            c.rules.to_string(),
            c.datasets.to_string(),
            kinds.join("\n"),
            severities.join("\n"),
        ]);
    }
    println!("{t}");
    let rules: u64 = coverage.iter().map(|c| c.rules).sum();
    println!(
        "{} rule(s) failed; {rules} enabled rule(s) on {} target(s).",
        failures.len(),
        coverage.len()
    );
    Ok(exit::OK)
}

async fn alerts(store: &Store, window: ReportWindow, top: u32, format: ReportFormat) -> Result<u8> {
    let summary = store.violation_summary(window, top).await?;
    if format == ReportFormat::Json {
        let report = json!({
            "window": window,
            "by_severity": summary.by_severity,
            "top_rules": summary.top_rules,
        });
        println!("{report}");
        return Ok(exit::OK);
    }
    heading("Alert review", window);
    println!("Violations by severity:");
    let mut t = table(&["SEVERITY", "VIOLATIONS", "ACKNOWLEDGED", "MEAN TIME TO ACK"]);
    for s in &summary.by_severity {
        t.add_row(vec![
            s.severity.to_string(),
            s.violations.to_string(),
            s.acknowledged.to_string(),
            s.mean_ack_delay_ms
                .map(|ms| duration(std::time::Duration::from_millis(ms.round() as u64)))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    println!("{t}\n");
    println!("Top {top} violating rules:");
    let mut t = table(&[
        "RULE",
        "VIOLATIONS",
        "UNACKNOWLEDGED",
        "LAST DETECTED (UTC)",
    ]);
    for r in &summary.top_rules {
        t.add_row(vec![
            r.rule.clone(),
            r.violations.to_string(),
            r.unacknowledged.to_string(),
            time(Some(r.last_detected)),
        ]);
    }
    println!("{t}");
    let total: u64 = summary.by_severity.iter().map(|s| s.violations).sum();
    let acknowledged: u64 = summary.by_severity.iter().map(|s| s.acknowledged).sum();
    println!("{total} violation(s), {acknowledged} acknowledged.");
    Ok(exit::OK)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    Pass,
    Fail,
    NoData,
}

#[derive(Debug, Serialize)]
struct KpiResult {
    name: &'static str,
    value: Option<f64>,
    target: &'static str,
    status: Verdict,
}

/// A target as `dq_metrics::KPIS` writes it: `> 0.95`, `< 30`, `== 1`.
fn meets(value: f64, target: &str) -> Result<bool> {
    let (op, bound) = target
        .trim()
        .split_once(' ')
        .ok_or_else(|| anyhow::anyhow!("KPI target {target:?} is not `OP NUMBER`"))?;
    let bound: f64 = bound.trim().parse()?;
    Ok(match op {
        ">" => value > bound,
        ">=" => value >= bound,
        "<" => value < bound,
        "<=" => value <= bound,
        "==" => value == bound,
        _ => bail!("KPI target {target:?} has an unknown comparison {op:?}"),
    })
}

/// Each KPI of `dq_metrics::KPIS`, in its order, with its value from the store.
fn judged(inputs: &KpiInputs) -> Result<Vec<KpiResult>> {
    dq_metrics::KPIS
        .iter()
        .map(|&(name, _promql, target)| {
            let value = match name {
                "check_success_rate" => inputs.check_success_rate,
                "average_check_duration_seconds" => inputs.average_check_duration_seconds,
                "alert_response_time_seconds" => inputs.alert_response_time_seconds,
                "critical_rule_pass_rate" => inputs.critical_rule_pass_rate,
                "data_freshness_seconds" => inputs.data_freshness_seconds,
                other => bail!("KPI {other} has no value in the store's report"),
            };
            let status = match value {
                None => Verdict::NoData,
                Some(v) if meets(v, target)? => Verdict::Pass,
                Some(_) => Verdict::Fail,
            };
            Ok(KpiResult {
                name,
                value,
                target,
                status,
            })
        })
        .collect()
}

fn shown(name: &str, value: Option<f64>, inputs: &KpiInputs) -> String {
    let Some(v) = value else {
        return "-".into();
    };
    match name {
        "check_success_rate" => format!(
            "{} ({}/{} runs)",
            percent(v),
            inputs.passed_runs,
            inputs.final_runs
        ),
        "critical_rule_pass_rate" => format!(
            "{} ({}/{} runs)",
            percent(v),
            inputs.critical_passed,
            inputs.critical_runs
        ),
        "data_freshness_seconds" => format!(
            "{v:.0} s ({})",
            inputs.stalest_rule.as_deref().unwrap_or("-")
        ),
        _ => format!("{v:.1} s"),
    }
}

async fn kpis(store: &Store, window: ReportWindow, format: ReportFormat) -> Result<u8> {
    let inputs = store.kpi_inputs(window).await?;
    let results = judged(&inputs)?;
    let missed = results.iter().filter(|k| k.status == Verdict::Fail).count();
    let code = if missed > 0 { exit::FAILED } else { exit::OK };
    if format == ReportFormat::Json {
        let report = json!({"window": window, "kpis": results, "inputs": inputs});
        println!("{report}");
        return Ok(code);
    }
    heading("KPIs", window);
    let mut t = table(&["KPI", "VALUE", "TARGET", "STATUS"]);
    for k in &results {
        let status = match k.status {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::NoData => "no data",
        };
        t.add_row(vec![
            k.name.to_string(),
            shown(k.name, k.value, &inputs),
            k.target.to_string(),
            status.to_string(),
        ]);
    }
    println!("{t}");
    if missed > 0 {
        println!("{missed} KPI(s) miss their target.");
    } else {
        println!("Every KPI with data meets its target.");
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_as_kpis_writes_them() {
        for (value, target, expected) in [
            (0.96, "> 0.95", true),
            (0.95, "> 0.95", false),
            (29.9, "< 30", true),
            (900.0, "< 900", false),
            (1.0, "== 1", true),
            (0.99, "== 1", false),
        ] {
            assert_eq!(meets(value, target).unwrap(), expected, "{value} {target}");
        }
        assert!(meets(1.0, "~ 1").is_err());
    }

    #[test]
    fn every_kpi_has_a_value_and_a_readable_target() {
        let all_missing = judged(&KpiInputs::default()).unwrap();
        assert_eq!(all_missing.len(), dq_metrics::KPIS.len());
        assert!(all_missing.iter().all(|k| k.status == Verdict::NoData));
        let inputs = KpiInputs {
            check_success_rate: Some(0.5),
            critical_rule_pass_rate: Some(1.0),
            ..KpiInputs::default()
        };
        let statuses: Vec<Verdict> = judged(&inputs).unwrap().iter().map(|k| k.status).collect();
        assert_eq!(
            statuses,
            [
                Verdict::Fail,
                Verdict::NoData,
                Verdict::NoData,
                Verdict::Pass,
                Verdict::NoData
            ]
        );
    }
}
