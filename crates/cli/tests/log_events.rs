//! The stable log events (docs/runbook.md, "Log events"): a worker run with
//! `--log-format json` writes one JSON object a line, and each check's
//! start and end is one event with its fixed message and fields. Rules on
//! PostgreSQL: one passes, one errors (a missing table), one times out
//! (pg_sleep past its timeout), one's target is down (retried, then given up).

mod common;
#[path = "common/fleet.rs"]
mod fleet;

use std::time::Duration;

use common::Scratch;
use fleet::Service;
use serde_json::Value;

const RULES: &str = r#"version: 1
defaults:
  target: pg
rules:
  - name: passes
    dataset: pg_class
    check: custom_sql
    mode: scalar
    sql: SELECT 1
    min: 1
  - name: errors
    dataset: pg_type
    check: custom_sql
    mode: scalar
    sql: SELECT count(*) FROM dq_no_such_table
    min: 1
  - name: times_out
    dataset: pg_proc
    check: custom_sql
    mode: scalar
    sql: SELECT 1 FROM pg_sleep(5)
    min: 1
    timeout: 1s
  - name: target_down
    target: down
    dataset: pg_class
    check: custom_sql
    mode: scalar
    sql: SELECT 1
    min: 1
"#;

fn events(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect()
}

/// The one event with `message` about `rule`.
fn event<'a>(events: &'a [Value], message: &str, rule: &str) -> &'a Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|e| e["message"] == message && e["rule"] == rule)
        .collect();
    assert_eq!(found.len(), 1, "{message} for {rule}: {found:#?}");
    found[0]
}

#[test]
fn a_worker_logs_one_json_event_per_check_start_and_end() {
    let scratch = Scratch::new();
    let redis = common::redis::RedisPrefix::new("logev");
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"sqlite://store.db\"\n[targets.pg]\nurl = \"{}\"\n\
             [targets.down]\nurl = \"postgres://postgres@127.0.0.1:1/nothing\"\n{}",
            common::postgres::server_url(),
            redis.broker_toml("max_attempts = 2\n")
        ),
    );
    scratch.write("rules.yaml", RULES);
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);
    scratch
        .dq(&["--config", "dq.toml", "run", "--all", "--async"])
        .assert_code(0);

    let mut worker = Service::spawn(
        &scratch,
        "worker",
        &[
            "--log-format",
            "json",
            "worker",
            "-Q",
            "dq_database",
            "--name",
            "w1",
            "--retry-delay",
            "100ms",
        ],
    );
    fleet::wait_for(
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            let runs = fleet::runs(&scratch);
            (runs.len() == 4 && runs.iter().all(fleet::is_final)).then_some(())
        },
        || format!("{:#?}\n{}", fleet::runs(&scratch), worker.log_tail(30)),
    );
    worker.terminate();
    let log = worker.log();
    let events = events(&log);

    for rule in ["passes", "errors", "times_out"] {
        let started = event(&events, "check started", rule);
        assert_eq!(started["queue"], "dq_database", "{started}");
        assert_eq!(started["worker"], "w1", "{started}");
        assert_eq!(started["attempt"], 1, "{started}");
        assert!(started["run_id"].as_str().is_some_and(|id| id.len() == 36));
        assert_eq!(started["level"], "INFO");
    }
    let passed = event(&events, "check finished", "passes");
    assert_eq!(passed["status"], "PASSED", "{passed}");
    assert!(passed["duration_ms"].is_u64(), "{passed}");
    assert_eq!(
        passed["run_id"],
        event(&events, "check started", "passes")["run_id"]
    );

    let errored = event(&events, "check error", "errors");
    assert_eq!(errored["status"], "ERROR", "{errored}");
    assert_eq!(errored["level"], "WARN");
    assert!(
        errored["error"]
            .as_str()
            .is_some_and(|e| e.contains("dq_no_such_table")),
        "{errored}"
    );

    let timed_out = event(&events, "check timeout", "times_out");
    assert_eq!(timed_out["status"], "TIMEOUT", "{timed_out}");
    assert!(
        timed_out["duration_ms"].as_u64().unwrap() >= 900,
        "{timed_out}"
    );
    assert!(timed_out["error"].as_str().is_some(), "{timed_out}");

    // The unreachable target: attempt 1 is retried, attempt 2 gives up.
    let retries: Vec<&Value> = events
        .iter()
        .filter(|e| e["message"] == "job retry")
        .collect();
    assert_eq!(retries.len(), 1, "{retries:#?}");
    assert_eq!(retries[0]["rules"], "target_down", "{}", retries[0]);
    assert_eq!(retries[0]["attempt"], 1, "{}", retries[0]);
    assert!(retries[0]["delay_ms"].is_u64(), "{}", retries[0]);
    let gave_up = event(&events, "check error", "target_down");
    assert_eq!(gave_up["attempt"], 2, "{gave_up}");
    assert!(
        gave_up["error"]
            .as_str()
            .is_some_and(|e| e.contains("gave up after 2 attempts")),
        "{gave_up}"
    );
    // Every line is JSON and names its level; no end event for a retried attempt.
    assert!(events.iter().all(|e| e["level"].is_string()));
    let ends = events
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("check ") && m != "check started")
        })
        .count();
    assert_eq!(ends, 4, "one end event per run");
}
