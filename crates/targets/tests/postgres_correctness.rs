//! Every check kind on PostgreSQL against the `orders` fixture (defects
//! known exactly): the observed value must equal the known number and a
//! hand-written query, and all of it must come from one fused aggregate
//! statement, one duplicate statement and one catalogue query.

mod common;

use std::collections::BTreeMap;

use common::pg::Schema;
use common::{bounds, col, options, orders, rule, single_plan};
use dq_core::{
    Bounds, Check, CustomSqlMode, Literal, MetricRequest, MetricValue, NamedFormat, Pattern,
    RowPredicate, Rule, RunStatus,
};
use dq_targets::{compute_metrics, execute};
use serde_json::json;

struct Case {
    rule: Rule,
    expected: f64,
    /// Computes the same number without dq, on the writer connection.
    hand_sql: String,
    status: RunStatus,
}

fn now() -> chrono::DateTime<chrono::Utc> {
    orders::max_timestamp() + chrono::Duration::hours(1)
}

fn cases(pg: &Schema) -> Vec<Case> {
    let ds = pg.dataset("orders");
    let t = format!("\"{}\".orders", pg.name);
    let case = |rule: Rule, expected: f64, hand_sql: String, status: RunStatus| Case {
        rule,
        expected,
        hand_sql,
        status,
    };
    let max = Bounds::at_most;
    let accepted: Vec<Literal> = orders::ACCEPTED
        .iter()
        .map(|s| Literal::Text(s.to_string()))
        .collect();
    let email = NamedFormat::Email.regex();
    let mut warned_nulls = rule(
        "null_rate_warned",
        &ds,
        Check::NullRate {
            column: col("customer_id"),
        },
        max(0.01),
    );
    warned_nulls.thresholds.warn = max(0.005);
    let null_rate_sql =
        format!("SELECT count(*) FILTER (WHERE customer_id IS NULL)::float8 / count(*) FROM {t}");
    let age_sql = format!(
        "SELECT {} - extract(epoch FROM max(updated_at)) FROM {t}",
        now().timestamp()
    );
    let oid = format!("'{t}'::regclass");
    vec![
        case(
            rule("row_count", &ds, Check::RowCount, bounds(Some(1.0), None)),
            orders::ROWS as f64,
            format!("SELECT count(*) FROM {t}"),
            RunStatus::Passed,
        ),
        case(
            rule("not_empty", &ds, Check::NotEmpty, Bounds::at_least(1.0)),
            orders::ROWS as f64,
            format!("SELECT count(*) FROM {t}"),
            RunStatus::Passed,
        ),
        case(
            rule(
                "null_count",
                &ds,
                Check::NullCount {
                    column: col("customer_id"),
                },
                max(0.0),
            ),
            orders::NULL_CUSTOMERS as f64,
            format!("SELECT count(*) FROM {t} WHERE customer_id IS NULL"),
            RunStatus::Failed,
        ),
        case(
            rule(
                "null_rate",
                &ds,
                Check::NullRate {
                    column: col("customer_id"),
                },
                max(0.01),
            ),
            orders::NULL_CUSTOMERS as f64 / orders::ROWS as f64,
            null_rate_sql.clone(),
            RunStatus::Passed,
        ),
        case(
            warned_nulls,
            orders::NULL_CUSTOMERS as f64 / orders::ROWS as f64,
            null_rate_sql,
            RunStatus::Warned,
        ),
        case(
            rule(
                "duplicate_count",
                &ds,
                Check::DuplicateCount {
                    column: col("customer_id"),
                },
                max(0.0),
            ),
            orders::DUPLICATE_ROWS as f64,
            format!(
                "SELECT count(*) FROM {t} WHERE customer_id IN \
                 (SELECT customer_id FROM {t} GROUP BY customer_id HAVING count(*) > 1)"
            ),
            RunStatus::Failed,
        ),
        case(
            rule(
                "accepted_values",
                &ds,
                Check::AcceptedValues {
                    column: col("status"),
                    values: accepted,
                },
                max(0.0),
            ),
            orders::BAD_STATUSES as f64,
            format!("SELECT count(*) FROM {t} WHERE status NOT IN ('paid', 'pending', 'shipped')"),
            RunStatus::Failed,
        ),
        case(
            rule(
                "value_range",
                &ds,
                Check::ValueRange {
                    column: col("amount"),
                    min_value: Some(0.0),
                    max_value: Some(1000.0),
                    avg: Bounds::default(),
                },
                max(0.0),
            ),
            orders::OUT_OF_RANGE as f64,
            format!("SELECT count(*) FROM {t} WHERE amount < 0 OR amount > 1000"),
            RunStatus::Failed,
        ),
        case(
            rule(
                "value_range_within_wide_bounds",
                &ds,
                Check::ValueRange {
                    column: col("amount"),
                    min_value: Some(-10.0),
                    max_value: Some(2000.0),
                    avg: bounds(Some(0.0), Some(100.0)),
                },
                max(0.0),
            ),
            0.0,
            format!("SELECT count(*) FROM {t} WHERE amount < -10 OR amount > 2000"),
            RunStatus::Passed,
        ),
        case(
            rule(
                "regex_email",
                &ds,
                Check::Regex {
                    column: col("email"),
                    pattern: Pattern::Format(NamedFormat::Email),
                },
                max(0.0),
            ),
            orders::BAD_EMAILS as f64,
            format!("SELECT count(*) FROM {t} WHERE email !~ '{email}'"),
            RunStatus::Failed,
        ),
        case(
            rule(
                "string_length",
                &ds,
                Check::StringLength {
                    column: col("code"),
                    min_length: Some(3),
                    max_length: Some(5),
                },
                max(0.0),
            ),
            orders::BAD_LENGTHS as f64,
            format!("SELECT count(*) FROM {t} WHERE length(code) NOT BETWEEN 3 AND 5"),
            RunStatus::Failed,
        ),
        case(
            rule(
                "fresh_within_2h",
                &ds,
                Check::Freshness {
                    column: col("updated_at"),
                },
                max(7200.0),
            ),
            3600.0,
            age_sql.clone(),
            RunStatus::Passed,
        ),
        case(
            rule(
                "fresh_within_30m",
                &ds,
                Check::Freshness {
                    column: col("updated_at"),
                },
                max(1800.0),
            ),
            3600.0,
            age_sql,
            RunStatus::Failed,
        ),
        case(
            rule(
                "schema",
                &ds,
                Check::Schema {
                    columns: vec![col("id"), col("customer_id"), col("missing_col")],
                    types: BTreeMap::from([
                        (col("amount"), "NUMERIC(10,2)".to_string()),
                        (col("updated_at"), "timestamp with time zone".to_string()),
                        (col("status"), "integer".to_string()),
                    ]),
                },
                max(0.0),
            ),
            2.0,
            format!(
                "SELECT (SELECT count(*) FROM unnest(array['id', 'customer_id', 'missing_col']) n \
                   WHERE n NOT IN (SELECT attname FROM pg_attribute WHERE attrelid = {oid} AND attnum > 0)) \
                 + (SELECT count(*) FROM pg_attribute WHERE attrelid = {oid} \
                   AND ((attname = 'amount' AND format_type(atttypid, atttypmod) <> 'numeric(10,2)') \
                     OR (attname = 'updated_at' AND format_type(atttypid, atttypmod) <> 'timestamp with time zone') \
                     OR (attname = 'status' AND format_type(atttypid, atttypmod) <> 'integer')))"
            ),
            RunStatus::Failed,
        ),
        case(
            rule(
                "custom_rows",
                &ds,
                Check::CustomSql {
                    sql: format!("SELECT id, amount FROM {t} WHERE amount < 0;"),
                    mode: CustomSqlMode::Rows,
                },
                max(0.0),
            ),
            1.0,
            format!("SELECT count(*) FROM {t} WHERE amount < 0"),
            RunStatus::Failed,
        ),
        case(
            rule(
                "custom_scalar",
                &ds,
                Check::CustomSql {
                    sql: format!("SELECT max(amount) FROM {t}"),
                    mode: CustomSqlMode::Scalar,
                },
                bounds(None, Some(2000.0)),
            ),
            1500.0,
            format!("SELECT max(amount) FROM {t}"),
            RunStatus::Passed,
        ),
    ]
}

