//! Which keys a manifest may use where, and what to say about the others
//! (a nearest-key suggestion for typos).

/// Keys of the manifest document itself.
pub const TOP_KEYS: [&str; 3] = ["version", "defaults", "rules"];

/// Keys every rule may have, whatever its check kind, in export order.
pub const COMMON_KEYS: [&str; 21] = [
    "name",
    "description",
    "owner",
    "tags",
    "target",
    "dataset",
    "check",
    "severity",
    "schedule",
    "timezone",
    "queue",
    "enabled",
    "shadow",
    "use_sampling",
    "sample_size",
    "timeout",
    "filter",
    "partition_column",
    "window",
    "alert_cooldown_minutes",
    "parameters",
];

/// Common keys that identify a rule, so a default for them makes no sense.
const PER_RULE_KEYS: [&str; 3] = ["name", "dataset", "check"];

const THRESHOLDS: [&str; 5] = ["min", "max", "warn", "warn_min", "warn_max"];

/// The keys specific to one check kind (its parameters and thresholds).
pub fn params(kind: &str) -> &'static [&'static str] {
    match kind {
        "row_count" => &THRESHOLDS,
        "null_count" | "null_rate" => &[
            "column", "missing", "min", "max", "warn", "warn_min", "warn_max",
        ],
        "duplicate_count" => &["column", "min", "max", "warn", "warn_min", "warn_max"],
        "accepted_values" => &[
            "column", "values", "min", "max", "warn", "warn_min", "warn_max",
        ],
        "value_range" => &[
            "column",
            "min_value",
            "max_value",
            "avg_min",
            "avg_max",
            "min",
            "max",
            "warn",
            "warn_min",
            "warn_max",
        ],
        "regex" => &[
            "column", "pattern", "format", "min", "max", "warn", "warn_min", "warn_max",
        ],
        "string_length" => &[
            "column",
            "min_length",
            "max_length",
            "min",
            "max",
            "warn",
            "warn_min",
            "warn_max",
        ],
        "freshness" => &["column", "max_age", "warn_age"],
        "schema" => &[
            "columns", "types", "min", "max", "warn", "warn_min", "warn_max",
        ],
        "custom_sql" => &["sql", "mode", "min", "max", "warn", "warn_min", "warn_max"],
        "field_types" => &[
            "column", "types", "min", "max", "warn", "warn_min", "warn_max",
        ],
        "json_schema" => &["schema", "min", "max", "warn", "warn_min", "warn_max"],
        "custom_pipeline" => &[
            "pipeline", "mode", "min", "max", "warn", "warn_min", "warn_max",
        ],
        "schema_change" => &["columns", "min", "max", "warn", "warn_min", "warn_max"],
        "drift" => &[
            "column",
            "method",
            "max_values",
            "baseline_window",
            "min",
            "max",
            "warn",
            "warn_min",
            "warn_max",
        ],
        "reconciliation" => &[
            "against",
            "key",
            "columns",
            "page_size",
            "min",
            "max",
            "warn",
            "warn_min",
            "warn_max",
        ],
        // The measure's own parameters (column, missing, sql, mode), then
        // the detector's; no fixed bounds.
        "anomaly" => &[
            "measure",
            "column",
            "missing",
            "sql",
            "mode",
            "values",
            "min_value",
            "max_value",
            "avg_min",
            "avg_max",
            "pattern",
            "format",
            "min_length",
            "max_length",
            "types",
            "schema",
            "pipeline",
            "strategy",
            "threshold",
            "training_window",
            "min_history",
            "sensitivity",
        ],
        _ => &[],
    }
}

fn is_param_of_any_kind(key: &str) -> bool {
    crate::check::CHECK_KINDS
        .iter()
        .any(|kind| params(kind).contains(&key))
}

pub fn is_defaultable(key: &str) -> bool {
    COMMON_KEYS.contains(&key) && !PER_RULE_KEYS.contains(&key)
}

