//! Empty tables, all-NULL columns, missing tables and files: every case gets
//! a verdict with a message, never a crash or a division error, on both
//! backends. (What only PostgreSQL meets: postgres_errors.rs.)

mod common;

use common::{
    col, null_count, on_each_backend, options, orders, rule, single_plan, Backend, Fixture,
};
use dq_core::{Bounds, Check, NamedFormat, Pattern, Rule, RunStatus};
use dq_targets::{execute, Target, TargetError};

/// One rule of each row-level kind on column `c` of `table`.
fn column_rules(table: &str) -> Vec<Rule> {
    let c = || col("c");
    let max0 = Bounds::at_most(0.0);
    vec![
        rule("rows", table, Check::RowCount, Bounds::at_least(1.0)),
        rule("null_rate", table, Check::NullRate { column: c() }, max0),
        rule("null_count", table, Check::NullCount { column: c() }, max0),
        rule("dups", table, Check::DuplicateCount { column: c() }, max0),
        rule(
            "accepted",
            table,
            Check::AcceptedValues {
                column: c(),
                values: vec![dq_core::Literal::Text("a".into())],
            },
            max0,
        ),
        rule(
            "regex",
            table,
            Check::Regex {
                column: c(),
                pattern: Pattern::Format(NamedFormat::Uuid),
            },
            max0,
        ),
        rule(
            "length",
            table,
            Check::StringLength {
                column: c(),
                min_length: Some(1),
                max_length: Some(2),
            },
            max0,
        ),
        rule(
            "avg",
            table,
            Check::ValueRange {
                column: c(),
                min_value: None,
                max_value: None,
                avg: Bounds::at_most(1.0),
            },
            max0,
        ),
        rule(
            "fresh",
            table,
            Check::Freshness { column: c() },
            Bounds::at_most(3600.0),
        ),
    ]
}

async fn empty_and_all_null_tables(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let (empty, nulls) = (fx.dataset("empty"), fx.dataset("nulls"));
    // On PostgreSQL a numeric column: avg, and freshness as Unix seconds,
    // need numbers.
    let c = fx.pick("TEXT", "numeric");
    fx.exec(&format!(
        "CREATE TABLE {empty} (c {c}); CREATE TABLE {nulls} (c {c});"
    ))
    .await;
    fx.exec(&format!(
        "INSERT INTO {nulls} VALUES (NULL), (NULL), (NULL)"
    ))
    .await;
    let target = fx.target().await;

    // (rule, empty table: status + observed, all-NULL: status + observed)
    use RunStatus::{Failed, Passed};
    let expected = [
        ("rows", (Failed, Some(0.0)), (Passed, Some(3.0))),
        // An empty table has a rate of 0, with its row count shown.
        ("null_rate", (Passed, Some(0.0)), (Failed, Some(1.0))),
        ("null_count", (Passed, Some(0.0)), (Failed, Some(3.0))),
        // NULLs are never duplicates, never unexpected, never mismatched.
        ("dups", (Passed, Some(0.0)), (Passed, Some(0.0))),
        ("accepted", (Passed, Some(0.0)), (Passed, Some(0.0))),
        ("regex", (Passed, Some(0.0)), (Passed, Some(0.0))),
        ("length", (Passed, Some(0.0)), (Passed, Some(0.0))),
        // No values to average: nothing to judge, not a failure.
        ("avg", (Passed, None), (Passed, None)),
        // No timestamps: nothing is fresh.
        ("fresh", (Failed, None), (Failed, None)),
    ];
    for (table, rows) in [("empty", 0u64), ("nulls", 3)] {
        let rules = column_rules(&fx.dataset(table));
        let plan = single_plan(&rules);
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
        for ((name, on_empty, on_nulls), outcome) in expected.iter().zip(&outcomes) {
            assert_eq!(outcome.rule.as_str(), *name);
            let (status, observed) = if table == "empty" { on_empty } else { on_nulls };
            assert_eq!(
                (outcome.verdict.status, outcome.verdict.observed),
                (*status, *observed),
                "{table}.{name}: {}",
                outcome.verdict.message
            );
            let observation = outcome.observation.as_ref().unwrap();
            assert_eq!(observation.row_count, Some(rows), "{table}.{name}");
        }
        let fresh = outcomes.last().unwrap();
        assert!(
            fresh.verdict.message.contains("no non-NULL c values"),
            "{}",
            fresh.verdict.message
        );
    }
}

