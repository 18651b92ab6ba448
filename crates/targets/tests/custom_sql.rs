//! custom_sql rules: rows and scalar modes, their errors, and the promise
//! that a check never writes.

mod common;

use common::{bounds, options, orders, rule, single_plan};
use dq_core::{Bounds, Check, CustomSqlMode, RunStatus};
use dq_targets::execute;

fn custom(name: &str, sql: &str, mode: CustomSqlMode, fail: Bounds) -> dq_core::Rule {
    rule(
        name,
        "orders",
        Check::CustomSql {
            sql: sql.into(),
            mode,
        },
        fail,
    )
}

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
            let rules = vec![custom("write", sql, mode, Bounds::at_most(0.0))];
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

#[tokio::test]
async fn scalar_mode_reads_one_number() {
    let db = orders::db().await;
    let target = db.target().await;
    let any = bounds(Some(-1e12), Some(1e12));
    // (sql, status, observed, message fragment)
    let cases: [(&str, RunStatus, Option<f64>, &str); 10] = [
        (
            "SELECT count(*) FROM orders WHERE region = 'EU'",
            RunStatus::Passed,
            Some(250.0),
            "",
        ),
        (
            "SELECT count(*) FROM orders;  ",
            RunStatus::Passed,
            Some(1000.0),
            "",
        ),
        ("SELECT 5 -- five", RunStatus::Passed, Some(5.0), ""),
        ("SELECT '42.5'", RunStatus::Passed, Some(42.5), ""),
        ("SELECT -3.25", RunStatus::Passed, Some(-3.25), ""),
        ("SELECT NULL", RunStatus::Error, None, "returned NULL"),
        (
            "SELECT id FROM orders",
            RunStatus::Error,
            None,
            "more than one row",
        ),
        (
            "SELECT 'abc'",
            RunStatus::Error,
            None,
            "\"abc\" is not a number",
        ),
        ("SELECT 1 WHERE 0", RunStatus::Error, None, "no row"),
        (
            "SELECT * FROM no_such_table",
            RunStatus::Error,
            None,
            "no such table: no_such_table",
        ),
    ];
    for (sql, status, observed, fragment) in cases {
        let rules = vec![custom("scalar", sql, CustomSqlMode::Scalar, any)];
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
    }

    // The bounds are the user's.
    let rules = vec![custom(
        "too_many_eu",
        "SELECT count(*) FROM orders WHERE region = 'EU'",
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

#[tokio::test]
async fn rows_mode_counts_without_fetching() {
    let db = orders::db().await;
    let target = db.target().await;
    let rules = vec![
        custom("none", "SELECT * FROM orders WHERE amount > 1e9", CustomSqlMode::Rows, Bounds::at_most(0.0)),
        custom("all", "SELECT * FROM orders", CustomSqlMode::Rows, Bounds::at_most(0.0)),
        custom(
            "cte",
            "WITH eu AS (SELECT * FROM orders WHERE region = 'EU') SELECT id FROM eu -- trailing comment",
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
    assert_eq!(issued.custom, 3);
    assert_eq!(issued.sample, 1);
    assert_eq!(issued.aggregate, 0);
}