/// The candidate closest to `key`, if it is close enough to be a typo.
pub fn suggest<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = (key.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(key, c), c))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

fn unknown(key: &str, candidates: &[&str]) -> String {
    match suggest(key, candidates.iter().copied()) {
        Some(near) => format!("unknown key (did you mean \"{near}\"?)"),
        None => format!("unknown key (expected one of {})", candidates.join(", ")),
    }
}

pub fn top_level_problem(key: &str) -> Option<String> {
    (!TOP_KEYS.contains(&key)).then(|| unknown(key, &TOP_KEYS))
}

pub fn defaults_problem(key: &str) -> Option<String> {
    if is_defaultable(key) {
        return None;
    }
    if PER_RULE_KEYS.contains(&key) || is_param_of_any_kind(key) {
        return Some("cannot be set in defaults (expected it on each rule)".to_string());
    }
    let candidates: Vec<&str> = COMMON_KEYS
        .into_iter()
        .filter(|k| is_defaultable(k))
        .collect();
    Some(unknown(key, &candidates))
}

/// What is wrong with `key` in a rule of `kind` (`None` when the kind is
/// unknown: then any parameter of any kind is let through, since the kind
/// itself is already reported).
pub fn rule_problem(key: &str, kind: Option<&str>) -> Option<String> {
    if COMMON_KEYS.contains(&key) {
        return None;
    }
    let Some(kind) = kind else {
        if is_param_of_any_kind(key) {
            return None;
        }
        let mut all: Vec<&str> = COMMON_KEYS.to_vec();
        for kind in crate::check::CHECK_KINDS {
            for key in params(kind) {
                if !all.contains(key) {
                    all.push(key);
                }
            }
        }
        return Some(unknown(key, &all));
    };
    let own = params(kind);
    if own.contains(&key) {
        return None;
    }
    let mut candidates: Vec<&str> = COMMON_KEYS.to_vec();
    candidates.extend(own);
    if let Some(near) = suggest(key, candidates.iter().copied()) {
        return Some(format!("unknown key (did you mean \"{near}\"?)"));
    }
    if is_param_of_any_kind(key) {
        return Some(if own.is_empty() {
            format!("not a parameter of check {kind} (expected no parameters)")
        } else {
            format!(
                "not a parameter of check {kind} (expected one of {})",
                own.join(", ")
            )
        });
    }
    Some(unknown(key, &candidates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_key() {
        for (key, kind, expected) in [
            ("colum", Some("null_rate"), Some("unknown key (did you mean \"column\"?)")),
            ("sevrity", Some("row_count"), Some("unknown key (did you mean \"severity\"?)")),
            ("tiemout", None, Some("unknown key (did you mean \"timeout\"?)")),
            ("column", Some("null_rate"), None),
            ("values", None, None),
            (
                "values",
                Some("null_rate"),
                Some("not a parameter of check null_rate (expected one of column, missing, min, max, warn, warn_min, warn_max)"),
            ),
            ("max", Some("not_empty"), Some("not a parameter of check not_empty (expected no parameters)")),
        ] {
            assert_eq!(rule_problem(key, kind).as_deref(), expected, "{key}");
        }
        assert_eq!(
            top_level_problem("rule").as_deref(),
            Some("unknown key (did you mean \"rules\"?)")
        );
        assert_eq!(
            top_level_problem("zzzzzz").as_deref(),
            Some("unknown key (expected one of version, defaults, rules)")
        );
        assert_eq!(defaults_problem("severity"), None);
        assert_eq!(
            defaults_problem("column").as_deref(),
            Some("cannot be set in defaults (expected it on each rule)")
        );
        assert_eq!(
            defaults_problem("schedul").as_deref(),
            Some("unknown key (did you mean \"schedule\"?)")
        );
        // Every check kind has its keys listed (not_empty has none by design).
        for kind in crate::check::CHECK_KINDS {
            assert_eq!(params(kind).is_empty(), kind == "not_empty", "{kind}");
        }
    }
}
