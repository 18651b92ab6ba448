//! A manifest with every check kind loads to exactly the expected rules.

use std::collections::BTreeMap;
use std::time::Duration;

use super::load_ok;
use crate::check::{Check, CustomSqlMode, Literal, NamedFormat, Pattern};
use crate::names::Identifier;
use crate::queue::Queue;
use crate::rule::{DEFAULT_ALERT_COOLDOWN_MINUTES, DEFAULT_TIMEOUT};
use crate::schedule::Schedule;
use crate::scope::{RowFilter, Scope, Window};
use crate::severity::Severity;
use crate::threshold::{Bounds, Thresholds};

const MANIFEST: &str = r#"
version: 1
defaults:
  target: warehouse
  severity: MEDIUM
  schedule: "*/15 * * * *"
  timezone: UTC
  owner: data-eng
rules:
  - name: rows
    dataset: public.orders
    check: row_count
    min: 10
    max: 1000
    warn_min: 20
  - name: not_empty
    dataset: orders
    check: not_empty
  - name: null_count
    dataset: public.orders
    check: null_count
    column: customer_id
  - name: null_rate
    description: ...
    owner: team-a
    tags: [orders, sla]
    dataset: public.orders
    check: null_rate
    column: customer_id
    max: 0.01
    warn: 0.005
    severity: HIGH
    schedule: "0 */5 * * * *"
    timezone: Europe/Paris
    queue: dq_compute
    enabled: false
    use_sampling: true
    sample_size: 10000
    timeout: 30s
    filter: "status <> 'test'"
    partition_column: created_at
    window: 1d
    alert_cooldown_minutes: 15
    parameters: {ticket: DQ-1, limits: [1, 2.5]}
  - name: duplicates
    dataset: public.customers
    check: duplicate_count
    column: email
    max: 3
  - name: accepted
    dataset: public.orders
    check: accepted_values
    column: status
    values: [new, 2, 2.5, true, "3"]
  - name: range
    dataset: public.orders
    check: value_range
    column: amount
    min_value: 0
    avg_max: 500
  - name: regex_format
    dataset: public.customers
    check: regex
    column: email
    format: email
  - name: regex_pattern
    dataset: public.customers
    check: regex
    column: code
    pattern: "^[A-Z]{2}$"
    max: 5
    warn: 1
  - name: lengths
    dataset: public.customers
    check: string_length
    column: country
    min_length: 2
    max_length: 2
  - name: fresh
    dataset: public.orders
    check: freshness
    column: updated_at
    max_age: 2h
    warn_age: 90m
  - name: schema
    dataset: public.customers
    check: schema
    columns: [id, email]
    types: {id: integer}
  - name: sql_rows
    dataset: public.orders
    check: custom_sql
    sql: SELECT id FROM public.orders WHERE amount < 0
  - name: sql_scalar
    dataset: public.orders
    check: custom_sql
    mode: scalar
    sql: SELECT sum(amount) FROM public.orders
    min: 0.5
"#;

fn ident(name: &str) -> Identifier {
    Identifier::new(name).unwrap()
}

#[test]
fn every_check_kind_loads_with_its_parameters_and_thresholds() {
    let rules = load_ok("full.yaml", MANIFEST);
    let at_most_zero = Thresholds::fail(Bounds::at_most(0.0));
    let expected: Vec<(&str, Check, Thresholds)> = vec![
        (
            "rows",
            Check::RowCount,
            Thresholds {
                fail: Bounds {
                    min: Some(10.0),
                    max: Some(1000.0),
                },
                warn: Bounds::at_least(20.0),
            },
        ),
        (
            "not_empty",
            Check::NotEmpty,
            Thresholds::fail(Bounds::at_least(1.0)),
        ),
        (
            "null_count",
            Check::NullCount {
                column: ident("customer_id"),
            },
            at_most_zero,
        ),
        (
            "null_rate",
            Check::NullRate {
                column: ident("customer_id"),
            },
            Thresholds {
                fail: Bounds::at_most(0.01),
                warn: Bounds::at_most(0.005),
            },
        ),
        (
            "duplicates",
            Check::DuplicateCount {
                column: ident("email"),
            },
            Thresholds::fail(Bounds::at_most(3.0)),
        ),
        (
            "accepted",
            Check::AcceptedValues {
                column: ident("status"),
                values: vec![
                    Literal::Text("new".into()),
                    Literal::Integer(2),
                    Literal::Float(2.5),
                    Literal::Bool(true),
                    Literal::Text("3".into()),
                ],
            },
            at_most_zero,
        ),
        (
            "range",
            Check::ValueRange {
                column: ident("amount"),
                min_value: Some(0.0),
                max_value: None,
                avg: Bounds::at_most(500.0),
            },
            at_most_zero,
        ),
        (
            "regex_format",
            Check::Regex {
                column: ident("email"),
                pattern: Pattern::Format(NamedFormat::Email),
            },
            at_most_zero,
        ),
        (
            "regex_pattern",
            Check::Regex {
                column: ident("code"),
                pattern: Pattern::Regex("^[A-Z]{2}$".into()),
            },
            Thresholds {
                fail: Bounds::at_most(5.0),
                warn: Bounds::at_most(1.0),
            },
        ),
        (
            "lengths",
            Check::StringLength {
                column: ident("country"),
                min_length: Some(2),
                max_length: Some(2),
            },
            at_most_zero,
        ),
        (
            "fresh",
            Check::Freshness {
                column: ident("updated_at"),
            },
            Thresholds {
                fail: Bounds::at_most(7200.0),
                warn: Bounds::at_most(5400.0),
            },
        ),
        (
            "schema",
            Check::Schema {
                columns: vec![ident("id"), ident("email")],
                types: BTreeMap::from([(ident("id"), "integer".to_string())]),
            },
            at_most_zero,
        ),
        (
            "sql_rows",
            Check::CustomSql {
                sql: "SELECT id FROM public.orders WHERE amount < 0".into(),
                mode: CustomSqlMode::Rows,
            },
            at_most_zero,
        ),
        (
            "sql_scalar",
            Check::CustomSql {
                sql: "SELECT sum(amount) FROM public.orders".into(),
                mode: CustomSqlMode::Scalar,
            },
            Thresholds::fail(Bounds::at_least(0.5)),
        ),
    ];
    assert_eq!(rules.len(), expected.len());
    for (rule, (name, check, thresholds)) in rules.iter().zip(expected) {
        assert_eq!(rule.name.as_str(), name);
        assert_eq!(rule.check, check, "{name}");
        assert_eq!(rule.thresholds, thresholds, "{name}");
    }
}