#[tokio::test]
async fn every_check_kind_observes_the_known_value_in_one_fused_scan() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let cases = cases(&pg);
    let rules: Vec<Rule> = cases.iter().map(|c| c.rule.clone()).collect();
    let plan = single_plan(&rules);

    let before = target.query_stats();
    let outcomes = execute(&target, &plan, &options(now(), 5)).await;
    let issued = target.query_stats().since(&before);

    assert_eq!(outcomes.len(), cases.len());
    for (case, outcome) in cases.iter().zip(&outcomes) {
        let name = case.rule.name.as_str();
        assert_eq!(
            outcome.verdict.status, case.status,
            "{name}: {}",
            outcome.verdict.message
        );
        let observed = outcome.verdict.observed.unwrap_or(f64::NAN);
        let by_hand = pg.number(&case.hand_sql).await.unwrap_or(f64::NAN);
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
        assert_eq!(outcome.effective_sample_size, None, "{name}: no sampling");
    }
    let schema = &outcomes[13];
    assert_eq!(
        schema.observation.as_ref().unwrap().problems,
        [
            "missing column missing_col",
            "column status is text (expected integer)"
        ]
    );

    // One fused aggregate for every scan metric of 16 rules, one duplicate
    // statement (which also brought the duplicate rule's samples), one
    // catalogue query, one query per custom SQL rule; the rest are bounded
    // sample fetches, one per other FAILED or WARNED row-level rule.
    let sampled = outcomes
        .iter()
        .zip(&cases)
        .filter(|(o, c)| o.verdict.status.is_violation() && c.rule.check.sample_request().is_some())
        .count() as u64;
    assert_eq!(sampled, 8, "7 FAILED and 1 WARNED row-level rules");
    assert_eq!(issued.aggregate, 1, "{issued:?}");
    assert_eq!(issued.group_by, 1, "{issued:?}");
    assert_eq!(issued.catalogue, 1, "{issued:?}");
    assert_eq!(issued.custom, 2, "{issued:?}");
    assert_eq!(issued.sample, sampled - 1, "{issued:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| o.samples.len() <= 5
                && (o.verdict.status.is_violation() || o.samples.is_empty()))
    );
}

