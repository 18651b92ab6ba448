//! Timeouts, on both backends: a runaway query ends as TIMEOUT within
//! seconds, and the database really stops working on it (SQLite's progress
//! handler interrupts it; PostgreSQL's statement_timeout cancels it).

mod common;

use std::time::{Duration, Instant};

use common::{
    custom, duplicate_count, null_count, on_each_backend, options, rule, single_plan, Backend,
    Fixture,
};
use dq_core::{Bounds, Check, CustomSqlMode, RowFilter, RunStatus, Scope};
use dq_targets::execute;

/// Counts to 10^12: hours of work if nothing stops it.
const RUNAWAY: &str =
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000000000) \
                       SELECT count(*) FROM n";

async fn runaway_custom_sql_times_out(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let ds = fx.dataset("orders");
    let target = fx.target().await;
    // (mode, a query that would run for long)
    let runaways = match backend {
        Backend::Sqlite => vec![
            (CustomSqlMode::Scalar, RUNAWAY.to_string()),
            (
                CustomSqlMode::Rows,
                RUNAWAY.replace("SELECT count(*) FROM n", "SELECT x FROM n WHERE x < 0"),
            ),
        ],
        Backend::Postgres => vec![
            (CustomSqlMode::Scalar, "SELECT pg_sleep(5)".to_string()),
            (
                CustomSqlMode::Scalar,
                "SELECT 1 FROM pg_sleep(5)".to_string(),
            ),
            (
                CustomSqlMode::Rows,
                format!("SELECT id FROM {ds} WHERE pg_sleep(5) IS NULL"),
            ),
        ],
    };
    let within = fx.pick(Duration::from_secs(5), Duration::from_secs(3));
    for (mode, sql) in runaways {
        let mut slow = custom("slow", &ds, &sql, mode, Bounds::at_most(0.0));
        slow.timeout = Duration::from_secs(1);
        let quick = rule("quick", &ds, Check::RowCount, Bounds::at_least(1.0));
        let rules = vec![slow, quick];
        let plan = single_plan(&rules);

        let started = Instant::now();
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
        let took = started.elapsed();

        assert!(took < within, "{sql} ({mode:?}) took {took:?}");
        assert_eq!(
            outcomes[0].verdict.status,
            RunStatus::Timeout,
            "{sql} ({mode:?}): {}",
            outcomes[0].verdict.message
        );
        assert_eq!(outcomes[0].verdict.message, "timed out after 1s");
        assert!(!outcomes[0].retriable);
        // The scan of the same plan is not held hostage by the custom query.
        assert_eq!(outcomes[1].verdict.status, RunStatus::Passed);
    }
    if let Fixture::Postgres(pg) = &fx {
        // The server stopped them: nothing of ours is still running.
        let running = pg
            .number(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%' \
                 AND state = 'active' AND pid <> pg_backend_pid()",
            )
            .await;
        assert_eq!(running, Some(0.0));
    }

    // Every connection is usable again: were a runaway still running on one,
    // closing the pool would wait for it.
    let close = tokio::time::timeout(Duration::from_secs(5), target.close()).await;
    assert!(
        close.is_ok(),
        "an interrupted query kept its connection busy"
    );
}

async fn runaway_scan_times_out_every_rule_it_serves(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let ds = fx.dataset("orders");
    let target = fx.target().await;
    // SQLite: a filter whose subquery joins the table with itself three
    // times. PostgreSQL: a filter that sleeps on every row.
    let filter = fx.pick(
        "(SELECT count(*) FROM orders a, orders b, orders c WHERE a.amount + b.amount + c.amount > -1) > 0",
        "pg_sleep(0.01) IS NOT NULL",
    );
    let scope = Scope {
        filter: Some(RowFilter::new(filter).unwrap()),
        ..Scope::default()
    };
    let mut rules = vec![
        rule("rows", &ds, Check::RowCount, Bounds::at_least(1.0)),
        null_count("nulls", &ds, "customer_id", Bounds::at_most(0.0)),
        duplicate_count("dups", &ds, "customer_id", Bounds::at_most(0.0)),
    ];
    for r in &mut rules {
        r.scope = scope.clone();
        r.timeout = Duration::from_secs(1);
    }
    let plan = single_plan(&rules);
    let before = target.query_stats();
    let started = Instant::now();
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    let took = started.elapsed();
    let within = fx.pick(Duration::from_secs(5), Duration::from_secs(3));
    assert!(took < within, "took {took:?}");
    for outcome in &outcomes {
        assert_eq!(
            outcome.verdict.status,
            RunStatus::Timeout,
            "{}",
            outcome.rule
        );
        assert_eq!(outcome.verdict.message, "timed out after 1s");
    }
    // The timeout ends the scan: no duplicate statement after it.
    let issued = target.query_stats().since(&before);
    assert_eq!((issued.aggregate, issued.group_by), (1, 0), "{issued:?}");

    // The target keeps working after the interrupt.
    let rules = vec![rule("rows", &ds, Check::RowCount, Bounds::at_least(1.0))];
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

on_each_backend!(
    runaway_custom_sql_times_out,
    runaway_scan_times_out_every_rule_it_serves,
);
