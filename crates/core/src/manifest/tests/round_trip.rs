//! load -> export -> load gives the same rules, field for field.

use super::load_ok;
use crate::manifest::{export_manifest, export_rule_json};

/// Every kind, and most optional fields in unusual shapes: multi-line and
/// quote-laden text, number-like strings, mixed literal types, nested
/// parameters, non-default queue, timeout, cooldown and time zone.
const MANIFEST: &str = r#"
version: 1
defaults:
  target: warehouse
  owner: data-eng
  timeout: 90s
rules:
  - name: replica_in_sync
    dataset: public.orders
    check: reconciliation
    against: {target: warehouse, dataset: replica.orders}
    key: [region, id]
    columns: [amount, status]
    page_size: 2500
    max: 10
    warn_max: 3
  - name: amount_drift
    dataset: public.orders
    check: drift
    column: amount
    method: psi
    max_values: 5000
    baseline_window: 7d
    max: 0.2
    warn: 0.1
  - name: status_mix
    dataset: public.orders
    check: drift
    column: status
    method: chi_square
    max: 30
  - name: orders_columns_stable
    dataset: public.orders
    check: schema_change
    columns: [id, customer_id, amount]
  - name: any_column_change
    dataset: public.customers
    check: schema_change
    severity: low
  - name: null_rate_drifts
    dataset: public.orders
    check: anomaly
    measure: null_rate
    column: customer_id
    missing: "null"
    strategy: seasonal_hour
    threshold: 4.5
    training_window: 21d
    min_history: 24
    sensitivity: 0.8
  - name: out_of_range_trend
    dataset: public.orders
    check: anomaly
    measure: value_range
    column: amount
    min_value: 0
    max_value: 10000
    strategy: relative_change
  - name: revenue_jumps
    dataset: public.orders
    check: anomaly
    measure: custom_sql
    sql: SELECT sum(amount) FROM public.orders
    mode: scalar
    strategy: absolute_change
    threshold: 1000
  - name: rows.v2
    description: |
      Orders per day stay in the band.
        Indented second line: kept as written.
    tags: [orders, "123", "true"]
    dataset: public.orders
    check: row_count
    min: 1000
    max: 1e6
    warn_min: 1500.5
    warn_max: 900000
    severity: critical
    schedule: "0 */5 * * * *"
    timezone: America/New_York
    partition_column: created_at
    window: 36h
  - name: empty-check
    dataset: public.orders
    check: not_empty
    enabled: false
    shadow: true
    queue: dq_memory
  - name: nulls
    description: "A # hash, a: colon and 'quotes'"
    dataset: public.orders
    check: null_count
    column: customer_id
    max: 12
  - name: null_rate
    dataset: public.orders
    check: null_rate
    column: customer_id
    max: 0.1
    warn: 0.05
    use_sampling: true
    sample_size: 2500
    filter: "status <> 'test' AND note = 'a: b # c'"
    alert_cooldown_minutes: 0
  - name: dups
    dataset: public.customers
    check: duplicate_count
    column: email
  - name: accepted
    dataset: public.orders
    check: accepted_values
    column: status
    values: [new, "007", 7, -2.5, false, "null", "", "  padded ", "multi\nline"]
  - name: range
    dataset: public.orders
    check: value_range
    column: amount
    min_value: -10.25
    max_value: 1e12
    avg_min: 0.001
    avg_max: 500
    min: 1
    max: 50
  - name: regex_pattern
    dataset: public.customers
    check: regex
    column: code
    pattern: '^[A-Z]{2}-\d+(\.\d+)?$'
  - name: regex_format
    dataset: public.customers
    check: regex
    column: id
    format: uuid
    max: 3
  - name: lengths
    dataset: public.customers
    check: string_length
    column: country
    max_length: 3
  - name: fresh
    dataset: public.orders
    check: freshness
    column: updated_at
    max_age: 1d 2h 3m 4s
    warn_age: 45m
  - name: schema
    dataset: public.customers
    check: schema
    columns: [id, email, created_at]
    types: {email: varchar(255), id: integer}
  - name: sql_rows
    dataset: public.orders
    check: custom_sql
    sql: |
      SELECT id
      FROM public.orders
      WHERE amount < 0
  - name: sql_scalar
    dataset: public.orders
    check: custom_sql
    mode: scalar
    sql: "SELECT avg(amount) FROM public.orders"
    min: -5
    max: 5.5
    warn_max: 4
    parameters:
      runbook: "https://wiki.example.com/dq"
      limits: {low: 1, high: 2.5, none: null, flags: [true, "x"]}
      count: 3
  - name: doc_missing_only
    dataset: app.events
    check: null_count
    column: user_id
    missing: missing
  - name: doc_null_only
    dataset: app.events
    check: null_rate
    column: session_id
    missing: null
    max: 0.5
  - name: doc_types
    dataset: app.events
    check: field_types
    column: amount
    types: [double, int, "null"]
    max: 0.01
  - name: doc_schema
    dataset: app.events
    check: json_schema
    schema:
      required: [user_id]
      properties: {type: {enum: [click, view]}, n: {bsonType: int, minimum: 0}}
  - name: doc_pipeline
    dataset: app.events
    check: custom_pipeline
    mode: scalar
    pipeline:
      - {$match: {type: click}}
      - {$count: n}
    min: 1
