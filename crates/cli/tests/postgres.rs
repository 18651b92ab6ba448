//! The CLI with its store in PostgreSQL.

mod common;

use common::postgres::PgSchema;
use common::Scratch;

#[test]
fn demo_and_every_command_work_with_a_postgres_store() {
    let schema = PgSchema::new("dq_cli");
    let scratch = Scratch::new();
    let store = schema.url();

    let demo = scratch.dq(&["demo", "--dir", "demo", "--store", &store]);
    demo.assert_code(0);
    assert!(demo.stdout.contains("FAILED"), "{}", demo.stdout);
    assert_eq!(schema.query_i64("SELECT count(*) FROM rules"), 19);
    assert_eq!(schema.query_i64("SELECT count(*) FROM runs"), 19);
    assert_eq!(schema.query_i64("SELECT count(*) FROM violations"), 9);

    let config = "demo/dq.toml";
    scratch.dq(&["--config", config, "migrate"]).assert_code(0);
    let run = scratch.dq(&["--config", config, "run", "--rule-name", "shipments_fresh"]);
    run.assert_code(1);
    assert_eq!(schema.query_i64("SELECT count(*) FROM runs"), 20);

    scratch
        .dq(&["--config", config, "export", "manifest", "backup.yaml"])
        .assert_code(0);
    let back = scratch.dq(&["--config", config, "load", "backup.yaml"]);
    back.assert_code(0);
    assert!(
        back.stdout
            .contains("0 to create, 0 to change, 0 to disable, 19 unchanged"),
        "{}",
        back.stdout
    );

    let violations = scratch.dq(&[
        "--config",
        config,
        "export",
        "violations",
        "-",
        "--format",
        "ndjson",
        "--days",
        "1",
    ]);
    violations.assert_code(0);
    assert_eq!(violations.stdout.lines().count(), 10);
}
