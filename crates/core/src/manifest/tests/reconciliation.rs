//! The `reconciliation` kind in manifests: its parameters, defaults, errors
//! and export round trip.

use super::{error_lines, load, load_ok, ManifestError};
use crate::check::Check;
use crate::manifest::{export_manifest, export_rule_json, load_manifests, ManifestFile};
use crate::names::{Dataset, Identifier};
use crate::queue::Queue;
use crate::threshold::Bounds;

fn ids(names: &[&str]) -> Vec<Identifier> {
    names.iter().map(|n| Identifier::new(*n).unwrap()).collect()
}

const MANIFEST: &str = r#"
version: 1
rules:
  - name: orders_replica
    target: warehouse
    dataset: public.orders
    check: reconciliation
    against:
      target: warehouse
      dataset: replica.orders
    key: id
  - name: lines_replica
    target: warehouse
    dataset: order_lines
    check: reconciliation
    against: {target: warehouse, dataset: lines_copy}
    key: [order_id, line]
    columns: [amount, sku]
    page_size: 500
    max: 10
    warn_max: 2
    queue: dq_compute
"#;

#[test]
fn parameters_defaults_and_queue() {
    let rules = load_ok("r.yaml", MANIFEST);
    assert_eq!(
        rules[0].check,
        Check::Reconciliation {
            against_target: "warehouse".into(),
            against_dataset: Dataset::parse("replica.orders").unwrap(),
            key: ids(&["id"]),
            columns: Vec::new(),
            page_size: None,
        }
    );
    assert_eq!(rules[0].queue, Queue::Memory, "the kind's default queue");
    assert_eq!(rules[0].thresholds.fail, Bounds::at_most(0.0));
    assert_eq!(rules[0].check.measure_name(), "mismatched_rows");
    assert_eq!(
        rules[1].check,
        Check::Reconciliation {
            against_target: "warehouse".into(),
            against_dataset: Dataset::parse("lines_copy").unwrap(),
            key: ids(&["order_id", "line"]),
            columns: ids(&["amount", "sku"]),
            page_size: Some(500),
        }
    );
    assert_eq!(rules[1].queue, Queue::Compute);
    assert_eq!(rules[1].thresholds.fail, Bounds::at_most(10.0));
    assert_eq!(rules[1].thresholds.warn, Bounds::at_most(2.0));
}

#[test]
fn export_round_trips() {
    let rules = load_ok("r.yaml", MANIFEST);
    let text = export_manifest(&rules);
    assert_eq!(load_ok("exported.yaml", &text), rules, "{text}");
    assert!(text.contains("check: reconciliation"), "{text}");
    for rule in &rules {
        let entry = export_rule_json(rule);
        let manifest = serde_json::json!({"version": 1, "rules": [entry]}).to_string();
        let file = ManifestFile {
            path: "api.json",
            text: &manifest,
        };
        let back = load_manifests(&[file], &super::warehouse_only).unwrap();
        assert_eq!(&back[0], rule);
    }
}

/// A one-rule reconciliation manifest whose parameters start on line 7.
fn rule(params: &str) -> String {
    let mut text = String::from(
        "version: 1\nrules:\n  - name: r\n    target: warehouse\n    dataset: orders\n    check: reconciliation\n",
    );
    for line in params.lines() {
        text.push_str("    ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[test]
fn errors_name_line_and_field() {
    let prefix = "m.yaml";
    for (params, expected) in [
        (
            "key: id",
            vec!["m.yaml:3: rule \"r\": against: missing (expected the dataset to compare with: {target: NAME, dataset: TABLE})"],
        ),
        (
            "against: {target: replica, dataset: orders}\nkey: id",
            vec!["m.yaml:7: rule \"r\": against: unknown target \"replica\" (expected a target configured in dq.toml)"],
        ),
        (
            "against:\n  target: warehouse\nkey: id",
            vec!["m.yaml:7: rule \"r\": against: has no dataset (expected a table such as public.orders)"],
        ),
        (
            "against:\n  target: warehouse\n  dataset: orders\n  schema: x\nkey: id",
            vec!["m.yaml:10: rule \"r\": against: unknown key \"schema\" (expected target and dataset)"],
        ),
        (
            "against: orders\nkey: id",
            vec!["m.yaml:7: rule \"r\": against: \"orders\" is a string (expected the dataset to compare with: {target: NAME, dataset: TABLE})"],
        ),
        (
            "against: {target: warehouse, dataset: copy}",
            vec!["m.yaml:3: rule \"r\": key: missing (expected the key column, or a list of key columns such as [region, id])"],
        ),
        (
            "against: {target: warehouse, dataset: copy}\nkey: []",
            vec!["m.yaml:8: rule \"r\": key: is an empty list (expected the key column, or a list of key columns such as [region, id])"],
        ),
        (
            "against: {target: warehouse, dataset: copy}\nkey: id\ncolumns: [amount, id]",
            vec!["m.yaml:9: rule \"r\": columns: id is a key column (expected only non-key columns to compare)"],
        ),
        (
            "against: {target: warehouse, dataset: copy}\nkey: id\nfilter: \"amount > 0\"",
            vec!["m.yaml:9: rule \"r\": filter: a reconciliation compares whole datasets (expected no filter, window or sampling)"],
        ),
        (
            "against: {target: warehouse, dataset: copy}\nkey: id\npage_size: 2000000",
            vec!["m.yaml:9: rule \"r\": page_size: 2000000 is too large (expected at most 1000000 rows per page)"],
        ),
        (
            "against: {target: warehouse, dataset: copy}\nkey: id\ncolumn: amount",
            vec!["m.yaml:9: rule \"r\": column: unknown key (did you mean \"columns\"?)"],
        ),
    ] {
        let text = rule(params);
        let lines = error_lines(prefix, &text);
        assert_eq!(lines, expected, "{params}");
    }
}

#[test]
fn a_valid_rule_loads_through_the_shared_helper() {
    let text = rule("against: {target: warehouse, dataset: copy}\nkey: id");
    let loaded: Result<_, Vec<ManifestError>> = load("m.yaml", &text);
    assert_eq!(loaded.map(|rules| rules.len()), Ok(1));
}
