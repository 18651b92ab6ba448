//! The fleet as processes: `dq serve` on the embedded default, and a worker
//! killed with SIGKILL in the middle of a check.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Scratch;

fn spawn(scratch: &Scratch, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dq"))
        .args(args)
        .current_dir(scratch.path())
        .env_remove("DQ_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dq")
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
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

#[test]
fn serve_runs_the_fleet_on_the_embedded_default() {
    let scratch = Scratch::new();
    scratch.demo();
    scratch.write(
        "rules.yaml",
        "version: 1\ndefaults:\n  target: shop\nrules:\n  - name: every_second\n    dataset: orders\n    check: not_empty\n    schedule: \"* * * * * *\"\n  - name: stale_shipments\n    dataset: shipments\n    check: freshness\n    column: shipped_at\n    max_age: 2h\n    schedule: \"* * * * * *\"\n",
    );
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);
    let mut serve = spawn(
        &scratch,
        &["--config", "dq.toml", "serve", "--listen", "127.0.0.1:0"],
    );
    std::thread::sleep(Duration::from_secs(5));
    terminate(&mut serve);
    let runs = runs(&scratch);
    let finished = |rule: &str, status: &str| {
        runs.iter()
            .filter(|r| r["rule_name"] == rule && r["status"] == status)
            .count()
    };
    assert!(finished("every_second", "PASSED") >= 2, "{runs:#?}");
    assert!(finished("stale_shipments", "FAILED") >= 2, "{runs:#?}");
    assert!(
        runs.iter().all(|r| r["status"] != "RUNNING"),
        "left running: {runs:#?}"
    );
}

#[test]
fn a_worker_killed_mid_check_hands_the_run_to_another_and_it_is_stored_once() {
    let scratch = Scratch::new();
    let redis = common::redis::RedisPrefix::new("kill");
    let postgres = common::postgres::server_url();
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"sqlite://store.db\"\n[targets.pg]\nurl = \"{postgres}\"\n{}",
            redis.broker_toml("visibility_timeout = \"3s\"\n")
        ),
    );
    scratch.load_sleeping_rule("slow_check", 6);
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
        spawn(
            &scratch,
            &[
                "--config",
                "dq.toml",
                "worker",
                "-Q",
                "dq_database",
                "--name",
                name,
            ],
        )
    };
    let mut a = worker("worker-a");
    let started = Instant::now();
    while !runs(&scratch).iter().any(|r| r["status"] == "RUNNING") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "worker-a never started the check"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    a.kill().expect("SIGKILL worker-a");
    let _ = a.wait();

    let mut b = worker("worker-b");
    let started = Instant::now();
    let run = loop {
        let all = runs(&scratch);
        assert_eq!(all.len(), 1, "one run row, always: {all:#?}");
        if all[0]["status"] != "RUNNING" && all[0]["status"] != "PENDING" {
            break all[0].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never finished: {all:#?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    terminate(&mut b);
    assert_eq!(run["status"], "PASSED", "{run:#?}");
    assert_eq!(run["worker"], "worker-b", "{run:#?}");
    assert_eq!(run["attempt"], 2, "{run:#?}");
}

#[test]
fn a_job_given_up_on_is_dead_lettered_and_replays_after_the_fix() {
    let scratch = Scratch::new();
    scratch.demo();
    let redis = common::redis::RedisPrefix::new("dead");
    // The target's file does not exist yet: every attempt fails to connect.
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"sqlite://store.db\"\n[targets.later]\nurl = \"sqlite://later.db\"\n{}",
            redis.broker_toml("max_attempts = 2\n")
        ),
    );
    scratch.write(
        "rules.yaml",
        "version: 1\nrules:\n  - name: later_orders\n    target: later\n    dataset: orders\n    check: not_empty\n",
    );
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);
    scratch
        .dq(&[
            "--config",
            "dq.toml",
            "run",
            "--rule-name",
            "later_orders",
            "--async",
        ])
        .assert_code(0);
    let worker_args = [
        "--config",
        "dq.toml",
        "worker",
        "-Q",
        "dq_database",
        "--retry-delay",
        "200ms",
    ];
    let mut worker = spawn(&scratch, &worker_args);
    let started = Instant::now();
    while !scratch
        .dq(&["--config", "dq.toml", "inspect", "dead"])
        .stdout
        .contains("later_orders")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never dead-lettered"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let run = &runs(&scratch)[0];
    assert_eq!(run["status"], "ERROR", "{run:#?}");
    assert!(
        run["message"]
            .as_str()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{run:#?}"
    );

    // Fix the cause (the target appears), then replay.
    std::fs::copy(scratch.file("demo/shop.db"), scratch.file("later.db")).unwrap();
    let requeued = scratch.dq(&["--config", "dq.toml", "requeue", "dq_database"]);
    assert!(
        requeued
            .stdout
            .contains("requeued 1 dead letter(s) of dq_database (1 run(s) reopened)"),
        "{}",
        requeued.stdout
    );
    let started = Instant::now();
    loop {
        let all = runs(&scratch);
        assert_eq!(all.len(), 1);
        if all[0]["status"] == "PASSED" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "replay never ran: {all:#?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    terminate(&mut worker);
}

#[test]
fn a_check_longer_than_the_visibility_timeout_runs_once() {
    let scratch = Scratch::new();
    let redis = common::redis::RedisPrefix::new("vis");
    let postgres = common::postgres::server_url();
    // A 2 s visibility timeout and a 7 s check, with two idle workers ready
    // to take anything that looks abandoned: the running worker's claim
    // extensions must keep it.
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"sqlite://store.db\"\n[targets.pg]\nurl = \"{postgres}\"\n{}",
            redis.broker_toml("visibility_timeout = \"2s\"\n")
        ),
    );
    scratch.load_sleeping_rule("long_check", 7);
    // Both workers log to files: each "job started" line is one execution.
    let worker = |name: &str| {
        let log = std::fs::File::create(scratch.file(&format!("{name}.log"))).unwrap();
        Command::new(env!("CARGO_BIN_EXE_dq"))
            .args([
                "--config",
                "dq.toml",
                "worker",
                "-Q",
                "dq_database",
                "--name",
                name,
            ])
            .current_dir(scratch.path())
            .env_remove("DQ_CONFIG")
            .env_remove("DQ_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn dq worker")
    };
    let mut a = worker("worker-a");
    let mut b = worker("worker-b");
    std::thread::sleep(Duration::from_secs(1));
    scratch
        .dq(&[
            "--config",
            "dq.toml",
            "run",
            "--rule-name",
            "long_check",
            "--async",
        ])
        .assert_code(0);
    let started = Instant::now();
    let run = loop {
        let all = runs(&scratch);
        if all.first().is_some_and(|r| r["status"] == "PASSED") {
            break all[0].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "never finished: {all:#?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    // Let a wrongful redelivery, if any, show up before looking.
    std::thread::sleep(Duration::from_secs(3));
    terminate(&mut a);
    terminate(&mut b);
    assert_eq!(
        run["attempt"], 1,
        "the check was handed to a second worker: {run:#?}"
    );
    let executions: usize = ["worker-a", "worker-b"]
        .iter()
        .map(|name| {
            std::fs::read_to_string(scratch.file(&format!("{name}.log")))
                .unwrap_or_default()
                .matches("job started")
                .count()
        })
        .sum();
    let logs = std::fs::read_to_string(scratch.file("worker-a.log")).unwrap_or_default()
        + &std::fs::read_to_string(scratch.file("worker-b.log")).unwrap_or_default();
    assert_eq!(executions, 1, "the check ran {executions} times:\n{logs}");
}
