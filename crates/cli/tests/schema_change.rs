//! `check: schema_change` end to end on SQLite: the first run records the
//! columns, each later run names what changed since the one before.

mod common;

use common::Scratch;

fn sql(scratch: &Scratch, statement: &str) {
    let status = std::process::Command::new("sqlite3")
        .arg(scratch.file("app.db"))
        .arg(statement)
        .status()
        .expect("sqlite3");
    assert!(status.success(), "{statement}");
}

/// One run: (status, message, observed value).
fn run_once(scratch: &Scratch) -> (String, String, f64) {
    let run = scratch.dq(&["--config", "dq.toml", "run", "--rule-name", "users_columns"]);
    assert!(run.code <= 1, "{}\n{}", run.stdout, run.stderr);
    let out = scratch.dq(&[
        "--config", "dq.toml", "export", "runs", "-", "--format", "ndjson",
    ]);
    let last: serde_json::Value = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .max_by(|a, b| {
            a["scheduled_for"]
                .as_str()
                .cmp(&b["scheduled_for"].as_str())
        })
        .expect("a run");
    (
        last["status"].as_str().unwrap_or_default().to_string(),
        last["message"].as_str().unwrap_or_default().to_string(),
        last["observed_value"].as_f64().unwrap_or(-1.0),
    )
}

#[test]
fn each_change_since_the_previous_run_is_named() {
    let scratch = Scratch::new();
    scratch.write(
        "dq.toml",
        "store = \"sqlite://store.db\"\n[targets.app]\nurl = \"sqlite://app.db\"\n",
    );
    sql(
        &scratch,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, age INTEGER)",
    );
    scratch.write(
        "rules.yaml",
        "version: 1\nrules:\n  - name: users_columns\n    target: app\n    dataset: users\n    \
         check: schema_change\n    severity: HIGH\n",
    );
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);

    let (status, message, _) = run_once(&scratch);
    assert_eq!(status, "PASSED", "{message}");
    assert!(
        message.contains("first snapshot: 3 columns recorded (id, email, age)"),
        "{message}"
    );

    sql(&scratch, "ALTER TABLE users ADD COLUMN phone TEXT");
    let (status, message, changes) = run_once(&scratch);
    assert_eq!((status.as_str(), changes), ("FAILED", 1.0), "{message}");
    assert!(message.contains("column phone added (TEXT)"), "{message}");

    // Nothing changed since the last run.
    let (status, message, changes) = run_once(&scratch);
    assert_eq!((status.as_str(), changes), ("PASSED", 0.0), "{message}");

    sql(&scratch, "ALTER TABLE users DROP COLUMN age");
    let (status, message, _) = run_once(&scratch);
    assert_eq!(status, "FAILED", "{message}");
    assert!(
        message.contains("column age dropped (was INTEGER)"),
        "{message}"
    );

    // Retyped and reordered: the table rebuilt with another layout.
    sql(
        &scratch,
        "CREATE TABLE users2 (email TEXT, id BIGINT, phone TEXT); DROP TABLE users; \
         ALTER TABLE users2 RENAME TO users",
    );
    let (status, message, changes) = run_once(&scratch);
    assert_eq!((status.as_str(), changes), ("FAILED", 2.0), "{message}");
    assert!(
        message.contains("column id retyped: INTEGER -> BIGINT"),
        "{message}"
    );
    assert!(
        message.contains("columns reordered: id, email, phone -> email, id, phone"),
        "{message}"
    );

    // Schema stability: four changes so far, then a fifth: above "fewer than 5 a month".
    let report = scratch.dq(&[
        "--config", "dq.toml", "report", "schema", "--days", "30", "--format", "json",
    ]);
    assert_eq!(report.code, 0, "{}", report.stdout);
    let json: serde_json::Value = serde_json::from_str(&report.stdout).expect("json");
    let users = &json["datasets"][0];
    assert_eq!(users["dataset"], "users");
    assert_eq!(users["changes"], 4);
    assert_eq!(
        users["stable"], true,
        "4 changes in 30 days are fewer than 5"
    );
    sql(&scratch, "ALTER TABLE users ADD COLUMN note TEXT");
    run_once(&scratch);
    let report = scratch.dq(&["--config", "dq.toml", "report", "schema", "--days", "30"]);
    assert_eq!(report.code, 1, "{}", report.stdout);
    assert!(report.stdout.contains("UNSTABLE"), "{}", report.stdout);
}
