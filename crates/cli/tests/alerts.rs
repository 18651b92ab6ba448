//! `dq violations`, `dq ack` and `dq alerts dispatch` as people and
//! services run them; a dispatcher SIGKILLed before and during a delivery
//! loses nothing and sends nothing twice; `dq serve` dispatches too.

mod common;
#[path = "../../alerts/tests/common/receiver.rs"]
mod receiver;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Scratch;
use dq_store::{DeliveryFilter, DeliveryState, Store};
use receiver::{Answer, Receiver};

const MANIFEST: &str = r#"version: 1
defaults:
  target: shop
rules:
  - name: shipments_stale
    dataset: shipments
    check: freshness
    column: shipped_at
    max_age: 2h
    severity: HIGH
  - name: country_codes
    dataset: customers
    check: string_length
    column: country
    max_length: 2
    severity: LOW
  - name: orders_present
    dataset: orders
    check: not_empty
"#;

const ALERTS: &str = r#"
[alerts]
batch_window = "2s"
send_timeout = "2s"
lease = "3s"
poll_interval = "100ms"
escalate_after = "0s"
[alerts.channels.slack]
type = "slack"
url_env = "DQ_TEST_SLACK_URL"
[alerts.severity]
INFO = ["slack"]
LOW = ["slack"]
MEDIUM = ["slack"]
HIGH = ["slack"]
CRITICAL = ["slack"]
"#;

/// The demo shop, the rules above loaded and run once (two fail).
fn setup(alerts: &str) -> (Scratch, String) {
    let scratch = Scratch::new();
    let config = scratch.demo();
    let toml = std::fs::read_to_string(&config).unwrap() + alerts;
    std::fs::write(&config, toml).unwrap();
    scratch.write("rules.yaml", MANIFEST);
    scratch
        .dq(&["--config", &config, "load", "rules.yaml"])
        .assert_code(0);
    scratch
        .dq(&["--config", &config, "run", "--all"])
        .assert_code(1);
    (scratch, config)
}

