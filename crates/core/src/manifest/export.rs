//! Rules back to manifest text, every field explicit, so loading the text
//! gives the same rules (`load_manifests(export_manifest(rules)) == rules`).
//! Only empty optional fields are left out; no `defaults` block is written.

use std::borrow::Cow;
use std::time::Duration;

use saphyr::{Mapping, Scalar, Yaml, YamlEmitter};

use crate::check::{Check, Literal, Pattern};
use crate::rule::Rule;
use crate::threshold::Bounds;

use super::validate::SUPPORTED_VERSION;

fn text(value: impl Into<String>) -> Yaml<'static> {
    Yaml::Value(Scalar::String(Cow::Owned(value.into())))
}

fn integer(value: i64) -> Yaml<'static> {
    Yaml::Value(Scalar::Integer(value))
}

fn float(value: f64) -> Yaml<'static> {
    Yaml::Value(Scalar::FloatingPoint(value.into()))
}

/// Bounds are f64 whatever was written; whole values read better as `5` than `5.0`.
fn number(value: f64) -> Yaml<'static> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: integers below it are exact in f64
    if value.fract() == 0.0 && value.abs() < EXACT {
        integer(value as i64)
    } else {
        float(value)
    }
}

fn unsigned(value: u64) -> Yaml<'static> {
    i64::try_from(value).map_or_else(|_| float(value as f64), integer)
}

fn duration(value: Duration) -> Yaml<'static> {
    text(humantime::format_duration(value).to_string())
}

fn seconds(value: f64) -> Yaml<'static> {
    duration(Duration::from_secs(value.max(0.0) as u64))
}

fn json(value: &serde_json::Value) -> Yaml<'static> {
    use serde_json::Value as J;
    match value {
        J::Null => Yaml::Value(Scalar::Null),
        J::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => integer(i),
            (None, Some(f)) => float(f),
            (None, None) => text(n.to_string()),
        },
        J::String(s) => text(s.as_str()),
        J::Array(items) => Yaml::Sequence(items.iter().map(json).collect()),
        J::Object(map) => {
            let mut out = Mapping::new();
            for (key, value) in map {
                out.insert(text(key.as_str()), json(value));
            }
            Yaml::Mapping(out)
        }
    }
}

/// A mapping built in insertion order.
struct Map(Mapping<'static>);

impl Map {
    fn set(&mut self, key: &str, value: Yaml<'static>) {
        self.0.insert(text(key), value);
    }

    fn maybe(&mut self, key: &str, value: Option<Yaml<'static>>) {
        if let Some(value) = value {
            self.set(key, value);
        }
    }
}

fn rule_yaml(rule: &Rule) -> Yaml<'static> {
    let mut m = Map(Mapping::new());
    m.set("name", text(rule.name.as_str()));
    m.maybe("description", rule.description.as_deref().map(text));
    m.maybe("owner", rule.owner.as_deref().map(text));
    if !rule.tags.is_empty() {
        m.set(
            "tags",
            Yaml::Sequence(rule.tags.iter().map(|t| text(t.as_str())).collect()),
        );
    }
    m.set("target", text(rule.target.as_str()));
    m.set("dataset", text(rule.dataset.to_string()));
    m.set("check", text(rule.check.kind()));
    check_params(&mut m, &rule.check);
    thresholds(&mut m, rule);
    m.set("severity", text(rule.severity.as_str()));
    m.set("schedule", text(rule.schedule.expression()));
    m.set("timezone", text(rule.schedule.timezone().name()));
    m.set("queue", text(rule.queue.as_str()));
    m.set("enabled", Yaml::Value(Scalar::Boolean(rule.enabled)));
    if rule.shadow {
        m.set("shadow", Yaml::Value(Scalar::Boolean(true)));
    }
    m.set(
        "use_sampling",
        Yaml::Value(Scalar::Boolean(rule.scope.sample_size.is_some())),
    );
    m.maybe("sample_size", rule.scope.sample_size.map(unsigned));
    m.set("timeout", duration(rule.timeout));
    m.maybe(
        "filter",
        rule.scope.filter.as_ref().map(|f| text(f.as_sql())),
    );
    if let Some(window) = &rule.scope.window {
        m.set("partition_column", text(window.column.as_str()));
        m.set("window", duration(window.length));
    }
    m.set(
        "alert_cooldown_minutes",
        integer(i64::from(rule.alert_cooldown_minutes)),
    );
    if !rule.parameters.is_empty() {
        m.set(
            "parameters",
            json(&serde_json::Value::Object(rule.parameters.clone())),
        );
    }
    Yaml::Mapping(m.0)
}

fn literal(value: &Literal) -> Yaml<'static> {
    match value {
        Literal::Integer(i) => integer(*i),
        Literal::Float(f) => float(*f),
        Literal::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        Literal::Text(s) => text(s.as_str()),
    }
}

