//! Failing rows: bounded by the limit, and really the failing ones.

mod common;

use common::{col, options, orders, rule, single_plan, Db};
use dq_core::{Bounds, Check, CustomSqlMode, NamedFormat, Pattern, RunStatus};
use dq_targets::execute;
use serde_json::{json, Value};

fn ids(samples: &[Value]) -> Vec<i64> {
    samples.iter().map(|s| s["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn samples_are_bounded_and_are_the_failing_rows() {
    let db = orders::db().await;
    let target = db.target().await;
    let max0 = Bounds::at_most(0.0);
    let rules = vec![
        rule(
            "nulls",
            "orders",
            Check::NullCount {
                column: col("customer_id"),
            },
            max0,
        ),
        rule(
            "dups",
            "orders",
            Check::DuplicateCount {
                column: col("customer_id"),
            },
            max0,
        ),
        rule(
            "emails",
            "orders",
            Check::Regex {
                column: col("email"),
                pattern: Pattern::Format(NamedFormat::Email),
            },
            max0,
        ),
        rule(
            "lengths",
            "orders",
            Check::StringLength {
                column: col("code"),
                min_length: Some(3),
                max_length: Some(5),
            },
            max0,
        ),
        rule(
            "custom",
            "orders",
            Check::CustomSql {
                sql: "SELECT id, amount FROM orders WHERE amount < 0 OR amount > 1000".into(),
                mode: CustomSqlMode::Rows,
            },
            max0,
        ),
        rule("rows", "orders", Check::RowCount, Bounds::at_most(10.0)),
    ];
    let plan = single_plan(&rules);

    for limit in [1usize, 3, 5] {
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), limit)).await;
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

        let nulls = &by_name("nulls").samples;
        assert_eq!(nulls.len(), limit);
        assert!(
            ids(nulls).iter().all(|id| (1..=7).contains(id)),
            "{nulls:?}"
        );
        assert!(nulls.iter().all(|s| s["customer_id"].is_null()));

        // Copies come side by side, ordered by value.
        let dups = &by_name("dups").samples;
        assert_eq!(dups.len(), limit);
        let values: Vec<i64> = dups
            .iter()
            .map(|s| s["customer_id"].as_i64().unwrap())
            .collect();
        assert_eq!(values, [5001, 5001, 5001, 5002, 5002][..limit]);

        let emails = &by_name("emails").samples;
        assert_eq!(emails.len(), limit.min(3));
        assert!(
            ids(emails).iter().all(|id| [20, 21, 22].contains(id)),
            "{emails:?}"
        );

        let lengths = &by_name("lengths").samples;
        assert_eq!(lengths.len(), limit.min(6));
        assert!(
            ids(lengths).iter().all(|id| (50..=55).contains(id)),
            "{lengths:?}"
        );

        let custom = &by_name("custom").samples;
        assert_eq!(custom.len(), limit.min(2));
        assert!(
            ids(custom).iter().all(|id| [30, 31].contains(id)),
            "{custom:?}"
        );

        // A row count has no failing rows to show.
        assert!(by_name("rows").samples.is_empty());
    }
}

#[tokio::test]
async fn sample_rows_keep_every_column_with_its_json_type() {
    let db = orders::db().await;
    let target = db.target().await;
    let rules = vec![rule(
        "one_null",
        "orders",
        Check::NullCount {
            column: col("customer_id"),
        },
        Bounds::at_most(0.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 1)).await;
    let row = outcomes[0].samples[0].as_object().unwrap();
    let keys: Vec<&str> = row.keys().map(|k| k.as_str()).collect();
    for column in [
        "id",
        "customer_id",
        "email",
        "amount",
        "status",
        "code",
        "region",
        "updated_at",
    ] {
        assert!(keys.contains(&column), "{column} missing from {keys:?}");
    }
    assert!(row["id"].is_i64());
    assert!(row["amount"].is_f64());
    assert!(row["email"].is_string());
    assert!(row["customer_id"].is_null());
}

#[tokio::test]
async fn runtime_types_decode_to_json() {
    let db = Db::new().await;
    db.exec("CREATE TABLE t (x)").await;
    let target = db.target().await;
    for (select, expected) in [
        ("SELECT 7 AS v", json!(7)),
        ("SELECT 1.5 AS v", json!(1.5)),
        ("SELECT 'hi' AS v", json!("hi")),
        ("SELECT NULL AS v", Value::Null),
        ("SELECT x'00ff10' AS v", json!("0x00ff10")),
        ("SELECT zeroblob(100) AS v", json!("<blob 100 bytes>")),
    ] {
        let rules = vec![rule(
            "decode",
            "t",
            Check::CustomSql {
                sql: select.into(),
                mode: CustomSqlMode::Rows,
            },
            Bounds::at_most(0.0),
        )];
        let plan = single_plan(&rules);
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
        assert_eq!(outcomes[0].verdict.status, RunStatus::Failed, "{select}");
        assert_eq!(outcomes[0].samples.len(), 1, "{select}");
        assert_eq!(outcomes[0].samples[0]["v"], expected, "{select}");
    }
    // A repeated column name is kept, not overwritten.
    let rules = vec![rule(
        "twice",
        "t",
        Check::CustomSql {
            sql: "SELECT 1 AS v, 2 AS v".into(),
            mode: CustomSqlMode::Rows,
        },
        Bounds::at_most(0.0),
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    // (SQLite itself renames the second one when it reads the subquery.)
    assert_eq!(outcomes[0].samples[0], json!({"v": 1, "v:1": 2}));
}

#[tokio::test]
async fn passing_rules_and_a_zero_limit_fetch_nothing() {
    let db = orders::db().await;
    let target = db.target().await;
    let rules = vec![
        rule(
            "nulls_ok",
            "orders",
            Check::NullCount {
                column: col("customer_id"),
            },
            Bounds::at_most(100.0),
        ),
        rule(
            "nulls_bad",
            "orders",
            Check::NullCount {
                column: col("customer_id"),
            },
            Bounds::at_most(0.0),
        ),
    ];
    let plan = single_plan(&rules);
    let before = target.query_stats();
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 0)).await;
    assert_eq!(outcomes[0].verdict.status, RunStatus::Passed);
    assert_eq!(outcomes[1].verdict.status, RunStatus::Failed);
    assert!(outcomes.iter().all(|o| o.samples.is_empty()));
    assert_eq!(target.query_stats().since(&before).sample, 0);

    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert!(outcomes[0].samples.is_empty());
    assert_eq!(outcomes[1].samples.len(), 5);
}
