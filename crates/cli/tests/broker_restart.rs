//! RabbitMQ restarted under load: a worker and a beat, each one long-lived
//! `dq` process, must reconnect with backoff, a publisher started while the
//! broker is down must wait for it, and no enqueued job may be lost.
//!
//! This test restarts the SHARED RabbitMQ, so scripts/test.sh runs it on its
//! own, after every other test.

mod common;
#[path = "common/fleet.rs"]
mod fleet;
#[path = "common/rabbit.rs"]
mod rabbit;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::Scratch;
use fleet::Service;
use rabbit::RabbitPrefix;

const LOAD_RULES: usize = 20;
const SLOW_SQL: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c";
const DATASETS: [&str; 3] = ["orders", "customers", "shipments"];

fn rabbitmqctl(tool: &str, args: &[&str]) -> Output {
    Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("RabbitMQ: cannot run `{tool} {}`: {e}", args.join(" ")))
}

fn rabbitmq_reachable() -> bool {
    rabbitmqctl("rabbitmq-diagnostics", &["-q", "check_port_connectivity"])
        .status
        .success()
}

fn must(tool: &str, args: &[&str]) {
    let out = rabbitmqctl(tool, args);
    assert!(
        out.status.success(),
        "RabbitMQ: `{tool} {}` failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_until_reachable(within: Duration) {
    let started = Instant::now();
    while !rabbitmq_reachable() {
        assert!(
            started.elapsed() < within,
            "RabbitMQ is not reachable {within:?} after start_app"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The test's own prefix on the shared RabbitMQ. Dropped (even on panic),
/// it brings the broker back up; then its prefix (`RabbitPrefix`, dropped
/// after) deletes every queue and exchange of the prefix.
struct Rabbit {
    prefix: RabbitPrefix,
}

impl Rabbit {
    fn new(tag: &str) -> Self {
        assert!(
            rabbitmq_reachable(),
            "RabbitMQ is not reachable (rabbitmq-diagnostics check_port_connectivity); start it with scripts/services.sh"
        );
        Rabbit {
            prefix: RabbitPrefix::new(tag),
        }
    }

    fn broker_toml(&self) -> String {
        self.prefix.broker_toml("")
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        if !rabbitmq_reachable() {
            let _ = rabbitmqctl("rabbitmqctl", &["start_app"]);
            let _ = rabbitmqctl("rabbitmqctl", &["await_startup"]);
        }
    }
}

fn manifest() -> String {
    let mut text = String::from("version: 1\ndefaults:\n  target: shop\nrules:\n");
    for i in 0..LOAD_RULES {
        let dataset = DATASETS[i % DATASETS.len()];
        // Every fifth rule takes about a second, so jobs are in flight
        // when the broker goes away.
        let check = match i % 5 {
            4 => format!("custom_sql\n    mode: scalar\n    sql: {SLOW_SQL}\n    min: 1"),
            n if n % 2 == 0 => "not_empty".to_string(),
            _ => "row_count\n    min: 1".to_string(),
        };
        text.push_str(&format!(
            "  - name: r{i:02}\n    dataset: {dataset}\n    check: {check}\n    tags: [load]\n"
        ));
    }
    text.push_str(
        "  - name: tick\n    dataset: orders\n    check: not_empty\n    tags: [beat]\n    schedule: \"* * * * * *\"\n",
    );
    text
}

fn runs(scratch: &Scratch) -> Vec<serde_json::Value> {
    let out = scratch.dq(&[
        "--config", "dq.toml", "export", "runs", "-", "--format", "ndjson",
    ]);
    out.assert_code(0);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect()
}

/// One round: every load rule published once, in a process of its own.
fn publish_round(scratch: &Scratch) {
    scratch
        .dq(&["--config", "dq.toml", "run", "--tag", "load", "--async"])
        .assert_code(0);
}

/// The last lines each long-lived process logged, for failure messages.
fn logs(scratch: &Scratch) -> String {
    ["worker", "beat", "publisher"]
        .iter()
        .map(|name| {
            let text =
                std::fs::read_to_string(scratch.file(&format!("{name}.log"))).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            format!("--- {name}.log (tail)\n{tail}\n")
        })
        .collect()
}

fn is_final(run: &serde_json::Value) -> bool {
    !matches!(run["status"].as_str(), Some("PENDING" | "RUNNING"))
}

#[test]
fn broker_restart_under_load_loses_no_job_and_the_fleet_reconnects() {
    let scratch = Scratch::new();
    scratch.demo();
    let rabbit = Rabbit::new("restart");
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"sqlite://store.db\"\n[targets.shop]\nurl = \"sqlite://demo/shop.db\"\n{}",
            rabbit.broker_toml()
        ),
    );
    scratch.write("rules.yaml", &manifest());
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);

    // A backlog first, so the restart hits jobs in flight and jobs ready.
    let mut rounds = 0;
    for _ in 0..4 {
        publish_round(&scratch);
        rounds += 1;
    }
    let mut worker = Service::spawn(
        &scratch,
        "worker",
        &["worker", "-Q", "dq_database", "-c", "4"],
    );
    let mut beat = Service::spawn(&scratch, "beat", &["beat", "--owner", "beat-restart"]);
    let started = Instant::now();
    while !runs(&scratch).iter().any(|r| r["status"] == "PASSED") {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the worker did not start on the backlog\n{}",
            logs(&scratch)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    must("rabbitmqctl", &["stop_app"]);
    let stopped_at = chrono::Utc::now();
    // Published while the broker is down: it must wait for it, not fail.
    let mut during = Service::spawn(&scratch, "publisher", &["run", "--tag", "load", "--async"]);
    std::thread::sleep(Duration::from_secs(3));
    must("rabbitmqctl", &["start_app"]);
    must("rabbitmqctl", &["await_startup"]);
    wait_until_reachable(Duration::from_secs(60));
    let restarted_at = chrono::Utc::now();
    let (status, stdout) = during.finish(Duration::from_secs(120));
    assert!(
        status.success(),
        "the publisher started while RabbitMQ was down failed: {status:?}\n{stdout}\n{}",
        logs(&scratch)
    );
    rounds += 1;
    publish_round(&scratch);
    rounds += 1;

    // Every load run final, and the beat ticking again after the restart.
    let started = Instant::now();
    loop {
        let all = runs(&scratch);
        let load_final = all
            .iter()
            .filter(|r| r["rule_name"] != "tick" && is_final(r))
            .count();
        let ticked_after = all.iter().any(|r| {
            r["rule_name"] == "tick"
                && r["status"] == "PASSED"
                && r["scheduled_for"]
                    .as_str()
                    .and_then(|s| s.parse::<chrono::DateTime<chrono::Utc>>().ok())
                    .is_some_and(|t| t > restarted_at + chrono::Duration::seconds(1))
        });
        if load_final == rounds * LOAD_RULES && ticked_after {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "after 90 s, {load_final} of {} load runs are final and the beat ticked after the restart: {ticked_after} (broker stopped at {stopped_at}, back at {restarted_at})\n{}",
            rounds * LOAD_RULES,
            logs(&scratch)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    worker.assert_alive("after the RabbitMQ restart");
    beat.assert_alive("after the RabbitMQ restart");
    let worker_log = std::fs::read_to_string(scratch.file("worker.log")).unwrap_or_default();
    assert!(
        worker_log.contains("reconnecting"),
        "the worker never noticed the restart, so this test proved nothing:\n{}",
        logs(&scratch)
    );
    let _ = beat.terminate();

    // The beat's last ticks, enqueued before it stopped, still get run.
    let started = Instant::now();
    let all = loop {
        let now = runs(&scratch);
        if now.iter().all(is_final) {
            break now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "runs left unfinished after the beat stopped: {:#?}\n{}",
            now.iter().filter(|r| !is_final(r)).collect::<Vec<_>>(),
            logs(&scratch)
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    worker.assert_alive("after the RabbitMQ restart");
    let _ = worker.terminate();

    let not_passed: Vec<_> = all.iter().filter(|r| r["status"] != "PASSED").collect();
    assert!(
        not_passed.is_empty(),
        "runs that did not pass: {not_passed:#?}"
    );
    let ids: BTreeSet<String> = all.iter().map(|r| r["id"].to_string()).collect();
    assert_eq!(ids.len(), all.len(), "a run row is duplicated");
    let mut per_rule: BTreeMap<String, usize> = BTreeMap::new();
    for run in all.iter().filter(|r| r["rule_name"] != "tick") {
        *per_rule.entry(run["rule_name"].to_string()).or_default() += 1;
    }
    assert_eq!(per_rule.len(), LOAD_RULES, "{per_rule:?}");
    assert!(
        per_rule.values().all(|n| *n == rounds),
        "each load rule must have {rounds} runs: {per_rule:?}"
    );

    let queues = scratch.dq(&["--config", "dq.toml", "inspect", "queues"]);
    queues.assert_code(0);
    let row: Vec<&str> = queues
        .stdout
        .lines()
        .find(|l| l.contains("dq_database"))
        .unwrap_or_else(|| panic!("no dq_database row:\n{}", queues.stdout))
        .split_whitespace()
        .filter(|cell| *cell != "│")
        .collect();
    // QUEUE READY IN-FLIGHT DELAYED DEAD ...
    assert_eq!(row.get(1), Some(&"0"), "ready left:\n{}", queues.stdout);
    assert_eq!(row.get(4), Some(&"0"), "dead letters:\n{}", queues.stdout);
    drop(rabbit);
}
