//! What a PostgreSQL target must never do: write. Writes are refused by
//! screening and, for those that slip past it (a function that writes), by
//! the read-only transaction. (Runaway statements, cancelled by the
//! server's statement_timeout: timeout.rs.)

mod common;

use common::pg::Schema;
use common::{custom, options, orders, rule, single_plan};
use dq_core::{Bounds, Check, CustomSqlMode, RowFilter, RunStatus, Scope};
use dq_targets::execute;

#[tokio::test]
async fn writes_are_refused_and_the_data_is_untouched() {
    let pg = Schema::with_orders().await;
    let s = &pg.name;
    let ds = pg.dataset("orders");
    // Functions that write: a check calling them passes screening (it is a
    // SELECT with no write keyword), so only the transaction can refuse.
    pg.exec(&format!(
        "CREATE FUNCTION \"{s}\".wipe() RETURNS bigint LANGUAGE plpgsql AS $$
           BEGIN DELETE FROM \"{s}\".orders; RETURN 0; END $$;
         CREATE FUNCTION \"{s}\".zero() RETURNS SETOF int LANGUAGE sql AS
           $$ UPDATE \"{s}\".orders SET amount = 0 RETURNING id $$;
         CREATE FUNCTION \"{s}\".scratch() RETURNS int LANGUAGE plpgsql AS $$
           BEGIN EXECUTE 'CREATE TABLE \"{s}\".scratch (x int)'; RETURN 1; END $$;"
    ))
    .await;
    let target = pg.target().await;
    // (custom SQL, what refused it)
    let writes = [
        (
            format!("DELETE FROM {ds}"),
            "custom SQL must be one read-only query",
        ),
        (
            format!("UPDATE {ds} SET amount = 0"),
            "custom SQL must be one read-only query",
        ),
        (
            format!("INSERT INTO {ds} (id) VALUES (5000)"),
            "custom SQL must be one read-only query",
        ),
        (
            format!("CREATE TABLE {s}.x (y int)"),
            "custom SQL must be one read-only query",
        ),
        (
            format!("SELECT 1; DELETE FROM {ds}"),
            "custom SQL must be one read-only query",
        ),
        (
            format!("SELECT \"{s}\".wipe()"),
            "refused: checks run read-only",
        ),
        (
            format!("SELECT * FROM \"{s}\".zero()"),
            "refused: checks run read-only",
        ),
        (
            format!("SELECT \"{s}\".scratch()"),
            "refused: checks run read-only",
        ),
        (
            format!("SELECT set_config('transaction_read_only', 'off', true), \"{s}\".wipe()"),
            "transaction read-write mode",
        ),
    ];
    for (sql, refused_by) in &writes {
        for mode in [CustomSqlMode::Rows, CustomSqlMode::Scalar] {
            let rules = vec![custom("write", &ds, sql, mode, Bounds::at_most(0.0))];
            let plan = single_plan(&rules);
            let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
            let verdict = &outcomes[0].verdict;
            assert_eq!(verdict.status, RunStatus::Error, "{sql} ({mode:?})");
            assert!(
                verdict.message.contains(refused_by),
                "{sql} ({mode:?}): {}",
                verdict.message
            );
            assert!(!outcomes[0].retriable);
        }
    }
    // A filter that writes is refused too (dq-core screens DELETE out of
    // filters, but not a call).
    let mut scoped = rule("rows", &ds, Check::RowCount, Bounds::at_least(1.0));
    scoped.scope = Scope {
        filter: Some(RowFilter::new(&format!("\"{s}\".wipe() = 0")).unwrap()),
        ..Scope::default()
    };
    let rules = vec![scoped];
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(chrono::Utc::now(), 5)).await;
    assert_eq!(outcomes[0].verdict.status, RunStatus::Error);
    assert!(
        outcomes[0].verdict.message.contains("read-only"),
        "{}",
        outcomes[0].verdict.message
    );

    assert_eq!(pg.count("orders").await, orders::ROWS as i64);
    assert_eq!(
        pg.number(&format!("SELECT count(*) FROM {ds} WHERE amount = 0"))
            .await,
        Some(0.0),
        "no amount was zeroed"
    );
    assert_eq!(
        pg.number(&format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = '{s}'"
        ))
        .await,
        Some(1.0),
        "no table was created"
    );
}
