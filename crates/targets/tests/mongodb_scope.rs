//! Scope and connection options on a MongoDB target, against SecantusDB on
//! 127.0.0.1:27018 (or `DQ_TEST_MONGO_URL`); the connection-error test
//! needs no server. `use_sampling` + `sample_size` is a `$sample`,
//! `partition_column` + `window` and `filter` a validated `$match`, the
//! rule's timeout is `maxTimeMS`, `readPreference` comes from the URL.

mod mongo_common;

use std::time::Duration;

use dq_core::RunStatus;
use dq_targets::{Target, TargetError};
use mongo_common::{date, observed, outcome, rules, run, with_database, MongoDb};
use mongodb::bson::{doc, Document};

fn many(n: i64) -> Vec<Document> {
    (0..n)
        .map(|i| doc! { "_id": i, "status": if i % 10 == 0 { "paid" } else { "new" }, "at": date(i) })
        .collect()
}

#[tokio::test]
async fn sampling_reads_about_sample_size_documents() {
    let db = MongoDb::new().await;
    db.insert("events", many(500)).await;
    let target = db.target().await;
    let outcomes = run(
        &target,
        &rules("  - {name: sampled, dataset: events, check: row_count, min: 1, use_sampling: true, sample_size: 50}\n"),
    )
    .await;
    assert_eq!(observed(&outcomes, "sampled"), 50.0);
    assert_eq!(
        outcome(&outcomes, "sampled").effective_sample_size,
        Some(50)
    );
}

#[tokio::test]
async fn window_and_filter_become_one_match() {
    let db = MongoDb::new().await;
    db.insert("events", many(100)).await;
    let target = db.target().await;
    let outcomes = run(
        &target,
        &rules(
            r#"
  - {name: last_day, dataset: events, check: row_count, min: 1, partition_column: at, window: 1d}
  - {name: paid, dataset: events, check: row_count, min: 1, filter: '{"status": "paid"}'}
  - {name: paid_last_day, dataset: events, check: row_count, min: 1, filter: '{"status": {"$in": ["paid"]}}', partition_column: at, window: 1d}
  - {name: javascript, dataset: events, check: row_count, min: 1, filter: '{"$where": "true"}'}
  - {name: sql_filter, dataset: events, check: row_count, min: 1, filter: "status = 'paid'"}
"#,
        ),
    )
    .await;
    // Hours 0..=24 before now are inside a one-day window.
    assert_eq!(observed(&outcomes, "last_day"), 25.0);
    assert_eq!(observed(&outcomes, "paid"), 10.0);
    assert_eq!(observed(&outcomes, "paid_last_day"), 3.0);
    for name in ["javascript", "sql_filter"] {
        let verdict = &outcome(&outcomes, name).verdict;
        assert_eq!(verdict.status, RunStatus::Error, "{name}");
        assert!(
            verdict.message.contains("not a MongoDB query document"),
            "{}",
            verdict.message
        );
    }
}

#[tokio::test]
async fn a_rule_timeout_stops_the_pipeline() {
    let db = MongoDb::new().await;
    db.insert("events", many(2000)).await;
    let target = db.target().await;
    let mut rules = rules(
        "  - {name: slow, dataset: events, check: regex, column: status, pattern: '^(a|aa)+$'}\n",
    );
    // maxTimeMS 1: the server (or, past the grace, the client) stops it.
    rules[0].timeout = Duration::from_millis(1);
    let outcomes = run(&target, &rules).await;
    let verdict = &outcome(&outcomes, "slow").verdict;
    assert_eq!(verdict.status, RunStatus::Timeout, "{}", verdict.message);
}

#[tokio::test]
async fn read_preference_and_pool_size_come_from_the_url() {
    let db = MongoDb::new().await;
    let url = format!("{}&readPreference=secondaryPreferred&maxPoolSize=2", db.url);
    let Target::Mongo(target) = Target::connect("replica", &url).await.unwrap() else {
        panic!("a mongodb:// URL is a MongoDB target");
    };
    assert_eq!(target.read_preference(), "secondaryPreferred");
    assert_eq!(target.default_database(), db.name);
    let Target::Mongo(primary) = db.target().await else {
        unreachable!()
    };
    assert_eq!(primary.read_preference(), "primary");
    let error = Target::connect("bad", &format!("{}&readPreference=sometimes", db.url))
        .await
        .unwrap_err();
    assert!(matches!(error, TargetError::InvalidUrl { .. }), "{error:?}");
    assert!(!error.is_retriable());
}

#[tokio::test]
async fn an_unreachable_server_is_a_retriable_connection_error_without_its_password() {
    let url = with_database(
        "mongodb://dq:s3cret@127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=300",
        "app",
    );
    let error = Target::connect("events", &url).await.unwrap_err();
    assert!(matches!(error, TargetError::Connect { .. }), "{error:?}");
    assert!(error.is_retriable());
    let message = error.to_string();
    assert!(
        message.contains("cannot connect to target events"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[tokio::test]
async fn health_reports_version_and_connections() {
    let db = MongoDb::new().await;
    let health = db.target().await.health().await.unwrap();
    assert!(health.version.starts_with("MongoDB "), "{health:?}");
    assert!(
        health
            .connections
            .iter()
            .any(|(state, n)| state == "current" && *n >= 1),
        "{health:?}"
    );
}
