//! What only PostgreSQL does about correctness: its duplicate statement
//! brings the most repeated values with the count, so a failing duplicate
//! rule needs no sample query. (Every check kind's value on both backends:
//! correctness.rs.)

mod common;

use common::pg::Schema;
use common::{duplicate_count, options, orders, single_plan};
use dq_core::{Bounds, RunStatus};
use dq_targets::execute;
use serde_json::json;

fn now() -> chrono::DateTime<chrono::Utc> {
    orders::max_timestamp() + chrono::Duration::hours(1)
}

#[tokio::test]
async fn a_failed_duplicate_rule_shows_the_most_repeated_values_without_a_query() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let ds = pg.dataset("orders");
    let rules = vec![
        duplicate_count("dups", &ds, "customer_id", Bounds::at_most(0.0)),
        duplicate_count("dup_emails", &ds, "email", Bounds::at_most(0.0)),
    ];
    let plan = single_plan(&rules);
    for limit in [1usize, 2, 5] {
        let before = target.query_stats();
        let outcomes = execute(&target, &plan, &options(now(), limit)).await;
        let issued = target.query_stats().since(&before);
        assert_eq!(outcomes[0].verdict.status, RunStatus::Failed);
        let expected = [
            json!({"customer_id": 5001, "occurrences": 3}),
            json!({"customer_id": 5002, "occurrences": 2}),
            json!({"customer_id": 5003, "occurrences": 2}),
            json!({"customer_id": 5004, "occurrences": 2}),
        ];
        assert_eq!(
            outcomes[0].samples,
            expected[..limit.min(4)],
            "limit {limit}"
        );
        let keys: Vec<&String> = outcomes[0].samples[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["customer_id", "occurrences"]);
        // No duplicate emails: passed, nothing to show.
        assert_eq!(outcomes[1].verdict.status, RunStatus::Passed);
        assert!(outcomes[1].samples.is_empty());
        assert_eq!(issued.group_by, 2, "{issued:?}");
        assert_eq!(issued.sample, 0, "{issued:?}");
        assert_eq!(issued.total(), 4, "{issued:?}");
    }
}
