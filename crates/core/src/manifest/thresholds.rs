//! A rule's fail and warn bounds: `min`/`max`, `warn` (on the side of the
//! single fail bound) or `warn_min`/`warn_max`; `max_age`/`warn_age` for
//! freshness. Kind defaults fill in when nothing is given, and every
//! problem `Thresholds::validate` finds is reported on the key that set it.

use std::time::Duration;

use super::error::{Field, Problems};
use super::fields;
use super::rule_builder::RuleInput;
use crate::check::{Check, CustomSqlMode, Unit};
use crate::threshold::{Bounds, ThresholdError, Thresholds};

/// Which key set each bound (`None`: the kind's default).
#[derive(Default)]
struct Sources<'n> {
    min: Option<Field<'n>>,
    max: Option<Field<'n>>,
    warn_min: Option<Field<'n>>,
    warn_max: Option<Field<'n>>,
}

impl<'n> Sources<'n> {
    fn get(&self, name: &str) -> Option<&Field<'n>> {
        match name {
            "min" => self.min.as_ref(),
            "max" => self.max.as_ref(),
            "warn_min" => self.warn_min.as_ref(),
            _ => self.warn_max.as_ref(),
        }
    }

    /// How a bound is named in a message: its key, or "the default max".
    fn label(&self, name: &str) -> String {
        match self.get(name) {
            Some(field) => field.key.to_string(),
            None => format!("the default {name}"),
        }
    }
}

pub fn build(p: &mut Problems<'_>, input: &RuleInput<'_>, check: &Check) -> Option<Thresholds> {
    let mut sources = Sources::default();
    let thresholds = match check {
        Check::NotEmpty => Thresholds::fail(check.default_bounds().unwrap_or_default()),
        Check::Freshness { .. } => freshness(p, input, &mut sources)?,
        _ => bounds(p, input, check, &mut sources)?,
    };
    let (low, high) = check.unit().domain();
    let problems = thresholds.validate(low, high);
    for (name, problem) in &problems {
        let message = describe(problem, name, &sources, check.unit());
        match sources.get(name) {
            Some(field) => p.at(field, message),
            None => p.push(input.line, name, message),
        }
    }
    problems.is_empty().then_some(thresholds)
}

fn freshness<'n>(
    p: &mut Problems<'_>,
    input: &RuleInput<'n>,
    sources: &mut Sources<'n>,
) -> Option<Thresholds> {
    let seconds = |d: Duration| d.as_secs() as f64;
    sources.warn_max = input.own("warn_age");
    let warn = match &sources.warn_max {
        Some(f) => Some(seconds(fields::duration(p, f)?)),
        None => None,
    };
    sources.max = input.own("max_age");
    let Some(max_age) = &sources.max else {
        p.push(
            input.line,
            "max_age",
            format!(
                "missing (expected {}: the oldest the newest row may be)",
                fields::A_DURATION
            ),
        );
        return None;
    };
    let max = seconds(fields::duration(p, max_age)?);
    Some(Thresholds {
        fail: Bounds::at_most(max),
        warn: Bounds {
            min: None,
            max: warn,
        },
    })
}

fn number<'n>(
    p: &mut Problems<'_>,
    input: &RuleInput<'n>,
    key: &str,
) -> (Option<Field<'n>>, Result<Option<f64>, ()>) {
    let field = input.own(key);
    let value = match &field {
        None => Ok(None),
        Some(f) => fields::number(p, f).map(Some).ok_or(()),
    };
    (field, value)
}

fn bounds<'n>(
    p: &mut Problems<'_>,
    input: &RuleInput<'n>,
    check: &Check,
    sources: &mut Sources<'n>,
) -> Option<Thresholds> {
    let (min_field, min) = number(p, input, "min");
    let (max_field, max) = number(p, input, "max");
    let (warn_min_field, warn_min) = number(p, input, "warn_min");
    let (warn_max_field, warn_max) = number(p, input, "warn_max");
    let (warn_field, warn) = number(p, input, "warn");
    let (min, max, mut warn_min, mut warn_max, warn) = (
        min.ok()?,
        max.ok()?,
        warn_min.ok()?,
        warn_max.ok()?,
        warn.ok()?,
    );
    sources.min = min_field;
    sources.max = max_field;
    sources.warn_min = warn_min_field;
    sources.warn_max = warn_max_field;

    let fail = if min.is_none() && max.is_none() {
        match check.default_bounds() {
            Some(bounds) => bounds,
            None => {
                let kind = match check {
                    Check::CustomSql {
                        mode: CustomSqlMode::Scalar,
                        ..
                    } => "custom_sql with mode scalar".to_string(),
                    _ => format!("check {}", check.kind()),
                };
                p.push(
                    input.line,
                    "min/max",
                    format!("missing (expected min, max or both: {kind} has no default bound)"),
                );
                return None;
            }
        }
    } else {
        Bounds { min, max }
    };

    if let (Some(value), Some(field)) = (warn, warn_field) {
        let side = match (fail.min, fail.max) {
            (None, Some(_)) => (&mut warn_max, &mut sources.warn_max, "warn_max"),
            (Some(_), None) => (&mut warn_min, &mut sources.warn_min, "warn_min"),
            _ => {
                p.at(
                    &field,
                    "is ambiguous with both min and max (expected warn_min or warn_max)",
                );
                return None;
            }
        };
        if side.0.is_some() {
            p.at(
                &field,
                format!("is set together with {} (expected one of them)", side.2),
            );
            return None;
        }
        *side.0 = Some(value);
        *side.1 = Some(field);
    }
    Some(Thresholds {
        fail,
        warn: Bounds {
            min: warn_min,
            max: warn_max,
        },
    })
}

fn show(value: f64, unit: Unit) -> String {
    if unit == Unit::Seconds && value.is_finite() && value >= 0.0 {
        humantime::format_duration(Duration::from_secs(value as u64)).to_string()
    } else {
        value.to_string()
    }
}

fn describe(problem: &ThresholdError, name: &str, sources: &Sources<'_>, unit: Unit) -> String {
    match *problem {
        ThresholdError::NotFinite { value, .. } => {
            format!("{value} is not a finite number (expected a number)")
        }
        ThresholdError::OutOfRange { value, .. } => {
            let expected = match unit {
                Unit::Rate => "a rate between 0 and 1",
                Unit::Count => "a count >= 0",
                Unit::Seconds => "a duration",
                Unit::Number => "a number",
            };
            format!(
                "{} is out of range (expected {expected})",
                show(value, unit)
            )
        }
        ThresholdError::MinAboveMax { min, max } => {
            let max_name = if name == "min" { "max" } else { "warn_max" };
            let (min_label, max_label) = (sources.label(name), sources.label(max_name));
            format!(
                "{} is greater than {max_label} {} (expected {min_label} <= {max_label})",
                show(min, unit),
                show(max, unit)
            )
        }
        ThresholdError::WarnNotStricter { warn, fail } => {
            let (direction, fail_name) = if name == "warn_max" {
                ("above", "max")
            } else {
                ("below", "min")
            };
            format!(
                "{} is {direction} {} {} (expected a warn bound inside the fail bound, so a warning comes first)",
                show(warn, unit),
                sources.label(fail_name),
                show(fail, unit)
            )
        }
    }
}
