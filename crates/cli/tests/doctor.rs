//! `dq doctor`: every part checked, one line each, exit 0 only when all
//! pass; a failing part is named (text and JSON). On the embedded default
//! with `dq serve`, and on Redis with a separate beat and worker.

mod common;
#[path = "common/fleet.rs"]
mod fleet;
#[path = "../../alerts/tests/common/receiver.rs"]
mod receiver;

use std::process::Command;
use std::time::Duration;

use common::{Run, Scratch};
use fleet::Service;
use serde_json::Value;

fn doctor(scratch: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_dq"))
        .args(["--config", "dq.toml", "doctor"])
        .args(args)
        .current_dir(scratch.path())
        .env_remove("DQ_CONFIG")
        .env_remove("DQ_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("run dq doctor");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

/// The names `--format json` lists as failed.
fn failed(scratch: &Scratch, env: &[(&str, &str)]) -> Vec<String> {
    let run = doctor(scratch, &["--format", "json"], env);
    let report = json(&run);
    let failed: Vec<String> = report["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        run.code,
        if failed.is_empty() { 0 } else { 1 },
        "{}",
        run.stdout
    );
    assert_eq!(
        report["status"],
        if failed.is_empty() { "ok" } else { "fail" }
    );
    failed
}

/// The text line of check `name`.
fn line<'a>(run: &'a Run, name: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| {
            l.split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
                .starts_with(name)
        })
        .unwrap_or_else(|| panic!("no {name} line:\n{}", run.stdout))
}

/// `dq init`'s environment with its example rules loaded.
fn initialised() -> Scratch {
    let scratch = Scratch::new();
    scratch.dq(&["init"]).assert_code(0);
    scratch
        .dq(&["load", "manifests/example.yaml"])
        .assert_code(0);
    scratch
}

fn wait_until_healthy(scratch: &Scratch, service: &mut Service) {
    fleet::wait_for(
        Duration::from_secs(30),
        Duration::from_millis(300),
        || failed(scratch, &[]).is_empty().then_some(()),
        || {
            format!(
                "{}\n{}",
                doctor(scratch, &[], &[]).stdout,
                service.log_tail(20)
            )
        },
    );
}

