//! The fleet as processes on RabbitMQ (the shared server, isolated by a
//! queue prefix of each test's own, deleted when the test ends): the
//! scheduled path from `dq load` through `dq beat` and `dq worker` to the
//! stored run, and a worker killed with SIGKILL in the middle of a check.
//!
//! Neither test restarts RabbitMQ (broker_restart.rs does, alone), so both
//! run with the rest of the suite.

mod common;
#[path = "common/fleet.rs"]
mod fleet;
#[path = "common/rabbit.rs"]
mod rabbit;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::postgres::PgSchema;
use common::Scratch;
use fleet::{is_final, jobs_started, queue_row, runs, time_of, wait_for, Service};
use rabbit::RabbitPrefix;
use serde_json::Value;

const TICKS: usize = 4;

/// Two rules due every second on two datasets (one passes, one fails: the
/// demo's shipments are stale), and one rule only run on demand.
const SCHEDULED: &str = r#"version: 1
defaults:
  target: shop
rules:
  - name: orders_tick
    dataset: orders
    check: not_empty
    schedule: "* * * * * *"
  - name: shipments_tick
    dataset: shipments
    check: freshness
    column: shipped_at
    max_age: 2h
    schedule: "* * * * * *"
  - name: customers_on_demand
    dataset: customers
    check: row_count
    min: 1
    tags: [adhoc]
"#;

#[test]
fn amqp_load_beat_worker_stores_every_tick_once() {
    let scratch = Scratch::new();
    scratch.demo();
    let schema = PgSchema::new("dq_amqp_fleet");
    let rabbit = RabbitPrefix::new("e2e");
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"{}\"\n[targets.shop]\nurl = \"sqlite://demo/shop.db\"\n{}",
            schema.url(),
            rabbit.broker_toml("")
        ),
    );
    scratch.write("rules.yaml", SCHEDULED);
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);

    let mut worker = Service::spawn(
        &scratch,
        "worker",
        &[
            "worker",
            "-Q",
            "dq_database",
            "-c",
            "2",
            "--name",
            "worker-amqp",
        ],
    );
    let mut beat = Service::spawn(&scratch, "beat", &["beat", "--owner", "beat-amqp"]);
    scratch
        .dq(&["--config", "dq.toml", "run", "--tag", "adhoc", "--async"])
        .assert_code(0);

    let finished = |all: &[Value], rule: &str, status: &str| {
        all.iter()
            .filter(|r| r["rule_name"] == rule && r["status"] == status)
            .count()
    };
    wait_for(
        Duration::from_secs(40),
        Duration::from_millis(300),
        || {
            let all = runs(&scratch);
            (finished(&all, "orders_tick", "PASSED") >= TICKS
                && finished(&all, "shipments_tick", "FAILED") >= TICKS
                && finished(&all, "customers_on_demand", "PASSED") == 1)
                .then_some(())
        },
        || {
            format!(
                "not {TICKS} ticks of each rule and the on-demand run stored: {:#?}\n{}{}",
                runs(&scratch),
                worker.log_tail(25),
                beat.log_tail(25)
            )
        },
    );
    worker.assert_alive("while the beat was ticking");
    beat.assert_alive("while it was ticking");
    beat.terminate();

    // The last ticks, enqueued before the beat stopped, are run too.
    let all = wait_for(
        Duration::from_secs(30),
        Duration::from_millis(300),
        || {
            let all = runs(&scratch);
            all.iter().all(is_final).then_some(all)
        },
        || format!("runs left unfinished: {:#?}", runs(&scratch)),
    );
    worker.assert_alive("while draining");
    worker.terminate();

    let expected_status = |rule: &str| match rule {
        "shipments_tick" => "FAILED",
        _ => "PASSED",
    };
    for run in &all {
        let rule = run["rule_name"].as_str().unwrap_or_default();
        assert_eq!(run["status"], expected_status(rule), "{run:#?}");
        assert_eq!(run["worker"], "worker-amqp", "{run:#?}");
        assert_eq!(run["attempt"], 1, "{run:#?}");
        assert_eq!(run["queue"], "dq_database", "{run:#?}");
    }
    let ids: BTreeSet<&str> = all.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), all.len(), "a run id is stored twice");
    assert_eq!(
        schema.query_i64("SELECT count(*) FROM runs"),
        all.len() as i64
    );

    // Each scheduled rule: one run per second, no tick missing or doubled.
    let mut ticks: BTreeMap<&str, Vec<DateTime<Utc>>> = BTreeMap::new();
    for run in all
        .iter()
        .filter(|r| r["rule_name"] != "customers_on_demand")
    {
        ticks
            .entry(run["rule_name"].as_str().unwrap_or_default())
            .or_default()
            .extend(time_of(run, "scheduled_for"));
    }
    for (rule, times) in &mut ticks {
        times.sort();
        for pair in times.windows(2) {
            assert_eq!(
                (pair[1] - pair[0]).num_milliseconds(),
                1000,
                "{rule}: a tick lost or doubled between {} and {}",
                pair[0],
                pair[1]
            );
        }
    }
    // Each failed run stored its violation, and only those.
    let failed = finished(&all, "shipments_tick", "FAILED") as i64;
    assert_eq!(
        schema.query_i64("SELECT count(*) FROM violations"),
        failed,
        "one violation per FAILED run"
    );

    // Executed once each: the runs the worker started are the runs stored.
    let started = jobs_started(&worker.log());
    let jobs: BTreeSet<&str> = started.iter().map(|s| s.job.as_str()).collect();
    assert_eq!(jobs.len(), started.len(), "a job ran twice: {started:?}");
    assert_eq!(
        started.iter().map(|s| s.runs).sum::<u64>(),
        all.len() as u64,
        "runs started (worker log) vs runs stored"
    );

    let row = queue_row(&scratch, "dq_database");
    // QUEUE READY IN-FLIGHT DELAYED DEAD ...
    assert_eq!(row.get(1).map(String::as_str), Some("0"), "ready: {row:?}");
    assert_eq!(row.get(4).map(String::as_str), Some("0"), "dead: {row:?}");
    drop(rabbit);
}

