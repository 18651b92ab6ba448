//! What a PostgreSQL target must never do: write, or run on past its
//! timeout. Writes are refused by screening and, for those that slip past
//! it (a function that writes), by the read-only transaction; runaway
//! statements are cancelled by the server's statement_timeout.

mod common;

use std::time::{Duration, Instant};

use common::pg::Schema;
use common::{col, options, orders, rule, single_plan};
use dq_core::{Bounds, Check, CustomSqlMode, RowFilter, RunStatus, Scope};
use dq_targets::execute;

fn custom(dataset: &str, name: &str, sql: &str, mode: CustomSqlMode) -> dq_core::Rule {
    rule(
        name,
        dataset,
        Check::CustomSql {
            sql: sql.into(),
            mode,
        },
        Bounds::at_most(0.0),
    )
}

#[tokio::test]
async fn writes_are_refused_and_the_data_is_untouched() {
    let pg = Schema::with_orders().await;
    let s = &pg.name;
    let ds = pg.dataset("orders");
    // Functions that write: a check calling them passes screening (it is a
    // SELECT with no write keyword), so only the transaction can refuse.
    pg.exec(&format!(
        "CREATE FUNCTION \"{s}\".wipe() RETURNS bigint LANGUAGE plpgsql AS $$
           BEGIN DELETE FROM \"{s}\".orders; RETURN 0; END $$;
         CREATE FUNCTION \"{s}\".zero() RETURNS SETOF int LANGUAGE sql AS
           $$ UPDATE \"{s}\".orders SET amount = 0 RETURNING id $$;
         CREATE FUNCTION \"{s}\".scratch() RETURNS int LANGUAGE plpgsql AS $$
           BEGIN EXECUTE 'CREATE TABLE \"{s}\".scratch (x int)'; RETURN 1; END $$;"
    ))
    .await;
    let target = pg.target().await;
    // (custom SQL, what refused it)
    let writes = [
        (
            format!("DELETE FROM {ds}"),
            "custom SQL must be one read-only query",
        ),
        (
            format!("UPDATE {ds} SET amount = 0"),
            "custom SQL must be one read-only query",
        ),
        (
            format!("INSERT INTO {ds} (id) VALUES (5000)"),
            "custom SQL must be one read-only query",
        ),
        (
            format!("CREATE TABLE {s}.x (y int)"),
            "custom SQL must be one read-only query",
        ),
        (
            format!("SELECT 1; DELETE FROM {ds}"),
            "custom SQL must be one read-only query",
        ),
        (
            format!("SELECT \"{s}\".wipe()"),
            "refused: checks run read-only",
        ),
        (
            format!("SELECT * FROM \"{s}\".zero()"),
            "refused: checks run read-only",
        ),
        (
            format!("SELECT \"{s}\".scratch()"),
            "refused: checks run read-only",
        ),
        (
            format!("SELECT set_config('transaction_read_only', 'off', true), \"{s}\".wipe()"),
            "transaction read-write mode",
        ),
    ];
    for (sql, refused_by) in &writes {
        for mode in [CustomSqlMode::Rows, CustomSqlMode::Scalar] {
            let rules = vec![custom(&ds, "write", sql, mode)];
            let plan = single_plan(&rules);
            let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
            let verdict = &outcomes[0].verdict;
            assert_eq!(verdict.status, RunStatus::Error, "{sql} ({mode:?})");
            assert!(
                verdict.message.contains(refused_by),
                "{sql} ({mode:?}): {}",
                verdict.message
            );
            assert!(!outcomes[0].retriable);
        }
    }
    // A filter that writes is refused too (dq-core screens DELETE out of
    // filters, but not a call).
    let mut scoped = rule("rows", &ds, Check::RowCount, Bounds::at_least(1.0));
    scoped.scope = Scope {
        filter: Some(RowFilter::new(&format!("\"{s}\".wipe() = 0")).unwrap()),
        ..Scope::default()
    };
    let rules = vec![scoped];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(outcomes[0].verdict.status, RunStatus::Error);
    assert!(
        outcomes[0].verdict.message.contains("read-only"),
        "{}",
        outcomes[0].verdict.message
    );

    assert_eq!(pg.count("orders").await, orders::ROWS as i64);
    assert_eq!(
        pg.number(&format!("SELECT count(*) FROM {ds} WHERE amount = 0"))
            .await,
        Some(0.0),
        "no amount was zeroed"
    );
    assert_eq!(
        pg.number(&format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = '{s}'"
        ))
        .await,
        Some(1.0),
        "no table was created"
    );
}

#[tokio::test]
async fn statement_timeout_stops_custom_sql() {
    let pg = Schema::with_orders().await;
    let ds = pg.dataset("orders");
    let target = pg.target().await;
    for (mode, sql) in [
        (CustomSqlMode::Scalar, "SELECT pg_sleep(5)".to_string()),
        (
            CustomSqlMode::Scalar,
            "SELECT 1 FROM pg_sleep(5)".to_string(),
        ),
        (
            CustomSqlMode::Rows,
            format!("SELECT id FROM {ds} WHERE pg_sleep(5) IS NULL"),
        ),
    ] {
        let mut slow = custom(&ds, "slow", &sql, mode);
        slow.timeout = Duration::from_secs(1);
        let quick = rule("quick", &ds, Check::RowCount, Bounds::at_least(1.0));
        let rules = vec![slow, quick];
        let plan = single_plan(&rules);
        let started = Instant::now();
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "{sql} took {took:?}");
        assert_eq!(
            outcomes[0].verdict.status,
            RunStatus::Timeout,
            "{sql}: {}",
            outcomes[0].verdict.message
        );
        assert_eq!(outcomes[0].verdict.message, "timed out after 1s");
        assert!(!outcomes[0].retriable);
        // The scan of the same plan is not held hostage by the custom query.
        assert_eq!(outcomes[1].verdict.status, RunStatus::Passed);
    }
    // The server stopped them: nothing of ours is still running.
    let running = pg
        .number(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%' \
                 AND state = 'active' AND pid <> pg_backend_pid()",
        )
        .await;
    assert_eq!(running, Some(0.0));
    let close = tokio::time::timeout(Duration::from_secs(5), target.close()).await;
    assert!(close.is_ok(), "a cancelled query kept its connection busy");
}

#[tokio::test]
async fn statement_timeout_stops_the_scan_for_every_rule_it_serves() {
    let pg = Schema::with_orders().await;
    let ds = pg.dataset("orders");
    let target = pg.target().await;
    let scope = Scope {
        filter: Some(RowFilter::new("pg_sleep(0.01) IS NOT NULL").unwrap()),
        ..Scope::default()
    };
    let mut rules = vec![
        rule("rows", &ds, Check::RowCount, Bounds::at_least(1.0)),
        rule(
            "nulls",
            &ds,
            Check::NullCount {
                column: col("customer_id"),
            },
            Bounds::at_most(0.0),
        ),
        rule(
            "dups",
            &ds,
            Check::DuplicateCount {
                column: col("customer_id"),
            },
            Bounds::at_most(0.0),
        ),
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
    assert!(took < Duration::from_secs(3), "took {took:?}");
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

    // The target keeps working.
    let rules = vec![rule("rows", &ds, Check::RowCount, Bounds::at_least(1.0))];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(
        outcomes[0].verdict.status,
        RunStatus::Passed,
        "{}",
        outcomes[0].verdict.message
    );
}
