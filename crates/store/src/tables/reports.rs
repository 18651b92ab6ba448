//! The operator's reports, read-only aggregates over runs, rules and
//! violations in a window `[since, until)`: which rules fail, what the
//! rules cover, which violations people saw and how fast they answered,
//! and the inputs of the runbook's KPIs. A run belongs to the window of its
//! tick (`scheduled_for`), a violation to that of its detection.
//!
//! Counts use `COUNT(*) FILTER (WHERE ...)` (both backends), means
//! `CAST(AVG(...) AS DOUBLE PRECISION)` (PostgreSQL's AVG of an integer is
//! numeric; SQLite's is already a double).

use std::collections::{BTreeMap, BTreeSet};

use dq_core::Severity;
use sqlx::Pool;

use crate::error::Result;
use crate::report_model::{
    KpiInputs, ReportWindow, RuleFailures, SeverityViolations, TargetCoverage, ViolatingRule,
    ViolationSummary,
};
use crate::sql::{self, Dialect, Fields, Statement, StoredRow};

/// Final runs of the rules that failed at least once in the window.
const RULE_FAILURES: &str = "SELECT rule_name, COUNT(*) AS runs, \
         COUNT(*) FILTER (WHERE status = 'PASSED') AS passed, \
         COUNT(*) FILTER (WHERE status = 'WARNED') AS warned, \
         COUNT(*) FILTER (WHERE status = 'FAILED') AS failed, \
         COUNT(*) FILTER (WHERE status IN ('ERROR', 'TIMEOUT')) AS errors, \
         MAX(CASE WHEN status IN ('FAILED', 'ERROR', 'TIMEOUT') \
             THEN COALESCE(finished_at, scheduled_for) END) AS last_failure \
     FROM runs \
     WHERE scheduled_for >= $1 AND scheduled_for < $2 AND status NOT IN ('PENDING', 'RUNNING') \
     GROUP BY rule_name \
     HAVING COUNT(*) FILTER (WHERE status IN ('FAILED', 'ERROR', 'TIMEOUT')) > 0";

const COVERAGE: &str = "SELECT target, dataset, check_kind, severity, COUNT(*) AS rules \
     FROM rules WHERE enabled = TRUE GROUP BY target, dataset, check_kind, severity";

const VIOLATIONS_BY_SEVERITY: &str = "SELECT severity, COUNT(*) AS raised, \
         COUNT(*) FILTER (WHERE acknowledged = TRUE) AS acknowledged, \
         CAST(AVG(ack_delay_ms) AS DOUBLE PRECISION) AS mean_ack_delay_ms \
     FROM violations WHERE detected_at >= $1 AND detected_at < $2 GROUP BY severity";

const TOP_VIOLATING_RULES: &str = "SELECT rule_name, COUNT(*) AS raised, \
         COUNT(*) FILTER (WHERE acknowledged = FALSE) AS unacknowledged, \
         MAX(detected_at) AS last_detected \
     FROM violations WHERE detected_at >= $1 AND detected_at < $2 \
     GROUP BY rule_name ORDER BY raised DESC, last_detected DESC, rule_name LIMIT $3";

/// `dq_runs_total` counts every stored (final) run under the rule's own
/// severity; `dq_check_duration_seconds` observes each run's duration.
const KPI_RUNS: &str = "SELECT COUNT(*) AS final_runs, \
         COUNT(*) FILTER (WHERE r.status = 'PASSED') AS passed_runs, \
         COUNT(r.duration_ms) AS timed_runs, \
         CAST(AVG(r.duration_ms) AS DOUBLE PRECISION) AS mean_duration_ms, \
         COUNT(*) FILTER (WHERE ru.severity = 'CRITICAL') AS critical_runs, \
         COUNT(*) FILTER (WHERE ru.severity = 'CRITICAL' AND r.status = 'PASSED') \
             AS critical_passed \
     FROM runs r JOIN rules ru ON ru.id = r.rule_id \
     WHERE r.scheduled_for >= $1 AND r.scheduled_for < $2 \
         AND r.status NOT IN ('PENDING', 'RUNNING')";

