//! What goes wrong only on PostgreSQL, worded so a person can act on it:
//! an unreachable server is a retriable connection error at connect time
//! (password never shown); a missing or case-mismatched column is an error
//! naming it; one bad rule fails alone. (Empty, all-NULL and missing tables
//! and closed targets, on both backends: edge_cases.rs.)

mod common;

use common::pg::Schema;
use common::{col, duplicate_count, null_count, options, orders, rule, single_plan};
use dq_core::{Bounds, Check, Pattern, RunStatus};
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

#[tokio::test]
async fn one_bad_rule_fails_alone() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let ds = pg.dataset("orders");
    let rules = vec![
        rule("rows", &ds, Check::RowCount, Bounds::at_least(1.0)),
        null_count("typo", &ds, "custmer_id", Bounds::at_most(0.0)),
        // Quoted PostgreSQL names are case-sensitive.
        null_count("case", &ds, "Customer_id", Bounds::at_most(0.0)),
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
        duplicate_count("dup_typo", &ds, "emial", Bounds::at_most(0.0)),
        null_count("nulls", &ds, "customer_id", Bounds::at_most(10.0)),
        duplicate_count("dups", &ds, "customer_id", Bounds::at_most(0.0)),
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