#[test]
fn violations_are_listed_and_acknowledged_with_the_response_time() {
    let (scratch, config) = setup("");
    let run = scratch.dq(&[
        "--config",
        &config,
        "violations",
        "--unacknowledged",
        "--json",
    ]);
    run.assert_code(0);
    let listed: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rules: Vec<&str> = listed
        .iter()
        .map(|v| v["rule_name"].as_str().unwrap())
        .collect();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert!(rules.contains(&"shipments_stale") && rules.contains(&"country_codes"));
    let high = listed
        .iter()
        .find(|v| v["rule_name"] == "shipments_stale")
        .unwrap()["id"]
        .to_string();

    let filtered = scratch.dq(&[
        "--config",
        &config,
        "violations",
        "--severity",
        "HIGH",
        "--since",
        "1h",
    ]);
    filtered.assert_code(0);
    assert!(
        filtered.stdout.contains("shipments_stale"),
        "{}",
        filtered.stdout
    );
    assert!(
        !filtered.stdout.contains("country_codes"),
        "{}",
        filtered.stdout
    );
    let by_rule = scratch.dq(&["--config", &config, "violations", "--rule", "country_codes"]);
    assert!(
        !by_rule.stdout.contains("shipments_stale"),
        "{}",
        by_rule.stdout
    );

    let ack = scratch.dq(&[
        "--config",
        &config,
        "ack",
        &high,
        "--by",
        "ana",
        "--note",
        "backfill running",
    ]);
    ack.assert_code(0);
    assert!(
        ack.stdout.contains(&format!(
            "acknowledged {high} (shipments_stale, HIGH) by ana,"
        )) && ack.stdout.contains("after detection"),
        "{}",
        ack.stdout
    );
    let again = scratch.dq(&["--config", &config, "ack", &high, "--by", "bo"]);
    assert!(
        again.stdout.contains("already acknowledged by ana"),
        "{}",
        again.stdout
    );
    let left = scratch.dq(&["--config", &config, "violations", "--unacknowledged"]);
    assert!(!left.stdout.contains("shipments_stale"), "{}", left.stdout);
    assert!(
        left.stdout.contains("1 violation(s), 1 unacknowledged"),
        "{}",
        left.stdout
    );
    let unknown = scratch.dq(&["--config", &config, "ack", "999", "--by", "ana"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no violation with id 999"),
        "{}",
        unknown.stderr
    );
}

fn dispatcher(scratch: &Scratch, config: &str, receiver: &Receiver, once: bool) -> Child {
    let mut args = vec!["--config", config, "alerts", "dispatch"];
    if once {
        args.extend(["--once", "--within", "20s"]);
    }
    Command::new(env!("CARGO_BIN_EXE_dq"))
        .args(&args)
        .current_dir(scratch.path())
        .env("DQ_TEST_SLACK_URL", receiver.url("/slack"))
        .env_remove("DQ_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dq alerts dispatch")
}

async fn deliveries(store: &Store) -> Vec<(DeliveryState, usize)> {
    store
        .deliveries(&DeliveryFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|d| (d.state, d.items.len()))
        .collect()
}

async fn until<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_killed_before_or_during_a_delivery_loses_nothing_and_sends_nothing_twice() {
    let receiver = Receiver::start().await;
    let (scratch, config) = tokio::task::spawn_blocking(|| setup(ALERTS)).await.unwrap();
    let store = Store::open(&format!("sqlite://{}", scratch.file("store.db").display()))
        .await
        .unwrap();

    // 1. Killed between planning and sending: the batch is planned (one
    //    delivery, waiting out its 2 s window), nothing has gone out.
    let mut first = dispatcher(&scratch, &config, &receiver, false);
    until("a planned delivery", || async {
        deliveries(&store).await == [(DeliveryState::Pending, 2)]
    })
    .await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    assert!(receiver.requests("/slack").is_empty());

    // 2. The next dispatcher sends it, and is killed while Slack has the
    //    request but has not answered.
    receiver.script("/slack", &[Answer::Hold(Duration::from_secs(30))]);
    let mut second = dispatcher(&scratch, &config, &receiver, false);
    receiver
        .wait_for("/slack", 1, Duration::from_secs(20))
        .await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(deliveries(&store).await, [(DeliveryState::Sending, 2)]);

    // 3. Another dispatcher finds the attempt abandoned once its lease is
    //    over: IN_DOUBT, not sent again.
    let third = dispatcher(&scratch, &config, &receiver, true);
    let output = tokio::task::spawn_blocking(move || third.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let requests = receiver.requests("/slack");
    assert_eq!(requests.len(), 1, "sent once");
    let text = requests[0].text();
    assert!(
        text.contains("shipments_stale") && text.contains("country_codes"),
        "{text}"
    );
    assert_eq!(deliveries(&store).await, [(DeliveryState::InDoubt, 2)]);
    let id = store.deliveries(&DeliveryFilter::default()).await.unwrap()[0].id;
    let attempts: Vec<String> = store
        .delivery_attempts(id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(attempts, ["UNKNOWN"]);
    let status = scratch.dq(&["--config", &config, "alerts", "status"]);
    status.assert_code(0);
    assert!(status.stdout.contains("IN_DOUBT"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("0 event(s) to plan, 0 deliveries to send"),
        "{}",
        status.stdout
    );
}

/// `dq serve` runs a dispatcher next to its workers: violations already in
/// the outbox (from `dq run`) reach Slack without `dq alerts dispatch`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dq_serve_delivers_pending_alerts() {
    let receiver = Receiver::start().await;
    let (scratch, config) = tokio::task::spawn_blocking(|| setup(ALERTS)).await.unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_dq"))
        .args(["--config", &config, "serve", "--listen", "127.0.0.1:0"])
        .current_dir(scratch.path())
        .env("DQ_TEST_SLACK_URL", receiver.url("/slack"))
        .env_remove("DQ_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dq serve");
    receiver
        .wait_for("/slack", 1, Duration::from_secs(20))
        .await;
    let _ = Command::new("kill").arg(serve.id().to_string()).status();
    let stopped = tokio::task::spawn_blocking(move || serve.wait())
        .await
        .unwrap()
        .expect("wait for dq serve");
    assert!(
        stopped.success(),
        "dq serve stops cleanly on SIGTERM: {stopped}"
    );
    let requests = receiver.requests("/slack");
    assert_eq!(requests.len(), 1, "one batched message");
    let text = requests[0].text();
    assert!(
        text.contains("shipments_stale") && text.contains("country_codes"),
        "{text}"
    );
}
