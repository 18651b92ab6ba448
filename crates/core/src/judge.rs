//! The judge: observation + thresholds -> verdict. Pure and the same for
//! every target, so SQLite and PostgreSQL cannot disagree on a verdict.

use crate::format;
use crate::observe::{Measure, Observation, WhenMissing};
use crate::rule::Rule;
use crate::severity::Severity;
use crate::threshold::Crossed;
use crate::verdict::{RunStatus, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Pass,
    Warn,
    Fail,
    Error,
}

pub fn judge(rule: &Rule, observation: &Observation) -> Verdict {
    let mut level = Level::Pass;
    let mut lines: Vec<String> = Vec::new();
    for measure in &observation.measures {
        let (measure_level, line) = judge_measure(measure);
        if measure_level > Level::Pass {
            lines.push(line);
        }
        level = level.max(measure_level);
    }
    if !observation.problems.is_empty() {
        level = level.max(Level::Fail);
        lines.push(observation.problems.join("; "));
    }
    let primary = observation.primary();
    let observed = primary.and_then(|m| m.value);
    let expected = primary.map(expected_text).unwrap_or_default();
    let (status, severity) = match level {
        Level::Pass => (RunStatus::Passed, None),
        Level::Warn => (RunStatus::Warned, Some(Severity::Info)),
        Level::Fail => (RunStatus::Failed, Some(rule.severity)),
        Level::Error => (RunStatus::Error, None),
    };
    let message = if lines.is_empty() {
        match primary {
            Some(m) => match m.value {
                Some(v) => format!("{} {} ({})", m.name, format::value(m.unit, v), expected),
                None => format!("{}: nothing to measure", m.name),
            },
            None => "passed".into(),
        }
    } else {
        lines.join("; ")
    };
    Verdict {
        status,
        severity,
        message,
        observed,
        expected,
    }
}

fn expected_text(m: &Measure) -> String {
    let fail = format::bounds(m.unit, &m.thresholds.fail);
    if m.thresholds.warn.is_unbounded() {
        fail
    } else {
        format!(
            "{fail} (warn {})",
            format::bounds(m.unit, &m.thresholds.warn)
        )
    }
}

fn judge_measure(m: &Measure) -> (Level, String) {
    let Some(value) = m.value else {
        return match &m.when_missing {
            WhenMissing::Skip => (Level::Pass, String::new()),
            WhenMissing::Fail(why) => (Level::Fail, format!("{}: {why}", m.name)),
            WhenMissing::Error(why) => (Level::Error, format!("{}: {why}", m.name)),
        };
    };
    if value.is_nan() {
        return (
            Level::Error,
            format!(
                "{} is NaN: the target returned a value that is not a number",
                m.name
            ),
        );
    }
    if let Some(crossed) = m.thresholds.fail.crossed(value) {
        return (Level::Fail, crossing_text(m, value, crossed));
    }
    if let Some(crossed) = m.thresholds.warn.crossed(value) {
        return (
            Level::Warn,
            format!("warning: {}", crossing_text(m, value, crossed)),
        );
    }
    (Level::Pass, String::new())
}