fn check_params(m: &mut Map, check: &Check) {
    if let Some(column) = check.column() {
        m.set("column", text(column.as_str()));
    }
    match check {
        Check::AcceptedValues { values, .. } => {
            m.set(
                "values",
                Yaml::Sequence(values.iter().map(literal).collect()),
            );
        }
        Check::ValueRange {
            min_value,
            max_value,
            avg,
            ..
        } => {
            m.maybe("min_value", min_value.map(number));
            m.maybe("max_value", max_value.map(number));
            m.maybe("avg_min", avg.min.map(number));
            m.maybe("avg_max", avg.max.map(number));
        }
        Check::Regex { pattern, .. } => match pattern {
            Pattern::Format(format) => m.set("format", text(format.name())),
            Pattern::Regex(regex) => m.set("pattern", text(regex.as_str())),
        },
        Check::StringLength {
            min_length,
            max_length,
            ..
        } => {
            m.maybe("min_length", min_length.map(unsigned));
            m.maybe("max_length", max_length.map(unsigned));
        }
        Check::Schema { columns, types } => {
            let names = columns.iter().map(|c| text(c.as_str())).collect();
            m.set("columns", Yaml::Sequence(names));
            if !types.is_empty() {
                let mut map = Mapping::new();
                for (column, type_name) in types {
                    map.insert(text(column.as_str()), text(type_name.as_str()));
                }
                m.set("types", Yaml::Mapping(map));
            }
        }
        Check::CustomSql { sql, mode } => {
            m.set("sql", text(sql.as_str()));
            m.set("mode", text(mode_name(*mode)));
        }
        Check::NullCountOf { missing, .. } | Check::NullRateOf { missing, .. } => {
            m.set("missing", text(missing.name()));
        }
        Check::FieldTypes { types, .. } => {
            m.set(
                "types",
                Yaml::Sequence(types.iter().map(|t| text(t.as_str())).collect()),
            );
        }
        Check::JsonSchema { schema } => m.set("schema", json(schema)),
        Check::CustomPipeline { pipeline, mode } => {
            m.set("pipeline", json(pipeline));
            m.set("mode", text(mode_name(*mode)));
        }
        Check::Drift {
            method,
            sample_size,
            baseline_window,
            ..
        } => {
            m.set("method", text(method.name()));
            m.set("max_values", unsigned(*sample_size));
            m.maybe("baseline_window", baseline_window.map(duration));
        }
        Check::SchemaChange { columns } if !columns.is_empty() => {
            let names = columns.iter().map(|c| text(c.as_str())).collect();
            m.set("columns", Yaml::Sequence(names));
        }
        Check::Reconciliation {
            against_target,
            against_dataset,
            key,
            columns,
            page_size,
        } => {
            let mut against = Mapping::new();
            against.insert(text("target"), text(against_target.as_str()));
            against.insert(text("dataset"), text(against_dataset.to_string()));
            m.set("against", Yaml::Mapping(against));
            let names = |list: &[crate::names::Identifier]| {
                Yaml::Sequence(list.iter().map(|c| text(c.as_str())).collect())
            };
            m.set("key", names(key));
            if !columns.is_empty() {
                m.set("columns", names(columns));
            }
            m.maybe("page_size", page_size.map(|rows| integer(i64::from(rows))));
        }
        Check::Anomaly { measure, detector } => {
            m.set("measure", text(measure.kind()));
            check_params(m, measure);
            m.set("strategy", text(detector.strategy.name()));
            m.set("threshold", number(detector.threshold));
            m.set("training_window", duration(detector.training_window));
            m.set("min_history", integer(i64::from(detector.min_history)));
            m.set("sensitivity", number(detector.sensitivity));
        }
        _ => {}
    }
}

fn mode_name(mode: crate::check::CustomSqlMode) -> &'static str {
    match mode {
        crate::check::CustomSqlMode::Rows => "rows",
        crate::check::CustomSqlMode::Scalar => "scalar",
    }
}

fn thresholds(m: &mut Map, rule: &Rule) {
    let t = &rule.thresholds;
    match rule.check {
        // Its only bound is fixed by the kind.
        Check::NotEmpty => {}
        Check::Freshness { .. } => {
            m.maybe("max_age", t.fail.max.map(seconds));
            m.maybe("warn_age", t.warn.max.map(seconds));
        }
        _ => {
            let write = |m: &mut Map, bounds: &Bounds, min_key: &str, max_key: &str| {
                m.maybe(min_key, bounds.min.map(number));
                m.maybe(max_key, bounds.max.map(number));
            };
            write(m, &t.fail, "min", "max");
            write(m, &t.warn, "warn_min", "warn_max");
        }
    }
}

/// One rule as a manifest entry in JSON (what the API returns and accepts):
/// `load_manifests` of `{"version": 1, "rules": [it]}` gives the rule back.
pub fn export_rule_json(rule: &Rule) -> serde_json::Value {
    yaml_to_json(&rule_yaml(rule))
}

fn yaml_to_json(yaml: &Yaml<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match yaml {
        Yaml::Value(Scalar::Null) => J::Null,
        Yaml::Value(Scalar::Boolean(b)) => J::Bool(*b),
        Yaml::Value(Scalar::Integer(i)) => J::from(*i),
        Yaml::Value(Scalar::FloatingPoint(f)) => J::from(f.into_inner()),
        Yaml::Value(Scalar::String(s)) => J::String(s.to_string()),
        Yaml::Sequence(items) => J::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(map) => J::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::Value(Scalar::String(s)) => s.to_string(),
                        other => yaml_to_json(other).to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        // The exporter writes only scalars, sequences and mappings.
        _ => J::Null,
    }
}

pub fn export_manifest(rules: &[Rule]) -> String {
    let mut root = Map(Mapping::new());
    root.set("version", integer(SUPPORTED_VERSION));
    root.set(
        "rules",
        Yaml::Sequence(rules.iter().map(rule_yaml).collect()),
    );
    let mut out = String::new();
    let mut emitter = YamlEmitter::new(&mut out);
    emitter.multiline(true);
    // Writing into a String cannot fail; an error here would be a bug in the emitter.
    if emitter.dump(&Yaml::Mapping(root.0)).is_err() {
        return String::new();
    }
    let mut text = out.strip_prefix("---\n").map(str::to_string).unwrap_or(out);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    format!("# Exported by dq: every field explicit.\n{text}")
}
