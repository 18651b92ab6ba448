//! What goes wrong on PostgreSQL, worded so a person can act on it: an
//! unreachable server is a retriable connection error at connect time
//! (password never shown); a missing table, schema or column is an error
//! naming it; one bad rule fails alone; empty and all-NULL tables judge
//! like SQLite's.

mod common;

use common::pg::Schema;
use common::{col, options, orders, rule, single_plan};
use dq_core::{Bounds, Check, Literal, NamedFormat, Pattern, Rule, RunStatus};
use dq_targets::{execute, Target, TargetError};

/// `url` with its database (path) replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, _) = url.split_once('?').unwrap_or((url, ""));
    let slash = base.rfind('/').unwrap();
    format!("{}/{database}", &base[..slash])
}

/// `url` with its user info replaced.
fn with_user(url: &str, userinfo: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let host = match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    format!("{scheme}://{userinfo}@{host}")
}

#[tokio::test]
async fn unreachable_servers_are_retriable_connect_errors_without_passwords() {
    // The server is up, so each failure below is the URL's own.
    let pg = Schema::new().await;
    // (url, words of the cause)
    let cases = [
        (
            "postgres://dq:s3cret@127.0.0.1:1/test".to_string(),
            "refused",
        ),
        (
            with_database(&pg.url, "no_such_database_dq"),
            "\"no_such_database_dq\" does not exist",
        ),
        (
            with_user(&pg.url, "no_such_role_dq:s3cret"),
            "\"no_such_role_dq\"",
        ),
        (
            "postgresql://dq:s3cret@no-such-host.invalid/test".to_string(),
            "lookup address",
        ),
        // This build has no TLS: a server that requires it is unreachable.
        (
            format!("{}?sslmode=require", with_database(&pg.url, "test")),
            "TLS",
        ),
    ];
    for (url, cause) in cases {
        let error = Target::connect("warehouse", &url).await.unwrap_err();
        assert!(
            matches!(error, TargetError::Connect { .. }),
            "{url}: {error:?}"
        );
        assert!(error.is_retriable(), "{url}");
        let message = error.to_string();
        assert!(
            message.starts_with("cannot connect to target warehouse: "),
            "{message}"
        );
        assert!(message.contains(cause), "{url}: {message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
    let error = Target::connect("warehouse", "postgres://dq:s3cret@127.0.0.1:1/test")
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("postgres://dq:***@127.0.0.1:1/test"),
        "{error}"
    );
}

#[tokio::test]
async fn connect_checks_the_server_and_names_the_target() {
    let pg = Schema::new().await;
    for scheme in ["postgres://", "postgresql://"] {
        let url = pg.url.replacen("postgres://", scheme, 1);
        let target = Target::connect("warehouse", &url).await.unwrap();
        assert_eq!(target.name(), "warehouse");
        assert!(matches!(target, Target::Postgres(_)));
        target.close().await;
    }
    for url in ["mysql://u:s3cret@h/db", "sqlite::memory:", "orders.db"] {
        let error = Target::connect("x", url).await.unwrap_err();
        assert!(
            matches!(error, TargetError::Unsupported { .. }),
            "{url}: {error:?}"
        );
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}

/// One rule of each kind that reads column `c` of `dataset`.
fn column_rules(dataset: &str) -> Vec<Rule> {
    let c = || col("c");
    let max0 = Bounds::at_most(0.0);
    vec![
        rule("rows", dataset, Check::RowCount, Bounds::at_least(1.0)),
        rule("null_rate", dataset, Check::NullRate { column: c() }, max0),
        rule(
            "null_count",
            dataset,
            Check::NullCount { column: c() },
            max0,
        ),
        rule("dups", dataset, Check::DuplicateCount { column: c() }, max0),
        rule(
            "accepted",
            dataset,
            Check::AcceptedValues {
                column: c(),
                values: vec![Literal::Text("a".into())],
            },
            max0,
        ),
        rule(
            "regex",
            dataset,
            Check::Regex {
                column: c(),
                pattern: Pattern::Format(NamedFormat::Uuid),
            },
            max0,
        ),
        rule(
            "length",
            dataset,
            Check::StringLength {
                column: c(),
                min_length: Some(1),
                max_length: Some(2),
            },
            max0,
        ),
        rule(
            "avg",
            dataset,
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
            dataset,
            Check::Freshness { column: c() },
            Bounds::at_most(3600.0),
        ),
    ]
}

#[tokio::test]
async fn empty_and_all_null_tables() {
    let pg = Schema::new().await;
    let s = &pg.name;
    // A numeric column: avg, and freshness as Unix seconds, need numbers.
    pg.exec(&format!(
        "CREATE TABLE \"{s}\".empty (c numeric); CREATE TABLE \"{s}\".nulls (c numeric);
         INSERT INTO \"{s}\".nulls VALUES (NULL), (NULL), (NULL);"
    ))
    .await;
    let target = pg.target().await;
    use RunStatus::{Failed, Passed};
    let expected = [
        ("rows", (Failed, Some(0.0)), (Passed, Some(3.0))),
        ("null_rate", (Passed, Some(0.0)), (Failed, Some(1.0))),
        ("null_count", (Passed, Some(0.0)), (Failed, Some(3.0))),
        ("dups", (Passed, Some(0.0)), (Passed, Some(0.0))),
        ("accepted", (Passed, Some(0.0)), (Passed, Some(0.0))),
        ("regex", (Passed, Some(0.0)), (Passed, Some(0.0))),
        ("length", (Passed, Some(0.0)), (Passed, Some(0.0))),
        ("avg", (Passed, None), (Passed, None)),
        ("fresh", (Failed, None), (Failed, None)),
    ];
    for (table, rows) in [("empty", 0u64), ("nulls", 3)] {
        let rules = column_rules(&pg.dataset(table));
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
            assert_eq!(outcome.observation.as_ref().unwrap().row_count, Some(rows));
        }
    }
}

#[tokio::test]
async fn missing_tables_and_schemas_are_errors_naming_them() {
    let pg = Schema::new().await;
    pg.exec(&format!("CREATE TABLE \"{}\".present (c text)", pg.name))
        .await;
    pg.exec(&format!(
        "CREATE INDEX present_c ON \"{}\".present (c)",
        pg.name
    ))
    .await;
    let target = pg.target().await;
    let missing = pg.dataset("missing");
    let index = pg.dataset("present_c");
    for dataset in [
        missing.as_str(),
        "dq_no_such_schema.present",
        index.as_str(),
        "present",
    ] {
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
            assert!(
                !outcome.retriable,
                "a missing table does not appear by retrying"
            );
        }
        // The catalogue query finds nothing and stops the scan.
        assert_eq!(target.query_stats().since(&before).total(), 1);
    }
}

