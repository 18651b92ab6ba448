//! Two `dq beat` processes against one store and a real Redis; the leader is
//! killed with SIGKILL midway. Every tick of a seconds-level rule must be
//! enqueued exactly once: no gap at the failover, no duplicate run.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Scratch;
use dq_broker::{Broker, BrokerConfig};
use dq_core::Queue;

const MANIFEST: &str = r#"version: 1
defaults:
  target: shop
rules:
  - name: every_second
    dataset: orders
    check: not_empty
    schedule: "* * * * * *"
"#;

fn spawn_beat(scratch: &Scratch, owner: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dq"))
        .args([
            "--config",
            "dq.toml",
            "beat",
            "--owner",
            owner,
            "--lease-ttl",
            "3s",
        ])
        .current_dir(scratch.path())
        .env_remove("DQ_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dq beat")
}

fn leader(scratch: &Scratch) -> Option<String> {
    let out = scratch.dq(&["--config", "dq.toml", "inspect", "scheduled"]);
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("beat leader: "))
        .and_then(|l| l.split_whitespace().next())
        .filter(|name| *name != "none")
        .map(str::to_string)
}

#[test]
fn two_beats_and_a_killed_leader_enqueue_every_tick_exactly_once() {
    let scratch = Scratch::new();
    let redis = common::redis::RedisPrefix::new("beat");
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"sqlite://store.db\"\n[targets.shop]\nurl = \"sqlite://shop.db\"\n{}",
            redis.broker_toml("")
        ),
    );
    scratch.write("rules.yaml", MANIFEST);
    scratch
        .dq(&["--config", "dq.toml", "load", "rules.yaml"])
        .assert_code(0);

    let mut a = spawn_beat(&scratch, "beat-a");
    std::thread::sleep(Duration::from_secs(2));
    let mut b = spawn_beat(&scratch, "beat-b");
    let started = Instant::now();
    let first_leader = loop {
        if let Some(name) = leader(&scratch) {
            break name;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no beat became leader"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(first_leader, "beat-a");

    std::thread::sleep(Duration::from_secs(30));
    a.kill().expect("SIGKILL the leader"); // Child::kill is SIGKILL on Unix
    let _ = a.wait();
    std::thread::sleep(Duration::from_secs(35));
    assert_eq!(
        leader(&scratch).as_deref(),
        Some("beat-b"),
        "beat-b did not take over"
    );
    let _ = Command::new("kill").arg(b.id().to_string()).status();
    let _ = b.wait();

    // The store: one run per tick, no gaps between the first and the last.
    let runs = scratch.dq(&[
        "--config", "dq.toml", "export", "runs", "-", "--format", "ndjson",
    ]);
    runs.assert_code(0);
    let mut ticks: Vec<chrono::DateTime<chrono::Utc>> = runs
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["scheduled_for"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    ticks.sort();
    assert!(ticks.len() >= 60, "only {} ticks in 65 s", ticks.len());
    for pair in ticks.windows(2) {
        assert_eq!(
            (pair[1] - pair[0]).num_seconds(),
            1,
            "gap or duplicate between {} and {}",
            pair[0],
            pair[1]
        );
    }

    // The broker: every run published; a kill between publish and the
    // store's "enqueued" mark may republish one run (at-least-once).
    let published = drain(&redis);
    for tick in &ticks {
        assert!(published.contains_key(tick), "tick {tick} never published");
    }
    let duplicates: usize = published.values().map(|n| n - 1).sum();
    assert!(duplicates <= 1, "{duplicates} duplicate publications");
}

fn drain(redis: &common::redis::RedisPrefix) -> BTreeMap<chrono::DateTime<chrono::Utc>, usize> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = BrokerConfig::new(redis.url.clone());
        config.prefix = redis.prefix.clone();
        let broker = Broker::connect(&config)
            .await
            .expect("Redis is not reachable");
        let mut consumer = broker.consumer(Queue::Database, "drain", 64).await.unwrap();
        let mut seen = BTreeMap::new();
        while let Ok(Ok(delivery)) =
            tokio::time::timeout(Duration::from_secs(1), consumer.next()).await
        {
            *seen
                .entry(delivery.envelope().job.scheduled_for)
                .or_insert(0) += 1;
            delivery.ack().await.unwrap();
        }
        let _ = broker.teardown().await;
        seen
    })
}