#[tokio::test]
async fn a_failed_duplicate_rule_shows_the_most_repeated_values_without_a_query() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let ds = pg.dataset("orders");
    let rules = vec![
        rule(
            "dups",
            &ds,
            Check::DuplicateCount {
                column: col("customer_id"),
            },
            Bounds::at_most(0.0),
        ),
        rule(
            "dup_emails",
            &ds,
            Check::DuplicateCount {
                column: col("email"),
            },
            Bounds::at_most(0.0),
        ),
    ];
    let plan = single_plan(&rules);
    for limit in [1usize, 2, 5] {
        let before = target.query_stats();
        let outcomes = execute(&target, &plan, &options(now(), limit)).await;
        let issued = target.query_stats().since(&before);
        assert_eq!(outcomes[0].verdict.status, RunStatus::Failed);
        let expected = [
            json!({"customer_id": 5001, "occurrences": 3}),
            json!({"customer_id": 5002, "occurrences": 2}),
            json!({"customer_id": 5003, "occurrences": 2}),
            json!({"customer_id": 5004, "occurrences": 2}),
        ];
        assert_eq!(
            outcomes[0].samples,
            expected[..limit.min(4)],
            "limit {limit}"
        );
        let keys: Vec<&String> = outcomes[0].samples[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["customer_id", "occurrences"]);
        // No duplicate emails: passed, nothing to show.
        assert_eq!(outcomes[1].verdict.status, RunStatus::Passed);
        assert!(outcomes[1].samples.is_empty());
        assert_eq!(issued.group_by, 2, "{issued:?}");
        assert_eq!(issued.sample, 0, "{issued:?}");
        assert_eq!(issued.total(), 4, "{issued:?}");
    }
}

