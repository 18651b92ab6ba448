//! Every check kind against a table whose defects are known exactly: the
//! observed value must equal the known number and a hand-written query, and
//! all of it must come from one fused aggregate scan.

mod common;

use std::collections::BTreeMap;

use common::{bounds, col, options, orders, rule, single_plan};
use dq_core::{
    Bounds, Check, CustomSqlMode, Literal, MetricRequest, MetricValue, NamedFormat, Pattern,
    RowPredicate, Rule, RunStatus, Thresholds,
};
use dq_targets::{compute_metrics, execute};

struct Case {
    rule: Rule,
    expected: f64,
    /// Computes the same number without dq, on the writer connection.
    hand_sql: String,
    status: RunStatus,
}

fn case(rule: Rule, expected: f64, hand_sql: &str, status: RunStatus) -> Case {
    Case {
        rule,
        expected,
        hand_sql: hand_sql.to_string(),
        status,
    }
}

fn cases() -> Vec<Case> {
    let now = orders::max_timestamp() + chrono::Duration::hours(1);
    let max = |m: f64| Bounds::at_most(m);
    let accepted: Vec<Literal> = orders::ACCEPTED
        .iter()
        .map(|s| Literal::Text(s.to_string()))
        .collect();
    let email = NamedFormat::Email.regex();
    let latest = "max(CASE WHEN typeof(updated_at) = 'integer' THEN updated_at \
                  ELSE CAST(strftime('%s', updated_at) AS INTEGER) END)";
    let mut warned_nulls = rule(
        "null_rate_warned",
        "orders",
        Check::NullRate {
            column: col("customer_id"),
        },
        max(0.01),
    );
    warned_nulls.thresholds.warn = max(0.005);
    vec![
        case(
            rule("row_count", "orders", Check::RowCount, bounds(Some(1.0), None)),
            orders::ROWS as f64,
            "SELECT count(*) FROM orders",
            RunStatus::Passed,
        ),
        case(
            rule("not_empty", "orders", Check::NotEmpty, Bounds::at_least(1.0)),
            orders::ROWS as f64,
            "SELECT count(*) FROM orders",
            RunStatus::Passed,
        ),
        case(
            rule(
                "null_count",
                "orders",
                Check::NullCount {
                    column: col("customer_id"),
                },
                max(0.0),
            ),
            orders::NULL_CUSTOMERS as f64,
            "SELECT count(*) FROM orders WHERE customer_id IS NULL",
            RunStatus::Failed,
        ),
        case(
            rule(
                "null_rate",
                "orders",
                Check::NullRate {
                    column: col("customer_id"),
                },
                max(0.01),
            ),
            orders::NULL_CUSTOMERS as f64 / orders::ROWS as f64,
            "SELECT CAST(count(*) FILTER (WHERE customer_id IS NULL) AS REAL) / count(*) FROM orders",
            RunStatus::Passed,
        ),
        case(
            warned_nulls,
            orders::NULL_CUSTOMERS as f64 / orders::ROWS as f64,
            "SELECT CAST(count(*) FILTER (WHERE customer_id IS NULL) AS REAL) / count(*) FROM orders",
            RunStatus::Warned,
        ),
        case(
            rule(
                "duplicate_count",
                "orders",
                Check::DuplicateCount {
                    column: col("customer_id"),
                },
                max(0.0),
            ),
            orders::DUPLICATE_ROWS as f64,
            "SELECT count(*) FROM orders WHERE customer_id IN \
             (SELECT customer_id FROM orders GROUP BY customer_id HAVING count(*) > 1)",
            RunStatus::Failed,
        ),
        case(
            rule(
                "accepted_values",
                "orders",
                Check::AcceptedValues {
                    column: col("status"),
                    values: accepted,
                },
                max(0.0),
            ),
            orders::BAD_STATUSES as f64,
            "SELECT count(*) FROM orders WHERE status NOT IN ('paid', 'pending', 'shipped')",
            RunStatus::Failed,
        ),
        case(
            rule(
                "value_range",
                "orders",
                Check::ValueRange {
                    column: col("amount"),
                    min_value: Some(0.0),
                    max_value: Some(1000.0),
                    avg: Bounds::default(),
                },
                max(0.0),
            ),
            orders::OUT_OF_RANGE as f64,
            "SELECT count(*) FROM orders WHERE amount < 0 OR amount > 1000",
            RunStatus::Failed,
        ),
        case(
            rule(
                "value_range_within_wide_bounds",
                "orders",
                Check::ValueRange {
                    column: col("amount"),
                    min_value: Some(-10.0),
                    max_value: Some(2000.0),
                    avg: bounds(Some(0.0), Some(100.0)),
                },
                max(0.0),
            ),
            0.0,
            "SELECT count(*) FROM orders WHERE amount < -10 OR amount > 2000",
            RunStatus::Passed,
        ),
        case(
            rule(
                "regex_email",
                "orders",
                Check::Regex {
                    column: col("email"),
                    pattern: Pattern::Format(NamedFormat::Email),
                },
                max(0.0),
            ),
            orders::BAD_EMAILS as f64,
            &format!("SELECT count(*) FROM orders WHERE NOT (email REGEXP '{email}')"),
            RunStatus::Failed,
        ),
        case(
            rule(
                "string_length",
                "orders",
                Check::StringLength {
                    column: col("code"),
                    min_length: Some(3),
                    max_length: Some(5),
                },
                max(0.0),
            ),
            orders::BAD_LENGTHS as f64,
            "SELECT count(*) FROM orders WHERE length(code) NOT BETWEEN 3 AND 5",
            RunStatus::Failed,
        ),
        case(
            rule(
                "fresh_within_2h",
                "orders",
                Check::Freshness {
                    column: col("updated_at"),
                },
                max(7200.0),
            ),
            3600.0,
            &format!("SELECT {} - {latest} FROM orders", now.timestamp()),
            RunStatus::Passed,
        ),
        case(
            rule(
                "fresh_within_30m",
                "orders",
                Check::Freshness {
                    column: col("updated_at"),
                },
                max(1800.0),
            ),
            3600.0,
            &format!("SELECT {} - {latest} FROM orders", now.timestamp()),
            RunStatus::Failed,
        ),
        case(
            rule(
                "schema",
                "orders",
                Check::Schema {
                    columns: vec![col("id"), col("customer_id"), col("missing_col")],
                    types: BTreeMap::from([
                        (col("amount"), "real".to_string()),
                        (col("status"), "INTEGER".to_string()),
                    ]),
                },
                max(0.0),
            ),
            2.0,
            "SELECT (SELECT count(*) FROM (SELECT 'id' AS n UNION ALL SELECT 'customer_id' \
             UNION ALL SELECT 'missing_col') WHERE n NOT IN (SELECT name FROM pragma_table_info('orders'))) \
             + (SELECT count(*) FROM pragma_table_info('orders') \
                WHERE (name = 'amount' AND upper(type) <> 'REAL') OR (name = 'status' AND upper(type) <> 'INTEGER'))",
            RunStatus::Failed,
        ),
        case(
            rule(
                "custom_rows",
                "orders",
                Check::CustomSql {
                    sql: "SELECT id, amount FROM orders WHERE amount < 0;".into(),
                    mode: CustomSqlMode::Rows,
                },
                max(0.0),
            ),
            1.0,
            "SELECT count(*) FROM orders WHERE amount < 0",
            RunStatus::Failed,
        ),
        case(
            rule(
                "custom_scalar",
                "orders",
                Check::CustomSql {
                    sql: "SELECT max(amount) FROM orders".into(),
                    mode: CustomSqlMode::Scalar,
                },
                bounds(None, Some(2000.0)),
            ),
            1500.0,
            "SELECT max(amount) FROM orders",
            RunStatus::Passed,
        ),
    ]
}

