//! The kinds nx-27017 (127.0.0.1:27017, MIT, SQLite-backed) answers
//! faithfully, run on it: counts, null-or-missing, accepted values,
//! ranges, regexes, lengths, duplicates, `$jsonSchema`, custom pipelines.
//! (Its `$type` reports absent fields as null, `$avg` reads numeric text
//! and `$max` of dates is null, so `missing:`, averages and freshness are
//! tested on SecantusDB in mongodb_checks.rs.) With `DQ_TEST_MONGO_URL` set,
//! that server is used instead.

mod mongo_common;

use mongo_common::{observed, rules, run, MongoDb, NX_URL};
use mongodb::bson::{doc, Bson};

#[tokio::test]
async fn the_common_kinds_run_on_nx_27017() {
    let server = std::env::var("DQ_TEST_MONGO_URL").unwrap_or_else(|_| NX_URL.to_string());
    let db = MongoDb::on(&server).await;
    db.insert(
        "events",
        vec![
            doc! { "_id": 1, "email": "a@example.com", "amount": 10.5, "status": "new", "country": "US" },
            doc! { "_id": 2, "email": "a@example.com", "amount": 20, "status": "paid", "country": "DE" },
            doc! { "_id": 3, "email": Bson::Null, "amount": -5.0, "status": "unknown", "country": "FRA" },
            doc! { "_id": 4, "email": "not-an-email", "amount": 1000.0, "status": "paid", "country": "GB" },
        ],
    )
    .await;
    let target = db.target().await;
    let outcomes = run(
        &target,
        &rules(
            r#"
  - {name: rows, dataset: events, check: row_count, min: 1}
  - {name: nulls, dataset: events, check: null_count, column: email}
  - {name: accepted, dataset: events, check: accepted_values, column: status, values: [new, paid]}
  - {name: range, dataset: events, check: value_range, column: amount, min_value: 0, max_value: 100}
  - {name: format, dataset: events, check: regex, column: email, format: email}
  - {name: length, dataset: events, check: string_length, column: country, min_length: 2, max_length: 2}
  - {name: schema, dataset: events, check: json_schema, schema: {required: [country], properties: {status: {enum: [new, paid]}}}}
  - {name: paid, dataset: events, check: custom_pipeline, pipeline: [{$match: {status: paid}}]}
"#,
        ),
    )
    .await;
    for (name, expected) in [
        ("rows", 4.0),
        ("nulls", 1.0),
        ("accepted", 1.0),
        ("range", 2.0),
        ("format", 1.0),
        ("length", 1.0),
        ("schema", 1.0),
        ("paid", 2.0),
    ] {
        assert_eq!(observed(&outcomes, name), expected, "{name}");
    }
}
