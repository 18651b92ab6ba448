//! Deciding what loading a manifest does, from the rules to load and the
//! stored rules they touch. Pure: both backends share it, and it is tested
//! without a database. Backends only read the touched rows and execute the
//! writes in one transaction.

use std::collections::{BTreeSet, HashMap, HashSet};

use dq_core::Rule;
use serde_json::Value;

use crate::error::{Result, StoreError};
use crate::model::{LoadPlan, RuleChange};

/// A stored rule as the planner sees it: its definition as JSON, so a row
/// whose definition no longer parses as a `Rule` can still be overwritten.
#[derive(Debug, Clone)]
pub(crate) struct ExistingRule {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub source: Option<String>,
    pub definition: Value,
    /// Deleted with its history kept: loading the name again revives it.
    pub deleted: bool,
}

/// What a write does to a rule, as its new version records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionNote {
    /// `created`, `changed`, `disabled: no longer in m.yaml`, ...
    pub change: String,
    /// The definition fields that changed, as in [`RuleChange`].
    pub fields: Vec<String>,
}

impl VersionNote {
    pub(crate) fn new(change: impl Into<String>, fields: Vec<String>) -> Self {
        VersionNote {
            change: change.into(),
            fields,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum RuleWrite<'a> {
    /// Insert the rule, or overwrite the row with its name.
    Upsert {
        rule: &'a Rule,
        source: &'a str,
        definition: Value,
        note: VersionNote,
    },
    /// Set `enabled = false` (in the column and in the definition).
    Disable {
        id: i64,
        definition: Value,
        note: VersionNote,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct LoadWork<'a> {
    /// One plan per loaded source, in input order.
    pub plans: Vec<LoadPlan>,
    pub writes: Vec<RuleWrite<'a>>,
}

/// One manifest's rules, under the source key they are stored with.
pub(crate) type LoadSet<'a> = (&'a str, &'a [Rule]);

/// Plans loading several sources at once against the stored rules that share
/// a name with the loaded rules or were loaded from one of the sources. A
/// rule present anywhere in the load is never disabled, so a rule moving
/// between two files loaded together is a change of source, not a removal.
pub(crate) fn plan_loads<'a>(
    existing: &[ExistingRule],
    sets: &[LoadSet<'a>],
) -> Result<LoadWork<'a>> {
    let mut sources = HashSet::new();
    let mut loaded = HashMap::new();
    for (source, rules) in sets {
        if !sources.insert(*source) {
            return Err(StoreError::Conflict(format!(
                "source {source} is loaded more than once"
            )));
        }
        for rule in *rules {
            if let Some(first) = loaded.insert(rule.name.as_str(), *source) {
                let place = if first == *source {
                    format!("in {source}")
                } else {
                    format!("in {first} and {source}")
                };
                return Err(StoreError::Conflict(format!(
                    "rule {} appears more than once ({place})",
                    rule.name
                )));
            }
        }
    }
    let by_name: HashMap<&str, &ExistingRule> =
        existing.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut work = LoadWork {
        plans: Vec::with_capacity(sets.len()),
        writes: Vec::new(),
    };
    for (source, rules) in sets {
        let mut plan = LoadPlan::default();
        for rule in *rules {
            let name = rule.name.to_string();
            let definition = serde_json::to_value(rule).map_err(|e| {
                StoreError::Invalid(format!("rule {name} cannot be written as JSON: {e}"))
            })?;
            let note = match by_name.get(name.as_str()) {
                None => {
                    plan.created.push(name);
                    VersionNote::new("created", Vec::new())
                }
                Some(old) if old.deleted => {
                    plan.created.push(name);
                    let fields = changed_fields(&old.definition, &definition);
                    VersionNote::new("created again (it had been deleted)", fields)
                }
                Some(old) => {
                    let mut fields = changed_fields(&old.definition, &definition);
                    if old.source.as_deref() != Some(*source) {
                        fields.push("source".to_string());
                    }
                    if fields.is_empty() {
                        plan.unchanged.push(name);
                        continue;
                    }
                    plan.changed.push(RuleChange {
                        name,
                        fields: fields.clone(),
                    });
                    VersionNote::new(format!("changed by a load of {source}"), fields)
                }
            };
            work.writes.push(RuleWrite::Upsert {
                rule,
                source,
                definition,
                note,
            });
        }
        let mut gone: Vec<&ExistingRule> = existing
            .iter()
            .filter(|e| e.enabled && !e.deleted && e.source.as_deref() == Some(*source))
            .filter(|e| !loaded.contains_key(e.name.as_str()))
            .collect();
        gone.sort_by(|a, b| a.name.cmp(&b.name));
        for old in gone {
            plan.disabled.push(old.name.clone());
            let mut definition = old.definition.clone();
            if let Value::Object(map) = &mut definition {
                map.insert("enabled".to_string(), Value::Bool(false));
            }
            work.writes.push(RuleWrite::Disable {
                id: old.id,
                definition,
                note: VersionNote::new(
                    format!("disabled: no longer in {source}"),
                    vec!["enabled".to_string()],
                ),
            });
        }
        work.plans.push(plan);
    }
    Ok(work)
}

/// The stored definition as the current `Rule` would serialise it, so that a
/// field added with a default since it was stored does not count as a change.
/// Falls back to the stored JSON when it no longer parses as a rule.
pub(crate) fn normalized_definition(stored: Value) -> Value {
    serde_json::from_value::<Rule>(stored.clone())
        .ok()
        .and_then(|rule| serde_json::to_value(rule).ok())
        .unwrap_or(stored)
}

/// Top-level keys whose values differ; for keys holding an object on both
/// sides (`check`, `thresholds`, `schedule`, ...) the differing sub-keys
/// instead, as `check.column`. Sorted, so plans read the same every time.
pub(crate) fn changed_fields(old: &Value, new: &Value) -> Vec<String> {
    let (Value::Object(old), Value::Object(new)) = (old, new) else {
        return if old == new {
            Vec::new()
        } else {
            vec!["definition".to_string()]
        };
    };
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut fields = Vec::new();
    for key in keys {
        match (old.get(key), new.get(key)) {
            (a, b) if a == b => {}
            (Some(Value::Object(a)), Some(Value::Object(b))) => {
                let subkeys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
                fields.extend(
                    subkeys
                        .into_iter()
                        .filter(|sub| a.get(*sub) != b.get(*sub))
                        .map(|sub| format!("{key}.{sub}")),
                );
            }
            _ => fields.push(key.clone()),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_fields_name_top_level_keys_and_object_sub_keys() {
        let base = json!({
            "name": "r", "severity": "HIGH", "enabled": true,
            "check": {"kind": "null_count", "column": "a"},
            "thresholds": {"fail": {"max": 0.0}},
        });
        let with = |patch: Value| {
            let mut value = base.clone();
            for (k, v) in patch.as_object().into_iter().flatten() {
                value[k] = v.clone();
            }
            value
        };
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            ("identical", base.clone(), vec![]),
            (
                "severity",
                with(json!({"severity": "LOW"})),
                vec!["severity"],
            ),
            (
                "column",
                with(json!({"check": {"kind": "null_count", "column": "b"}})),
                vec!["check.column"],
            ),
            (
                "kind and column",
                with(json!({"check": {"kind": "row_count"}})),
                vec!["check.column", "check.kind"],
            ),
            ("added key", with(json!({"owner": "team"})), vec!["owner"]),
            (
                "several, sorted",
                with(
                    json!({"enabled": false, "thresholds": {"fail": {"max": 1.0}, "warn": {"max": 0.5}}}),
                ),
                vec!["enabled", "thresholds.fail", "thresholds.warn"],
            ),
        ];
        for (label, new, expected) in cases {
            assert_eq!(changed_fields(&base, &new), expected, "{label}");
        }
        assert_eq!(changed_fields(&Value::Null, &base), vec!["definition"]);
    }

    #[test]
    fn unreadable_definitions_fall_back_to_the_stored_json() {
        assert_eq!(normalized_definition(json!({"a": 1})), json!({"a": 1}));
        assert_eq!(normalized_definition(Value::Null), Value::Null);
    }
}
