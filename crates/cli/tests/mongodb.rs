//! The CLI on a `mongodb` target configured in dq.toml: `dq load` + `dq run`,
//! and the same rules through the fleet (`dq serve` with its in-process
//! broker, the rules scheduled every second), their runs and violations
//! read back with `dq export`.
//!
//! Runs on SecantusDB at 127.0.0.1:27018 (`scripts/services.sh secantus`),
//! or the server `DQ_TEST_MONGO_URL` names; each test has a database of
//! its own, filled with the mongodb driver and dropped at the end.

mod common;
#[path = "common/fleet.rs"]
mod fleet;
#[path = "../../targets/tests/mongo_common/mod.rs"]
mod mongo_common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Scratch;
use fleet::{is_final, runs, wait_for, Service};
use mongo_common::MongoDb;
use mongodb::bson::{doc, Bson, Document};
use serde_json::Value;

/// Ten orders: two with a status outside the accepted ones, one without
/// a customer, every `order_no` distinct.
fn orders() -> Vec<Document> {
    (0..10)
        .map(|i| {
            let mut order = doc! {
                "_id": i,
                "order_no": format!("A-{i:03}"),
                "status": if i < 2 { "lost" } else { "paid" },
            };
            if i != 9 {
                order.insert("customer", Bson::Int32(100 + i));
            }
            order
        })
        .collect()
}

/// Four rules on `orders`: two pass, two fail.
fn manifest(schedule: &str) -> String {
    format!(
        r#"version: 1
defaults:
  target: mongo
  schedule: "{schedule}"
rules:
  - name: orders_not_empty
    dataset: orders
    check: not_empty
  - name: orders_no_unique
    dataset: orders
    check: duplicate_count
    column: order_no
  - name: orders_status_known
    dataset: orders
    check: accepted_values
    column: status
    values: [paid, new]
  - name: orders_customer_present
    dataset: orders
    check: null_count
    column: customer
"#
    )
}

const EXPECTED: [(&str, &str); 4] = [
    ("orders_customer_present", "FAILED"),
    ("orders_no_unique", "PASSED"),
    ("orders_not_empty", "PASSED"),
    ("orders_status_known", "FAILED"),
];

/// A runtime for the driver, the test's database with the orders in it,
/// and a scratch directory whose dq.toml has that database as target
/// `mongo` and a SQLite store.
fn setup(schedule: &str) -> (tokio::runtime::Runtime, MongoDb, Scratch) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let db = runtime.block_on(async {
        let db = MongoDb::new().await;
        db.insert("orders", orders()).await;
        db
    });
    let scratch = Scratch::new();
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"sqlite://store.db\"\n[targets.mongo]\nurl = \"{}\"\n",
            db.url
        ),
    );
    scratch.write("rules.yaml", &manifest(schedule));
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);
    (runtime, db, scratch)
}

/// The last final status of each rule among `runs`.
fn statuses(runs: &[Value]) -> BTreeMap<String, String> {
    runs.iter()
        .filter(|r| is_final(r))
        .filter_map(|r| {
            Some((
                r["rule_name"].as_str()?.to_string(),
                r["status"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn expected() -> BTreeMap<String, String> {
    EXPECTED
        .iter()
        .map(|(rule, status)| (rule.to_string(), status.to_string()))
        .collect()
}

#[test]
fn load_and_run_on_a_mongodb_target_store_runs_and_violations() {
    let (_runtime, _db, scratch) = setup("*/15 * * * *");
    let run = scratch.dq(&["--config", "dq.toml", "run", "--all", "--fail-on", "MEDIUM"]);
    run.assert_code(1);
    assert!(run.stdout.contains("FAILED"), "{}", run.stdout);

    let stored = runs(&scratch);
    assert_eq!(stored.len(), 4, "{stored:#?}");
    assert_eq!(statuses(&stored), expected(), "{stored:#?}");
    let failed = |rule: &str| {
        stored
            .iter()
            .find(|r| r["rule_name"] == rule)
            .unwrap_or_else(|| panic!("no run of {rule}"))
    };
    assert_eq!(failed("orders_status_known")["observed_value"], 2.0);
    assert_eq!(failed("orders_customer_present")["observed_value"], 1.0);

    let violations = scratch.dq(&[
        "--config",
        "dq.toml",
        "export",
        "violations",
        "-",
        "--format",
        "ndjson",
    ]);
    violations.assert_code(0);
    let violations: Vec<Value> = violations
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect();
    let mut rules: Vec<&str> = violations
        .iter()
        .filter_map(|v| v["rule_name"].as_str())
        .collect();
    rules.sort_unstable();
    assert_eq!(
        rules,
        ["orders_customer_present", "orders_status_known"],
        "{violations:#?}"
    );
    // The failing documents themselves are the samples.
    let status = violations
        .iter()
        .find(|v| v["rule_name"] == "orders_status_known")
        .unwrap();
    let text = status.to_string();
    assert!(text.contains("A-000") && text.contains("A-001"), "{text}");
}

#[test]
fn the_fleet_runs_mongodb_rules_on_their_schedule() {
    let (_runtime, _db, scratch) = setup("* * * * * *");
    let mut serve = Service::spawn(&scratch, "serve", &["serve", "--listen", "127.0.0.1:0"]);
    // Two runs of each rule: the schedule really repeats.
    let stored = wait_for(
        Duration::from_secs(60),
        Duration::from_millis(500),
        || {
            let stored = runs(&scratch);
            let finished = |rule: &str| {
                stored
                    .iter()
                    .filter(|r| r["rule_name"] == rule && is_final(r))
                    .count()
            };
            EXPECTED
                .iter()
                .all(|(rule, _)| finished(rule) >= 2)
                .then_some(stored)
        },
        || format!("{:#?}\n{}", runs(&scratch), serve.log_tail(40)),
    );
    serve.assert_alive("while its rules ran");
    let finals: Vec<&Value> = stored.iter().filter(|r| is_final(r)).collect();
    for (rule, status) in EXPECTED {
        let of_rule: Vec<&&Value> = finals.iter().filter(|r| r["rule_name"] == rule).collect();
        assert!(
            of_rule.iter().all(|r| r["status"] == status),
            "{rule} should be {status} every time: {of_rule:#?}"
        );
    }
    assert!(serve.terminate().success(), "{}", serve.log_tail(40));
}
