//! Failing rows on PostgreSQL: bounded by the limit, really the failing
//! ones, fetched only for violated rules, and every type rendered as the
//! JSON a person expects, in column order.

mod common;

use common::pg::Schema;
use common::{col, options, orders, rule, single_plan};
use dq_core::{Bounds, Check, CustomSqlMode, NamedFormat, Pattern, RowFilter, RunStatus, Scope};
use dq_targets::execute;
use serde_json::{json, Value};

fn ids(samples: &[Value]) -> Vec<i64> {
    samples.iter().map(|s| s["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn samples_are_bounded_and_are_the_failing_rows() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let ds = pg.dataset("orders");
    let max0 = Bounds::at_most(0.0);
    let rules = vec![
        rule(
            "nulls",
            &ds,
            Check::NullCount {
                column: col("customer_id"),
            },
            max0,
        ),
        rule(
            "emails",
            &ds,
            Check::Regex {
                column: col("email"),
                pattern: Pattern::Format(NamedFormat::Email),
            },
            max0,
        ),
        rule(
            "lengths",
            &ds,
            Check::StringLength {
                column: col("code"),
                min_length: Some(3),
                max_length: Some(5),
            },
            max0,
        ),
        rule(
            "statuses",
            &ds,
            Check::AcceptedValues {
                column: col("status"),
                values: orders::ACCEPTED
                    .iter()
                    .map(|s| dq_core::Literal::Text(s.to_string()))
                    .collect(),
            },
            max0,
        ),
        rule(
            "amounts",
            &ds,
            Check::ValueRange {
                column: col("amount"),
                min_value: Some(0.0),
                max_value: Some(1000.0),
                avg: Bounds::default(),
            },
            max0,
        ),
        rule(
            "custom",
            &ds,
            Check::CustomSql {
                sql: format!("SELECT id, amount FROM {ds} WHERE amount < 0 OR amount > 1000"),
                mode: CustomSqlMode::Rows,
            },
            max0,
        ),
        rule("rows", &ds, Check::RowCount, Bounds::at_most(10.0)),
    ];
    let plan = single_plan(&rules);
    for limit in [1usize, 3, 5] {
        let before = target.query_stats();
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), limit)).await;
        let issued = target.query_stats().since(&before);
        let by_name = |name: &str| outcomes.iter().find(|o| o.rule.as_str() == name).unwrap();
        for o in &outcomes {
            assert_eq!(o.verdict.status, RunStatus::Failed, "{}", o.rule);
            assert!(
                o.samples.len() <= limit,
                "{}: {} rows",
                o.rule,
                o.samples.len()
            );
        }
        // (rule, failing ids, rows that fail)
        for (name, failing, total) in [
            ("nulls", (1..=7).collect::<Vec<i64>>(), 7),
            ("emails", vec![20, 21, 22], 3),
            ("lengths", (50..=55).collect(), 6),
            ("statuses", (40..=44).collect(), 5),
            ("amounts", vec![30, 31], 2),
            ("custom", vec![30, 31], 2),
        ] {
            let samples = &by_name(name).samples;
            assert_eq!(samples.len(), limit.min(total), "{name} at limit {limit}");
            assert!(
                ids(samples).iter().all(|id| failing.contains(id)),
                "{name}: {samples:?}"
            );
        }
        assert!(by_name("nulls")
            .samples
            .iter()
            .all(|s| s["customer_id"].is_null()));
        assert!(
            by_name("rows").samples.is_empty(),
            "a row count has no failing rows"
        );
        assert_eq!(issued.sample, 6, "one bounded query per row-level rule");
    }
}

#[tokio::test]
async fn sample_rows_keep_every_column_in_order_with_its_json_type() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let rules = vec![rule(
        "negative",
        &pg.dataset("orders"),
        Check::ValueRange {
            column: col("amount"),
            min_value: Some(0.0),
            max_value: None,
            avg: Bounds::default(),
        },
        Bounds::at_most(0.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(outcomes[0].samples.len(), 1);
    let row = outcomes[0].samples[0].as_object().unwrap();
    let keys: Vec<&str> = row.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "id",
            "customer_id",
            "email",
            "amount",
            "status",
            "code",
            "region",
            "updated_at"
        ]
    );
    assert_eq!(row["id"], json!(30));
    assert_eq!(row["customer_id"], json!(10_030));
    assert_eq!(row["amount"], json!(-5.0));
    assert_eq!(row["email"], json!("user30@example.com"));
    assert_eq!(row["region"], json!("US"));
    // Timestamps as RFC 3339 text, in UTC.
    let updated = row["updated_at"].as_str().unwrap();
    let parsed = chrono::DateTime::parse_from_rfc3339(updated).unwrap();
    assert_eq!(
        parsed,
        orders::max_timestamp() - chrono::Duration::minutes(1000 - 30)
    );
    assert!(updated.ends_with("+00:00"), "{updated}");
}

