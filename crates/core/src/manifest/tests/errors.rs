//! Every class of manifest error, with the exact line a user reads.

use super::{error_lines, load_manifests, warehouse_only, ManifestFile};

/// A one-rule manifest: `name` on line 3, `body` from line 6 on.
fn rule(body: &str) -> String {
    let mut text = String::from(
        "version: 1\nrules:\n  - name: r\n    target: warehouse\n    dataset: public.orders\n",
    );
    for line in body.lines() {
        text.push_str("    ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[test]
fn each_error_class_is_reported_with_file_line_rule_and_field() {
    let cases: Vec<(&str, String, &str)> = vec![
        // --- the document ---
        (
            "yaml syntax",
            "version: 1\nrules: [a, b\n".into(),
            "m.yaml:3: yaml: while parsing a flow sequence, expected ',' or ']' (expected valid YAML)",
        ),
        (
            "duplicate key",
            rule("check: not_empty\nseverity: LOW\nseverity: HIGH"),
            "m.yaml:8: yaml: duplicate key (expected each key once in a mapping)",
        ),
        (
            "empty file",
            "# nothing yet\n".into(),
            "m.yaml:1: manifest: is empty (expected version: 1 and a list of rules)",
        ),
        (
            "missing version",
            "rules: []\n".into(),
            "m.yaml:1: version: missing (expected version: 1)",
        ),
        (
            "unsupported version",
            "version: 2\nrules: []\n".into(),
            "m.yaml:1: version: unsupported version 2 (expected 1)",
        ),
        (
            "unknown top-level key",
            "version: 1\nrules: []\ndefault:\n  severity: LOW\n".into(),
            "m.yaml:3: default: unknown key (did you mean \"defaults\"?)",
        ),
        (
            "unknown defaults key",
            "version: 1\ndefaults:\n  timezon: UTC\nrules: []\n".into(),
            "m.yaml:3: defaults.timezon: unknown key (did you mean \"timezone\"?)",
        ),
        (
            "per-rule key in defaults",
            "version: 1\ndefaults:\n  column: id\nrules: []\n".into(),
            "m.yaml:3: defaults.column: cannot be set in defaults (expected it on each rule)",
        ),
        (
            "bad value in defaults",
            "version: 1\ndefaults:\n  severity: urgent\nrules: []\n".into(),
            "m.yaml:3: defaults.severity: unknown severity \"urgent\" (expected one of INFO, LOW, MEDIUM, HIGH, CRITICAL)",
        ),
        (
            "rules not a list",
            "version: 1\nrules: {name: r}\n".into(),
            "m.yaml:2: rules: is a mapping (expected a list of rules)",
        ),
        // --- keys and kinds ---
        (
            "unknown rule key",
            rule("check: null_rate\ncolumn: id\ncolum: id"),
            "m.yaml:8: rule \"r\": colum: unknown key (did you mean \"column\"?)",
        ),
        (
            "parameter of another kind",
            rule("check: null_rate\ncolumn: id\nvalues: [a]"),
            "m.yaml:8: rule \"r\": values: not a parameter of check null_rate (expected one of column, missing, min, max, warn, warn_min, warn_max)",
        ),
        (
            "unknown check kind",
            rule("check: nul_rate\ncolumn: id"),
            "m.yaml:6: rule \"r\": check: unknown check kind \"nul_rate\" (did you mean \"null_rate\"? expected one of row_count, not_empty, null_count, null_rate, duplicate_count, accepted_values, value_range, regex, string_length, freshness, schema, custom_sql, field_types, json_schema, custom_pipeline, anomaly, schema_change, reconciliation, drift)",
        ),
        (
            "missing check",
            rule("severity: LOW"),
            "m.yaml:3: rule \"r\": check: missing (expected one of row_count, not_empty, null_count, null_rate, duplicate_count, accepted_values, value_range, regex, string_length, freshness, schema, custom_sql, field_types, json_schema, custom_pipeline, anomaly, schema_change, reconciliation, drift)",
        ),
        (
            "missing name",
            "version: 1\nrules:\n  - target: warehouse\n    dataset: t\n    check: not_empty\n".into(),
            "m.yaml:3: name: missing (expected a unique rule name)",
        ),
        (
            "bad rule name",
            "version: 1\nrules:\n  - name: has space\n    target: warehouse\n    dataset: t\n    check: not_empty\n".into(),
            "m.yaml:3: rule \"has space\": name: \"has space\" has invalid character ' ' (expected letters, digits, '_', '-', '.')",
        ),
        // --- missing parameters and wrong types ---
        (
            "missing column",
            rule("check: null_rate"),
            "m.yaml:3: rule \"r\": column: missing (expected the column that check null_rate is about)",
        ),
        (
            "missing row_count bounds",
            rule("check: row_count"),
            "m.yaml:3: rule \"r\": min/max: missing (expected min, max or both: check row_count has no default bound)",
        ),
        (
            "missing max_age",
            rule("check: freshness\ncolumn: updated_at"),
            "m.yaml:3: rule \"r\": max_age: missing (expected a duration such as 30s, 15m, 2h or 1d: the oldest the newest row may be)",
        ),
        (
            "custom scalar without bounds",
            rule("check: custom_sql\nmode: scalar\nsql: SELECT 1"),
            "m.yaml:3: rule \"r\": min/max: missing (expected min, max or both: custom_sql with mode scalar has no default bound)",
        ),
        (
            "empty accepted values",
            rule("check: accepted_values\ncolumn: status\nvalues: []"),
            "m.yaml:8: rule \"r\": values: is an empty list (expected a non-empty list of accepted values such as [new, paid])",
        ),
        (
            "non-finite accepted value",
            rule("check: accepted_values\ncolumn: ratio\nvalues: [1, .nan]"),
            "m.yaml:8: rule \"r\": values: NaN is a number (expected a text, finite number or boolean value)",
        ),
        (
            "string where a number is expected",
            rule("check: row_count\nmin: ten"),
            "m.yaml:7: rule \"r\": min: \"ten\" is a string (expected a number)",
        ),
        (
            "string where a boolean is expected",
            rule("check: not_empty\nenabled: \"yes\""),
            "m.yaml:7: rule \"r\": enabled: \"yes\" is a string (expected true or false)",
        ),
        (
            "scalar where a list is expected",
            rule("check: not_empty\ntags: orders"),
            "m.yaml:7: rule \"r\": tags: \"orders\" is a string (expected a list of tags such as [orders, sla])",
        ),
        (
            "fractional count",
            rule("check: not_empty\nalert_cooldown_minutes: 1.5"),
            "m.yaml:7: rule \"r\": alert_cooldown_minutes: 1.5 is not a whole number (expected a whole number >= 0)",
        ),
        (
            "a tuning parameter of the wrong kind",
            rule("check: not_empty\nparameters:\n  parallel_degree: many"),
            "m.yaml:7: rule \"r\": parameters: parallel_degree: \"many\" is not a whole number from 0 to 64",
        ),
        // --- schedule, severity, queue, target ---
        (
            "bad cron",
            rule("check: not_empty\nschedule: \"61 * * * *\""),
            "m.yaml:7: rule \"r\": schedule: \"61 * * * *\" is not a valid cron expression: Component error: Number out of bounds. (expected minute hour day month weekday, with seconds first if 6 fields)",
        ),
        (
            "cron with 4 fields",
            rule("check: not_empty\nschedule: \"* * * *\""),
            "m.yaml:7: rule \"r\": schedule: \"* * * *\" has 4 fields (expected 5: minute hour day month weekday, or 6 with seconds first)",
        ),
        (
            "bad timezone",
            rule("check: not_empty\ntimezone: Mars/Olympus"),
            "m.yaml:7: rule \"r\": timezone: unknown time zone \"Mars/Olympus\" (expected an IANA name such as UTC or Europe/Paris)",
        ),
        (
            "bad severity",
            rule("check: not_empty\nseverity: urgent"),
            "m.yaml:7: rule \"r\": severity: unknown severity \"urgent\" (expected one of INFO, LOW, MEDIUM, HIGH, CRITICAL)",
        ),
        (
            "bad queue",
            rule("check: not_empty\nqueue: fast"),
            "m.yaml:7: rule \"r\": queue: unknown queue \"fast\" (expected one of dq_database, dq_compute, dq_memory)",
        ),
        (
            "unknown target",
            "version: 1\nrules:\n  - name: r\n    target: lake\n    dataset: t\n    check: not_empty\n".into(),
            "m.yaml:4: rule \"r\": target: unknown target \"lake\" (expected a target configured in dq.toml)",
        ),
        // --- thresholds ---
        (
            "rate above 1",
            rule("check: null_rate\ncolumn: id\nmax: 1.5"),
            "m.yaml:8: rule \"r\": max: 1.5 is out of range (expected a rate between 0 and 1)",
        ),
        (
            "negative count",
            rule("check: row_count\nmin: -1"),
            "m.yaml:7: rule \"r\": min: -1 is out of range (expected a count >= 0)",
        ),
        (
            "min above max",
            rule("check: row_count\nmin: 10\nmax: 5"),
            "m.yaml:7: rule \"r\": min: 10 is greater than max 5 (expected min <= max)",
        ),
        (
            "warn not stricter",
            rule("check: null_count\ncolumn: id\nmax: 5\nwarn: 8"),
            "m.yaml:9: rule \"r\": warn: 8 is above max 5 (expected a warn bound inside the fail bound, so a warning comes first)",
        ),
        (
            "warn against a default bound",
            rule("check: null_rate\ncolumn: id\nwarn: 0.1"),
            "m.yaml:8: rule \"r\": warn: 0.1 is above the default max 0 (expected a warn bound inside the fail bound, so a warning comes first)",
        ),
        (
            "ambiguous warn",
            rule("check: row_count\nmin: 1\nmax: 9\nwarn: 5"),
            "m.yaml:9: rule \"r\": warn: is ambiguous with both min and max (expected warn_min or warn_max)",
        ),
        (
            "warn_age longer than max_age",
            rule("check: freshness\ncolumn: updated_at\nmax_age: 1h\nwarn_age: 2h"),
            "m.yaml:9: rule \"r\": warn_age: 2h is above max_age 1h (expected a warn bound inside the fail bound, so a warning comes first)",
        ),
        (
            "value range min above max",
            rule("check: value_range\ncolumn: amount\nmin_value: 10\nmax_value: 1"),
            "m.yaml:8: rule \"r\": min_value: 10 is greater than max_value 1 (expected min_value <= max_value)",
        ),
        (
            "negative length",
            rule("check: string_length\ncolumn: code\nmin_length: -2"),
            "m.yaml:8: rule \"r\": min_length: -2 is too small (expected a whole number >= 0)",
        ),
        // --- identifiers, filter, durations ---
        (
            "bad column",
            rule("check: null_count\ncolumn: a-b"),
            "m.yaml:7: rule \"r\": column: \"a-b\" has invalid character '-' (expected letters, digits, '_' or '$')",
        ),
        (
            "bad dataset",
            "version: 1\nrules:\n  - name: r\n    target: warehouse\n    dataset: public.1orders\n    check: not_empty\n".into(),
            "m.yaml:5: rule \"r\": dataset: \"1orders\" must start with a letter or underscore (expected a table such as orders or public.orders)",
        ),
        (
            "bad schema column",
            rule("check: schema\ncolumns:\n  - id\n  - 9lives"),
            "m.yaml:9: rule \"r\": columns: \"9lives\" must start with a letter or underscore (expected a column name such as customer_id)",
        ),
        (
            "type for an unlisted column",
            rule("check: schema\ncolumns: [id]\ntypes:\n  id: integer\n  email: text"),
            "m.yaml:10: rule \"r\": types: column email is not in columns (expected a type only for a listed column)",
        ),
        (
            "bad filter",
            rule("check: not_empty\nfilter: \"1=1; DELETE FROM t\""),
            "m.yaml:7: rule \"r\": filter: \"1=1; DELETE FROM t\" contains \";\"; a filter is one condition, not statements or comments (expected a read-only SQL condition such as \"status <> 'test'\")",
        ),
        (
            "bad duration",
            rule("check: not_empty\ntimeout: 3 parsecs"),
            "m.yaml:7: rule \"r\": timeout: \"3 parsecs\" is not a duration: unknown unit \"parsecs\" (expected a duration such as 30s, 15m, 2h or 1d)",
        ),
        (
            "duration as a bare number",
            rule("check: not_empty\ntimeout: 30"),
            "m.yaml:7: rule \"r\": timeout: 30 is a number (expected a duration such as 30s, 15m, 2h or 1d)",
        ),
        (
            "sub-second duration",
            rule("check: not_empty\npartition_column: created_at\nwindow: 1500ms"),
            "m.yaml:8: rule \"r\": window: \"1500ms\" is not a whole number of seconds (expected a duration such as 30s, 15m, 2h or 1d)",
        ),
        // --- pairings ---
        (
            "sampling without a size",
            rule("check: not_empty\nuse_sampling: true"),
            "m.yaml:3: rule \"r\": sample_size: missing (expected a number of rows > 0, since use_sampling is true)",
        ),
        (
            "size without sampling",
            rule("check: not_empty\nsample_size: 100"),
            "m.yaml:7: rule \"r\": sample_size: is set but use_sampling is not true (expected use_sampling: true, or no sample_size)",
        ),
        (
            "zero sample size",
            rule("check: not_empty\nuse_sampling: true\nsample_size: 0"),
            "m.yaml:8: rule \"r\": sample_size: 0 is too small (expected a whole number >= 1)",
        ),
        (
            "partition column without window",
            rule("check: not_empty\npartition_column: created_at"),
            "m.yaml:3: rule \"r\": window: missing (expected a window such as 1d, since partition_column is set)",
        ),
        (
            "window without partition column",
            rule("check: not_empty\nwindow: 1d"),
            "m.yaml:3: rule \"r\": partition_column: missing (expected the timestamp column the window applies to, since window is set)",
        ),
        // --- regex ---
        (
            "bad regex",
            rule("check: regex\ncolumn: code\npattern: \"(a\""),
            "m.yaml:8: rule \"r\": pattern: \"(a\" is not a valid regex: unclosed group (expected a regular expression)",
        ),
        (
            "unknown format",
            rule("check: regex\ncolumn: phone\nformat: phone"),
            "m.yaml:8: rule \"r\": format: unknown format \"phone\" (expected one of email, uuid)",
        ),
        (
            "pattern and format",
            rule("check: regex\ncolumn: email\npattern: \"@\"\nformat: email"),
            "m.yaml:9: rule \"r\": format: is set together with pattern (expected exactly one of them)",
        ),
        (
            "duplicate rule name in a file",
            "version: 1\nrules:\n  - {name: r, target: warehouse, dataset: t, check: not_empty}\n  - {name: r, target: warehouse, dataset: t, check: not_empty}\n".into(),
            "m.yaml:4: rule \"r\": name: duplicate rule name, first defined at m.yaml:3 (expected each name once across all manifests)",
        ),
    ];
    for (class, text, expected) in cases {
        assert_eq!(
            error_lines("m.yaml", &text),
            vec![expected.to_string()],
            "{class}"
        );
    }
}

#[test]
fn duplicate_names_across_files_point_at_the_first_definition() {
    let a = "version: 1\nrules:\n  - name: orders_fresh\n    target: warehouse\n    dataset: t\n    check: not_empty\n";
    let b = "version: 1\n\nrules:\n  - name: other\n    target: warehouse\n    dataset: t\n    check: not_empty\n  - name: orders_fresh\n    target: warehouse\n    dataset: t\n    check: not_empty\n";
    let errors = load_manifests(
        &[
            ManifestFile {
                path: "a.yaml",
                text: a,
            },
            ManifestFile {
                path: "b.yaml",
                text: b,
            },
        ],
        &warehouse_only,
    )
    .unwrap_err();
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec!["b.yaml:8: rule \"orders_fresh\": name: duplicate rule name, first defined at a.yaml:3 (expected each name once across all manifests)"]
    );
    assert_eq!(errors[0].rule.as_deref(), Some("orders_fresh"));
    assert_eq!(errors[0].field, "name");
}

#[test]
fn every_problem_of_every_rule_and_file_is_reported_in_one_pass() {
    let text = r#"version: 1
defaults:
  target: warehouse
  severity: urgent
rules:
  - name: good
    dataset: public.orders
    check: not_empty
  - name: orders_nulls
    dataset: public.orders
    check: null_rate
    colum: customer_id
    max: 1.5
    schedule: "61 * * * *"
  - name: orders_fresh
    dataset: public.orders
    check: freshness
    column: updated_at
    max_age: soon
    use_sampling: true
"#;
    let broken_yaml = "version: 1\nrules:\n  - name: x\n   check: y\n";
    let errors = load_manifests(
        &[
            ManifestFile {
                path: "demo.yaml",
                text,
            },
            ManifestFile {
                path: "other.yaml",
                text: broken_yaml,
            },
        ],
        &warehouse_only,
    )
    .unwrap_err();
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "demo.yaml:4: defaults.severity: unknown severity \"urgent\" (expected one of INFO, LOW, MEDIUM, HIGH, CRITICAL)",
            "demo.yaml:9: rule \"orders_nulls\": column: missing (expected the column that check null_rate is about)",
            "demo.yaml:12: rule \"orders_nulls\": colum: unknown key (did you mean \"column\"?)",
            "demo.yaml:13: rule \"orders_nulls\": max: 1.5 is out of range (expected a rate between 0 and 1)",
            "demo.yaml:14: rule \"orders_nulls\": schedule: \"61 * * * *\" is not a valid cron expression: Component error: Number out of bounds. (expected minute hour day month weekday, with seconds first if 6 fields)",
            "demo.yaml:15: rule \"orders_fresh\": sample_size: missing (expected a number of rows > 0, since use_sampling is true)",
            "demo.yaml:19: rule \"orders_fresh\": max_age: \"soon\" is not a duration (expected a duration such as 30s, 15m, 2h or 1d)",
            "other.yaml:4: yaml: while parsing a block collection, did not find expected '-' indicator (expected valid YAML)",
        ]
    );
}

#[test]
fn a_valid_rule_next_to_a_bad_one_is_not_returned() {
    let text = rule("check: not_empty\nseverity: urgent");
    let text =
        format!("{text}  - {{name: fine, target: warehouse, dataset: t, check: not_empty}}\n");
    let errors = load_manifests(
        &[ManifestFile {
            path: "m.yaml",
            text: &text,
        }],
        &warehouse_only,
    )
    .expect_err("one bad rule makes the whole load fail");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 7);
    assert_eq!(errors[0].field, "severity");
}
