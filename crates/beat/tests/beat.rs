//! The beat against a real SQLite store and the in-process broker, with time
//! driven by the test (`Beat::iterate(now)`), so ticks are exact.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dq_beat::{Beat, BeatConfig};
use dq_broker::{Broker, BrokerConfig, Consumer};
use dq_core::manifest::{load_manifests, ManifestFile};
use dq_core::{Queue, Rule, RunId};
use dq_store::{NewRun, RunFilter, Store};

/// The store fences enqueues against its own clock, so the driven time starts
/// at the real now (on a whole second) and runs ahead of it.
fn t0() -> DateTime<Utc> {
    use std::sync::OnceLock;
    static T0: OnceLock<DateTime<Utc>> = OnceLock::new();
    *T0.get_or_init(|| {
        let now = Utc::now().timestamp();
        Utc.timestamp_opt(now, 0).single().expect("a whole second")
    })
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

fn rules(yaml_rules: &str) -> Vec<Rule> {
    let text = format!("version: 1\ndefaults:\n  target: shop\nrules:\n{yaml_rules}");
    load_manifests(
        &[ManifestFile {
            path: "t.yaml",
            text: &text,
        }],
        &|_| true,
    )
    .expect("manifest")
}

const EVERY_SECOND: &str = "  - name: every_second\n    dataset: orders\n    check: not_empty\n    schedule: \"* * * * * *\"\n  - name: every_second_too\n    dataset: orders\n    check: row_count\n    min: 1\n    schedule: \"* * * * * *\"\n";

struct Fixture {
    _dir: tempfile::TempDir,
    url: String,
    broker: Broker,
}

impl Fixture {
    async fn new(manifest_rules: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url).await.unwrap();
        store
            .apply_loads(&[("t.yaml".to_string(), rules(manifest_rules))])
            .await
            .unwrap();
        let broker = Broker::connect(&BrokerConfig::new("memory://"))
            .await
            .unwrap();
        Fixture {
            _dir: dir,
            url,
            broker,
        }
    }

    async fn beat(&self, owner: &str) -> Beat {
        let mut config = BeatConfig::new(owner);
        config.lease_ttl = Duration::from_secs(3);
        Beat::new(
            Store::open(&self.url).await.unwrap(),
            self.broker.clone(),
            config,
        )
    }

    async fn store(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }
}

/// Everything published so far: run id -> how many times.
async fn drain(consumer: &mut Consumer) -> BTreeMap<RunId, usize> {
    let mut seen = BTreeMap::new();
    while let Ok(Ok(delivery)) =
        tokio::time::timeout(Duration::from_millis(200), consumer.next()).await
    {
        for run in &delivery.envelope().job.runs {
            *seen.entry(run.run_id).or_insert(0) += 1;
        }
        delivery.ack().await.unwrap();
    }
    seen
}

#[tokio::test]
async fn each_tick_is_enqueued_once_and_rules_due_together_share_a_job() {
    let fx = Fixture::new(EVERY_SECOND).await;
    let mut consumer = fx.broker.consumer(Queue::Database, "c1", 16).await.unwrap();
    let mut beat = fx.beat("beat-a").await;
    for s in 0..=10 {
        beat.iterate(t0() + secs(s)).await.unwrap();
        // Iterating twice at the same instant enqueues nothing more.
        beat.iterate(t0() + secs(s)).await.unwrap();
    }
    let published = drain(&mut consumer).await;
    assert_eq!(published.len(), 20, "2 rules x 10 ticks");
    assert!(published.values().all(|&n| n == 1), "{published:?}");
    assert_eq!(
        beat.stats().jobs_published,
        10,
        "one job per tick for the two rules"
    );
    let runs = fx.store().await.runs(&RunFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 20);
    assert!(runs.iter().all(|r| r.enqueued_at.is_some()));
}

#[tokio::test]
async fn two_beats_one_leader_and_a_failover_loses_and_doubles_nothing() {
    let fx = Fixture::new(EVERY_SECOND).await;
    let mut consumer = fx.broker.consumer(Queue::Database, "c1", 64).await.unwrap();
    let mut a = fx.beat("beat-a").await;
    let mut b = fx.beat("beat-b").await;
    for s in 0..=60 {
        let now = t0() + secs(s);
        // Beat A dies at second 30 (no release: its lease just expires).
        if s < 30 {
            a.iterate(now).await.unwrap();
        }
        b.iterate(now).await.unwrap();
        if s == 10 {
            assert!(a.stats().is_leader && !b.stats().is_leader);
        }
    }
    assert!(b.stats().is_leader);
    let published = drain(&mut consumer).await;
    let runs = fx.store().await.runs(&RunFilter::default()).await.unwrap();
    // Every tick 1..=60 of both rules, each enqueued exactly once.
    assert_eq!(runs.len(), 120);
    assert_eq!(published.len(), 120);
    assert!(published.values().all(|&n| n == 1));
    let mut ticks: Vec<_> = runs.iter().map(|r| r.scheduled_for).collect();
    ticks.sort();
    ticks.dedup();
    assert_eq!(ticks.first().copied(), Some(t0() + secs(1)));
    assert_eq!(ticks.len(), 60);
}

#[tokio::test]
async fn a_leader_that_lost_its_lease_stops_enqueuing() {
    let fx = Fixture::new(EVERY_SECOND).await;
    let mut a = fx.beat("beat-a").await;
    let mut b = fx.beat("beat-b").await;
    a.iterate(t0()).await.unwrap();
    // A pauses for longer than the lease; B takes over.
    b.iterate(t0() + secs(10)).await.unwrap();
    assert!(b.stats().is_leader);
    // A wakes up: its renewal fails, it writes nothing.
    a.iterate(t0() + secs(11)).await.unwrap();
    assert!(!a.stats().is_leader);
    assert_eq!(a.stats().runs_enqueued, 0);
}

#[tokio::test]
async fn rule_changes_are_picked_up_without_a_restart() {
    let fx = Fixture::new(EVERY_SECOND).await;
    let mut beat = fx.beat("beat-a").await;
    beat.iterate(t0()).await.unwrap();
    let added = format!(
        "{EVERY_SECOND}  - name: added_later\n    dataset: customers\n    check: not_empty\n    schedule: \"* * * * * *\"\n"
    );
    fx.store()
        .await
        .apply_loads(&[("t.yaml".to_string(), rules(&added))])
        .await
        .unwrap();
    for s in 1..=15 {
        beat.iterate(t0() + secs(s)).await.unwrap();
    }
    let runs = fx
        .store()
        .await
        .runs(&RunFilter {
            rule_names: vec!["added_later".into()],
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert!(!runs.is_empty(), "the new rule never fired");
}

#[tokio::test]
async fn runs_stored_but_never_published_are_republished() {
    let fx = Fixture::new(EVERY_SECOND).await;
    let store = fx.store().await;
    let rule = &rules(EVERY_SECOND)[0];
    // A previous leader crashed between inserting the run and publishing it.
    let orphan = NewRun::for_rule(rule, t0() - secs(60), dq_core::RunStatus::Pending);
    store
        .enqueue_runs(None, std::slice::from_ref(&orphan))
        .await
        .unwrap();
    let mut consumer = fx.broker.consumer(Queue::Database, "c1", 64).await.unwrap();
    let mut beat = fx.beat("beat-a").await;
    beat.iterate(t0()).await.unwrap();
    let published = drain(&mut consumer).await;
    assert_eq!(published.get(&orphan.id), Some(&1));
    assert_eq!(beat.stats().republished, 1);
}