#[tokio::test]
async fn postgres_types_decode_to_json() {
    let pg = Schema::new().await;
    pg.exec(&format!("CREATE TABLE {}.t (x int)", pg.name))
        .await;
    let target = pg.target().await;
    let big = format!("1{}", "0".repeat(400));
    let cases: Vec<(&str, Value)> = vec![
        ("SELECT 7::int2 AS v", json!(7)),
        ("SELECT 2147483647::int4 AS v", json!(2_147_483_647)),
        (
            "SELECT 9007199254740993::int8 AS v",
            json!(9_007_199_254_740_993_i64),
        ),
        ("SELECT 1.5::float4 AS v", json!(1.5)),
        ("SELECT 0.1::float8 AS v", json!(0.1)),
        ("SELECT 'NaN'::float8 AS v", json!("NaN")),
        ("SELECT 12.50::numeric(6,2) AS v", json!(12.5)),
        ("SELECT 'NaN'::numeric AS v", json!("NaN")),
        ("SELECT 1e400::numeric AS v", json!(big)),
        ("SELECT 'hi'::text AS v", json!("hi")),
        ("SELECT 'hi'::varchar(5) AS v", json!("hi")),
        ("SELECT 'ab'::char(4) AS v", json!("ab  ")),
        ("SELECT true AS v", json!(true)),
        ("SELECT NULL::int AS v", Value::Null),
        (
            "SELECT '2025-06-30 12:00:00+02'::timestamptz AS v",
            json!("2025-06-30T10:00:00+00:00"),
        ),
        (
            "SELECT '2025-06-30 12:00:00'::timestamp AS v",
            json!("2025-06-30T12:00:00"),
        ),
        ("SELECT '2025-06-30'::date AS v", json!("2025-06-30")),
        (
            "SELECT 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid AS v",
            json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ),
        (
            "SELECT '{\"b\": 1, \"a\": [2]}'::json AS v",
            json!({"b": 1, "a": [2]}),
        ),
        (
            "SELECT '{\"b\": 1, \"a\": [2]}'::jsonb AS v",
            json!({"a": [2], "b": 1}),
        ),
        ("SELECT ARRAY[1, 2] AS v", json!([1, 2])),
        ("SELECT '\\x00ff'::bytea AS v", json!("\\x00ff")),
        ("SELECT '1 day'::interval AS v", json!("1 day")),
    ];
    for (select, expected) in cases {
        let rules = vec![rule(
            "decode",
            &pg.dataset("t"),
            Check::CustomSql {
                sql: select.into(),
                mode: CustomSqlMode::Rows,
            },
            Bounds::at_most(0.0),
        )];
        let plan = single_plan(&rules);
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
        assert_eq!(outcomes[0].verdict.status, RunStatus::Failed, "{select}");
        assert_eq!(outcomes[0].samples, [json!({ "v": expected })], "{select}");
    }
    // A name used twice (a join's two ids) is kept, not overwritten.
    let rules = vec![rule(
        "twice",
        &pg.dataset("t"),
        Check::CustomSql {
            sql: "SELECT 1 AS v, 2 AS v, 3 AS w".into(),
            mode: CustomSqlMode::Rows,
        },
        Bounds::at_most(0.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(outcomes[0].samples[0], json!({"v": 1, "v:2": 2, "w": 3}));
}

#[tokio::test]
async fn passing_rules_and_a_zero_limit_fetch_nothing() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let ds = pg.dataset("orders");
    let nulls = |name: &str, max: f64| {
        rule(
            name,
            &ds,
            Check::NullCount {
                column: col("customer_id"),
            },
            Bounds::at_most(max),
        )
    };
    let rules = vec![nulls("nulls_ok", 100.0), nulls("nulls_bad", 0.0)];
    let plan = single_plan(&rules);
    let before = target.query_stats();
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 0)).await;
    assert_eq!(outcomes[0].verdict.status, RunStatus::Passed);
    assert_eq!(outcomes[1].verdict.status, RunStatus::Failed);
    assert!(outcomes.iter().all(|o| o.samples.is_empty()));
    assert_eq!(target.query_stats().since(&before).sample, 0);

    let before = target.query_stats();
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert!(outcomes[0].samples.is_empty());
    assert_eq!(outcomes[1].samples.len(), 5);
    assert_eq!(target.query_stats().since(&before).sample, 1);
}

#[tokio::test]
async fn samples_come_from_the_rules_scope() {
    let pg = Schema::with_orders().await;
    let target = pg.target().await;
    let mut eu_nulls = rule(
        "eu_nulls",
        &pg.dataset("orders"),
        Check::NullCount {
            column: col("customer_id"),
        },
        Bounds::at_most(0.0),
    );
    eu_nulls.scope = Scope {
        filter: Some(RowFilter::new("region = 'EU'").unwrap()),
        ..Scope::default()
    };
    let rules = vec![eu_nulls];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(
        outcomes[0].verdict.observed,
        Some(orders::EU_NULL_CUSTOMERS as f64)
    );
    assert_eq!(
        ids(&outcomes[0].samples),
        [4],
        "the one EU row with no customer"
    );
}
