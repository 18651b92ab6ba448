//! What only PostgreSQL shows of a failing row: every column in order,
//! timestamps as RFC 3339 text in UTC; and samples drawn from the rule's
//! scope. (Bounds, failing rows and JSON types on both backends:
//! samples.rs.)

mod common;

use common::pg::Schema;
use common::{col, null_count, options, orders, rule, single_plan};
use dq_core::{Bounds, Check, RowFilter, Scope};
use dq_targets::execute;
use serde_json::{json, Value};

fn ids(samples: &[Value]) -> Vec<i64> {
    samples.iter().map(|s| s["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn sample_rows_keep_every_column_in_order_with_its_json_type() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let rules = vec![rule(
        "negative",
        &pg.dataset("orders"),
        Check::ValueRange {
            column: col("amount"),
            min_value: Some(0.0),
            max_value: None,
            avg: Bounds::default(),
        },
        Bounds::at_most(0.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(outcomes[0].samples.len(), 1);
    let row = outcomes[0].samples[0].as_object().unwrap();
    let keys: Vec<&str> = row.keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, orders::COLUMNS);
    assert_eq!(row["id"], json!(30));
    assert_eq!(row["customer_id"], json!(10_030));
    assert_eq!(row["amount"], json!(-5.0));
    assert_eq!(row["email"], json!("user30@example.com"));
    assert_eq!(row["region"], json!("US"));
    // Timestamps as RFC 3339 text, in UTC.
    let updated = row["updated_at"].as_str().unwrap();
    let parsed = chrono::DateTime::parse_from_rfc3339(updated).unwrap();
    assert_eq!(
        parsed,
        orders::max_timestamp() - chrono::Duration::minutes(1000 - 30)
    );
    assert!(updated.ends_with("+00:00"), "{updated}");
}

#[tokio::test]
async fn samples_come_from_the_rules_scope() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let mut eu_nulls = null_count(
        "eu_nulls",
        &pg.dataset("orders"),
        "customer_id",
        Bounds::at_most(0.0),
    );
    eu_nulls.scope = Scope {
        filter: Some(RowFilter::new("region = 'EU'").unwrap()),
        ..Scope::default()
    };
    let rules = vec![eu_nulls];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(
        outcomes[0].verdict.observed,
        Some(orders::EU_NULL_CUSTOMERS as f64)
    );
    assert_eq!(
        ids(&outcomes[0].samples),
        [4],
        "the one EU row with no customer"
    );
}
