//! custom_sql rules on PostgreSQL: scalar mode reads one number of any
//! type, rows mode counts without fetching, with SQLite's messages.

mod common;

use common::pg::Schema;
use common::{bounds, options, rule, single_plan};
use dq_core::{Bounds, Check, CustomSqlMode, RunStatus};
use dq_targets::execute;

fn custom(
    dataset: &str,
    name: &str,
    sql: &str,
    mode: CustomSqlMode,
    fail: Bounds,
) -> dq_core::Rule {
    rule(
        name,
        dataset,
        Check::CustomSql {
            sql: sql.into(),
            mode,
        },
        fail,
    )
}

#[tokio::test]
async fn scalar_mode_reads_one_number() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let ds = pg.dataset("orders");
    let any = bounds(Some(-1e12), Some(1e12));
    // (sql, status, observed, message fragment)
    let cases: Vec<(String, RunStatus, Option<f64>, &str)> = vec![
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
        (
            "SELECT 2.5::float4, 'ignored'".into(),
            RunStatus::Passed,
            Some(2.5),
            "",
        ),
        ("SELECT '42.5'".into(), RunStatus::Passed, Some(42.5), ""),
        (
            "SELECT -3.25::numeric".into(),
            RunStatus::Passed,
            Some(-3.25),
            "",
        ),
        (
            "SELECT NULL::int".into(),
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
            "SELECT true".into(),
            RunStatus::Error,
            None,
            "true is not a number",
        ),
        (
            "SELECT 1 WHERE false".into(),
            RunStatus::Error,
            None,
            "no row",
        ),
        (
            "SELECT * FROM no_such_table".into(),
            RunStatus::Error,
            None,
            "relation \"no_such_table\" does not exist",
        ),
    ];
    for (sql, status, observed, fragment) in cases {
        let rules = vec![custom(&ds, "scalar", &sql, CustomSqlMode::Scalar, any)];
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
}

#[tokio::test]
async fn rows_mode_counts_without_fetching() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let ds = pg.dataset("orders");
    let rules = vec![
        custom(
            &ds,
            "none",
            &format!("SELECT * FROM {ds} WHERE amount > 1e9"),
            CustomSqlMode::Rows,
            Bounds::at_most(0.0),
        ),
        custom(
            &ds,
            "all",
            &format!("SELECT * FROM {ds}"),
            CustomSqlMode::Rows,
            Bounds::at_most(0.0),
        ),
        custom(
            &ds,
            "cte",
            &format!(
                "WITH eu AS (SELECT * FROM {ds} WHERE region = 'EU') SELECT id FROM eu -- trailing"
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
