//! `check: anomaly` end to end: the measure comes from the target, the
//! judgement from the rule's own history in the store. By hand (`dq run`)
//! and through the fleet (`dq serve`: the dq_compute queue, thread pool).

mod common;
#[path = "common/fleet.rs"]
mod fleet;

use std::time::Duration;

use common::Scratch;
use fleet::{runs, wait_for, Service};
use serde_json::Value;

const RULE: &str = "version: 1
rules:
  - name: events_volume
    target: events
    dataset: events
    check: anomaly
    measure: row_count
    strategy: zscore
    threshold: 4
    min_history: 5
    severity: HIGH
    schedule: \"* * * * * *\"
";

/// A target `events` (a SQLite table of `rows` rows) and the rule loaded.
fn setup(rows: usize) -> Scratch {
    let scratch = Scratch::new();
    scratch.write(
        "dq.toml",
        "store = \"sqlite://store.db\"\n[targets.events]\nurl = \"sqlite://events.db\"\n",
    );
    sql(
        &scratch,
        "CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT)",
    );
    add_rows(&scratch, rows);
    scratch.write("rules.yaml", RULE);
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);
    scratch
}

fn sql(scratch: &Scratch, statement: &str) {
    let status = std::process::Command::new("sqlite3")
        .arg(scratch.file("events.db"))
        .arg(statement)
        .status()
        .expect("sqlite3");
    assert!(status.success(), "{statement}");
}

fn add_rows(scratch: &Scratch, n: usize) {
    if n > 0 {
        sql(
            scratch,
            &format!(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
                 INSERT INTO events (kind) SELECT 'click' FROM s"
            ),
        );
    }
}

/// One `dq run` of the rule: its status and message.
fn run_once(scratch: &Scratch) -> (String, String) {
    let run = scratch.dq(&["--config", "dq.toml", "run", "--rule-name", "events_volume"]);
    assert!(run.code <= 1, "{}\n{}", run.stdout, run.stderr);
    let last = runs(scratch)
        .into_iter()
        .max_by(|a, b| {
            a["scheduled_for"]
                .as_str()
                .cmp(&b["scheduled_for"].as_str())
        })
        .expect("a run");
    (
        last["status"].as_str().unwrap_or_default().to_string(),
        last["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn a_volume_jump_is_anomalous_once_there_is_history() {
    let scratch = setup(1000);
    // Warm-up: measured and kept, not judged.
    for i in 0..5 {
        add_rows(&scratch, i % 3);
        let (status, message) = run_once(&scratch);
        assert_eq!(status, "SKIPPED", "{message}");
        assert!(
            message.contains(&format!("{i} of the 5 points")),
            "{message}"
        );
    }
    add_rows(&scratch, 1);
    let (status, message) = run_once(&scratch);
    assert_eq!(status, "PASSED", "{message}");
    assert!(message.contains("is within"), "{message}");

    add_rows(&scratch, 4000);
    let (status, message) = run_once(&scratch);
    assert_eq!(status, "FAILED", "{message}");
    assert!(message.contains("is anomalous"), "{message}");
    let violations = scratch.dq(&["--config", "dq.toml", "violations", "--json"]);
    let first: Value =
        serde_json::from_str(violations.stdout.lines().next().expect("a violation")).expect("json");
    assert_eq!(first["rule_name"], "events_volume");
    assert_eq!(first["severity"], "HIGH");

    // The jump stays out of the training: the old level is still normal.
    sql(&scratch, "DELETE FROM events WHERE id > 1010");
    let (status, message) = run_once(&scratch);
    assert_eq!(status, "PASSED", "{message}");
}

#[test]
fn the_fleet_judges_anomaly_rules_on_the_compute_queue() {
    let scratch = setup(500);
    let mut serve = Service::spawn(&scratch, "serve", &["serve", "--listen", "127.0.0.1:0"]);
    let judged = wait_for(
        Duration::from_secs(60),
        Duration::from_millis(500),
        || {
            let all = runs(&scratch);
            let passed = all.iter().find(|r| r["status"] == "PASSED")?.clone();
            let skipped = all.iter().filter(|r| r["status"] == "SKIPPED").count();
            Some((passed, skipped))
        },
        || format!("no judged run yet:\n{}", serve.log_tail(30)),
    );
    serve.assert_alive("while judging");
    let (passed, skipped) = judged;
    assert_eq!(passed["queue"], "dq_compute");
    assert!(
        skipped >= 5,
        "{skipped} warm-up runs before the first judgement"
    );
    assert!(
        passed["message"]
            .as_str()
            .unwrap_or_default()
            .contains("zscore score"),
        "{passed}"
    );
}
