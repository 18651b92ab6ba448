//! Every check kind on a MongoDB target, against a real MongoDB-wire
//! server: SecantusDB on 127.0.0.1:27018 (or `DQ_TEST_MONGO_URL`), started
//! by `scripts/services.sh secantus` (nx-27017 confuses absent fields with
//! nulls in `$type`; see `mongo_common`). Each test has its own database.
//!
//! The collection mixes what documents do and rows do not: absent fields
//! next to explicit nulls, a number stored as text, a date stored as text.

mod mongo_common;

use dq_core::RunStatus;
use mongo_common::{date, observed, outcome, rules, run, MongoDb};
use mongodb::bson::{doc, Bson, Document};

pub fn events() -> Vec<Document> {
    vec![
        doc! { "_id": 1, "user_id": 1, "email": "a@example.com", "amount": 10.5, "status": "new", "country": "US", "at": date(1) },
        doc! { "_id": 2, "user_id": 2, "email": "b@example.com", "amount": 20, "status": "paid", "country": "DE", "at": date(2) },
        doc! { "_id": 3, "user_id": Bson::Null, "email": "a@example.com", "amount": -5.0, "status": "unknown", "country": "FRA", "at": date(3) },
        doc! { "_id": 4, "email": Bson::Null, "amount": "12", "status": "paid", "country": "FR", "at": date(30) },
        doc! { "_id": 5, "user_id": 5, "email": "not-an-email", "amount": 1000.0, "status": Bson::Null, "country": "GB", "at": "2025-06-29" },
        doc! { "_id": 6, "user_id": 6, "amount": Bson::Null, "country": "NL", "at": date(50) },
    ]
}

const SUITE: &str = r#"
  - {name: rows, dataset: events, check: row_count, min: 1}
  - {name: not_empty, dataset: events, check: not_empty}
  - {name: user_null_or_missing, dataset: events, check: null_count, column: user_id}
  - {name: user_null_only, dataset: events, check: null_count, column: user_id, missing: "null"}
  - {name: user_missing_only, dataset: events, check: null_count, column: user_id, missing: missing}
  - {name: email_null_rate, dataset: events, check: null_rate, column: email, max: 0.5}
  - {name: email_missing_rate, dataset: events, check: null_rate, column: email, missing: missing, max: 0.5}
  - {name: email_unique, dataset: events, check: duplicate_count, column: email}
  - {name: status_accepted, dataset: events, check: accepted_values, column: status, values: [new, paid, shipped, cancelled]}
  - {name: amount_range, dataset: events, check: value_range, column: amount, min_value: 0, max_value: 100}
  - {name: amount_avg, dataset: events, check: value_range, column: amount, avg_min: 0, avg_max: 1000}
  - {name: email_format, dataset: events, check: regex, column: email, format: email}
  - {name: country_length, dataset: events, check: string_length, column: country, min_length: 2, max_length: 2}
  - {name: fresh, dataset: events, check: freshness, column: at, max_age: 2h}
  - {name: amount_types, dataset: events, check: field_types, column: amount, types: [double, int], max: 0.5}
  - {name: amount_numbers, dataset: events, check: field_types, column: amount, types: [number, "null"]}
  - {name: events_schema, dataset: events, check: json_schema, schema: {required: [user_id], properties: {amount: {bsonType: [double, int]}}}}
  - {name: paid_events, dataset: events, check: custom_pipeline, pipeline: [{$match: {status: paid}}]}
  - {name: event_total, dataset: events, check: custom_pipeline, mode: scalar, pipeline: [{$group: {_id: null, total: {$sum: 1}}}], min: 1}
  - {name: fields, dataset: events, check: schema, columns: [_id, user_id, email, amount, status, country, at], types: {country: string, at: date}}
"#;

#[tokio::test]
async fn every_kind_observes_what_the_sql_backends_would() {
    let db = MongoDb::new().await;
    db.insert("events", events()).await;
    let target = db.target().await;
    let rules = rules(SUITE);
    let outcomes = run(&target, &rules).await;
    for (name, expected) in [
        ("rows", 6.0),
        ("not_empty", 6.0),
        ("user_null_or_missing", 2.0),
        ("user_null_only", 1.0),
        ("user_missing_only", 1.0),
        ("email_null_rate", 2.0 / 6.0),
        ("email_missing_rate", 1.0 / 6.0),
        ("email_unique", 2.0),
        ("status_accepted", 1.0),
        ("amount_range", 2.0),
        ("email_format", 1.0),
        ("country_length", 1.0),
        ("fresh", 3600.0),
        ("amount_types", 2.0 / 6.0),
        ("amount_numbers", 1.0 / 6.0),
        ("events_schema", 2.0),
        ("paid_events", 2.0),
        ("event_total", 6.0),
        ("fields", 0.0),
    ] {
        let value = observed(&outcomes, name);
        assert!(
            (value - expected).abs() < 1e-9,
            "{name}: {value} != {expected}"
        );
    }
    let avg = outcome(&outcomes, "amount_avg");
    let measure = &avg.observation.as_ref().unwrap().measures[0];
    assert_eq!(measure.value, Some((10.5 + 20.0 - 5.0 + 1000.0) / 4.0));
    for (name, status) in [
        ("user_null_or_missing", RunStatus::Failed),
        ("email_null_rate", RunStatus::Passed),
        ("fresh", RunStatus::Passed),
        ("event_total", RunStatus::Passed),
        ("fields", RunStatus::Passed),
        ("amount_types", RunStatus::Passed),
        ("amount_numbers", RunStatus::Failed),
    ] {
        assert_eq!(outcome(&outcomes, name).verdict.status, status, "{name}");
    }
}

