//! Timeouts: a runaway query ends as TIMEOUT within seconds, and SQLite
//! really stops working on it (the progress handler interrupts it).

mod common;

use std::time::{Duration, Instant};

use common::{options, orders, rule, single_plan};
use dq_core::{Bounds, Check, CustomSqlMode, RowFilter, RunStatus, Scope};
use dq_targets::execute;

/// Counts to 10^12: hours of work if nothing stops it.
const RUNAWAY: &str =
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000000000) \
                       SELECT count(*) FROM n";

#[tokio::test]
async fn runaway_custom_sql_times_out() {
    let db = orders::db().await;
    let target = db.target().await;
    for mode in [CustomSqlMode::Scalar, CustomSqlMode::Rows] {
        let sql = match mode {
            CustomSqlMode::Scalar => RUNAWAY.to_string(),
            CustomSqlMode::Rows => {
                RUNAWAY.replace("SELECT count(*) FROM n", "SELECT x FROM n WHERE x < 0")
            }
        };
        let mut slow = rule(
            "slow",
            "orders",
            Check::CustomSql { sql, mode },
            Bounds::at_most(0.0),
        );
        slow.timeout = Duration::from_secs(1);
        let quick = rule("quick", "orders", Check::RowCount, Bounds::at_least(1.0));
        let rules = vec![slow, quick];
        let plan = single_plan(&rules);

        let started = Instant::now();
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
        let took = started.elapsed();

        assert!(took < Duration::from_secs(5), "{mode:?} took {took:?}");
        assert_eq!(outcomes[0].verdict.status, RunStatus::Timeout, "{mode:?}");
        assert_eq!(outcomes[0].verdict.message, "timed out after 1s");
        assert!(!outcomes[0].retriable);
        // The scan of the same plan is not held hostage by the custom query.
        assert_eq!(outcomes[1].verdict.status, RunStatus::Passed);
    }

    // Every connection is usable again: were a runaway still running on one,
    // closing the pool would wait for it.
    let close = tokio::time::timeout(Duration::from_secs(5), target.close()).await;
    assert!(
        close.is_ok(),
        "an interrupted query kept its connection busy"
    );
}

#[tokio::test]
async fn runaway_scan_times_out_every_rule_it_serves() {
    let db = orders::db().await;
    let target = db.target().await;
    // A filter whose subquery joins the table with itself three times.
    let scope = Scope {
        filter: Some(
            RowFilter::new("(SELECT count(*) FROM orders a, orders b, orders c WHERE a.amount + b.amount + c.amount > -1) > 0")
                .unwrap(),
        ),
        ..Scope::default()
    };
    let mut rules = vec![
        rule("rows", "orders", Check::RowCount, Bounds::at_least(1.0)),
        rule(
            "nulls",
            "orders",
            Check::NullCount {
                column: common::col("customer_id"),
            },
            Bounds::at_most(0.0),
        ),
    ];
    for r in &mut rules {
        r.scope = scope.clone();
        r.timeout = Duration::from_secs(1);
    }
    let plan = single_plan(&rules);
    let started = Instant::now();
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    for outcome in &outcomes {
        assert_eq!(
            outcome.verdict.status,
            RunStatus::Timeout,
            "{}",
            outcome.rule
        );
        assert_eq!(outcome.verdict.message, "timed out after 1s");
    }

    // The target keeps working after the interrupt.
    let rules = vec![rule(
        "rows",
        "orders",
        Check::RowCount,
        Bounds::at_least(1.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(
        outcomes[0].verdict.status,
        RunStatus::Passed,
        "{}",
        outcomes[0].verdict.message
    );
    let close = tokio::time::timeout(Duration::from_secs(5), target.close()).await;
    assert!(
        close.is_ok(),
        "an interrupted query kept its connection busy"
    );
}
