//! SQLite and PostgreSQL give the same verdicts: the same `orders` rows
//! (timestamps as text and Unix seconds in SQLite, timestamptz in
//! PostgreSQL) and the same rules, every kind and scope, must give the same
//! status, observed value, message and failing rows on both.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::pg::Schema;
use common::{bounds, col, custom, duplicate_count, null_count, options, orders, rule};
use dq_core::{
    Bounds, Check, CustomSqlMode, Literal, NamedFormat, Pattern, RowFilter, Rule, Scope, Window,
};
use dq_targets::{execute, RuleOutcome, Target};

/// The rules, on `dataset`; custom SQL reads `table`.
fn rules(dataset: &str, table: &str) -> Vec<Rule> {
    let max = Bounds::at_most;
    let text = |v: &str| Literal::Text(v.to_string());
    let mut warned = rule(
        "null_rate_warned",
        dataset,
        Check::NullRate {
            column: col("customer_id"),
        },
        max(0.01),
    );
    warned.thresholds.warn = max(0.005);
    let statuses = || {
        rule(
            "statuses",
            dataset,
            Check::AcceptedValues {
                column: col("status"),
                values: orders::ACCEPTED.iter().map(|s| text(s)).collect(),
            },
            max(0.0),
        )
    };
    let mut all = vec![
        rule("rows", dataset, Check::RowCount, bounds(Some(1.0), None)),
        rule("rows_at_most_10", dataset, Check::RowCount, max(10.0)),
        rule("not_empty", dataset, Check::NotEmpty, Bounds::at_least(1.0)),
        null_count("null_count", dataset, "customer_id", max(0.0)),
        warned,
        rule(
            "null_rate_email",
            dataset,
            Check::NullRate {
                column: col("email"),
            },
            max(0.01),
        ),
        duplicate_count("dups", dataset, "customer_id", max(0.0)),
        duplicate_count("dup_emails", dataset, "email", max(0.0)),
        statuses(),
        rule(
            "customer_ids",
            dataset,
            Check::AcceptedValues {
                column: col("customer_id"),
                values: vec![Literal::Integer(5001), Literal::Integer(5002)],
            },
            max(2000.0),
        ),
        rule(
            "amounts",
            dataset,
            Check::ValueRange {
                column: col("amount"),
                min_value: Some(0.0),
                max_value: Some(1000.0),
                avg: Bounds::default(),
            },
            max(0.0),
        ),
        rule(
            "amount_avg",
            dataset,
            Check::ValueRange {
                column: col("amount"),
                min_value: Some(-10.0),
                max_value: Some(2000.0),
                avg: bounds(Some(0.0), Some(10.0)),
            },
            max(0.0),
        ),
        rule(
            "emails",
            dataset,
            Check::Regex {
                column: col("email"),
                pattern: Pattern::Format(NamedFormat::Email),
            },
            max(0.0),
        ),
        rule(
            "codes",
            dataset,
            Check::Regex {
                column: col("code"),
                pattern: Pattern::Regex("^C[0-9]{3}$".into()),
            },
            max(0.0),
        ),
        rule(
            "code_lengths",
            dataset,
            Check::StringLength {
                column: col("code"),
                min_length: Some(3),
                max_length: Some(5),
            },
            max(0.0),
        ),
        rule(
            "fresh_2h",
            dataset,
            Check::Freshness {
                column: col("updated_at"),
            },
            max(7200.0),
        ),
        rule(
            "fresh_20m",
            dataset,
            Check::Freshness {
                column: col("updated_at"),
            },
            max(1200.0),
        ),
        rule(
            "schema",
            dataset,
            Check::Schema {
                columns: vec![col("id"), col("customer_id"), col("missing_col")],
                types: BTreeMap::from([(col("status"), "text".to_string())]),
            },
            max(0.0),
        ),
        custom(
            "custom_rows",
            dataset,
            &format!("SELECT id, amount FROM {table} WHERE amount < 0 OR amount > 1000"),
            CustomSqlMode::Rows,
            max(0.0),
        ),
        custom(
            "custom_scalar",
            dataset,
            &format!("SELECT count(*) FROM {table} WHERE region = 'EU'"),
            CustomSqlMode::Scalar,
            max(100.0),
        ),
    ];
    let eu = RowFilter::new("region = 'EU'").unwrap();
    let last_hour = Window {
        column: col("updated_at"),
        length: Duration::from_secs(3600),
    };
    let scopes = [
        (
            "eu",
            Scope {
                filter: Some(eu.clone()),
                ..Scope::default()
            },
        ),
        (
            "last_hour",
            Scope {
                window: Some(last_hour.clone()),
                ..Scope::default()
            },
        ),
        (
            "eu_last_hour",
            Scope {
                filter: Some(eu),
                window: Some(last_hour),
                ..Scope::default()
            },
        ),
    ];
    for (prefix, scope) in scopes {
        for mut scoped in [
            rule("rows", dataset, Check::RowCount, max(100.0)),
            null_count("nulls", dataset, "customer_id", max(0.0)),
            duplicate_count("dups", dataset, "customer_id", max(0.0)),
            statuses(),
        ] {
            scoped.name = dq_core::RuleName::new(format!("{prefix}_{}", scoped.name)).unwrap();
            scoped.scope = scope.clone();
            all.push(scoped);
        }
    }
    all
}