async fn missing_tables_and_schemas_are_errors_naming_them(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.exec(&format!("CREATE TABLE {} (c text)", fx.dataset("present")))
        .await;
    let datasets = match &fx {
        Fixture::Sqlite(_) => vec!["missing".to_string(), "other.present".to_string()],
        // An index is a relation, but no dataset; an unqualified name
        // resolves by search_path, where the test schema is not.
        Fixture::Postgres(pg) => {
            pg.exec(&format!(
                "CREATE INDEX present_c ON {} (c)",
                pg.dataset("present")
            ))
            .await;
            vec![
                pg.dataset("missing"),
                "dq_no_such_schema.present".to_string(),
                pg.dataset("present_c"),
                "present".to_string(),
            ]
        }
    };
    let target = fx.target().await;
    for dataset in &datasets {
        let mut rules = column_rules(dataset);
        rules.push(rule(
            "schema",
            dataset,
            Check::Schema {
                columns: vec![col("c")],
                types: Default::default(),
            },
            Bounds::at_most(0.0),
        ));
        let plan = single_plan(&rules);
        let before = target.query_stats();
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
        for outcome in &outcomes {
            assert_eq!(outcome.verdict.status, RunStatus::Error, "{}", outcome.rule);
            assert_eq!(
                outcome.verdict.message,
                format!("dataset {dataset} not found on target local")
            );
            assert!(outcome.observation.is_none());
            assert!(
                !outcome.retriable,
                "a missing table does not appear by retrying"
            );
        }
        // The catalogue query finds no table and stops the scan.
        let issued = target.query_stats().since(&before);
        assert_eq!(issued.total(), 1, "{issued:?}");
    }
}

async fn a_closed_target_gives_retriable_errors(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    assert_eq!(target.name(), "local");
    target.close().await;
    let rules = vec![rule(
        "rows",
        &fx.dataset("orders"),
        Check::RowCount,
        Bounds::at_least(1.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(outcomes[0].verdict.status, RunStatus::Error);
    assert!(outcomes[0].retriable, "{}", outcomes[0].verdict.message);
    assert!(
        outcomes[0]
            .verdict
            .message
            .starts_with("cannot connect to target local"),
        "{}",
        outcomes[0].verdict.message
    );
}

on_each_backend!(
    empty_and_all_null_tables,
    missing_tables_and_schemas_are_errors_naming_them,
    a_closed_target_gives_retriable_errors,
);

#[tokio::test]
async fn an_invalid_regex_fails_only_its_own_rule() {
    let db = orders::db().await;
    let target = db.target().await;
    let rules = vec![
        rule("rows", "orders", Check::RowCount, Bounds::at_least(1.0)),
        rule(
            "bad_regex",
            "orders",
            Check::Regex {
                column: col("email"),
                pattern: Pattern::Regex("([a-z".into()),
            },
            Bounds::at_most(0.0),
        ),
        rule(
            "good_regex",
            "orders",
            Check::Regex {
                column: col("email"),
                pattern: Pattern::Format(NamedFormat::Email),
            },
            Bounds::at_most(10.0),
        ),
    ];
    let plan = single_plan(&rules);
    let before = target.query_stats();
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    let statuses: Vec<_> = outcomes.iter().map(|o| o.verdict.status).collect();
    assert_eq!(
        statuses,
        [RunStatus::Passed, RunStatus::Error, RunStatus::Passed]
    );
    assert!(
        outcomes[1]
            .verdict
            .message
            .contains("not a valid regular expression"),
        "{}",
        outcomes[1].verdict.message
    );
    assert_eq!(outcomes[0].verdict.observed, Some(orders::ROWS as f64));
    assert_eq!(
        outcomes[2].verdict.observed,
        Some(orders::BAD_EMAILS as f64)
    );
    // The failed fused scan, then one retry per aggregate.
    assert_eq!(target.query_stats().since(&before).aggregate, 4);
}

#[tokio::test]
async fn one_bad_column_fails_only_its_own_rule() {
    let db = orders::db().await;
    let target = db.target().await;
    let rules = vec![
        rule("rows", "orders", Check::RowCount, Bounds::at_least(1.0)),
        null_count("typo", "orders", "custmer_id", Bounds::at_most(0.0)),
        null_count("nulls", "orders", "customer_id", Bounds::at_most(10.0)),
    ];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(outcomes[0].verdict.status, RunStatus::Passed);
    assert_eq!(outcomes[0].verdict.observed, Some(orders::ROWS as f64));
    assert_eq!(outcomes[1].verdict.status, RunStatus::Error);
    assert_eq!(
        outcomes[1].verdict.message,
        "column custmer_id not found in dataset orders on target local"
    );
    assert_eq!(outcomes[2].verdict.status, RunStatus::Passed);
    assert_eq!(
        outcomes[2].verdict.observed,
        Some(orders::NULL_CUSTOMERS as f64)
    );
}

#[tokio::test]
async fn connect_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.db");
    let url = format!("sqlite://{}", missing.display());
    let error = Target::connect("warehouse", &url).await.unwrap_err();
    assert!(matches!(error, TargetError::Connect { .. }), "{error:?}");
    assert!(error.is_retriable());
    let message = error.to_string();
    assert!(message.contains("warehouse"), "{message}");
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    // Connecting read-only never creates the file.
    assert!(!missing.exists());

    // A directory is no database.
    let url = format!("sqlite:{}", dir.path().display());
    let error = Target::connect("warehouse", &url).await.unwrap_err();
    assert!(matches!(error, TargetError::Connect { .. }), "{error:?}");

    for url in ["mysql://localhost/db", "sqlite::memory:", "orders.db"] {
        let error = Target::connect("x", url).await.unwrap_err();
        assert!(
            matches!(error, TargetError::Unsupported { .. }),
            "{url}: {error:?}"
        );
        assert!(!error.is_retriable());
    }
}