#[tokio::test]
async fn every_check_kind_observes_the_known_value_in_one_fused_scan() {
    let db = orders::db().await;
    let target = db.target().await;
    let cases = cases();
    let rules: Vec<Rule> = cases.iter().map(|c| c.rule.clone()).collect();
    let plan = single_plan(&rules);
    let now = orders::max_timestamp() + chrono::Duration::hours(1);

    let before = target.query_stats();
    let outcomes = execute(&target, &plan, &options(now, 5)).await;
    let issued = target.query_stats().since(&before);

    assert_eq!(outcomes.len(), cases.len());
    for (case, outcome) in cases.iter().zip(&outcomes) {
        let name = case.rule.name.as_str();
        assert_eq!(outcome.rule, case.rule.name);
        assert_eq!(
            outcome.verdict.status, case.status,
            "{name}: {}",
            outcome.verdict.message
        );
        let observed = outcome.verdict.observed.unwrap_or(f64::NAN);
        let by_hand = db.number(&case.hand_sql).await.unwrap_or(f64::NAN);
        assert!(
            (observed - case.expected).abs() < 1e-6,
            "{name}: observed {observed}, known {}",
            case.expected
        );
        assert!(
            (observed - by_hand).abs() < 1e-6,
            "{name}: observed {observed}, hand-written SQL {by_hand}"
        );
        assert!(!outcome.retriable, "{name}");
        assert!(outcome.started_at <= outcome.finished_at, "{name}");
        assert_eq!(outcome.effective_sample_size, None, "{name}: no sampling");
    }

    // One fused aggregate for every scan metric of 16 rules, one GROUP BY
    // for the one duplicate column, one catalogue query, one query per
    // custom SQL rule; the rest are bounded sample fetches.
    let sampled = outcomes
        .iter()
        .zip(&cases)
        .filter(|(o, c)| o.verdict.status.is_violation() && c.rule.check.sample_request().is_some())
        .count() as u64;
    assert_eq!(issued.aggregate, 1, "{issued:?}");
    assert_eq!(issued.group_by, 1, "{issued:?}");
    assert_eq!(issued.catalogue, 1, "{issued:?}");
    assert_eq!(issued.custom, 2, "{issued:?}");
    assert_eq!(issued.sample, sampled, "{issued:?}");
    assert_eq!(sampled, 8, "7 FAILED and 1 WARNED row-level rules");
}

