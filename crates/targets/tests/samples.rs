//! Failing rows, on both backends: bounded by the limit, really the failing
//! ones, fetched only for violated rules, and every value as JSON. (What
//! each backend shows of a row: here for SQLite, postgres_samples.rs for
//! PostgreSQL.)

mod common;

use common::{
    col, custom, duplicate_count, null_count, on_each_backend, options, orders, rule, single_plan,
    Backend, Fixture,
};
use dq_core::{Bounds, Check, CustomSqlMode, Literal, NamedFormat, Pattern, RunStatus};
use dq_targets::execute;
use serde_json::{json, Value};

fn ids(samples: &[Value]) -> Vec<i64> {
    samples.iter().map(|s| s["id"].as_i64().unwrap()).collect()
}

async fn samples_are_bounded_and_are_the_failing_rows(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    let ds = fx.dataset("orders");
    let max0 = Bounds::at_most(0.0);
    let mut rules = vec![
        null_count("nulls", &ds, "customer_id", max0),
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
                    .map(|s| Literal::Text(s.to_string()))
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
        custom(
            "custom",
            &ds,
            &format!("SELECT id, amount FROM {ds} WHERE amount < 0 OR amount > 1000"),
            CustomSqlMode::Rows,
            max0,
        ),
        rule("rows", &ds, Check::RowCount, Bounds::at_most(10.0)),
    ];
    // SQLite shows a duplicate rule's whole rows, fetched like any other's
    // (PostgreSQL's most repeated values: postgres_correctness.rs).
    let sqlite = backend == Backend::Sqlite;
    if sqlite {
        rules.push(duplicate_count("dups", &ds, "customer_id", max0));
    }
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
        if sqlite {
            // Copies come side by side, ordered by value.
            let dups = &by_name("dups").samples;
            assert_eq!(dups.len(), limit);
            let values: Vec<i64> = dups
                .iter()
                .map(|s| s["customer_id"].as_i64().unwrap())
                .collect();
            assert_eq!(values, [5001, 5001, 5001, 5002, 5002][..limit]);
        }
        assert!(
            by_name("rows").samples.is_empty(),
            "a row count has no failing rows"
        );
        let row_rules = if sqlite { 7 } else { 6 };
        assert_eq!(
            issued.sample, row_rules,
            "one bounded query per row-level rule"
        );
    }
}

async fn values_of_every_type_decode_to_json(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let t = fx.dataset("t");
    fx.exec(&format!("CREATE TABLE {t} (x{})", fx.pick("", " int")))
        .await;
    let target = fx.target().await;
    let cases: Vec<(&str, Value)> = match backend {
        // Decoded by each value's runtime type.
        Backend::Sqlite => vec![
            ("SELECT 7 AS v", json!(7)),
            ("SELECT 1.5 AS v", json!(1.5)),
            ("SELECT 'hi' AS v", json!("hi")),
            ("SELECT NULL AS v", Value::Null),
            ("SELECT x'00ff10' AS v", json!("0x00ff10")),
            ("SELECT zeroblob(100) AS v", json!("<blob 100 bytes>")),
        ],
        // Rendered by the server.
        Backend::Postgres => postgres_types(),
    };
    for (select, expected) in cases {
        let rules = vec![custom(
            "decode",
            &t,
            select,
            CustomSqlMode::Rows,
            Bounds::at_most(0.0),
        )];
        let plan = single_plan(&rules);
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
        assert_eq!(outcomes[0].verdict.status, RunStatus::Failed, "{select}");
        assert_eq!(outcomes[0].samples, [json!({ "v": expected })], "{select}");
    }
    // A name used twice (a join's two ids) is kept, not overwritten.
    // (SQLite itself renames the second one when it reads the subquery.)
    let (sql, expected) = fx.pick(
        ("SELECT 1 AS v, 2 AS v", json!({"v": 1, "v:1": 2})),
        (
            "SELECT 1 AS v, 2 AS v, 3 AS w",
            json!({"v": 1, "v:2": 2, "w": 3}),
        ),
    );
    let rules = vec![custom(
        "twice",
        &t,
        sql,
        CustomSqlMode::Rows,
        Bounds::at_most(0.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(outcomes[0].samples[0], expected);
}

fn postgres_types() -> Vec<(&'static str, Value)> {
    let big = format!("1{}", "0".repeat(400));
    vec![
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
    ]
}

async fn passing_rules_and_a_zero_limit_fetch_nothing(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    let ds = fx.dataset("orders");
    let nulls = |name: &str, max: f64| null_count(name, &ds, "customer_id", Bounds::at_most(max));
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

on_each_backend!(
    samples_are_bounded_and_are_the_failing_rows,
    values_of_every_type_decode_to_json,
    passing_rules_and_a_zero_limit_fetch_nothing,
);

#[tokio::test]
async fn sample_rows_keep_every_column_with_its_json_type() {
    let db = orders::db().await;
    let target = db.target().await;
    let rules = vec![null_count(
        "one_null",
        "orders",
        "customer_id",
        Bounds::at_most(0.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 1)).await;
    let row = outcomes[0].samples[0].as_object().unwrap();
    let keys: Vec<&str> = row.keys().map(|k| k.as_str()).collect();
    for column in orders::COLUMNS {
        assert!(keys.contains(&column), "{column} missing from {keys:?}");
    }
    assert!(row["id"].is_i64());
    assert!(row["amount"].is_f64());
    assert!(row["email"].is_string());
    assert!(row["customer_id"].is_null());
}
