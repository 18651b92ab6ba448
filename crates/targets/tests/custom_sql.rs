//! custom_sql rules: rows and scalar modes and their errors, with the same
//! messages on both backends, and the promise that a check never writes
//! (on PostgreSQL: postgres_safety.rs).

mod common;

use common::{bounds, custom, on_each_backend, options, orders, single_plan, Backend, Fixture};
use dq_core::{Bounds, CustomSqlMode, RunStatus};
use dq_targets::execute;

#[tokio::test]
async fn writes_are_refused_and_the_data_is_untouched() {
    let db = orders::db().await;
    let target = db.target().await;
    let writes = [
        "DELETE FROM orders",
        "DELETE FROM orders;",
        "SELECT 1; DELETE FROM orders",
        "UPDATE orders SET amount = 0",
        "DROP TABLE orders",
        "WITH x AS (SELECT 1) DELETE FROM orders",
        "INSERT INTO orders (id) VALUES (5000) RETURNING id",
        "PRAGMA query_only = OFF",
    ];
    for sql in writes {
        for mode in [CustomSqlMode::Rows, CustomSqlMode::Scalar] {
            let rules = vec![custom("write", "orders", sql, mode, Bounds::at_most(0.0))];
            let plan = single_plan(&rules);
            let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
            let verdict = &outcomes[0].verdict;
            assert_eq!(verdict.status, RunStatus::Error, "{sql} ({mode:?})");
            assert!(
                verdict.message.contains("read-only"),
                "{sql} ({mode:?}): {}",
                verdict.message
            );
            assert!(outcomes[0].samples.is_empty());
        }
    }
    assert_eq!(db.count("orders").await, orders::ROWS as i64);
    assert_eq!(
        db.number("SELECT sum(amount) FROM orders WHERE amount = 0")
            .await,
        None,
        "no amount was zeroed"
    );
}

async fn scalar_mode_reads_one_number(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    let ds = fx.dataset("orders");
    let any = bounds(Some(-1e12), Some(1e12));
    // (sql, status, observed, message fragment)
    let mut cases: Vec<(String, RunStatus, Option<f64>, &str)> = vec![
        (
            format!("SELECT count(*) FROM {ds} WHERE region = 'EU'"),
            RunStatus::Passed,
            Some(250.0),
            "",
        ),
        (
            format!("SELECT count(*) FROM {ds};  "),
            RunStatus::Passed,
            Some(1000.0),
            "",
        ),
        (
            format!("SELECT avg(amount) FROM {ds} WHERE id <= 2"),
            RunStatus::Passed,
            Some(2.0),
            "",
        ),
        ("SELECT 5 -- five".into(), RunStatus::Passed, Some(5.0), ""),
        ("SELECT '42.5'".into(), RunStatus::Passed, Some(42.5), ""),
        (
            fx.pick("SELECT -3.25", "SELECT -3.25::numeric").into(),
            RunStatus::Passed,
            Some(-3.25),
            "",
        ),
        (
            fx.pick("SELECT NULL", "SELECT NULL::int").into(),
            RunStatus::Error,
            None,
            "returned NULL",
        ),
        (
            format!("SELECT id FROM {ds}"),
            RunStatus::Error,
            None,
            "more than one row",
        ),
        (
            "SELECT 'abc'".into(),
            RunStatus::Error,
            None,
            "\"abc\" is not a number",
        ),
        (
            fx.pick("SELECT 1 WHERE 0", "SELECT 1 WHERE false").into(),
            RunStatus::Error,
            None,
            "no row",
        ),
        (
            "SELECT * FROM no_such_table".into(),
            RunStatus::Error,
            None,
            fx.pick(
                "no such table: no_such_table",
                "relation \"no_such_table\" does not exist",
            ),
        ),
    ];
    if backend == Backend::Postgres {
        // Types SQLite does not have: the first column of any type counts.
        cases.extend([
            (
                "SELECT 2.5::float4, 'ignored'".into(),
                RunStatus::Passed,
                Some(2.5),
                "",
            ),
            (
                "SELECT true".into(),
                RunStatus::Error,
                None,
                "true is not a number",
            ),
        ]);
    }
    for (sql, status, observed, fragment) in cases {
        let rules = vec![custom("scalar", &ds, &sql, CustomSqlMode::Scalar, any)];
        let plan = single_plan(&rules);
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
        let verdict = &outcomes[0].verdict;
        assert_eq!(verdict.status, status, "{sql}: {}", verdict.message);
        assert_eq!(verdict.observed, observed, "{sql}");
        assert!(
            verdict.message.contains(fragment),
            "{sql}: {}",
            verdict.message
        );
        assert!(
            outcomes[0].samples.is_empty(),
            "a scalar has no failing rows"
        );
    }

    // The bounds are the user's.
    let rules = vec![custom(
        "too_many_eu",
        &ds,
        &format!("SELECT count(*) FROM {ds} WHERE region = 'EU'"),
        CustomSqlMode::Scalar,
        Bounds::at_most(100.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(outcomes[0].verdict.status, RunStatus::Failed);
    assert!(
        outcomes[0].samples.is_empty(),
        "a scalar has no failing rows"
    );
}

async fn rows_mode_counts_without_fetching(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    let ds = fx.dataset("orders");
    let rules = vec![
        custom(
            "none",
            &ds,
            &format!("SELECT * FROM {ds} WHERE amount > 1e9"),
            CustomSqlMode::Rows,
            Bounds::at_most(0.0),
        ),
        custom(
            "all",
            &ds,
            &format!("SELECT * FROM {ds}"),
            CustomSqlMode::Rows,
            Bounds::at_most(0.0),
        ),
        custom(
            "cte",
            &ds,
            &format!(
                "WITH eu AS (SELECT * FROM {ds} WHERE region = 'EU') SELECT id FROM eu -- trailing comment"
            ),
            CustomSqlMode::Rows,
            Bounds::at_most(300.0),
        ),
    ];
    let plan = single_plan(&rules);
    let before = target.query_stats();
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 2)).await;
    let issued = target.query_stats().since(&before);
    let summary: Vec<(RunStatus, Option<f64>, usize)> = outcomes
        .iter()
        .map(|o| (o.verdict.status, o.verdict.observed, o.samples.len()))
        .collect();
    assert_eq!(
        summary,
        [
            (RunStatus::Passed, Some(0.0), 0),
            (RunStatus::Failed, Some(1000.0), 2),
            (RunStatus::Passed, Some(250.0), 0),
        ]
    );
    // One count per rule and one bounded sample for the failing one; no scan.
    assert_eq!(
        (
            issued.custom,
            issued.sample,
            issued.aggregate,
            issued.catalogue
        ),
        (3, 1, 0, 0)
    );
}

on_each_backend!(
    scalar_mode_reads_one_number,
    rows_mode_counts_without_fetching
);