#[tokio::test]
async fn one_bad_rule_fails_alone() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let ds = pg.dataset("orders");
    let rules = vec![
        rule("rows", &ds, Check::RowCount, Bounds::at_least(1.0)),
        rule(
            "typo",
            &ds,
            Check::NullCount {
                column: col("custmer_id"),
            },
            Bounds::at_most(0.0),
        ),
        // Quoted PostgreSQL names are case-sensitive.
        rule(
            "case",
            &ds,
            Check::NullCount {
                column: col("Customer_id"),
            },
            Bounds::at_most(0.0),
        ),
        rule(
            "bad_regex",
            &ds,
            Check::Regex {
                column: col("email"),
                pattern: Pattern::Regex("([a-z".into()),
            },
            Bounds::at_most(0.0),
        ),
        rule(
            "avg_of_text",
            &ds,
            Check::ValueRange {
                column: col("email"),
                min_value: None,
                max_value: None,
                avg: Bounds::at_most(1.0),
            },
            Bounds::at_most(0.0),
        ),
        rule(
            "dup_typo",
            &ds,
            Check::DuplicateCount {
                column: col("emial"),
            },
            Bounds::at_most(0.0),
        ),
        rule(
            "nulls",
            &ds,
            Check::NullCount {
                column: col("customer_id"),
            },
            Bounds::at_most(10.0),
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
    let plan = single_plan(&rules);
    let before = target.query_stats();
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    let issued = target.query_stats().since(&before);
    let not_found =
        |column: &str| format!("column {column} not found in dataset {ds} on target local");
    let expected: [(RunStatus, &str); 8] = [
        (RunStatus::Passed, ""),
        (RunStatus::Error, &not_found("custmer_id")),
        (RunStatus::Error, &not_found("Customer_id")),
        (RunStatus::Error, "not a valid regular expression"),
        (RunStatus::Error, "avg(text)"),
        (RunStatus::Error, &not_found("emial")),
        (RunStatus::Passed, ""),
        (RunStatus::Failed, ""),
    ];
    for ((status, message), outcome) in expected.iter().zip(&outcomes) {
        assert_eq!(
            outcome.verdict.status, *status,
            "{}: {}",
            outcome.rule, outcome.verdict.message
        );
        assert!(
            outcome.verdict.message.contains(message),
            "{}: {}",
            outcome.rule,
            outcome.verdict.message
        );
    }
    assert_eq!(outcomes[0].verdict.observed, Some(orders::ROWS as f64));
    assert_eq!(
        outcomes[6].verdict.observed,
        Some(orders::NULL_CUSTOMERS as f64)
    );
    assert_eq!(
        outcomes[7].verdict.observed,
        Some(orders::DUPLICATE_ROWS as f64)
    );
    assert_eq!(
        outcomes[7].samples.len(),
        4,
        "prefetched after the failed statements"
    );
    // The failed fused scan, then one retry per aggregate (rows, bad regex,
    // avg, nulls); a missing column costs no query.
    assert_eq!(issued.aggregate, 5, "{issued:?}");
    assert_eq!(issued.group_by, 1, "{issued:?}");
}

#[tokio::test]
async fn a_closed_target_gives_retriable_errors() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    target.close().await;
    let rules = vec![rule(
        "rows",
        &pg.dataset("orders"),
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
