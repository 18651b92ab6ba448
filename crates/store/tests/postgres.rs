//! What only the PostgreSQL backend has: schemas chosen in the URL, a server
//! that can be down, and its error codes. Everything else is tested on both
//! backends by the other files.

mod common;

use common::postgres::Schema;
use common::Backend;
use dq_store::{RuleFilter, Store, StoreError};

#[tokio::test]
async fn the_url_schema_isolates_stores_in_one_database() {
    let (a, b) = (Schema::create().await, Schema::create().await);
    let store_a = Store::open(&a.url).await.unwrap();
    let store_b = Store::open(&b.url).await.unwrap();
    store_a
        .apply_load(&[common::rule("only_in_a", "x")], "m.yaml")
        .await
        .unwrap();
    let in_b = store_b.rules(&RuleFilter::default()).await.unwrap();
    assert!(in_b.is_empty(), "{in_b:?}");
    assert!(store_a.rule_by_name("only_in_a").await.unwrap().is_some());
    store_a.close().await;
    store_b.close().await;
}

#[tokio::test]
async fn a_search_path_naming_no_schema_is_refused_before_creating_anything() {
    let server = common::postgres::server_url();
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}options=-csearch_path%3Ddq_s_never_created");
    let err = Store::open(&url).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("dq_s_never_created") && m.contains("create the schema")),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_database_error_naming_it_without_the_password() {
    // Port 1 on the loopback: nothing listens, the connection is refused.
    let err = Store::open("postgres://dq:s3cret@127.0.0.1:1/dq")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Database(_)), "{message}");
    assert!(
        message.contains("cannot connect to the PostgreSQL store at postgres://dq@127.0.0.1:1/dq"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[tokio::test]
async fn error_codes_map_onto_store_errors() {
    let t = common::open(Backend::Postgres).await;
    let raw = sqlx::PgPool::connect(&t.url).await.unwrap();
    let insert = "INSERT INTO rules (name, target, dataset, check_kind, severity, queue, \
         schedule, timezone, enabled, definition, created_at, updated_at) \
         VALUES ('r', 't', 'd', 'k', 'HIGH', 'dq_database', '* * * * *', 'UTC', TRUE, '{}', \
         now(), now())";
    sqlx::query(insert).execute(&raw).await.unwrap();
    let duplicate = sqlx::query(insert).execute(&raw).await.unwrap_err();
    assert!(matches!(
        StoreError::from(duplicate),
        StoreError::Conflict(_)
    ));
    let orphan = sqlx::query(
        "INSERT INTO metrics (rule_id, target, dataset, name, value, observed_at) \
         VALUES (424242, 't', 'd', 'n', 1, now())",
    )
    .execute(&raw)
    .await
    .unwrap_err();
    assert!(matches!(StoreError::from(orphan), StoreError::Invalid(_)));
    raw.close().await;
}

#[tokio::test]
async fn columns_have_native_types() {
    let t = common::open(Backend::Postgres).await;
    let raw = sqlx::PgPool::connect(&t.url).await.unwrap();
    let types: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns \
         WHERE table_schema = current_schema() AND column_name IN \
             ('id', 'created_at', 'definition', 'enabled', 'value', 'scheduled_for', 'sample') \
         ORDER BY 1",
    )
    .fetch_all(&raw)
    .await
    .unwrap();
    let types: Vec<(&str, &str)> = types
        .iter()
        .map(|(c, t)| (c.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("alert_attempts.id", "bigint"),
            ("alert_deliveries.created_at", "timestamp with time zone"),
            ("alert_deliveries.id", "bigint"),
            ("alert_delivery_items.id", "bigint"),
            ("alert_outbox.created_at", "timestamp with time zone"),
            ("alert_outbox.id", "bigint"),
            ("metrics.id", "bigint"),
            ("metrics.value", "double precision"),
            ("rule_versions.definition", "jsonb"),
            ("rule_versions.id", "bigint"),
            ("rules.created_at", "timestamp with time zone"),
            ("rules.definition", "jsonb"),
            ("rules.enabled", "boolean"),
            ("rules.id", "bigint"),
            ("runs.id", "text"),
            ("runs.scheduled_for", "timestamp with time zone"),
            ("violations.id", "bigint"),
            ("violations.sample", "jsonb"),
        ]
    );
    raw.close().await;
}
