//! Query tuning parameters a rule may carry in `parameters` (the old
//! runbook's knobs), honoured where the target supports them and reported
//! as ignored where it does not:
//!
//! - `parallel_degree`: PostgreSQL sets `max_parallel_workers_per_gather`
//!   for the check's transaction (0 turns parallel scans off).
//! - `query_hint`: passed through only to targets that take hints
//!   (MongoDB's `hint`); SQL targets ignore it.
//!
//! (`partition_column` with `window` is a scope, not a parameter: every SQL
//! target turns it into a range condition the planner prunes partitions by.)

use serde_json::{Map, Value};

use crate::rule::Rule;

/// The most parallel workers a rule may ask for.
pub const MAX_PARALLEL_DEGREE: u64 = 64;

/// The tuning keys of `parameters`.
pub const TUNING_KEYS: [&str; 2] = ["parallel_degree", "query_hint"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tuning {
    pub parallel_degree: Option<u32>,
    pub query_hint: Option<Value>,
}

impl Tuning {
    /// The rule's tuning (validated when the rule was loaded).
    pub fn of(rule: &Rule) -> Tuning {
        Tuning {
            parallel_degree: rule
                .parameters
                .get("parallel_degree")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
            query_hint: rule.parameters.get("query_hint").cloned(),
        }
    }

    /// The tuning of one query run for several rules: the largest degree
    /// any asks for, the first hint.
    pub fn for_rules<'r>(rules: impl IntoIterator<Item = &'r Rule>) -> Tuning {
        rules
            .into_iter()
            .map(Tuning::of)
            .fold(Tuning::default(), |acc, t| Tuning {
                parallel_degree: acc.parallel_degree.max(t.parallel_degree),
                query_hint: acc.query_hint.or(t.query_hint),
            })
    }

    pub fn is_empty(&self) -> bool {
        self.parallel_degree.is_none() && self.query_hint.is_none()
    }
}

/// Problems with the tuning keys of `parameters`, as (key, message).
pub fn problems(parameters: &Map<String, Value>) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if let Some(value) = parameters.get("parallel_degree") {
        if value.as_u64().is_none_or(|n| n > MAX_PARALLEL_DEGREE) {
            problems.push((
                "parallel_degree",
                format!("{value} is not a whole number from 0 to {MAX_PARALLEL_DEGREE}"),
            ));
        }
    }
    if let Some(value) = parameters.get("query_hint") {
        if !(value.is_string() || value.is_object()) {
            problems.push((
                "query_hint",
                format!("{value} is not an index name or an index key document"),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn bad_values_are_named_and_good_ones_pass() {
        let good = map(json!({"parallel_degree": 4, "query_hint": {"created_at": 1}, "team": "x"}));
        assert!(problems(&good).is_empty());
        let bad = map(json!({"parallel_degree": -1, "query_hint": 3}));
        let keys: Vec<&str> = problems(&bad).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["parallel_degree", "query_hint"]);
        let too_many = map(json!({"parallel_degree": 65}));
        assert_eq!(problems(&too_many).len(), 1);
    }
}