#[test]
fn defaults_apply_unless_the_rule_sets_its_own() {
    let rules = load_ok("full.yaml", MANIFEST);
    let plain = &rules[2];
    assert_eq!(plain.name.as_str(), "null_count");
    assert_eq!(plain.target, "warehouse");
    assert_eq!(plain.owner.as_deref(), Some("data-eng"));
    assert_eq!(plain.description, None);
    assert!(plain.tags.is_empty());
    assert_eq!(plain.severity, Severity::Medium);
    assert_eq!(
        plain.schedule,
        Schedule::new("*/15 * * * *", "UTC").unwrap()
    );
    assert_eq!(plain.queue, plain.check.default_queue());
    assert_eq!(plain.queue, Queue::Database);
    assert!(plain.enabled);
    assert_eq!(plain.scope, Scope::default());
    assert_eq!(plain.timeout, DEFAULT_TIMEOUT);
    assert_eq!(plain.alert_cooldown_minutes, DEFAULT_ALERT_COOLDOWN_MINUTES);
    assert!(plain.parameters.is_empty());
    assert_eq!(rules[1].dataset.to_string(), "orders");

    let full = &rules[3];
    assert_eq!(full.name.as_str(), "null_rate");
    assert_eq!(full.dataset.to_string(), "public.orders");
    assert_eq!(full.description.as_deref(), Some("..."));
    assert_eq!(full.owner.as_deref(), Some("team-a"));
    assert_eq!(full.tags, vec!["orders", "sla"]);
    assert!(full.has_tag("sla"));
    assert_eq!(full.severity, Severity::High);
    assert_eq!(
        full.schedule,
        Schedule::new("0 */5 * * * *", "Europe/Paris").unwrap()
    );
    assert_eq!(full.queue, Queue::Compute);
    assert!(!full.enabled);
    assert_eq!(
        full.scope,
        Scope {
            sample_size: Some(10_000),
            filter: Some(RowFilter::new("status <> 'test'").unwrap()),
            window: Some(Window {
                column: ident("created_at"),
                length: Duration::from_secs(86_400),
            }),
        }
    );
    assert_eq!(full.timeout, Duration::from_secs(30));
    assert_eq!(full.alert_cooldown_minutes, 15);
    assert_eq!(
        serde_json::Value::Object(full.parameters.clone()),
        serde_json::json!({"ticket": "DQ-1", "limits": [1, 2.5]})
    );
}

#[test]
fn rules_from_several_files_load_in_order() {
    let a = "version: 1\nrules:\n  - {name: a, target: warehouse, dataset: t, check: not_empty}\n";
    let b = "version: 1\nrules:\n  - {name: b, target: warehouse, dataset: t, check: not_empty}\n";
    let rules = super::load_manifests(
        &[
            super::ManifestFile {
                path: "a.yaml",
                text: a,
            },
            super::ManifestFile {
                path: "b.yaml",
                text: b,
            },
        ],
        &super::warehouse_only,
    )
    .unwrap();
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["a", "b"]);
    // An empty rules list is a valid (if useless) manifest.
    assert!(load_ok("empty.yaml", "version: 1\nrules: []\n").is_empty());
}
