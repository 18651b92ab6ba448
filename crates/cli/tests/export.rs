mod common;

use common::Scratch;

#[test]
fn exported_manifest_loads_back_with_no_change() {
    let scratch = Scratch::new();
    let config = scratch.demo();
    let demo_manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../manifests/demo.yaml");
    scratch
        .dq(&["--config", &config, "load", demo_manifest])
        .assert_code(0);

    scratch
        .dq(&["--config", &config, "export", "manifest", "backup.yaml"])
        .assert_code(0);
    let back = scratch.dq(&["--config", &config, "load", "backup.yaml"]);
    back.assert_code(0);
    assert!(
        back.stdout
            .contains("0 to create, 0 to change, 0 to disable, 19 unchanged"),
        "{}",
        back.stdout
    );
    // And into a fresh store it recreates the same rules.
    scratch.write(
        "fresh.toml",
        "store = \"sqlite://fresh.db\"\n[targets.shop]\nurl = \"sqlite://demo/shop.db\"\n",
    );
    let fresh = scratch.dq(&["--config", "fresh.toml", "load", "backup.yaml"]);
    assert!(fresh.stdout.contains("19 to create"), "{}", fresh.stdout);
    let a = scratch.dq(&["--config", &config, "export", "manifest", "-"]);
    let b = scratch.dq(&["--config", "fresh.toml", "export", "manifest", "-"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn runs_and_violations_in_every_format() {
    let scratch = Scratch::new();
    scratch.dq(&["demo", "--dir", "demo"]).assert_code(0);
    let config = "demo/dq.toml";

    let json = scratch.dq(&[
        "--config",
        config,
        "export",
        "violations",
        "-",
        "--days",
        "1",
    ]);
    json.assert_code(0);
    let violations: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    // 8 FAILED + 1 WARNED in the demo.
    assert_eq!(violations.len(), 9, "{}", json.stdout);
    let nulls = violations
        .iter()
        .find(|v| v["rule_name"] == "orders_customer_id_nulls")
        .expect("the warning is a violation");
    assert_eq!(nulls["severity"], "INFO");
    assert_eq!(nulls["sample"].as_array().map(Vec::len), Some(5));

    let csv = scratch.dq(&[
        "--config",
        config,
        "export",
        "runs",
        "runs.csv",
        "--rule-name",
        "orders_fresh",
    ]);
    csv.assert_code(0);
    let text = std::fs::read_to_string(scratch.file("runs.csv")).unwrap();
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().starts_with("id,rule_id,rule_name"),
        "{text}"
    );
    assert_eq!(lines.count(), 1, "{text}");

    let yaml = scratch.dq(&[
        "--config",
        config,
        "export",
        "rules",
        "-",
        "--format",
        "yaml",
        "--rule-name",
        "orders_fresh",
    ]);
    yaml.assert_code(0);
    assert!(
        yaml.stdout.contains("name: orders_fresh"),
        "{}",
        yaml.stdout
    );

    let ndjson = scratch.dq(&[
        "--config", config, "export", "runs", "-", "--format", "ndjson", "--days", "1",
    ]);
    assert_eq!(ndjson.stdout.lines().count(), 19);
}