async fn run(target: &Target, rules: &[Rule]) -> BTreeMap<String, RuleOutcome> {
    let now = orders::max_timestamp() + chrono::Duration::minutes(30);
    let refs: Vec<&Rule> = rules.iter().collect();
    let mut outcomes = BTreeMap::new();
    for plan in dq_core::plan(&refs) {
        for outcome in execute(target, &plan, &options(now, 10)).await {
            outcomes.insert(outcome.rule.to_string(), outcome);
        }
    }
    outcomes
}

fn sorted_ids(outcome: &RuleOutcome) -> Vec<i64> {
    let mut ids: Vec<i64> = outcome
        .samples
        .iter()
        .filter_map(|s| s["id"].as_i64())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn sqlite_and_postgres_give_the_same_verdicts() {
    let db = orders::db().await;
    let sqlite = db.target().await;
    let pg = Schema::with_orders().await;
    let postgres = pg.target().await;

    let on_sqlite = run(&sqlite, &rules("main.orders", "main.orders")).await;
    let pg_table = format!("\"{}\".orders", pg.name);
    let on_postgres = run(&postgres, &rules(&pg.dataset("orders"), &pg_table)).await;

    assert_eq!(on_sqlite.len(), 32);
    assert_eq!(
        on_sqlite.keys().collect::<Vec<_>>(),
        on_postgres.keys().collect::<Vec<_>>()
    );
    for (name, lite) in &on_sqlite {
        let post = &on_postgres[name];
        let (l, p) = (&lite.verdict, &post.verdict);
        assert_eq!(l.status, p.status, "{name}: {} | {}", l.message, p.message);
        assert_eq!(l.message, p.message, "{name}");
        assert_eq!(l.expected, p.expected, "{name}");
        match (l.observed, p.observed) {
            (Some(a), Some(b)) => assert!(
                (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                "{name}: {a} vs {b}"
            ),
            (a, b) => assert_eq!(a, b, "{name}"),
        }
        let rows = |o: &RuleOutcome| o.observation.as_ref().and_then(|o| o.row_count);
        assert_eq!(rows(lite), rows(post), "{name}");
        // Duplicates are shown differently on purpose (whole rows on SQLite,
        // values with their counts on PostgreSQL); every other rule shows the
        // same failing rows, all of them when they fit in the limit.
        if !name.contains("dups") {
            assert_eq!(lite.samples.len(), post.samples.len(), "{name}");
            if lite.samples.len() < 10 {
                assert_eq!(sorted_ids(lite), sorted_ids(post), "{name}");
            }
        }
    }
    // The comparison is not vacuous: both targets found the seeded problems.
    let failed = on_postgres
        .values()
        .filter(|o| o.verdict.status.is_violation())
        .count();
    assert!(failed >= 15, "{failed} violations");
    assert_eq!(on_postgres["last_hour_rows"].verdict.observed, Some(31.0));
    assert_eq!(
        on_postgres["eu_nulls"].verdict.observed,
        Some(orders::EU_NULL_CUSTOMERS as f64)
    );
}