#[tokio::test]
async fn value_range_avg_is_the_average_of_non_null_values() {
    let db = orders::db().await;
    let target = db.target().await;
    let rules = vec![rule(
        "avg_too_high",
        "orders",
        Check::ValueRange {
            column: col("amount"),
            min_value: None,
            max_value: None,
            avg: Bounds::at_most(10.0),
        },
        Bounds::at_most(0.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    let outcome = &outcomes[0];
    let observation = outcome.observation.as_ref().unwrap();
    let avg = observation
        .measures
        .iter()
        .find(|m| m.name == "avg(amount)")
        .and_then(|m| m.value)
        .unwrap();
    let by_hand = db.number("SELECT avg(amount) FROM orders").await.unwrap();
    assert!((avg - by_hand).abs() < 1e-9, "{avg} vs {by_hand}");
    assert_eq!(outcome.verdict.status, RunStatus::Failed);
    assert!(
        outcome.verdict.message.contains("avg(amount)"),
        "{}",
        outcome.verdict.message
    );
}

#[tokio::test]
async fn rules_needing_the_same_metric_share_it() {
    let db = orders::db().await;
    let target = db.target().await;
    let customer = || col("customer_id");
    let mut rules = vec![
        rule(
            "nulls_a",
            "orders",
            Check::NullCount { column: customer() },
            Bounds::at_most(10.0),
        ),
        rule(
            "nulls_b",
            "orders",
            Check::NullRate { column: customer() },
            Bounds::at_most(0.5),
        ),
        rule(
            "dups_a",
            "orders",
            Check::DuplicateCount { column: customer() },
            Bounds::at_most(10.0),
        ),
        rule(
            "dups_b",
            "orders",
            Check::DuplicateCount { column: customer() },
            Bounds::at_most(20.0),
        ),
    ];
    for i in 0..10 {
        rules.push(rule(
            &format!("rows_{i}"),
            "orders",
            Check::RowCount,
            Bounds::at_least(1.0),
        ));
    }
    let plan = single_plan(&rules);
    // row_count, count_where(is_null), duplicate_rows: once each.
    assert_eq!(plan.metrics.len(), 3, "{:?}", plan.metrics);

    let before = target.query_stats();
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    let issued = target.query_stats().since(&before);
    assert!(outcomes
        .iter()
        .all(|o| o.verdict.status == RunStatus::Passed));
    assert_eq!(
        outcomes[0].verdict.observed,
        Some(orders::NULL_CUSTOMERS as f64)
    );
    assert_eq!(
        outcomes[2].verdict.observed,
        Some(orders::DUPLICATE_ROWS as f64)
    );
    assert_eq!(
        outcomes[3].verdict.observed,
        Some(orders::DUPLICATE_ROWS as f64)
    );
    assert_eq!(issued.aggregate, 1);
    assert_eq!(issued.group_by, 1);
    assert_eq!(issued.catalogue, 1);
    assert_eq!(issued.total(), 3, "{issued:?}");
}

#[tokio::test]
async fn compute_metrics_returns_every_metric_by_key() {
    let db = orders::db().await;
    let target = db.target().await;
    let rules = vec![
        rule(
            "nulls",
            "orders",
            Check::NullCount {
                column: col("customer_id"),
            },
            Bounds::at_most(0.0),
        ),
        rule(
            "fresh",
            "orders",
            Check::Freshness {
                column: col("updated_at"),
            },
            Bounds::at_most(60.0),
        ),
        rule(
            "dups",
            "orders",
            Check::DuplicateCount {
                column: col("customer_id"),
            },
            Bounds::at_most(0.0),
        ),
    ];
    let plan = single_plan(&rules);
    let metrics = compute_metrics(&target, &plan, &options(chrono::Utc::now(), 5))
        .await
        .unwrap();
    let number = |request: MetricRequest| match metrics.get(&request.key()) {
        Some(MetricValue::Number(v)) => *v,
        other => panic!("{}: {other:?}", request.key()),
    };
    assert_eq!(number(MetricRequest::RowCount), Some(orders::ROWS as f64));
    assert_eq!(
        number(MetricRequest::CountWhere(RowPredicate::IsNull(col(
            "customer_id"
        )))),
        Some(orders::NULL_CUSTOMERS as f64)
    );
    assert_eq!(
        number(MetricRequest::DuplicateRows(col("customer_id"))),
        Some(orders::DUPLICATE_ROWS as f64)
    );
    // Mixed ISO text and Unix seconds, read as Unix seconds.
    assert_eq!(
        number(MetricRequest::MaxTimestamp(col("updated_at"))),
        Some(orders::max_timestamp().timestamp() as f64)
    );
    assert_eq!(metrics.len(), 4);
}

#[tokio::test]
async fn thresholds_are_judged_by_core() {
    // The warn bound sits inside the fail bound: crossing only it warns.
    let db = orders::db().await;
    let target = db.target().await;
    let mut warned = rule(
        "dups_warned",
        "orders",
        Check::DuplicateCount {
            column: col("customer_id"),
        },
        Bounds::at_most(20.0),
    );
    warned.thresholds = Thresholds {
        fail: Bounds::at_most(20.0),
        warn: Bounds::at_most(5.0),
    };
    let rules = vec![warned];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 3)).await;
    assert_eq!(outcomes[0].verdict.status, RunStatus::Warned);
    // A warning is a violation too, so it carries its failing rows.
    assert_eq!(outcomes[0].samples.len(), 3);
}
