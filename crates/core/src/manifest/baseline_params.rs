//! The parameters of the kinds judged against what their own earlier runs
//! stored: `anomaly` (a measure of another kind and its detector), `drift`
//! and `schema_change`.

use super::check_params::{build, column, finite};
use super::error::Problems;
use super::fields;
use super::rule_builder::RuleInput;
use crate::anomaly::{AnomalySpec, StrategyKind, DEFAULT_MIN_HISTORY, DEFAULT_TRAINING_WINDOW};
use crate::check::{Check, CustomSqlMode};
use crate::drift::DriftMethod;

/// The kinds whose measure (a number every run stores) an anomaly rule may
/// watch: every kind but those judged against a baseline of their own.
const ANOMALY_MEASURES: [&str; 13] = [
    "row_count",
    "null_count",
    "null_rate",
    "duplicate_count",
    "accepted_values",
    "value_range",
    "regex",
    "string_length",
    "freshness",
    "custom_sql",
    "field_types",
    "json_schema",
    "custom_pipeline",
];

pub(super) fn anomaly(p: &mut Problems<'_>, input: &RuleInput<'_>) -> Option<Check> {
    let expected = format!(
        "the kind whose measure is watched: {}",
        ANOMALY_MEASURES.join(", ")
    );
    let measure = input
        .own_required(p, "measure", &expected)
        .and_then(|f| {
            let kind = fields::text(p, &f)?;
            if ANOMALY_MEASURES.contains(&kind.as_str()) {
                Some(kind)
            } else {
                p.at(
                    &f,
                    format!("{kind:?} cannot be watched (expected {expected})"),
                );
                None
            }
        })
        .and_then(|kind| build(p, input, &kind));
    if let Some(
        Check::CustomSql {
            mode: CustomSqlMode::Rows,
            ..
        }
        | Check::CustomPipeline {
            mode: CustomSqlMode::Rows,
            ..
        },
    ) = &measure
    {
        p.push(
            input.line,
            "mode",
            "an anomaly watches a number: a custom query needs mode: scalar",
        );
    }
    let strategy = match input.own("strategy") {
        None => Some(StrategyKind::Zscore),
        Some(f) => fields::text(p, &f).and_then(|name| {
            let parsed = StrategyKind::parse(&name);
            if parsed.is_none() {
                let names: Vec<&str> = StrategyKind::ALL.iter().map(|s| s.name()).collect();
                p.at(
                    &f,
                    format!(
                        "unknown strategy {name:?} (expected one of {})",
                        names.join(", ")
                    ),
                );
            }
            parsed
        }),
    };
    let threshold = match (input.own("threshold"), strategy) {
        (Some(f), _) => finite(p, &f).filter(|t| {
            let positive = *t > 0.0;
            if !positive {
                p.at(
                    &f,
                    format!("{t} is not above 0 (expected a positive threshold)"),
                );
            }
            positive
        }),
        (None, Some(strategy)) => match strategy.default_threshold() {
            Some(t) => Some(t),
            None => {
                p.push(
                    input.line,
                    "threshold",
                    format!(
                        "missing (expected the largest normal change: {} has no default)",
                        strategy.name()
                    ),
                );
                None
            }
        },
        (None, None) => None,
    };
    let training_window = match input.own("training_window") {
        Some(f) => fields::duration(p, &f),
        None => Some(DEFAULT_TRAINING_WINDOW),
    };
    let min_history = match input.own("min_history") {
        Some(f) => fields::whole_u32(p, &f),
        None => Some(DEFAULT_MIN_HISTORY),
    };
    let sensitivity = match input.own("sensitivity") {
        Some(f) => finite(p, &f).filter(|s| {
            let positive = *s > 0.0;
            if !positive {
                p.at(
                    &f,
                    format!("{s} is not above 0 (expected e.g. 0.5 for fewer alerts, 2 for more)"),
                );
            }
            positive
        }),
        None => Some(1.0),
    };
    Some(Check::Anomaly {
        measure: Box::new(measure?),
        detector: AnomalySpec {
            strategy: strategy?,
            threshold: threshold?,
            training_window: training_window?,
            min_history: min_history?,
            sensitivity: sensitivity?,
        },
    })
}

/// Values read per drift run when the manifest does not say.
const DEFAULT_DRIFT_SAMPLE: u64 = 10_000;

pub(super) fn drift(p: &mut Problems<'_>, input: &RuleInput<'_>) -> Option<Check> {
    let column = column(p, input, "drift");
    let method = match input.own("method") {
        None => Some(DriftMethod::Ks),
        Some(f) => fields::text(p, &f).and_then(|name| {
            let parsed = DriftMethod::parse(&name);
            if parsed.is_none() {
                let names: Vec<&str> = DriftMethod::ALL.iter().map(|m| m.name()).collect();
                p.at(
                    &f,
                    format!(
                        "unknown method {name:?} (expected one of {})",
                        names.join(", ")
                    ),
                );
            }
            parsed
        }),
    };
    let sample_size = match input.own("max_values") {
        None => Some(DEFAULT_DRIFT_SAMPLE),
        Some(f) => fields::whole(p, &f, 10),
    };
    let baseline_window = match input.own("baseline_window") {
        None => Some(None),
        Some(f) => fields::duration(p, &f).map(Some),
    };
    Some(Check::Drift {
        column: column?,
        method: method?,
        sample_size: sample_size?,
        baseline_window: baseline_window?,
    })
}

/// The columns to watch; none listed: all of them.
pub(super) fn schema_change(p: &mut Problems<'_>, input: &RuleInput<'_>) -> Option<Check> {
    const EXPECTED: &str = "a list of column names to watch such as [id, email]";
    let columns = match input.own("columns") {
        None => Some(Vec::new()),
        Some(f) => fields::non_empty_list_of(p, &f, EXPECTED, fields::identifier),
    };
    Some(Check::SchemaChange { columns: columns? })
}