fn crossing_text(m: &Measure, value: f64, crossed: Crossed) -> String {
    let shown = format::value(m.unit, value);
    match crossed {
        Crossed::AboveMax(max) => format!("{} {shown} > {}", m.name, format::value(m.unit, max)),
        Crossed::BelowMin(min) => format!("{} {shown} < {}", m.name, format::value(m.unit, min)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::check::{Check, CustomSqlMode, NamedFormat, Pattern};
    use crate::metric::{ColumnInfo, DatasetMetrics, MetricRequest, MetricValue, RowPredicate};
    use crate::names::{Dataset, Identifier, RuleName};
    use crate::observe::observe;
    use crate::queue::Queue;
    use crate::rule::{Rule, DEFAULT_TIMEOUT};
    use crate::schedule::Schedule;
    use crate::scope::Scope;
    use crate::threshold::{Bounds, Thresholds};

    fn col(name: &str) -> Identifier {
        Identifier::new(name).unwrap()
    }

    fn rule(check: Check, fail: Bounds, warn: Bounds) -> Rule {
        Rule {
            name: RuleName::new("r").unwrap(),
            description: None,
            owner: None,
            tags: vec![],
            target: "t".into(),
            dataset: Dataset::parse("orders").unwrap(),
            check,
            severity: Severity::High,
            thresholds: Thresholds { fail, warn },
            schedule: Schedule::new("* * * * *", "UTC").unwrap(),
            queue: Queue::Database,
            enabled: true,
            scope: Scope::default(),
            timeout: DEFAULT_TIMEOUT,
            alert_cooldown_minutes: 60,
            shadow: false,
            parameters: Default::default(),
        }
    }

    fn metrics(pairs: &[(MetricRequest, Option<f64>)]) -> DatasetMetrics {
        pairs
            .iter()
            .map(|(k, v)| (k.key(), MetricValue::Number(*v)))
            .collect()
    }

    const NONE: Bounds = Bounds {
        min: None,
        max: None,
    };

    /// (case, rule, metrics, expected status, expected message)
    #[test]
    fn verdicts() {
        let nulls = MetricRequest::CountWhere(RowPredicate::IsNull(col("c")));
        let rows = MetricRequest::RowCount;
        let null_rate = |max: f64, warn: Bounds| {
            rule(
                Check::NullRate { column: col("c") },
                Bounds::at_most(max),
                warn,
            )
        };
        let now = 1_000_000.0;
        let fresh = rule(
            Check::Freshness { column: col("ts") },
            Bounds::at_most(7200.0),
            NONE,
        );
        let max_ts = MetricRequest::MaxTimestamp(col("ts"));
        let scalar = rule(
            Check::CustomSql {
                sql: "select 1".into(),
                mode: CustomSqlMode::Scalar,
            },
            Bounds {
                min: Some(0.0),
                max: Some(10.0),
            },
            NONE,
        );
        let scalar_key = scalar.check.metric_requests()[0].clone();
        let cases: Vec<(&str, Rule, DatasetMetrics, RunStatus, &str)> = vec![
            (
                "null rate above max",
                null_rate(0.005, NONE),
                metrics(&[(rows.clone(), Some(10_000.0)), (nulls.clone(), Some(62.0))]),
                RunStatus::Failed,
                "null_rate 0.62% > 0.5%",
            ),
            (
                "null rate exactly at the bound passes",
                null_rate(0.005, NONE),
                metrics(&[(rows.clone(), Some(10_000.0)), (nulls.clone(), Some(50.0))]),
                RunStatus::Passed,
                "null_rate 0.5% (<= 0.5%)",
            ),
            (
                "warn bound crossed, fail bound not",
                null_rate(0.01, Bounds::at_most(0.005)),
                metrics(&[(rows.clone(), Some(1000.0)), (nulls.clone(), Some(7.0))]),
                RunStatus::Warned,
                "warning: null_rate 0.7% > 0.5%",
            ),
            (
                "empty table: rate 0, no division error",
                null_rate(0.0, NONE),
                metrics(&[(rows.clone(), Some(0.0)), (nulls.clone(), Some(0.0))]),
                RunStatus::Passed,
                "null_rate 0% (<= 0%)",
            ),
            (
                "all NULL",
                null_rate(0.5, NONE),
                metrics(&[(rows.clone(), Some(3.0)), (nulls.clone(), Some(3.0))]),
                RunStatus::Failed,
                "null_rate 100% > 50%",
            ),
            (
                "SUM over no rows is NULL: treated as 0",
                rule(
                    Check::NullCount { column: col("c") },
                    Bounds::at_most(0.0),
                    NONE,
                ),
                metrics(&[(rows.clone(), Some(0.0)), (nulls.clone(), None)]),
                RunStatus::Passed,
                "null_count 0 (<= 0)",
            ),
            (
                "huge counts keep precision in the message",
                rule(Check::RowCount, Bounds::at_most(1e12), NONE),
                metrics(&[(rows.clone(), Some(9_007_199_254_740_991.0))]),
                RunStatus::Failed,
                "row_count 9,007,199,254,740,991 > 1,000,000,000,000",
            ),
            (
                "empty table fails not_empty",
                rule(Check::NotEmpty, Bounds::at_least(1.0), NONE),
                metrics(&[(rows.clone(), Some(0.0))]),
                RunStatus::Failed,
                "row_count 0 < 1",
            ),
            (
                "stale data",
                fresh.clone(),
                metrics(&[
                    (rows.clone(), Some(5.0)),
                    (max_ts.clone(), Some(now - 11_520.0)),
                ]),
                RunStatus::Failed,
                "age 3h 12m > 2h",
            ),
            (
                "no timestamps at all is not fresh",
                fresh.clone(),
                metrics(&[(rows.clone(), Some(0.0)), (max_ts.clone(), None)]),
                RunStatus::Failed,
                "age: no non-NULL ts values, so no data is fresh",
            ),
            (
                "timestamps in the future count as age 0",
                fresh,
                metrics(&[(rows.clone(), Some(1.0)), (max_ts, Some(now + 60.0))]),
                RunStatus::Passed,
                "age 0s (<= 2h)",
            ),
            (
                "NaN from the target is an ERROR",
                scalar.clone(),
                metrics(&[(scalar_key.clone(), Some(f64::NAN))]),
                RunStatus::Error,
                "value is NaN: the target returned a value that is not a number",
            ),
            (
                "NULL scalar is an ERROR",
                scalar.clone(),
                metrics(&[(scalar_key.clone(), None)]),
                RunStatus::Error,
                "value: the query returned NULL",
            ),
            (
                "scalar below min",
                scalar.clone(),
                metrics(&[(scalar_key.clone(), Some(-0.5))]),
                RunStatus::Failed,
                "value -0.5 < 0",
            ),
            (
                "infinite scalar fails, it is not NaN",
                scalar,
                metrics(&[(scalar_key, Some(f64::INFINITY))]),
                RunStatus::Failed,
                "value inf > 10",
            ),
        ];
        for (case, rule, metrics, status, message) in cases {
            let observation = observe(&rule, &metrics, now).expect(case);
            let verdict = judge(&rule, &observation);
            assert_eq!(verdict.status, status, "{case}: {verdict:?}");
            assert_eq!(verdict.message, message, "{case}");
            let expected_severity = match status {
                RunStatus::Failed => Some(Severity::High),
                RunStatus::Warned => Some(Severity::Info),
                _ => None,
            };
            assert_eq!(verdict.severity, expected_severity, "{case}");
        }
    }

    #[test]
    fn value_range_judges_rows_and_average() {
        let check = Check::ValueRange {
            column: col("amount"),
            min_value: Some(0.0),
            max_value: None,
            avg: Bounds {
                min: Some(10.0),
                max: Some(100.0),
            },
        };
        let r = rule(check.clone(), Bounds::at_most(0.0), NONE);
        let requests = check.metric_requests();
        let m = |out: f64, avg: Option<f64>| {
            metrics(&[
                (requests[0].clone(), Some(50.0)),
                (requests[1].clone(), Some(out)),
                (requests[2].clone(), avg),
            ])
        };
        for (out, avg, status, message) in [
            (0.0, Some(50.0), RunStatus::Passed, "out_of_range 0 (<= 0)"),
            (2.0, Some(50.0), RunStatus::Failed, "out_of_range 2 > 0"),
            (0.0, Some(5.5), RunStatus::Failed, "avg(amount) 5.5 < 10"),
            (
                3.0,
                Some(500.0),
                RunStatus::Failed,
                "out_of_range 3 > 0; avg(amount) 500 > 100",
            ),
            // No non-NULL values: nothing to average, not a failure.
            (0.0, None, RunStatus::Passed, "out_of_range 0 (<= 0)"),
        ] {
            let verdict = judge(&r, &observe(&r, &m(out, avg), 0.0).unwrap());
            assert_eq!(
                (verdict.status, verdict.message.as_str()),
                (status, message)
            );
        }
    }

    #[test]
    fn schema_names_each_problem() {
        let check = Check::Schema {
            columns: vec![col("id"), col("email"), col("created_at")],
            types: BTreeMap::from([
                (col("id"), "integer".to_string()),
                (col("amount"), "REAL".into()),
            ]),
        };
        let r = rule(check, Bounds::at_most(0.0), NONE);
        let actual = vec![
            ColumnInfo {
                name: "id".into(),
                data_type: "TEXT".into(),
            },
            ColumnInfo {
                name: "EMAIL".into(),
                data_type: "TEXT".into(),
            },
            ColumnInfo {
                name: "amount".into(),
                data_type: "real".into(),
            },
        ];
        let m: DatasetMetrics =
            BTreeMap::from([(MetricRequest::Columns.key(), MetricValue::Columns(actual))]);
        let verdict = judge(&r, &observe(&r, &m, 0.0).unwrap());
        assert_eq!(verdict.status, RunStatus::Failed);
        assert_eq!(verdict.observed, Some(2.0));
        assert_eq!(
            verdict.message,
            "schema_problems 2 > 0; missing column created_at; column id is TEXT (expected integer)"
        );
    }

    #[test]
    fn missing_metric_is_an_observe_error() {
        let r = rule(
            Check::Regex {
                column: col("email"),
                pattern: Pattern::Format(NamedFormat::Email),
            },
            Bounds::at_most(0.0),
            NONE,
        );
        let m = metrics(&[(MetricRequest::RowCount, Some(1.0))]);
        assert!(matches!(
            observe(&r, &m, 0.0),
            Err(crate::observe::ObserveError::Missing(_))
        ));
    }
}
