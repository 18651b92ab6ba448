//! `check: reconciliation` end to end: validated by `dq load`, run by
//! `dq run` across two configured targets, and by the fleet on the
//! dq_memory queue in the process pool, where a comparison too large for
//! the child's memory limit is an ERROR run and the worker goes on.

mod common;
#[path = "common/fleet.rs"]
mod fleet;

use std::time::Duration;

use common::redis::RedisPrefix;
use common::Scratch;
use fleet::{is_final, runs, wait_for, Service};
use serde_json::Value;

fn sql(scratch: &Scratch, db: &str, statement: &str) {
    let status = std::process::Command::new("sqlite3")
        .arg(scratch.file(db))
        .arg(statement)
        .status()
        .expect("sqlite3");
    assert!(status.success(), "{statement}");
}

/// `orders` with ids 1..=n in `db`.
fn orders(scratch: &Scratch, db: &str, n: usize) {
    sql(
        scratch,
        db,
        &format!(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, amount REAL); \
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
             INSERT INTO orders SELECT i, 'paid', i * 2.5 FROM s"
        ),
    );
}

const RULES: &str = "version: 1
rules:
  - name: orders_replicated
    target: primary
    dataset: orders
    check: reconciliation
    against:
      target: replica
      dataset: orders
    key: id
    page_size: 100
    severity: HIGH
    schedule: \"* * * * *\"
";

fn setup(broker: &str) -> Scratch {
    let scratch = Scratch::new();
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"sqlite://store.db\"\n\
             [targets.primary]\nurl = \"sqlite://primary.db\"\n\
             [targets.replica]\nurl = \"sqlite://replica.db\"\n{broker}"
        ),
    );
    orders(&scratch, "primary.db", 1000);
    orders(&scratch, "replica.db", 1000);
    scratch
}

fn load(scratch: &Scratch, manifest: &str) {
    scratch.write("rules.yaml", manifest);
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);
}

fn run_of<'a>(all: &'a [Value], rule: &str) -> Option<&'a Value> {
    all.iter().find(|r| r["rule_name"] == rule)
}

#[test]
fn dq_run_reports_missing_and_differing_rows() {
    let scratch = setup("");
    load(&scratch, RULES);
    let run = scratch.dq(&["--config", "dq.toml", "run", "--all"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    sql(
        &scratch,
        "replica.db",
        "DELETE FROM orders WHERE id IN (10, 500)",
    );
    sql(
        &scratch,
        "replica.db",
        "UPDATE orders SET status = 'lost' WHERE id = 777",
    );
    sql(&scratch, "primary.db", "DELETE FROM orders WHERE id = 3");
    let run = scratch.dq(&["--config", "dq.toml", "run", "--all"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("mismatched_rows 4 > 0"),
        "{}",
        run.stdout
    );

    let all = runs(&scratch);
    let failed = all
        .iter()
        .find(|r| r["status"] == "FAILED")
        .expect("a failed run");
    assert_eq!(failed["observed_value"], 4.0, "{failed}");
    assert_eq!(failed["queue"], "dq_memory");
    let violations = scratch.dq(&["--config", "dq.toml", "violations", "--json"]);
    let first: Value =
        serde_json::from_str(violations.stdout.lines().next().expect("a violation")).expect("json");
    let text = first.to_string();
    for sample in [
        r#"{"key":{"id":10},"problem":"missing_in_target"}"#,
        r#"{"key":{"id":3},"problem":"missing_in_source"}"#,
        r#"{"key":{"id":777},"problem":"differs","columns":["status"]}"#,
    ] {
        assert!(text.contains(sample), "{sample} in {text}");
    }
}

#[test]
fn load_names_the_line_of_an_unknown_against_target() {
    let scratch = setup("");
    scratch.write(
        "rules.yaml",
        &RULES.replace("target: replica", "target: standby"),
    );
    let out = scratch.dq(&["--config", "dq.toml", "load", "rules.yaml"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains(
            "rules.yaml:8: rule \"orders_replicated\": against: unknown target \"standby\" \
             (expected a target configured in dq.toml)"
        ),
        "{}",
        out.stderr
    );
}

/// A table whose page (all of it, with `page_size: 1000000`) is far larger
/// than a 128 MB child.
fn wide(scratch: &Scratch) {
    sql(
        scratch,
        "primary.db",
        "CREATE TABLE wide (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT, d TEXT); \
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 60000) \
         INSERT INTO wide SELECT i, hex(randomblob(128)), hex(randomblob(128)), \
         hex(randomblob(128)), hex(randomblob(128)) FROM s",
    );
}

#[test]
fn the_process_pool_runs_reconciliations_and_survives_one_past_its_memory_limit() {
    let redis = RedisPrefix::new("reconcile");
    let scratch = setup(&redis.broker_toml(""));
    wide(&scratch);
    let hog = "  - name: wide_hog
    target: primary
    dataset: wide
    check: reconciliation
    against: {target: primary, dataset: wide}
    key: id
    page_size: 1000000
    schedule: \"* * * * *\"
";
    load(&scratch, &format!("{RULES}{hog}"));
    let mut worker = Service::spawn(
        &scratch,
        "worker",
        &[
            "worker",
            "-Q",
            "dq_memory",
            "--pool",
            "process",
            "-c",
            "1",
            "--memory-limit-mb",
            "128",
        ],
    );
    // The hog first, then, on the same worker, the next job.
    for rule in ["wide_hog", "orders_replicated"] {
        let published = scratch.dq(&["--config", "dq.toml", "run", "--rule-name", rule, "--async"]);
        published.assert_code(0);
        wait_for(
            Duration::from_secs(120),
            Duration::from_millis(500),
            || {
                run_of(&runs(&scratch), rule)
                    .filter(|r| is_final(r))
                    .cloned()
            },
            || format!("no final run of {rule} yet:\n{}", worker.log_tail(30)),
        );
    }
    worker.assert_alive("after a child died of its memory limit");
    let all = runs(&scratch);
    let hog = run_of(&all, "wide_hog").expect("the hog's run");
    assert_eq!(hog["status"], "ERROR", "{hog}");
    assert!(
        hog["message"]
            .as_str()
            .unwrap_or_default()
            .contains("worker child exceeded its memory limit of 128 MB"),
        "{hog}"
    );
    assert_eq!(hog["queue"], "dq_memory");
    let replicated = run_of(&all, "orders_replicated").expect("the replica's run");
    assert_eq!(replicated["status"], "PASSED", "{replicated}");
    assert_eq!(replicated["queue"], "dq_memory");
}
