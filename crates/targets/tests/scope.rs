//! Filters, windows and sampling: each scope sees exactly its rows, on
//! both backends. (PostgreSQL's TABLESAMPLE: postgres_scope.rs.)

mod common;

use std::time::Duration;

use common::{col, on_each_backend, options, orders, rule, single_plan, Backend, Fixture};
use dq_core::{Bounds, Check, RowFilter, Rule, RunStatus, Scope, Window};
use dq_targets::execute;

fn scoped(name: &str, dataset: &str, check: Check, scope: &Scope) -> Rule {
    let mut r = rule(name, dataset, check, Bounds::at_least(0.0));
    r.scope = scope.clone();
    r
}

fn last_hour() -> Window {
    Window {
        column: col("updated_at"),
        length: Duration::from_secs(3600),
    }
}

fn eu() -> RowFilter {
    RowFilter::new("region = 'EU'").unwrap()
}

async fn filter_and_window_scopes_count_their_rows_exactly(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    let ds = fx.dataset("orders");
    let now = orders::max_timestamp();
    // The last hour by hand: ids 940..=1000 on SQLite, whose timestamps are
    // text and numbers; a timestamptz comparison on PostgreSQL.
    let in_last_hour = fx.pick("id >= 940", "updated_at >= '2025-06-30 11:00:00+00'");
    // (scope, rows, NULL customers among them, hand-written condition)
    let cases = [
        (
            Scope::default(),
            orders::ROWS,
            orders::NULL_CUSTOMERS,
            "true".to_string(),
        ),
        (
            Scope {
                filter: Some(eu()),
                ..Scope::default()
            },
            orders::EU_ROWS,
            orders::EU_NULL_CUSTOMERS,
            "region = 'EU'".to_string(),
        ),
        (
            Scope {
                window: Some(last_hour()),
                ..Scope::default()
            },
            orders::LAST_HOUR_ROWS,
            0,
            in_last_hour.to_string(),
        ),
        (
            Scope {
                filter: Some(eu()),
                window: Some(last_hour()),
                ..Scope::default()
            },
            orders::LAST_HOUR_EU_ROWS,
            0,
            format!("region = 'EU' AND {in_last_hour}"),
        ),
        (
            Scope {
                filter: Some(RowFilter::new("id <= 10").unwrap()),
                ..Scope::default()
            },
            10,
            7,
            "id <= 10".to_string(),
        ),
    ];
    for (scope, rows, nulls, condition) in cases {
        let rules = vec![
            scoped("rows", &ds, Check::RowCount, &scope),
            scoped(
                "nulls",
                &ds,
                Check::NullCount {
                    column: col("customer_id"),
                },
                &scope,
            ),
        ];
        let plan = single_plan(&rules);
        let outcomes = execute(&target, &plan, &options(now, 5)).await;
        assert_eq!(outcomes[0].verdict.observed, Some(rows as f64), "{scope:?}");
        assert_eq!(
            outcomes[1].verdict.observed,
            Some(nulls as f64),
            "{scope:?}"
        );
        assert_eq!(outcomes[0].effective_sample_size, None, "not sampled");
        let by_hand = fx
            .number(&format!("SELECT count(*) FROM {ds} WHERE {condition}"))
            .await;
        assert_eq!(by_hand, Some(rows as f64), "{condition}");
    }
}

async fn window_is_measured_from_now(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    let scope = Scope {
        window: Some(last_hour()),
        ..Scope::default()
    };
    let rules = vec![scoped(
        "rows",
        &fx.dataset("orders"),
        Check::RowCount,
        &scope,
    )];
    let plan = single_plan(&rules);
    // Two hours after the latest row, the last hour holds nothing.
    let later = orders::max_timestamp() + chrono::Duration::hours(2);
    let outcomes = execute(&target, &plan, &options(later, 5)).await;
    assert_eq!(outcomes[0].verdict.observed, Some(0.0));
    // Half an hour after it: rows updated in the 30 minutes before the max.
    let soon = orders::max_timestamp() + chrono::Duration::minutes(30);
    let outcomes = execute(&target, &plan, &options(soon, 5)).await;
    assert_eq!(outcomes[0].verdict.observed, Some(31.0));
}

async fn rules_with_different_scopes_get_separate_scans(backend: Backend) {
    let fx = Fixture::with_orders(backend).await;
    let target = fx.target().await;
    let ds = fx.dataset("orders");
    let eu_scope = Scope {
        filter: Some(eu()),
        ..Scope::default()
    };
    let rules = [
        scoped("all_rows", &ds, Check::RowCount, &Scope::default()),
        scoped("eu_rows", &ds, Check::RowCount, &eu_scope),
        scoped(
            "all_nulls",
            &ds,
            Check::NullCount {
                column: col("customer_id"),
            },
            &Scope::default(),
        ),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    let plans = dq_core::plan(&refs);
    assert_eq!(plans.len(), 2);
    let before = target.query_stats();
    let mut observed = Vec::new();
    for plan in &plans {
        for outcome in execute(&target, plan, &options(orders::max_timestamp(), 5)).await {
            observed.push((outcome.rule.to_string(), outcome.verdict.observed));
        }
    }
    assert_eq!(
        observed,
        [
            ("all_rows".to_string(), Some(orders::ROWS as f64)),
            ("all_nulls".to_string(), Some(orders::NULL_CUSTOMERS as f64)),
            ("eu_rows".to_string(), Some(orders::EU_ROWS as f64)),
        ]
    );
    assert_eq!(target.query_stats().since(&before).aggregate, 2);
}

on_each_backend!(
    filter_and_window_scopes_count_their_rows_exactly,
    window_is_measured_from_now,
    rules_with_different_scopes_get_separate_scans,
);

#[tokio::test]
async fn sampling_checks_at_most_sample_size_rows_and_says_how_many() {
    let db = orders::db().await;
    let target = db.target().await;
    let now = orders::max_timestamp();
    // (sample size, filter, rows checked)
    let cases = [
        (100, None, 100),
        (5000, None, orders::ROWS),
        (100, Some(eu()), 100),
        (1000, Some(eu()), orders::EU_ROWS),
    ];
    for (size, filter, checked) in cases {
        let scope = Scope {
            sample_size: Some(size),
            filter,
            window: None,
        };
        let rules = vec![
            scoped("rows", "orders", Check::RowCount, &scope),
            scoped(
                "nulls",
                "orders",
                Check::NullRate {
                    column: col("customer_id"),
                },
                &scope,
            ),
            scoped(
                "dups",
                "orders",
                Check::DuplicateCount {
                    column: col("customer_id"),
                },
                &scope,
            ),
            scoped(
                "schema",
                "orders",
                Check::Schema {
                    columns: vec![col("id")],
                    types: Default::default(),
                },
                &scope,
            ),
        ];
        let plan = single_plan(&rules);
        let outcomes = execute(&target, &plan, &options(now, 5)).await;
        for outcome in &outcomes[..3] {
            assert_ne!(
                outcome.verdict.status,
                RunStatus::Error,
                "{}",
                outcome.verdict.message
            );
            assert_eq!(
                outcome.effective_sample_size,
                Some(checked),
                "{size} {}",
                outcome.rule
            );
        }
        assert_eq!(outcomes[0].verdict.observed, Some(checked as f64));
        let dups = outcomes[2].verdict.observed.unwrap();
        assert!(dups <= orders::DUPLICATE_ROWS as f64, "{dups}");
        // The schema is not about rows: no sample size to report.
        assert_eq!(outcomes[3].effective_sample_size, None);
    }
}
