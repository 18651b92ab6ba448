//! The Redis broker killed (SIGKILL) and restarted under end-to-end load:
//! two `dq worker`s, a `dq beat` ticking every second and `dq run --async`
//! publishers, with the store in PostgreSQL. The server runs with the
//! persistence crates/broker/README.md requires (append-only file fsynced on
//! every write), so after the restart nothing it had accepted may be
//! missing: every published run is stored once and PASSED, no job runs
//! twice, and the long-lived processes reconnect by themselves.
//!
//! The redis-server is the test's own (free port, temp directory), so this
//! test runs in parallel with the rest of the suite.

mod common;
#[path = "common/fleet.rs"]
mod fleet;
#[path = "../../broker/tests/common/private_redis.rs"]
mod private_redis;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::postgres::PgSchema;
use common::Scratch;
use fleet::{is_final, jobs_started, queue_row, runs, time_of, wait_for, Service};
use private_redis::PrivateRedis;
use serde_json::Value;

const DATASETS: [&str; 3] = ["orders", "customers", "shipments"];
/// About 0.7 s on SQLite: every job holds a worker slot long enough that
/// jobs are in flight when the server dies.
const SLOW_SQL: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c";
const OUTAGE: Duration = Duration::from_secs(3);
const WORKERS: [&str; 2] = ["worker-a", "worker-b"];

/// Three `load` rules per dataset (one job per dataset and round, each with
/// a slow query), and `tick`, due every second.
fn manifest() -> String {
    let mut text = String::from("version: 1\ndefaults:\n  target: shop\nrules:\n");
    for dataset in DATASETS {
        text.push_str(&format!(
            "  - name: {dataset}_present\n    dataset: {dataset}\n    check: not_empty\n    tags: [load]\n\
             \x20 - name: {dataset}_rows\n    dataset: {dataset}\n    check: row_count\n    min: 1\n    tags: [load]\n\
             \x20 - name: {dataset}_slow\n    dataset: {dataset}\n    check: custom_sql\n    mode: scalar\n    sql: {SLOW_SQL}\n    min: 1\n    tags: [load]\n"
        ));
    }
    text.push_str(
        "  - name: tick\n    dataset: orders\n    check: not_empty\n    tags: [beat]\n    schedule: \"* * * * * *\"\n",
    );
    text
}

const LOAD_RULES: usize = 3 * DATASETS.len();

/// One round: every load rule published once, by a `dq run --async` of its own.
fn publish_round(scratch: &Scratch) {
    scratch
        .dq(&["--config", "dq.toml", "run", "--tag", "load", "--async"])
        .assert_code(0);
}

fn is_tick(run: &Value) -> bool {
    run["rule_name"] == "tick"
}

/// What each long-lived process logged last, for failure messages.
fn logs(services: &[&Service]) -> String {
    services.iter().map(|s| s.log_tail(25)).collect()
}

