//! `parameters.query_hint` on a MongoDB target, against SecantusDB on
//! 127.0.0.1:27018 (or `DQ_TEST_MONGO_URL`): the hint (an index name or a
//! key document) goes with the fused `$group` pass and the samples of the
//! rules that carry it; a hint naming no index is refused by the server,
//! and the rules of that pass end ERROR with a message naming it.

mod mongo_common;

use dq_core::RunStatus;
use mongo_common::{observed, outcome, rules, run, MongoDb};
use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;

fn orders() -> Vec<Document> {
    (0..20)
        .map(|i| doc! { "_id": i, "status": if i < 3 { "bad" } else { "paid" }, "amount": i })
        .collect()
}

async fn with_status_index(db: &MongoDb) {
    db.insert("orders", orders()).await;
    let index = IndexModel::builder()
        .keys(doc! { "status": 1 })
        .options(
            IndexOptions::builder()
                .name("idx_status".to_string())
                .build(),
        )
        .build();
    db.collection("orders")
        .create_index(index)
        .await
        .expect("create index idx_status");
}

#[tokio::test]
async fn a_hint_naming_an_index_runs_and_passes() {
    let db = MongoDb::new().await;
    with_status_index(&db).await;
    let target = db.target().await;
    let outcomes = run(
        &target,
        &rules(
            r#"
  - {name: by_name, dataset: orders, check: row_count, min: 20, max: 20, parameters: {query_hint: idx_status}}
  - {name: by_keys, dataset: orders, check: null_count, column: status, parameters: {query_hint: {status: 1}}}
  - {name: failing, dataset: orders, check: accepted_values, column: status, values: [paid], parameters: {query_hint: idx_status}}
"#,
        ),
    )
    .await;
    assert_eq!(observed(&outcomes, "by_name"), 20.0);
    assert_eq!(
        outcome(&outcomes, "by_name").verdict.status,
        RunStatus::Passed
    );
    assert_eq!(
        outcome(&outcomes, "by_keys").verdict.status,
        RunStatus::Passed
    );
    // The failing rule's samples are fetched with its hint too.
    let failing = outcome(&outcomes, "failing");
    assert_eq!(failing.verdict.status, RunStatus::Failed, "{failing:?}");
    assert_eq!(failing.samples.len(), 3, "{failing:?}");
    assert!(failing.samples.iter().all(|s| s["status"] == "bad"));
}

#[tokio::test]
async fn a_hint_naming_a_missing_index_is_an_error_naming_it() {
    let db = MongoDb::new().await;
    with_status_index(&db).await;
    db.insert("customers", vec![doc! { "_id": 1 }]).await;
    let target = db.target().await;
    let outcomes = run(
        &target,
        &rules(
            r#"
  - {name: bad_hint, dataset: orders, check: row_count, min: 1, parameters: {query_hint: idx_missing}}
  - {name: same_pass, dataset: orders, check: null_count, column: amount}
  - {name: other_collection, dataset: customers, check: row_count, min: 1}
"#,
        ),
    )
    .await;
    let bad = outcome(&outcomes, "bad_hint");
    assert_eq!(bad.verdict.status, RunStatus::Error, "{bad:?}");
    assert!(
        bad.verdict.message.contains("query_hint \"idx_missing\""),
        "the error names the hint: {}",
        bad.verdict.message
    );
    // The hint goes with the one `$group` pass the collection's rules share.
    let same = outcome(&outcomes, "same_pass");
    assert_eq!(same.verdict.status, RunStatus::Error, "{same:?}");
    assert!(same.verdict.message.contains("idx_missing"), "{same:?}");
    // Another collection's pass carries no hint, and runs.
    assert_eq!(observed(&outcomes, "other_collection"), 1.0);
}
