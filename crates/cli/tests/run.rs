mod common;

use common::Scratch;

const MANIFEST: &str = r#"version: 1
defaults:
  target: shop
rules:
  - name: shipments_stale
    dataset: shipments
    check: freshness
    column: shipped_at
    max_age: 2h
    severity: HIGH
    tags: [sla]
  - name: orders_present
    dataset: orders
    check: not_empty
    tags: [sla]
  - name: tries_to_write
    dataset: orders
    check: custom_sql
    sql: DELETE FROM orders
    tags: [broken]
  - name: low_one
    dataset: customers
    check: string_length
    column: country
    max_length: 2
    severity: LOW
    tags: [low]
"#;

fn setup() -> (Scratch, String) {
    let scratch = Scratch::new();
    let config = scratch.demo();
    scratch.write("rules.yaml", MANIFEST);
    scratch
        .dq(&["--config", &config, "load", "rules.yaml"])
        .assert_code(0);
    (scratch, config)
}

#[test]
fn exit_codes_gate_pipelines() {
    let (scratch, config) = setup();
    // (args, expected exit code)
    let cases: &[(&[&str], i32)] = &[
        (&["run", "--rule-name", "shipments_stale"], 1),
        (
            &[
                "run",
                "--rule-name",
                "shipments_stale",
                "--fail-on",
                "CRITICAL",
            ],
            0,
        ),
        (&["run", "--rule-name", "orders_present"], 0),
        (&["run", "--tag", "low"], 0),
        (&["run", "--tag", "low", "--fail-on", "LOW"], 1),
        (&["run", "--tag", "broken"], 3),
        (&["run", "--rule-name", "no_such_rule"], 2),
        (
            &[
                "run",
                "--rule-name",
                "shipments_stale",
                "--fail-on",
                "SEVERE",
            ],
            2,
        ),
        (&["run"], 2),
    ];
    for (args, code) in cases {
        let mut full = vec!["--config", config.as_str()];
        full.extend_from_slice(args);
        let run = scratch.dq(&full);
        assert_eq!(
            run.code, *code,
            "dq {args:?}\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        );
    }
}

#[test]
fn the_data_is_untouched_after_a_check_that_tries_to_delete() {
    let (scratch, config) = setup();
    let run = scratch.dq(&["--config", &config, "run", "--rule-name", "tries_to_write"]);
    run.assert_code(3);
    assert!(run.stdout.contains("read-only"), "{}", run.stdout);
    let count = scratch.dq(&["--config", &config, "run", "--rule-name", "orders_present"]);
    assert!(count.stdout.contains("2,000"), "{}", count.stdout);
}

#[test]
fn dry_run_shows_one_scan_per_dataset_and_runs_nothing() {
    let (scratch, config) = setup();
    let run = scratch.dq(&["--config", &config, "run", "--all", "--dry-run"]);
    run.assert_code(0);
    assert!(run.stdout.contains("4 rules in 3 scans"), "{}", run.stdout);
    let runs = scratch.dq(&[
        "--config",
        &config,
        "export",
        "runs",
        "-",
        "--format",
        "ndjson",
        "--rule-name",
        "orders_present",
    ]);
    assert_eq!(runs.stdout.lines().count(), 0, "{}", runs.stdout);
}