#[test]
fn redis_killed_and_restarted_under_load_loses_no_run_and_runs_none_twice() {
    let scratch = Scratch::new();
    scratch.demo();
    let schema = PgSchema::new("dq_redis_restart");
    let mut redis = PrivateRedis::start();
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"{}\"\n[targets.shop]\nurl = \"sqlite://demo/shop.db\"\n\
             [broker]\nurl = \"{}\"\nprefix = \"t_restart_\"\n\
             # Longer than the outage and the reconnect backoff: a job in\n\
             # flight keeps its claim across the restart.\n\
             visibility_timeout = \"30s\"\n",
            schema.url(),
            redis.url()
        ),
    );
    scratch.write("rules.yaml", &manifest());
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);

    // A backlog first, so the kill hits jobs in flight and jobs waiting.
    let mut rounds = 0;
    for _ in 0..2 {
        publish_round(&scratch);
        rounds += 1;
    }
    let worker = |name: &str| {
        Service::spawn(
            &scratch,
            name,
            &["worker", "-Q", "dq_database", "-c", "2", "--name", name],
        )
    };
    let mut worker_a = worker(WORKERS[0]);
    let mut worker_b = worker(WORKERS[1]);
    let mut beat = Service::spawn(&scratch, "beat", &["beat", "--owner", "beat-redis"]);
    wait_for(
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let all = runs(&scratch);
            let passed = |tick: bool| {
                all.iter()
                    .any(|r| is_tick(r) == tick && r["status"] == "PASSED")
            };
            (passed(true) && passed(false)).then_some(())
        },
        || {
            format!(
                "before the outage, a tick and a load run should have passed\n{}",
                logs(&[&worker_a, &worker_b, &beat])
            )
        },
    );
    // The kill must hit jobs running and jobs waiting in the stream.
    let mut loaded = false;
    let mut row = Vec::new();
    for _ in 0..5 {
        publish_round(&scratch);
        rounds += 1;
        // QUEUE READY IN-FLIGHT ...
        row = queue_row(&scratch, "dq_database");
        let count = |i: usize| row.get(i).and_then(|c| c.parse::<u64>().ok());
        loaded = count(1) > Some(0) && count(2) > Some(0);
        if loaded {
            break;
        }
    }
    assert!(
        loaded,
        "never jobs both waiting and in flight to kill Redis under: {row:?}"
    );

    redis.kill();
    let killed_at = Utc::now();
    // Started while the server is down: it must wait for it, not fail.
    let mut during = Service::spawn(&scratch, "publisher", &["run", "--tag", "load", "--async"]);
    std::thread::sleep(OUTAGE);
    assert!(
        during.is_running(),
        "the publisher started during the outage did not wait for Redis: {:?}",
        during.finish(Duration::from_secs(1))
    );
    redis.launch();
    let restarted_at = Utc::now();
    let (status, stdout) = during.finish(Duration::from_secs(60));
    assert!(
        status.success(),
        "the publisher started during the outage failed: {status}\n{stdout}\n{}",
        during.log_tail(20)
    );
    rounds += 1;

    // Work goes on after the restart: each worker runs jobs again and the
    // beat ticks again. Rounds keep coming until both workers have had some.
    let mut last_round = std::time::Instant::now();
    wait_for(
        Duration::from_secs(40),
        Duration::from_millis(300),
        || {
            let all = runs(&scratch);
            let after = |r: &Value| time_of(r, "started_at").is_some_and(|t| t > restarted_at);
            let worked: BTreeSet<&str> = all
                .iter()
                .filter(|r| after(r) && r["status"] == "PASSED")
                .filter_map(|r| r["worker"].as_str())
                .collect();
            let ticked = all.iter().any(|r| {
                is_tick(r)
                    && r["status"] == "PASSED"
                    && time_of(r, "scheduled_for")
                        .is_some_and(|t| t > restarted_at + chrono::Duration::seconds(1))
            });
            if worked.len() == WORKERS.len() && ticked {
                return Some(());
            }
            if last_round.elapsed() > Duration::from_secs(1) && rounds < 12 {
                publish_round(&scratch);
                rounds += 1;
                last_round = std::time::Instant::now();
            }
            None
        },
        || {
            format!(
                "after the restart, not every worker ran a job or the beat did not tick (Redis killed at {killed_at}, back at {restarted_at})\n{}",
                logs(&[&worker_a, &worker_b, &beat])
            )
        },
    );
    for service in [&mut worker_a, &mut worker_b, &mut beat] {
        service.assert_alive("after the Redis restart");
    }
    for service in [&worker_a, &worker_b, &beat] {
        assert!(
            service.log().contains("Redis unavailable, retrying"),
            "{} never noticed the outage, so this test proved nothing about it\n{}",
            service.name,
            service.log_tail(40)
        );
    }

    // The beat's last ticks, enqueued before it stops, are run too.
    beat.terminate();
    let all = wait_for(
        Duration::from_secs(30),
        Duration::from_millis(300),
        || {
            let all = runs(&scratch);
            let load = all.iter().filter(|r| !is_tick(r)).count();
            (load == rounds * LOAD_RULES && all.iter().all(is_final)).then_some(all)
        },
        || {
            let all = runs(&scratch);
            format!(
                "{} load runs of {} stored; not final: {:#?}\n{}",
                all.iter().filter(|r| !is_tick(r)).count(),
                rounds * LOAD_RULES,
                all.iter().filter(|r| !is_final(r)).collect::<Vec<_>>(),
                logs(&[&worker_a, &worker_b])
            )
        },
    );
    worker_a.assert_alive("while draining");
    worker_b.assert_alive("while draining");
    worker_a.terminate();
    worker_b.terminate();

    // Stored once, passed, first attempt, by one of the workers.
    let not_passed: Vec<&Value> = all.iter().filter(|r| r["status"] != "PASSED").collect();
    assert!(not_passed.is_empty(), "runs not PASSED: {not_passed:#?}");
    let retried: Vec<&Value> = all.iter().filter(|r| r["attempt"] != 1).collect();
    assert!(
        retried.is_empty(),
        "runs delivered more than once: {retried:#?}"
    );
    let strangers: Vec<&Value> = all
        .iter()
        .filter(|r| !WORKERS.iter().any(|w| r["worker"] == *w))
        .collect();
    assert!(strangers.is_empty(), "runs of no worker: {strangers:#?}");
    let ids: BTreeSet<&str> = all.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), all.len(), "a run id is stored twice");
    assert_eq!(
        schema.query_i64("SELECT count(*) FROM runs"),
        all.len() as i64,
        "the export and the runs table disagree"
    );

    // Every load rule ran once per round: none lost, none twice.
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for run in all.iter().filter(|r| !is_tick(r)) {
        *per_rule
            .entry(run["rule_name"].as_str().unwrap())
            .or_default() += 1;
    }
    assert_eq!(per_rule.len(), LOAD_RULES, "{per_rule:?}");
    assert!(
        per_rule.values().all(|n| *n == rounds),
        "each load rule must have {rounds} runs: {per_rule:?}"
    );

    // Every tick of the beat, across the outage: one run per second, no gap.
    let mut ticks: Vec<DateTime<Utc>> = all
        .iter()
        .filter(|r| is_tick(r))
        .filter_map(|r| time_of(r, "scheduled_for"))
        .collect();
    ticks.sort();
    assert!(
        ticks.first().is_some_and(|t| *t < killed_at)
            && ticks.last().is_some_and(|t| *t > restarted_at),
        "the ticks do not span the outage ({killed_at} .. {restarted_at}): {ticks:?}"
    );
    for pair in ticks.windows(2) {
        assert_eq!(
            (pair[1] - pair[0]).num_milliseconds(),
            1000,
            "a tick lost or doubled between {} and {}",
            pair[0],
            pair[1]
        );
    }

    // Executions, from the workers' logs: no job started twice, and the
    // runs started add up to the runs stored.
    let mut executions: BTreeMap<String, Vec<(&str, u64)>> = BTreeMap::new();
    for service in [&worker_a, &worker_b] {
        for start in jobs_started(&service.log()) {
            let by = (service.name.as_str(), start.runs);
            executions.entry(start.job).or_default().push(by);
        }
    }
    let twice: Vec<_> = executions.iter().filter(|(_, s)| s.len() > 1).collect();
    assert!(twice.is_empty(), "jobs executed more than once: {twice:?}");
    let started: u64 = executions.values().flatten().map(|(_, n)| n).sum();
    assert_eq!(
        started,
        all.len() as u64,
        "runs started (worker logs) vs runs stored"
    );

    // Nothing left behind in the restarted server.
    let row = queue_row(&scratch, "dq_database");
    // QUEUE READY IN-FLIGHT DELAYED DEAD ...
    assert_eq!(
        row.get(1..5).map(|c| c.join(" ")),
        Some("0 0 0 0".to_string()),
        "dq_database after the drain: {row:?}"
    );
}