#[test]
fn amqp_worker_killed_mid_check_hands_the_run_to_another_and_it_is_stored_once() {
    let scratch = Scratch::new();
    let rabbit = RabbitPrefix::new("kill");
    let postgres = common::postgres::server_url();
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"sqlite://store.db\"\n[targets.pg]\nurl = \"{postgres}\"\n{}",
            rabbit.broker_toml("")
        ),
    );
    scratch.load_sleeping_rule("slow_check", 4);
    scratch
        .dq(&[
            "--config",
            "dq.toml",
            "run",
            "--rule-name",
            "slow_check",
            "--async",
        ])
        .assert_code(0);

    let worker = |name: &str| {
        Service::spawn(
            &scratch,
            name,
            &["worker", "-Q", "dq_database", "--name", name],
        )
    };
    let mut a = worker("worker-a");
    wait_for(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            runs(&scratch)
                .iter()
                .any(|r| r["status"] == "RUNNING" && r["worker"] == "worker-a")
                .then_some(())
        },
        || format!("worker-a never started the check\n{}", a.log_tail(25)),
    );
    // Waiting already when worker-a dies, as a fleet's other workers are.
    let mut b = worker("worker-b");
    std::thread::sleep(Duration::from_secs(1));
    a.kill();

    let run = wait_for(
        Duration::from_secs(40),
        Duration::from_millis(300),
        || {
            let all = runs(&scratch);
            assert_eq!(all.len(), 1, "one run row, always: {all:#?}");
            is_final(&all[0]).then(|| all[0].clone())
        },
        || format!("the run never finished\n{}", b.log_tail(25)),
    );
    b.assert_alive("after running the handed-over job");
    b.terminate();
    assert_eq!(run["status"], "PASSED", "{run:#?}");
    assert_eq!(run["worker"], "worker-b", "{run:#?}");
    assert_eq!(run["attempt"], 2, "{run:#?}");

    // One execution each: worker-a's cut short, worker-b's the redelivery.
    let by_a = jobs_started(&a.log());
    let by_b = jobs_started(&b.log());
    assert_eq!(
        by_a.iter().map(|s| s.attempt).collect::<Vec<_>>(),
        [1],
        "worker-a: {by_a:?}"
    );
    assert_eq!(
        by_b.iter().map(|s| s.attempt).collect::<Vec<_>>(),
        [2],
        "worker-b: {by_b:?}"
    );
    assert_eq!(by_a[0].job, by_b[0].job, "not the same job");

    let row = queue_row(&scratch, "dq_database");
    // QUEUE READY IN-FLIGHT DELAYED DEAD ...
    assert_eq!(row.get(1).map(String::as_str), Some("0"), "ready: {row:?}");
    assert_eq!(row.get(4).map(String::as_str), Some("0"), "dead: {row:?}");
    drop(rabbit);
}
