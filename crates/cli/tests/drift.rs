//! `check: drift` end to end: the first run records the column's values,
//! later runs measure how far they moved (KS for numbers, chi-square for
//! categories), on SQLite and on PostgreSQL.

mod common;

use common::postgres::PgSchema;
use common::Scratch;

const RULES: &str = "version: 1
rules:
  - name: amount_drift
    target: app
    dataset: orders
    check: drift
    column: amount
    method: ks
    max: 0.2
  - name: status_mix
    target: app
    dataset: orders
    check: drift
    column: status
    method: chi_square
    max: 50
";

/// How the data is changed between runs.
trait Data {
    fn exec(&self, statement: &str);
}

struct SqliteData<'a>(&'a Scratch);

impl Data for SqliteData<'_> {
    fn exec(&self, statement: &str) {
        let status = std::process::Command::new("sqlite3")
            .arg(self.0.file("app.db"))
            .arg(statement)
            .status()
            .expect("sqlite3");
        assert!(status.success(), "{statement}");
    }
}

struct PgData<'a>(&'a PgSchema);

impl Data for PgData<'_> {
    fn exec(&self, statement: &str) {
        self.0.execute(&format!(
            "SET search_path TO \"{}\"; {statement}",
            self.0.name
        ));
    }
}

/// 2000 orders: amounts 0..100 spread evenly, statuses 70% paid, 20% open, 10% void.
const SEED: &str = "INSERT INTO orders (amount, status) \
    SELECT (i % 100) * 1.0, CASE WHEN i % 10 < 7 THEN 'paid' WHEN i % 10 < 9 THEN 'open' ELSE 'void' END \
    FROM dq_series";

/// One `dq run` of both rules: status and message of each, by rule.
fn run(scratch: &Scratch) -> std::collections::BTreeMap<String, (String, String)> {
    let out = scratch.dq(&["--config", "dq.toml", "run", "--all"]);
    assert!(out.code <= 1, "{}\n{}", out.stdout, out.stderr);
    let runs = scratch.dq(&[
        "--config", "dq.toml", "export", "runs", "-", "--format", "ndjson",
    ]);
    let mut latest = std::collections::BTreeMap::new();
    let mut all: Vec<serde_json::Value> = runs
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    all.sort_by(|a, b| {
        a["scheduled_for"]
            .as_str()
            .cmp(&b["scheduled_for"].as_str())
    });
    for r in all {
        latest.insert(
            r["rule_name"].as_str().unwrap_or_default().to_string(),
            (
                r["status"].as_str().unwrap_or_default().to_string(),
                r["message"].as_str().unwrap_or_default().to_string(),
            ),
        );
    }
    latest
}

fn exercise(scratch: &Scratch, data: &dyn Data) {
    let first = run(scratch);
    for rule in ["amount_drift", "status_mix"] {
        let (status, message) = &first[rule];
        assert_eq!(status, "PASSED", "{rule}: {message}");
        assert!(
            message.contains("baseline recorded: 2000 values"),
            "{rule}: {message}"
        );
    }
    // The same data: no drift.
    let same = run(scratch);
    for rule in ["amount_drift", "status_mix"] {
        assert_eq!(same[rule].0, "PASSED", "{rule}: {}", same[rule].1);
    }
    assert!(
        same["amount_drift"].1.starts_with("ks 0.0"),
        "{}",
        same["amount_drift"].1
    );
    // Amounts shift up by half their range, most open orders become void.
    data.exec("UPDATE orders SET amount = amount + 50");
    data.exec("UPDATE orders SET status = 'void' WHERE status = 'open'");
    let moved = run(scratch);
    let (status, message) = &moved["amount_drift"];
    assert_eq!(status, "FAILED", "{message}");
    assert!(
        message.contains("against the previous run (2000 values now"),
        "{message}"
    );
    let (status, message) = &moved["status_mix"];
    assert_eq!(status, "FAILED", "{message}");
    assert!(message.starts_with("chi_square "), "{message}");
}

#[test]
fn drift_on_sqlite() {
    let scratch = Scratch::new();
    scratch.write(
        "dq.toml",
        "store = \"sqlite://store.db\"\n[targets.app]\nurl = \"sqlite://app.db\"\n",
    );
    let data = SqliteData(&scratch);
    data.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, amount REAL, status TEXT)");
    data.exec(&format!(
        "WITH RECURSIVE dq_series(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM dq_series WHERE i < 1999) {SEED}"
    ));
    scratch.write("rules.yaml", RULES);
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);
    exercise(&scratch, &data);
}

#[test]
fn drift_on_postgres() {
    let scratch = Scratch::new();
    let schema = PgSchema::new("dq_drift");
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"sqlite://store.db\"\n[targets.app]\nurl = \"{}\"\n",
            schema.url()
        ),
    );
    let data = PgData(&schema);
    data.exec("CREATE TABLE orders (id serial PRIMARY KEY, amount double precision, status text)");
    data.exec(&format!(
        "WITH dq_series(i) AS (SELECT generate_series(0, 1999)) {SEED}"
    ));
    scratch.write("rules.yaml", RULES);
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);
    exercise(&scratch, &data);
}

#[path = "common/fleet.rs"]
mod fleet;

/// Drift (dq_compute, thread pool) and schema_change (dq_database, async
/// pool) scheduled every second under `dq serve`: their second runs are
/// judged against what the first stored.
#[test]
fn drift_and_schema_change_run_through_the_fleet() {
    let scratch = Scratch::new();
    scratch.write(
        "dq.toml",
        "store = \"sqlite://store.db\"\n[targets.app]\nurl = \"sqlite://app.db\"\n",
    );
    let data = SqliteData(&scratch);
    data.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, amount REAL, status TEXT)");
    data.exec(&format!(
        "WITH RECURSIVE dq_series(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM dq_series WHERE i < 1999) {SEED}"
    ));
    scratch.write(
        "rules.yaml",
        "version: 1\ndefaults:\n  target: app\n  schedule: \"* * * * * *\"\nrules:\n  \
         - name: amount_drift\n    dataset: orders\n    check: drift\n    column: amount\n  \
         - name: orders_columns\n    dataset: orders\n    check: schema_change\n",
    );
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);
    let mut serve = fleet::Service::spawn(&scratch, "serve", &["serve", "--listen", "127.0.0.1:0"]);
    let judged = fleet::wait_for(
        std::time::Duration::from_secs(60),
        std::time::Duration::from_millis(500),
        || {
            let runs = fleet::runs(&scratch);
            let judged = |rule: &str, marker: &str| {
                runs.iter()
                    .find(|r| {
                        r["rule_name"] == rule
                            && r["status"] == "PASSED"
                            && r["message"].as_str().is_some_and(|m| m.contains(marker))
                    })
                    .cloned()
            };
            Some((
                judged("amount_drift", "against the previous run")?,
                judged("orders_columns", "schema_changes 0")?,
            ))
        },
        || format!("not judged yet:\n{}", serve.log_tail(30)),
    );
    serve.assert_alive("while judging");
    assert_eq!(judged.0["queue"], "dq_compute");
    assert_eq!(judged.1["queue"], "dq_database");
}
