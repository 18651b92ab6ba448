//! `dq run --async`, `dq inspect` and `dq requeue` against a real Redis.

mod common;

use common::Scratch;

#[test]
fn run_async_publishes_and_inspect_shows_it() {
    let scratch = Scratch::new();
    scratch.dq(&["demo", "--dir", "demo"]).assert_code(0);
    let redis = common::redis::RedisPrefix::new("cli");
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"sqlite://store.db\"\n[targets.shop]\nurl = \"sqlite://demo/shop.db\"\n{}",
            redis.broker_toml("")
        ),
    );
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../manifests/demo.yaml");
    scratch
        .dq(&["--config", "dq.toml", "load", manifest])
        .assert_code(0);

    let published = scratch.dq(&["--config", "dq.toml", "run", "--tag", "orders", "--async"]);
    published.assert_code(0);
    // orders_customer_id_nulls, orders_amount_range, ... share one dataset: one job for them.
    assert!(
        published.stdout.contains("1 job(s) published"),
        "{}",
        published.stdout
    );

    let queues = scratch.dq(&["--config", "dq.toml", "inspect", "queues"]);
    queues.assert_code(0);
    let line = queues
        .stdout
        .lines()
        .find(|l| l.contains("dq_database"))
        .expect("a dq_database row");
    let ready: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(ready[2], "1", "{}", queues.stdout);

    let runs = scratch.dq(&[
        "--config", "dq.toml", "export", "runs", "-", "--format", "ndjson",
    ]);
    assert!(
        runs.stdout.lines().all(|l| l.contains("\"PENDING\"")),
        "{}",
        runs.stdout
    );
    assert!(runs.stdout.lines().count() >= 5);

    let scheduled = scratch.dq(&[
        "--config",
        "dq.toml",
        "inspect",
        "scheduled",
        "--limit",
        "3",
    ]);
    scheduled.assert_code(0);
    assert!(
        scheduled.stdout.contains("beat leader: none"),
        "{}",
        scheduled.stdout
    );

    for what in ["dead", "workers", "active", "stats"] {
        scratch
            .dq(&["--config", "dq.toml", "inspect", what])
            .assert_code(0);
    }
    let requeued = scratch.dq(&["--config", "dq.toml", "requeue", "dq_database"]);
    requeued.assert_code(0);
    assert!(
        requeued
            .stdout
            .contains("requeued 0 dead letter(s) of dq_database (0 run(s) reopened)"),
        "{}",
        requeued.stdout
    );
}
