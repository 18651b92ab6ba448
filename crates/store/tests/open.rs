mod common;

use common::{on_each_backend, Backend};
use dq_store::{RuleFilter, Store, StoreError};

async fn opening_and_migrating_twice_is_harmless_and_creates_every_table(backend: Backend) {
    let t = common::open(backend).await;
    t.store.migrate().await.unwrap();
    t.store
        .apply_load(&[common::rule("kept", "a")], "m.yaml")
        .await
        .unwrap();
    t.store.close().await;

    let again = Store::open(&t.url).await.unwrap();
    again.migrate().await.unwrap();
    let rules = again.rules(&RuleFilter::default()).await.unwrap();
    assert_eq!(rules.len(), 1, "data survives reopening");
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(again.backend_name().await, name);
    again.close().await;

    assert_eq!(
        t.tables().await,
        [
            "alert_attempts",
            "alert_deliveries",
            "alert_delivery_items",
            "alert_outbox",
            "alert_state",
            "leases",
            "metrics",
            "rule_versions",
            "rules",
            "runs",
            "violations",
            "workers"
        ]
    );
    assert_eq!(
        t.count("_sqlx_migrations").await,
        5,
        "each migration applied once"
    );
}

async fn the_operators_queries_have_their_indexes(backend: Backend) {
    let t = common::open(backend).await;
    assert_eq!(
        t.indexes().await,
        [
            "alert_deliveries.alert_deliveries_created",
            "alert_deliveries.alert_deliveries_due",
            "alert_deliveries.alert_deliveries_sending",
            "alert_delivery_items.alert_delivery_items_delivery",
            "alert_delivery_items.alert_delivery_items_outbox",
            "alert_outbox.alert_outbox_pending",
            "alert_outbox.alert_outbox_run",
            "alert_outbox.alert_outbox_violation",
            "metrics.metrics_name_observed",
            "metrics.metrics_run",
            "metrics.metrics_series",
            "rules.rules_source",
            "runs.runs_outbox",
            "runs.runs_rule_finished",
            "runs.runs_rule_scheduled",
            "runs.runs_scheduled_for",
            "runs.runs_status_finished",
            "violations.violations_acknowledged_at",
            "violations.violations_acknowledged_detected",
            "violations.violations_detected",
            "violations.violations_rule_unresolved",
        ]
    );
}

/// Beat and worker started together both open (and migrate) a new store.
async fn processes_opening_a_new_store_at_once_all_succeed(backend: Backend) {
    let (url, _place) = common::fresh(backend).await;
    let opening: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::open(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for task in opening {
        stores.push(task.await.unwrap().unwrap());
    }
    stores[0]
        .apply_load(&[common::rule("r", "a")], "m.yaml")
        .await
        .unwrap();
    for store in &stores {
        assert!(store.rule_by_name("r").await.unwrap().is_some());
        store.close().await;
    }
}

on_each_backend!(
    opening_and_migrating_twice_is_harmless_and_creates_every_table,
    the_operators_queries_have_their_indexes,
    processes_opening_a_new_store_at_once_all_succeed,
);

#[tokio::test]
async fn a_sqlite_store_file_uses_wal() {
    let t = common::open(Backend::Sqlite).await;
    let raw = sqlx::SqlitePool::connect(&t.url).await.unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn in_memory_store_works() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    store
        .apply_load(&[common::rule("r", "a")], "m.yaml")
        .await
        .unwrap();
    let found = store.rule_by_name("r").await.unwrap().unwrap();
    assert_eq!(found.rule, common::rule("r", "a"));
}

#[tokio::test]
async fn bad_urls_are_refused_with_a_reason() {
    for (url, supported) in [
        ("sqlite://dq.db", true),
        ("sqlite:dq.db", true),
        ("sqlite::memory:", true),
        ("postgres://localhost/dq", true),
        (
            "postgresql://dq:pw@db:5433/dq?options=-csearch_path%3Ddq",
            true,
        ),
        ("postgres://localhost:port/dq", false),
        ("mysql://localhost/dq", false),
        ("dq.db", false),
        ("sqlite://", false),
    ] {
        assert_eq!(Store::url_is_supported(url), supported, "{url}");
    }
    let err = Store::open("mysql://localhost/dq").await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(m) if m.contains("unsupported store URL")));

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/dq.db");
    let err = Store::open(&format!("sqlite://{}", missing.display()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("does not exist")),
        "{err}"
    );
}
