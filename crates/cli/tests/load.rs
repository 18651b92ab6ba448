mod common;

use common::Scratch;

const GOOD: &str = r#"version: 1
defaults:
  target: shop
rules:
  - name: orders_present
    dataset: orders
    check: not_empty
  - name: orders_nulls
    dataset: orders
    check: null_rate
    column: customer_id
    max: 0.01
  - name: customers_unique
    dataset: customers
    check: duplicate_count
    column: email
"#;

#[test]
fn every_problem_is_reported_with_file_line_rule_and_field_and_nothing_changes() {
    let scratch = Scratch::new();
    let config = scratch.demo();
    scratch.write("good.yaml", GOOD);
    scratch.write(
        "bad.yaml",
        r#"version: 1
defaults:
  target: shop
rules:
  - name: a
    dataset: orders
    check: nul_rate
  - name: b
    dataset: orders
    check: null_rate
    colum: customer_id
    max: 1.5
    schedule: "61 * * * *"
    timezone: Mars/Base
  - name: a
    dataset: orders
    check: row_count
    min: 1
    target: nowhere
"#,
    );
    let run = scratch.dq(&["--config", &config, "load", "good.yaml", "bad.yaml"]);
    run.assert_code(1);
    let expected = [
        r#"bad.yaml:7: rule "a": check: unknown check kind "nul_rate" (did you mean "null_rate"? expected one of row_count, not_empty, null_count, null_rate, duplicate_count, accepted_values, value_range, regex, string_length, freshness, schema, custom_sql, field_types, json_schema, custom_pipeline, anomaly, schema_change, reconciliation, drift)"#,
        r#"bad.yaml:8: rule "b": column: missing (expected the column that check null_rate is about)"#,
        r#"bad.yaml:11: rule "b": colum: unknown key (did you mean "column"?)"#,
        r#"bad.yaml:12: rule "b": max: 1.5 is out of range (expected a rate between 0 and 1)"#,
        r#"bad.yaml:13: rule "b": schedule: "61 * * * *" is not a valid cron expression: Component error: Number out of bounds. (expected minute hour day month weekday, with seconds first if 6 fields)"#,
        r#"bad.yaml:14: rule "b": timezone: unknown time zone "Mars/Base" (expected an IANA name such as UTC or Europe/Paris)"#,
        r#"bad.yaml:15: rule "a": name: duplicate rule name, first defined at bad.yaml:5 (expected each name once across all manifests)"#,
        r#"bad.yaml:19: rule "a": target: unknown target "nowhere" (expected a target configured in dq.toml)"#,
    ];
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("bad.yaml:"))
        .collect();
    assert_eq!(lines, expected, "stderr:\n{}", run.stderr);
    assert!(run
        .stderr
        .contains("8 problems found; nothing was changed."));

    // good.yaml was valid, but the load is all or nothing: no rule exists.
    let rules = scratch.dq(&[
        "--config", &config, "export", "rules", "-", "--format", "ndjson",
    ]);
    rules.assert_code(0);
    assert_eq!(rules.stdout, "", "rules were created by a failed load");
}

#[test]
fn dry_run_then_load_then_change_then_remove() {
    let scratch = Scratch::new();
    let config = scratch.demo();
    scratch.write("rules.yaml", GOOD);

    let dry = scratch.dq(&["--config", &config, "load", "rules.yaml", "--dry-run"]);
    dry.assert_code(0);
    assert!(
        dry.stdout
            .contains("3 to create, 0 to change, 0 to disable, 0 unchanged"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("  + orders_nulls"), "{}", dry.stdout);
    assert!(dry.stdout.contains("dry run: nothing was written."));
    let rules = scratch.dq(&[
        "--config", &config, "export", "rules", "-", "--format", "ndjson",
    ]);
    assert_eq!(rules.stdout.lines().count(), 0, "dry run wrote rules");

    scratch
        .dq(&["--config", &config, "load", "rules.yaml"])
        .assert_code(0);
    let again = scratch.dq(&["--config", &config, "load", "rules.yaml"]);
    assert!(
        again
            .stdout
            .contains("0 to create, 0 to change, 0 to disable, 3 unchanged"),
        "{}",
        again.stdout
    );

    // Change one threshold, drop one rule.
    let edited = GOOD
        .replace("max: 0.01", "max: 0.02")
        .replace("  - name: customers_unique\n    dataset: customers\n    check: duplicate_count\n    column: email\n", "");
    scratch.write("rules.yaml", &edited);
    let changed = scratch.dq(&["--config", &config, "load", "rules.yaml"]);
    changed.assert_code(0);
    assert!(
        changed
            .stdout
            .contains("0 to create, 1 to change, 1 to disable, 1 unchanged"),
        "{}",
        changed.stdout
    );
    assert!(
        changed
            .stdout
            .contains("  ~ orders_nulls (thresholds.fail)"),
        "{}",
        changed.stdout
    );
    assert!(
        changed
            .stdout
            .contains("  - customers_unique (no longer in the manifest"),
        "{}",
        changed.stdout
    );

    // The disabled rule is kept, and `run --all` skips it.
    let all = scratch.dq(&["--config", &config, "run", "--all", "--dry-run"]);
    assert!(all.stdout.contains("2 rules in 1 scans"), "{}", all.stdout);
}

#[test]
fn unreadable_file_is_named() {
    let scratch = Scratch::new();
    let run = scratch.dq(&["load", "missing.yaml"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("cannot read manifest missing.yaml"),
        "{}",
        run.stderr
    );
}
