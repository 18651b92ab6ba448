//! `parameters.parallel_degree` on PostgreSQL: the check's transaction runs
//! with `max_parallel_workers_per_gather` set to it, for the fused scan and
//! for custom SQL alike; without it the server's setting stands.

mod common;

use common::pg::Schema;
use common::{custom, options, orders, rule, single_plan};
use dq_core::{Bounds, Check, CustomSqlMode, RowFilter, Rule, Scope};
use dq_targets::execute;
use serde_json::json;

fn tuned(mut rule: Rule, degree: Option<u32>) -> Rule {
    if let Some(degree) = degree {
        rule.parameters
            .insert("parallel_degree".into(), json!(degree));
    }
    rule
}

#[tokio::test]
async fn parallel_degree_is_the_transactions_parallel_workers() {
    let pg = Schema::with_orders().await;
    let ds = pg.dataset("orders");
    let target = pg.target().await;
    let server_default = pg
        .number("SELECT current_setting('max_parallel_workers_per_gather')::float8")
        .await
        .expect("the server's setting");
    let setting = "SELECT current_setting('max_parallel_workers_per_gather')::int AS v";
    for (degree, expected) in [(Some(3), 3.0), (Some(0), 0.0), (None, server_default)] {
        // Custom SQL reads the setting itself.
        let rules = vec![tuned(
            custom(
                "setting",
                &ds,
                setting,
                CustomSqlMode::Scalar,
                Bounds::at_least(0.0),
            ),
            degree,
        )];
        let outcomes = execute(
            &target,
            &single_plan(&rules),
            &options(chrono::Utc::now(), 5),
        )
        .await;
        assert_eq!(
            outcomes[0].verdict.observed,
            Some(expected),
            "{degree:?}: {:?}",
            outcomes[0].verdict
        );

        // The fused scan: a filter true only under the setting counts every row.
        let mut counted = tuned(
            rule("rows", &ds, Check::RowCount, Bounds::at_least(0.0)),
            degree,
        );
        counted.scope = Scope {
            filter: Some(
                RowFilter::new(&format!(
                    "current_setting('max_parallel_workers_per_gather') = '{expected}'"
                ))
                .expect("filter"),
            ),
            ..Scope::default()
        };
        let rules = vec![counted];
        let outcomes = execute(
            &target,
            &single_plan(&rules),
            &options(chrono::Utc::now(), 5),
        )
        .await;
        assert_eq!(
            outcomes[0].verdict.observed,
            Some(orders::ROWS as f64),
            "{degree:?}: {:?}",
            outcomes[0].verdict
        );
    }
}
