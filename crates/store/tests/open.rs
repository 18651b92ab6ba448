mod common;

use dq_store::{RuleFilter, Store, StoreError};

#[tokio::test]
async fn opening_and_migrating_twice_is_harmless_and_creates_every_table() {
    let t = common::open().await;
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

    let raw = t.raw().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&raw)
    .await
    .unwrap();
    assert_eq!(tables, ["metrics", "rules", "runs", "violations"]);
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(applied, 1, "each migration applied once");
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
        ("postgres://localhost/dq", false),
        ("mysql://localhost/dq", false),
        ("dq.db", false),
        ("sqlite://", false),
    ] {
        assert_eq!(Store::url_is_supported(url), supported, "{url}");
    }
    let err = Store::open("postgres://localhost/dq").await.unwrap_err();
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