"#;

#[test]
fn export_then_load_gives_the_same_rules() {
    let rules = load_ok("source.yaml", MANIFEST);
    let kinds: std::collections::BTreeSet<&str> = rules.iter().map(|r| r.check.kind()).collect();
    assert_eq!(
        kinds.len(),
        crate::check::CHECK_KINDS.len(),
        "every kind is covered"
    );

    let exported = export_manifest(&rules);
    let again = load_ok("exported.yaml", &exported);
    assert_eq!(again.len(), rules.len());
    for (before, after) in rules.iter().zip(&again) {
        assert_eq!(before, after, "{}\n{exported}", before.name);
    }
    // Exporting is stable: the same rules give the same text.
    assert_eq!(export_manifest(&again), exported);
}

#[test]
fn export_writes_every_field_explicitly() {
    let rules = load_ok("source.yaml", MANIFEST);
    let exported = export_manifest(&rules);
    assert!(exported.contains("\nversion: 1\n"), "{exported}");
    assert!(!exported.contains("defaults:"), "{exported}");
    for line in [
        "    timeout: 1m 30s",
        "    window: 1day 12h",
        "    max_age: 1day 2h 3m 4s",
        "    warn_age: 45m",
        "    timezone: America/New_York",
        "    severity: CRITICAL",
        "    queue: dq_memory",
        "    warn_max: 0.05",
        "    mode: rows",
        "    sql: |",
        "      FROM public.orders",
    ] {
        assert!(
            exported.contains(&format!("{line}\n")),
            "missing {line:?} in\n{exported}"
        );
    }
    // The defaulted fields of a plain rule are written out too.
    let dups = exported
        .split("  - name: ")
        .find(|chunk| chunk.starts_with("dups\n"))
        .unwrap();
    for line in [
        "owner: data-eng",
        "target: warehouse",
        "max: 0",
        "severity: MEDIUM",
        "schedule: 0 * * * *",
        "timezone: UTC",
        "queue: dq_database",
        "enabled: true",
        "use_sampling: false",
        "alert_cooldown_minutes: 60",
    ] {
        assert!(
            dups.contains(&format!("    {line}\n")),
            "missing {line:?} in\n{dups}"
        );
    }
}

#[test]
fn exporting_no_rules_gives_a_loadable_empty_manifest() {
    let exported = export_manifest(&[]);
    assert!(load_ok("empty.yaml", &exported).is_empty());
}

#[test]
fn each_rule_as_json_loads_back_as_the_same_rule() {
    for rule in load_ok("source.yaml", MANIFEST) {
        let entry = export_rule_json(&rule);
        assert!(entry.is_object(), "{entry}");
        // JSON is YAML: the API hands this document to the manifest loader.
        let document = serde_json::json!({"version": 1, "rules": [entry]}).to_string();
        let again = load_ok("entry.json", &document);
        assert_eq!(again, vec![rule.clone()], "{document}");
    }
}