#[test]
fn an_embedded_setup_with_dq_serve_is_healthy_and_each_missing_part_is_named() {
    let scratch = initialised();

    // Nothing runs yet: no beat, no worker for the queue the rules are on.
    let run = doctor(&scratch, &[], &[]);
    run.assert_code(1);
    assert!(line(&run, "beat").starts_with("FAIL"), "{}", run.stdout);
    assert!(
        line(&run, "beat").contains("no beat has ever run"),
        "{}",
        run.stdout
    );
    let workers = line(&run, "workers dq_database");
    assert!(workers.starts_with("FAIL"), "{workers}");
    assert!(
        workers.contains("4 enabled rule(s) and no worker heartbeat"),
        "{workers}"
    );
    assert!(line(&run, "store").starts_with("OK"), "{}", run.stdout);
    assert!(
        line(&run, "broker").contains("in-process"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with("checks failed: workers dq_database, beat\n"),
        "{}",
        run.stdout
    );

    let mut serve = Service::spawn(&scratch, "serve", &["serve", "--listen", "127.0.0.1:0"]);
    wait_until_healthy(&scratch, &mut serve);
    let run = doctor(&scratch, &[], &[]);
    run.assert_code(0);
    for name in [
        "config",
        "store",
        "broker",
        "workers dq_database",
        "beat",
        "clock",
        "target example",
        "alerts",
    ] {
        let line = line(&run, name);
        assert!(line.starts_with("OK"), "{line}");
        assert!(line.ends_with(" ms)"), "{line}");
    }
    assert!(
        line(&run, "target example").contains("SQLite 3."),
        "{}",
        run.stdout
    );
    assert!(
        line(&run, "beat").contains("leads (lease token"),
        "{}",
        run.stdout
    );
    assert!(
        line(&run, "clock").contains("3 worker(s) compared"),
        "{}",
        run.stdout
    );

    let report = json(&doctor(&scratch, &["--format", "json"], &[]));
    let checks = report["checks"].as_array().unwrap();
    assert!(checks
        .iter()
        .all(|c| c["ok"] == true && c["latency_ms"].is_u64()));
    assert!(checks
        .iter()
        .any(|c| c["name"] == "store"
            && c["detail"].as_str().unwrap().contains("migrations applied")));

    // A target that does not answer, and a channel without its variable.
    let config = std::fs::read_to_string(scratch.file("dq.toml")).unwrap();
    scratch.write(
        "dq.toml",
        &format!(
            "{config}\n[targets.down]\nurl = \"postgres://dq@127.0.0.1:1/nothing\"\n\
             [alerts]\n[alerts.channels.slack]\ntype = \"slack\"\nurl_env = \"DQ_DOCTOR_TEST_SLACK\"\n"
        ),
    );
    assert_eq!(failed(&scratch, &[]), ["target down", "channel slack"]);
    let run = doctor(&scratch, &[], &[]);
    assert!(
        line(&run, "channel slack").contains("DQ_DOCTOR_TEST_SLACK not set"),
        "{}",
        run.stdout
    );
    assert!(
        line(&run, "target down").contains("127.0.0.1:1"),
        "{}",
        run.stdout
    );
    serve.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_delivers_a_test_message_to_every_channel() {
    let receiver = receiver::Receiver::start().await;
    let url = receiver.url("/hook");
    let (scratch, run, failing) = tokio::task::spawn_blocking(move || {
        let scratch = Scratch::new();
        scratch.dq(&["init"]).assert_code(0);
        scratch.dq(&["migrate"]).assert_code(0);
        let config = std::fs::read_to_string(scratch.file("dq.toml")).unwrap();
        scratch.write(
            "dq.toml",
            &format!(
                "{config}\n[alerts]\n[alerts.channels.hook]\ntype = \"webhook\"\nurl_env = \"DQ_DOCTOR_TEST_HOOK\"\n"
            ),
        );
        let env = [("DQ_DOCTOR_TEST_HOOK", url.as_str())];
        let run = doctor(&scratch, &["--send-test"], &env);
        let failing = failed(&scratch, &env);
        (scratch, run, failing)
    })
    .await
    .unwrap();
    // No beat has run in this store; the channel itself is fine.
    assert_eq!(failing, ["beat"]);
    let hook = line(&run, "channel hook");
    assert!(hook.starts_with("OK"), "{hook}");
    assert!(hook.contains("test message delivered (HTTP 200)"), "{hook}");
    let sent = receiver.wait_for("/hook", 1, Duration::from_secs(5)).await;
    let body = sent[0].json();
    assert_eq!(body["items"][0]["rule"], "dq-doctor-test", "{body}");
    assert_eq!(body["items"][0]["kind"], "recovery", "{body}");
    // Without --send-test nothing is sent.
    assert_eq!(receiver.requests("/hook").len(), 1);

    receiver.script("/hook", &[receiver::Answer::Status(500)]);
    let again = tokio::task::spawn_blocking(move || {
        doctor(
            &scratch,
            &["--send-test"],
            &[("DQ_DOCTOR_TEST_HOOK", &receiver.url("/hook"))],
        )
    })
    .await
    .unwrap();
    let hook = line(&again, "channel hook");
    assert!(
        hook.starts_with("FAIL") && hook.contains("test message failed"),
        "{hook}"
    );
}

#[test]
fn a_store_not_migrated_is_named() {
    let scratch = Scratch::new();
    scratch.write("dq.toml", "store = \"sqlite://fresh.db\"\n");
    let run = doctor(&scratch, &[], &[]);
    run.assert_code(1);
    let store = line(&run, "store");
    assert!(
        store.starts_with("FAIL") && store.contains("not applied"),
        "{store}"
    );
    assert!(store.contains("run `dq migrate`"), "{store}");
    assert!(line(&run, "beat").contains("not checked"), "{}", run.stdout);
    scratch
        .dq(&["--config", "dq.toml", "migrate"])
        .assert_code(0);
    let run = doctor(&scratch, &[], &[]);
    assert!(line(&run, "store").starts_with("OK"), "{}", run.stdout);
}

#[test]
fn a_redis_fleet_is_healthy_once_a_beat_and_a_worker_run() {
    let scratch = Scratch::new();
    let redis = common::redis::RedisPrefix::new("doctor");
    scratch.dq(&["init", "--broker", &redis.url]).assert_code(0);
    let config = std::fs::read_to_string(scratch.file("dq.toml")).unwrap();
    let config = config.replace("# prefix = \"\"", &format!("prefix = \"{}\"", redis.prefix));
    scratch.write("dq.toml", &config);
    scratch
        .dq(&["load", "manifests/example.yaml"])
        .assert_code(0);

    let mut beat = Service::spawn(&scratch, "beat", &["beat"]);
    let run = doctor(&scratch, &[], &[]);
    let broker = line(&run, "broker");
    assert!(broker.starts_with("OK"), "{broker}");
    assert!(broker.contains("queues declared: dq_database"), "{broker}");
    let workers = line(&run, "workers dq_database");
    assert!(workers.starts_with("FAIL"), "{}", run.stdout);

    let mut worker = Service::spawn(&scratch, "worker", &["worker", "-Q", "dq_database"]);
    wait_until_healthy(&scratch, &mut worker);
    let run = doctor(&scratch, &[], &[]);
    assert!(
        line(&run, "workers dq_database").contains("1 worker(s) alive"),
        "{}",
        run.stdout
    );
    worker.terminate();
    beat.terminate();
}
