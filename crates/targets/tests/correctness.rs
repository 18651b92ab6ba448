//! Every check kind against a table whose defects are known exactly, on
//! both backends: the observed value must equal the known number and a
//! hand-written query, and all of it must come from one fused aggregate
//! scan, one duplicate statement and one catalogue query.

mod common;

use std::collections::BTreeMap;

use common::{
    bounds, col, custom, duplicate_count, null_count, on_each_backend, options, orders, rule,
    single_plan, Backend, Fixture,
};
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

fn now() -> chrono::DateTime<chrono::Utc> {
    orders::max_timestamp() + chrono::Duration::hours(1)
}

/// The cases on `fx`'s `orders`, hand-written SQL in its dialect.
fn cases(fx: &Fixture) -> Vec<Case> {
    let t = fx.dataset("orders");
    let t = t.as_str();
    let max = |m: f64| Bounds::at_most(m);
    let accepted: Vec<Literal> = orders::ACCEPTED
        .iter()
        .map(|s| Literal::Text(s.to_string()))
        .collect();
    let email = NamedFormat::Email.regex();
    let null_rate_sql = fx.pick(
        format!(
            "SELECT CAST(count(*) FILTER (WHERE customer_id IS NULL) AS REAL) / count(*) FROM {t}"
        ),
        format!("SELECT count(*) FILTER (WHERE customer_id IS NULL)::float8 / count(*) FROM {t}"),
    );
    let email_sql = fx.pick(
        format!("SELECT count(*) FROM {t} WHERE NOT (email REGEXP '{email}')"),
        format!("SELECT count(*) FROM {t} WHERE email !~ '{email}'"),
    );
    let latest = fx.pick(
        "max(CASE WHEN typeof(updated_at) = 'integer' THEN updated_at \
         ELSE CAST(strftime('%s', updated_at) AS INTEGER) END)",
        "extract(epoch FROM max(updated_at))",
    );
    let age_sql = format!("SELECT {} - {latest} FROM {t}", now().timestamp());
    // SQLite's declared types, PostgreSQL's format_type names.
    let types = fx.pick(
        vec![("amount", "real"), ("status", "INTEGER")],
        vec![
            ("amount", "NUMERIC(10,2)"),
            ("updated_at", "timestamp with time zone"),
            ("status", "integer"),
        ],
    );
    let oid = format!("'{t}'::regclass");
    let schema_sql = fx.pick(
        "SELECT (SELECT count(*) FROM (SELECT 'id' AS n UNION ALL SELECT 'customer_id' \
         UNION ALL SELECT 'missing_col') WHERE n NOT IN (SELECT name FROM pragma_table_info('orders'))) \
         + (SELECT count(*) FROM pragma_table_info('orders') \
            WHERE (name = 'amount' AND upper(type) <> 'REAL') OR (name = 'status' AND upper(type) <> 'INTEGER'))"
            .to_string(),
        format!(
            "SELECT (SELECT count(*) FROM unnest(array['id', 'customer_id', 'missing_col']) n \
               WHERE n NOT IN (SELECT attname FROM pg_attribute WHERE attrelid = {oid} AND attnum > 0)) \
             + (SELECT count(*) FROM pg_attribute WHERE attrelid = {oid} \
               AND ((attname = 'amount' AND format_type(atttypid, atttypmod) <> 'numeric(10,2)') \
                 OR (attname = 'updated_at' AND format_type(atttypid, atttypmod) <> 'timestamp with time zone') \
                 OR (attname = 'status' AND format_type(atttypid, atttypmod) <> 'integer')))"
        ),
    );
    let mut warned_nulls = rule(
        "null_rate_warned",
        t,
        Check::NullRate {
            column: col("customer_id"),
        },
        max(0.01),
    );
    warned_nulls.thresholds.warn = max(0.005);
    vec![
        case(
            rule("row_count", t, Check::RowCount, bounds(Some(1.0), None)),
            orders::ROWS as f64,
            &format!("SELECT count(*) FROM {t}"),
            RunStatus::Passed,
        ),
        case(
            rule("not_empty", t, Check::NotEmpty, Bounds::at_least(1.0)),
            orders::ROWS as f64,
            &format!("SELECT count(*) FROM {t}"),
            RunStatus::Passed,
        ),
        case(
            null_count("null_count", t, "customer_id", max(0.0)),
            orders::NULL_CUSTOMERS as f64,
            &format!("SELECT count(*) FROM {t} WHERE customer_id IS NULL"),
            RunStatus::Failed,
        ),
        case(
            rule(
                "null_rate",
                t,
                Check::NullRate {
                    column: col("customer_id"),
                },
                max(0.01),
            ),
            orders::NULL_CUSTOMERS as f64 / orders::ROWS as f64,
            &null_rate_sql,
            RunStatus::Passed,
        ),
        case(
            warned_nulls,
            orders::NULL_CUSTOMERS as f64 / orders::ROWS as f64,
            &null_rate_sql,
            RunStatus::Warned,
        ),
        case(
            duplicate_count("duplicate_count", t, "customer_id", max(0.0)),
            orders::DUPLICATE_ROWS as f64,
            &format!(
                "SELECT count(*) FROM {t} WHERE customer_id IN \
                 (SELECT customer_id FROM {t} GROUP BY customer_id HAVING count(*) > 1)"
            ),
            RunStatus::Failed,
        ),
        case(
            rule(
                "accepted_values",
                t,
                Check::AcceptedValues {
                    column: col("status"),
                    values: accepted,
                },
                max(0.0),
            ),
            orders::BAD_STATUSES as f64,
            &format!("SELECT count(*) FROM {t} WHERE status NOT IN ('paid', 'pending', 'shipped')"),
            RunStatus::Failed,
        ),
        case(
            rule(
                "value_range",
                t,
                Check::ValueRange {
                    column: col("amount"),
                    min_value: Some(0.0),
                    max_value: Some(1000.0),
                    avg: Bounds::default(),
                },
                max(0.0),
            ),
            orders::OUT_OF_RANGE as f64,
            &format!("SELECT count(*) FROM {t} WHERE amount < 0 OR amount > 1000"),
            RunStatus::Failed,
        ),
        case(
            rule(
                "value_range_within_wide_bounds",
                t,
                Check::ValueRange {
                    column: col("amount"),
                    min_value: Some(-10.0),
                    max_value: Some(2000.0),
                    avg: bounds(Some(0.0), Some(100.0)),
                },
                max(0.0),
            ),
            0.0,
            &format!("SELECT count(*) FROM {t} WHERE amount < -10 OR amount > 2000"),
            RunStatus::Passed,
        ),
        case(
            rule(
                "regex_email",
                t,
                Check::Regex {
                    column: col("email"),
                    pattern: Pattern::Format(NamedFormat::Email),
                },
                max(0.0),
            ),
            orders::BAD_EMAILS as f64,
            &email_sql,
            RunStatus::Failed,
        ),
        case(
            rule(
                "string_length",
                t,
                Check::StringLength {
                    column: col("code"),
                    min_length: Some(3),
                    max_length: Some(5),
                },
                max(0.0),
            ),
            orders::BAD_LENGTHS as f64,
            &format!("SELECT count(*) FROM {t} WHERE length(code) NOT BETWEEN 3 AND 5"),
            RunStatus::Failed,
        ),
        case(
            rule(
                "fresh_within_2h",
                t,
                Check::Freshness {
                    column: col("updated_at"),
                },
                max(7200.0),
            ),
            3600.0,
            &age_sql,
            RunStatus::Passed,
        ),
        case(
            rule(
                "fresh_within_30m",
                t,
                Check::Freshness {
                    column: col("updated_at"),
                },
                max(1800.0),
            ),
            3600.0,
            &age_sql,
            RunStatus::Failed,
        ),
        case(
            rule(
                "schema",
                t,
                Check::Schema {
                    columns: vec![col("id"), col("customer_id"), col("missing_col")],
                    types: BTreeMap::from_iter(
                        types.into_iter().map(|(c, ty)| (col(c), ty.to_string())),
                    ),
                },
                max(0.0),
            ),
            2.0,
            &schema_sql,
            RunStatus::Failed,
        ),
        case(
            custom(
                "custom_rows",
                t,
                &format!("SELECT id, amount FROM {t} WHERE amount < 0;"),
                CustomSqlMode::Rows,
                max(0.0),
            ),
            1.0,
            &format!("SELECT count(*) FROM {t} WHERE amount < 0"),
            RunStatus::Failed,
        ),
        case(
            custom(
                "custom_scalar",
                t,
                &format!("SELECT max(amount) FROM {t}"),
                CustomSqlMode::Scalar,
                bounds(None, Some(2000.0)),
            ),
            1500.0,
            &format!("SELECT max(amount) FROM {t}"),
            RunStatus::Passed,
        ),
    ]
}

