//! Sampling on PostgreSQL: a sampled scope reads a TABLESAMPLE of about
//! `sample_size` rows and says how many it really counted. (Filters and
//! windows, on both backends: scope.rs.)

mod common;

use common::pg::Schema;
use common::{col, options, rule, single_plan};
use dq_core::{Bounds, Check, RowFilter, Rule, RunStatus, Scope};
use dq_targets::execute;

fn scoped(name: &str, dataset: &str, check: Check, scope: &Scope) -> Rule {
    let mut r = rule(name, dataset, check, Bounds::at_least(0.0));
    r.scope = scope.clone();
    r
}

/// 200,000 narrow rows (~900 pages), every tenth value NULL.
async fn big_table(pg: &Schema, analyzed: bool) -> String {
    let s = &pg.name;
    pg.exec(&format!(
        "CREATE TABLE \"{s}\".big (id int, v int) WITH (autovacuum_enabled = false);
         INSERT INTO \"{s}\".big SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g % 1000 END
         FROM generate_series(1, 200000) g;"
    ))
    .await;
    if analyzed {
        pg.exec(&format!("ANALYZE \"{s}\".big")).await;
    }
    pg.dataset("big")
}

fn sampled_rules(dataset: &str, size: u64) -> Vec<Rule> {
    let scope = Scope {
        sample_size: Some(size),
        ..Scope::default()
    };
    vec![
        scoped("rows", dataset, Check::RowCount, &scope),
        scoped(
            "null_rate",
            dataset,
            Check::NullRate { column: col("v") },
            &scope,
        ),
        scoped(
            "dups",
            dataset,
            Check::DuplicateCount { column: col("v") },
            &scope,
        ),
        scoped(
            "schema",
            dataset,
            Check::Schema {
                columns: vec![col("id")],
                types: Default::default(),
            },
            &scope,
        ),
    ]
}

#[tokio::test]
async fn sampling_reads_about_sample_size_rows_and_records_how_many() {
    let pg = Schema::new().await;
    let ds = big_table(&pg, true).await;
    let target = pg.target().await;
    // 50,000 of 200,000 spans ~225 pages: SYSTEM (whole pages). 2,000 would
    // be ~9 pages, too lumpy: BERNOULLI (single rows).
    for size in [50_000u64, 2_000] {
        let rules = sampled_rules(&ds, size);
        let plan = single_plan(&rules);
        let before = target.query_stats();
        let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
        let issued = target.query_stats().since(&before);
        for outcome in &outcomes {
            assert_ne!(
                outcome.verdict.status,
                RunStatus::Error,
                "{}",
                outcome.verdict.message
            );
        }
        let counted = outcomes[0].verdict.observed.unwrap() as u64;
        assert_eq!(outcomes[0].effective_sample_size, Some(counted), "{size}");
        assert_eq!(outcomes[1].effective_sample_size, Some(counted), "{size}");
        let (low, high) = (size * 6 / 10, size * 14 / 10);
        assert!((low..=high).contains(&counted), "{size}: counted {counted}");
        // A sample is still a fair one: about a tenth NULL.
        let rate = outcomes[1].verdict.observed.unwrap();
        assert!((0.07..=0.13).contains(&rate), "{size}: null rate {rate}");
        // Duplicates are counted within the same sample.
        let dups = outcomes[2].verdict.observed.unwrap();
        assert!(
            dups > 0.0 && dups <= counted as f64,
            "{size}: {dups} of {counted}"
        );
        // The schema is not about rows: no sample size to report.
        assert_eq!(outcomes[3].effective_sample_size, None);
        assert_eq!(
            (issued.catalogue, issued.aggregate, issued.group_by),
            (1, 1, 1)
        );
    }
    // Asking for more than the table holds reads it whole.
    let rules = sampled_rules(&ds, 1_000_000);
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(outcomes[0].verdict.observed, Some(200_000.0));
    assert_eq!(outcomes[0].effective_sample_size, Some(200_000));
}

#[tokio::test]
async fn a_table_never_analysed_is_read_whole() {
    let pg = Schema::new().await;
    let ds = big_table(&pg, false).await;
    let target = pg.target().await;
    let rules = sampled_rules(&ds, 1_000);
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(outcomes[0].verdict.observed, Some(200_000.0));
    assert_eq!(
        outcomes[0].effective_sample_size,
        Some(200_000),
        "rows really counted"
    );
    assert_eq!(outcomes[1].verdict.observed, Some(0.1));
}

#[tokio::test]
async fn sampling_applies_the_filter_too() {
    let pg = Schema::new().await;
    let ds = big_table(&pg, true).await;
    let target = pg.target().await;
    let scope = Scope {
        sample_size: Some(20_000),
        filter: Some(RowFilter::new("v IS NULL").unwrap()),
        window: None,
    };
    let rules = vec![scoped(
        "nulls",
        &ds,
        Check::NullCount { column: col("v") },
        &scope,
    )];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    // A tenth of the table is sampled; every sampled row that passes the
    // filter is NULL, so the count is the filtered sample, about 2,000.
    let nulls = outcomes[0].verdict.observed.unwrap();
    let counted = outcomes[0].effective_sample_size.unwrap() as f64;
    assert_eq!(nulls, counted);
    assert!((1_000.0..=3_000.0).contains(&nulls), "{nulls}");
}