#[tokio::test]
async fn value_range_avg_is_the_average_of_non_null_values() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let rules = vec![rule(
        "avg_too_high",
        &pg.dataset("orders"),
        Check::ValueRange {
            column: col("amount"),
            min_value: None,
            max_value: None,
            avg: Bounds::at_most(10.0),
        },
        Bounds::at_most(0.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(now(), 5)).await;
    let observation = outcomes[0].observation.as_ref().unwrap();
    let avg = observation
        .measures
        .iter()
        .find(|m| m.name == "avg(amount)")
        .and_then(|m| m.value)
        .unwrap();
    let by_hand = pg
        .number(&format!("SELECT avg(amount) FROM {}", pg.dataset("orders")))
        .await
        .unwrap();
    assert!((avg - by_hand).abs() < 1e-9, "{avg} vs {by_hand}");
    assert_eq!(outcomes[0].verdict.status, RunStatus::Failed);
    assert!(outcomes[0].verdict.message.contains("avg(amount)"));
}

#[tokio::test]
async fn rules_needing_the_same_metric_share_it() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let ds = pg.dataset("orders");
    let customer = || col("customer_id");
    let mut rules = vec![
        rule(
            "nulls_a",
            &ds,
            Check::NullCount { column: customer() },
            Bounds::at_most(10.0),
        ),
        rule(
            "nulls_b",
            &ds,
            Check::NullRate { column: customer() },
            Bounds::at_most(0.5),
        ),
        rule(
            "dups_a",
            &ds,
            Check::DuplicateCount { column: customer() },
            Bounds::at_most(10.0),
        ),
        rule(
            "dups_b",
            &ds,
            Check::DuplicateCount { column: customer() },
            Bounds::at_most(20.0),
        ),
    ];
    for i in 0..10 {
        rules.push(rule(
            &format!("rows_{i}"),
            &ds,
            Check::RowCount,
            Bounds::at_least(1.0),
        ));
    }
    let plan = single_plan(&rules);
    assert_eq!(plan.metrics.len(), 3, "{:?}", plan.metrics);
    let before = target.query_stats();
    let outcomes = execute(&target, &plan, &options(now(), 5)).await;
    let issued = target.query_stats().since(&before);
    assert!(outcomes
        .iter()
        .all(|o| o.verdict.status == RunStatus::Passed));
    assert_eq!(
        outcomes[0].verdict.observed,
        Some(orders::NULL_CUSTOMERS as f64)
    );
    assert_eq!(
        outcomes[3].verdict.observed,
        Some(orders::DUPLICATE_ROWS as f64)
    );
    assert_eq!(
        (issued.aggregate, issued.group_by, issued.catalogue),
        (1, 1, 1)
    );
    assert_eq!(issued.total(), 3, "{issued:?}");
}

#[tokio::test]
async fn compute_metrics_returns_every_metric_by_key() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let ds = pg.dataset("orders");
    let rules = vec![
        rule(
            "nulls",
            &ds,
            Check::NullCount {
                column: col("customer_id"),
            },
            Bounds::at_most(0.0),
        ),
        rule(
            "fresh",
            &ds,
            Check::Freshness {
                column: col("updated_at"),
            },
            Bounds::at_most(60.0),
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
    let metrics = compute_metrics(&target, &plan, &options(now(), 5))
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
    assert_eq!(
        number(MetricRequest::MaxTimestamp(col("updated_at"))),
        Some(orders::max_timestamp().timestamp() as f64)
    );
    assert_eq!(metrics.len(), 4);
}