/// `dq_violation_ack_seconds` observes each acknowledgement once, when it happens.
const KPI_ACKNOWLEDGEMENTS: &str = "SELECT COUNT(ack_delay_ms) AS acknowledged, \
         CAST(AVG(ack_delay_ms) AS DOUBLE PRECISION) AS mean_ack_delay_ms \
     FROM violations WHERE acknowledged_at >= $1 AND acknowledged_at < $2";

/// `dq_freshness_age_seconds` holds, per freshness rule, the value of its
/// last judged run (PASSED, WARNED or FAILED) that observed one: an ERROR
/// leaves the gauge as it was. One index probe per rule (`runs_rule_scheduled`).
const KPI_FRESHNESS: &str = "SELECT ru.name, \
         (SELECT r.observed_value FROM runs r \
          WHERE r.rule_id = ru.id AND r.scheduled_for < $1 \
              AND r.status IN ('PASSED', 'WARNED', 'FAILED') AND r.observed_value IS NOT NULL \
          ORDER BY r.scheduled_for DESC LIMIT 1) AS age_seconds \
     FROM rules ru WHERE ru.enabled = TRUE AND ru.check_kind = 'freshness'";

fn windowed(sql: &'static str, window: ReportWindow) -> Statement {
    Statement::new(sql).arg(window.since).arg(window.until)
}