async fn every_check_kind_observes_the_known_value_in_one_fused_scan(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    let cases = cases(&fx);
    let rules: Vec<Rule> = cases.iter().map(|c| c.rule.clone()).collect();
    let plan = single_plan(&rules);

    let before = target.query_stats();
    let outcomes = execute(&target, &plan, &options(now(), 5)).await;
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
        let by_hand = fx.number(&case.hand_sql).await.unwrap_or(f64::NAN);
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
    let schema = &outcomes[13];
    assert_eq!(
        schema.observation.as_ref().unwrap().problems,
        [
            "missing column missing_col",
            fx.pick(
                "column status is TEXT (expected INTEGER)",
                "column status is text (expected integer)"
            )
        ]
    );

    // One fused aggregate for every scan metric of 16 rules, one GROUP BY
    // for the one duplicate column, one catalogue query, one query per
    // custom SQL rule; the rest are bounded sample fetches, one per FAILED
    // or WARNED row-level rule, except on PostgreSQL for the duplicate rule
    // (its GROUP BY brought the most repeated values).
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
    assert_eq!(issued.sample, fx.pick(sampled, sampled - 1), "{issued:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| o.samples.len() <= 5
                && (o.verdict.status.is_violation() || o.samples.is_empty()))
    );
}

async fn value_range_avg_is_the_average_of_non_null_values(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    let ds = fx.dataset("orders");
    let rules = vec![rule(
        "avg_too_high",
        &ds,
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
    let outcome = &outcomes[0];
    let observation = outcome.observation.as_ref().unwrap();
    let avg = observation
        .measures
        .iter()
        .find(|m| m.name == "avg(amount)")
        .and_then(|m| m.value)
        .unwrap();
    let by_hand = fx
        .number(&format!("SELECT avg(amount) FROM {ds}"))
        .await
        .unwrap();
    assert!((avg - by_hand).abs() < 1e-9, "{avg} vs {by_hand}");
    assert_eq!(outcome.verdict.status, RunStatus::Failed);
    assert!(
        outcome.verdict.message.contains("avg(amount)"),
        "{}",
        outcome.verdict.message
    );
}

async fn rules_needing_the_same_metric_share_it(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    let ds = fx.dataset("orders");
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
    // row_count, count_where(is_null), duplicate_rows: once each.
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
    for dups in &outcomes[2..4] {
        assert_eq!(dups.verdict.observed, Some(orders::DUPLICATE_ROWS as f64));
    }
    assert_eq!(
        (issued.aggregate, issued.group_by, issued.catalogue),
        (1, 1, 1)
    );
    assert_eq!(issued.total(), 3, "{issued:?}");
}

async fn compute_metrics_returns_every_metric_by_key(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    let ds = fx.dataset("orders");
    let rules = vec![
        null_count("nulls", &ds, "customer_id", Bounds::at_most(0.0)),
        rule(
            "fresh",
            &ds,
            Check::Freshness {
                column: col("updated_at"),
            },
            Bounds::at_most(60.0),
        ),
        duplicate_count("dups", &ds, "customer_id", Bounds::at_most(0.0)),
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
    // On SQLite mixed ISO text and Unix seconds, read as Unix seconds.
    assert_eq!(
        number(MetricRequest::MaxTimestamp(col("updated_at"))),
        Some(orders::max_timestamp().timestamp() as f64)
    );
    assert_eq!(metrics.len(), 4);
}

on_each_backend!(
    every_check_kind_observes_the_known_value_in_one_fused_scan,
    value_range_avg_is_the_average_of_non_null_values,
    rules_needing_the_same_metric_share_it,
    compute_metrics_returns_every_metric_by_key,
);

#[tokio::test]
async fn thresholds_are_judged_by_core() {
    // The warn bound sits inside the fail bound: crossing only it warns.
    let db = orders::db().await;
    let target = db.target().await;
    let mut warned = duplicate_count(
        "dups_warned",
        "orders",
        "customer_id",
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