#[tokio::test]
async fn failing_documents_are_sampled_for_failed_rules_only() {
    let db = MongoDb::new().await;
    db.insert("events", events()).await;
    let target = db.target().await;
    let outcomes = run(&target, &rules(SUITE)).await;
    let ids = |name: &str| -> Vec<i64> {
        outcome(&outcomes, name)
            .samples
            .iter()
            .map(|s| s["_id"].as_i64().unwrap_or(-1))
            .collect()
    };
    assert_eq!(ids("user_null_only"), [3]);
    assert_eq!(ids("user_missing_only"), [4]);
    assert_eq!(ids("status_accepted"), [3]);
    assert_eq!(ids("email_format"), [5]);
    assert_eq!(ids("country_length"), [3]);
    let mut schema = ids("events_schema");
    schema.sort();
    assert_eq!(schema, [4, 6]);
    let mut paid = ids("paid_events");
    paid.sort();
    assert_eq!(paid, [2, 4]);
    let duplicates = &outcome(&outcomes, "email_unique").samples;
    assert_eq!(
        duplicates,
        &[serde_json::json!({"email": "a@example.com", "occurrences": 2})]
    );
    // Passed rules fetch nothing.
    assert!(outcome(&outcomes, "email_null_rate").samples.is_empty());
}

#[tokio::test]
async fn all_aggregates_of_a_collection_are_one_group_pass() {
    let db = MongoDb::new().await;
    db.insert("events", events()).await;
    let target = db.target().await;
    // Scan aggregates only, all passing (so no samples are fetched).
    let rules = rules(
        r#"
  - {name: a, dataset: events, check: row_count, min: 1}
  - {name: b, dataset: events, check: null_rate, column: email, max: 1}
  - {name: c, dataset: events, check: accepted_values, column: status, values: [new, paid, unknown]}
  - {name: d, dataset: events, check: value_range, column: amount, min_value: -10, max_value: 1000}
  - {name: e, dataset: events, check: string_length, column: country, max_length: 3}
  - {name: f, dataset: events, check: field_types, column: amount, types: [number, string, "null"]}
  - {name: g, dataset: events, check: null_count, column: user_id, missing: missing, max: 1}
"#,
    );
    let before = target.query_stats();
    let outcomes = run(&target, &rules).await;
    let stats = target.query_stats().since(&before);
    for o in &outcomes {
        assert_eq!(
            o.verdict.status,
            RunStatus::Passed,
            "{}: {}",
            o.rule,
            o.verdict.message
        );
    }
    assert_eq!(stats.aggregate, 1, "{stats:?}");
    assert_eq!(stats.catalogue, 1, "the collection check: {stats:?}");
    assert_eq!(stats.total(), 2, "{stats:?}");
}

#[tokio::test]
async fn an_empty_collection_gives_zero_rates_and_counts() {
    let db = MongoDb::new().await;
    db.insert("events", Vec::new()).await;
    let target = db.target().await;
    let outcomes = run(
        &target,
        &rules(
            r#"
  - {name: rate, dataset: events, check: null_rate, column: email}
  - {name: types, dataset: events, check: field_types, column: amount, types: [double]}
  - {name: count, dataset: events, check: null_count, column: email, missing: missing}
  - {name: rows, dataset: events, check: row_count, min: 0}
  - {name: dups, dataset: events, check: duplicate_count, column: email}
"#,
        ),
    )
    .await;
    for name in ["rate", "types", "count", "rows", "dups"] {
        assert_eq!(observed(&outcomes, name), 0.0, "{name}");
    }
    assert_eq!(
        outcome(&outcomes, "rate")
            .observation
            .as_ref()
            .unwrap()
            .row_count,
        Some(0)
    );
}

#[tokio::test]
async fn a_bad_rule_errors_alone_and_unknown_collections_are_named() {
    let db = MongoDb::new().await;
    db.insert("events", events()).await;
    let target = db.target().await;
    let outcomes = run(
        &target,
        &rules(
            r#"
  - {name: good, dataset: events, check: row_count, min: 1}
  - {name: bad_stage, dataset: events, check: custom_pipeline, pipeline: [{$nosuchstage: {}}]}
  - {name: sql_here, dataset: events, check: custom_sql, sql: "SELECT 1"}
  - {name: typo, dataset: evnets, check: row_count, min: 1}
"#,
        ),
    )
    .await;
    assert_eq!(outcome(&outcomes, "good").verdict.status, RunStatus::Passed);
    let bad = &outcome(&outcomes, "bad_stage").verdict;
    assert_eq!(bad.status, RunStatus::Error, "{}", bad.message);
    let sql = &outcome(&outcomes, "sql_here").verdict;
    assert_eq!(sql.status, RunStatus::Error);
    assert!(sql.message.contains("custom_pipeline"), "{}", sql.message);
    let typo = &outcome(&outcomes, "typo").verdict;
    assert_eq!(typo.status, RunStatus::Error);
    assert!(
        typo.message.contains("dataset evnets not found"),
        "{}",
        typo.message
    );
}