/// A count column: never negative, never NULL (COUNT of nothing is 0).
fn count<R: StoredRow>(f: &Fields<'_, R>, column: &str) -> Result<u64> {
    Ok(f.count(column)?.unwrap_or(0))
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Highest failure rate first, then most failures, then by name.
pub(crate) async fn rule_failures<DB: Dialect>(
    pool: &Pool<DB>,
    window: ReportWindow,
) -> Result<Vec<RuleFailures>> {
    let rows = sql::fetch(pool, windowed(RULE_FAILURES, window)).await?;
    let mut failures = rows
        .iter()
        .map(|row| {
            let (f, rule) = Fields::keyed_by_text(row, "runs of rule", "rule_name")?;
            let runs = count(&f, "runs")?;
            let failed = count(&f, "failed")?;
            let errors = count(&f, "errors")?;
            Ok(RuleFailures {
                rule,
                runs,
                passed: count(&f, "passed")?,
                warned: count(&f, "warned")?,
                failed,
                errors,
                failure_rate: ratio(failed + errors, runs).unwrap_or(0.0),
                last_failure: f.opt_time("last_failure")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    failures.sort_by(|a, b| {
        b.failure_rate
            .total_cmp(&a.failure_rate)
            .then((b.failed + b.errors).cmp(&(a.failed + a.errors)))
            .then_with(|| a.rule.cmp(&b.rule))
    });
    Ok(failures)
}

/// By target name.
pub(crate) async fn coverage<DB: Dialect>(pool: &Pool<DB>) -> Result<Vec<TargetCoverage>> {
    #[derive(Default)]
    struct Tally {
        rules: u64,
        datasets: BTreeSet<String>,
        kinds: BTreeMap<String, u64>,
        severities: BTreeMap<Severity, u64>,
    }
    let rows = sql::fetch(pool, Statement::new(COVERAGE)).await?;
    let mut targets: BTreeMap<String, Tally> = BTreeMap::new();
    for row in &rows {
        let (f, target) = Fields::keyed_by_text(row, "rules of target", "target")?;
        let rules = count(&f, "rules")?;
        let tally = targets.entry(target).or_default();
        tally.rules += rules;
        tally.datasets.insert(f.text("dataset")?);
        *tally.kinds.entry(f.text("check_kind")?).or_default() += rules;
        *tally.severities.entry(f.parsed("severity")?).or_default() += rules;
    }
    Ok(targets
        .into_iter()
        .map(|(target, tally)| TargetCoverage {
            target,
            rules: tally.rules,
            datasets: tally.datasets.len() as u64,
            check_kinds: tally.kinds.into_iter().collect(),
            severities: tally.severities.into_iter().rev().collect(),
        })
        .collect())
}

pub(crate) async fn violation_summary<DB: Dialect>(
    pool: &Pool<DB>,
    window: ReportWindow,
    top: u32,
) -> Result<ViolationSummary> {
    let rows = sql::fetch(pool, windowed(VIOLATIONS_BY_SEVERITY, window)).await?;
    let mut by_severity = rows
        .iter()
        .map(|row| {
            let (f, _) = Fields::keyed_by_text(row, "violations of severity", "severity")?;
            Ok(SeverityViolations {
                severity: f.parsed("severity")?,
                violations: count(&f, "raised")?,
                acknowledged: count(&f, "acknowledged")?,
                mean_ack_delay_ms: f.opt_real("mean_ack_delay_ms")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    by_severity.sort_by_key(|s| std::cmp::Reverse(s.severity));
    let statement = windowed(TOP_VIOLATING_RULES, window).arg(i64::from(top));
    let rows = sql::fetch(pool, statement).await?;
    let top_rules = rows
        .iter()
        .map(|row| {
            let (f, rule) = Fields::keyed_by_text(row, "violations of rule", "rule_name")?;
            Ok(ViolatingRule {
                rule,
                violations: count(&f, "raised")?,
                unacknowledged: count(&f, "unacknowledged")?,
                last_detected: f.time("last_detected")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ViolationSummary {
        by_severity,
        top_rules,
    })
}

pub(crate) async fn kpi_inputs<DB: Dialect>(
    pool: &Pool<DB>,
    window: ReportWindow,
) -> Result<KpiInputs> {
    let mut kpis = KpiInputs::default();
    let rows = sql::fetch(pool, windowed(KPI_RUNS, window)).await?;
    if let Some(row) = rows.first() {
        let (f, _) = Fields::keyed_by_int(row, "runs in window", "final_runs")?;
        kpis.final_runs = count(&f, "final_runs")?;
        kpis.passed_runs = count(&f, "passed_runs")?;
        kpis.timed_runs = count(&f, "timed_runs")?;
        kpis.critical_runs = count(&f, "critical_runs")?;
        kpis.critical_passed = count(&f, "critical_passed")?;
        kpis.average_check_duration_seconds = f.opt_real("mean_duration_ms")?.map(|ms| ms / 1e3);
    }
    kpis.check_success_rate = ratio(kpis.passed_runs, kpis.final_runs);
    kpis.critical_rule_pass_rate = ratio(kpis.critical_passed, kpis.critical_runs);

    let rows = sql::fetch(pool, windowed(KPI_ACKNOWLEDGEMENTS, window)).await?;
    if let Some(row) = rows.first() {
        let (f, _) = Fields::keyed_by_int(row, "acknowledgements in window", "acknowledged")?;
        kpis.acknowledged_violations = count(&f, "acknowledged")?;
        kpis.alert_response_time_seconds = f.opt_real("mean_ack_delay_ms")?.map(|ms| ms / 1e3);
    }

    let rows = sql::fetch(pool, Statement::new(KPI_FRESHNESS).arg(window.until)).await?;
    let mut stalest: Option<(String, f64)> = None;
    for row in &rows {
        let (f, rule) = Fields::keyed_by_text(row, "freshness rule", "name")?;
        let Some(age) = f.opt_real("age_seconds")? else {
            continue;
        };
        kpis.freshness_rules += 1;
        if stalest.as_ref().is_none_or(|(_, worst)| age > *worst) {
            stalest = Some((rule, age));
        }
    }
    if let Some((rule, age)) = stalest {
        kpis.data_freshness_seconds = Some(age);
        kpis.stalest_rule = Some(rule);
    }
    Ok(kpis)
}
