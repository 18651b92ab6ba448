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
