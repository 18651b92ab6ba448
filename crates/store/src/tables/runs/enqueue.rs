//! The beat's side of a run: inserting it PENDING, one row per (rule, tick)
//! whoever tries, and the publish outbox. A run row is written before its
//! job is published and marked enqueued after, so a beat that crashed in
//! between finds the run again in [`unpublished`] and publishes it then.

use chrono::{DateTime, Utc};
use dq_core::{RunId, RunStatus};
use sqlx::Pool;

use super::{id_list, in_id_order, insert_runs, rule_ids, run_record, values, SELECT_RUNS};
use crate::error::{Result, StoreError};
use crate::model::{Lease, NewRun, RunRecord};
use crate::sql::{self, Conditions, Dialect, Statement};
use crate::tables::leases;

/// The deterministic id makes a second insert of a tick (another beat, a
/// retry, a failover) a no-op.
const INSERT_PENDING: &str = "ON CONFLICT (id) DO NOTHING RETURNING id";

pub(crate) async fn enqueue<DB: Dialect>(
    pool: &Pool<DB>,
    lease: Option<&Lease>,
    runs: &[NewRun],
) -> Result<Vec<RunId>> {
    if let Some(run) = runs.iter().find(|r| r.status != RunStatus::Pending) {
        return Err(StoreError::Invalid(format!(
            "run {} of rule {} is enqueued with status {}; an enqueued run is PENDING",
            run.id,
            run.rule_name,
            run.status.as_str()
        )));
    }
    if runs.is_empty() && lease.is_none() {
        return Ok(Vec::new());
    }
    let mut rows = runs
        .iter()
        .map(|run| values(run).map(Some))
        .collect::<Result<Vec<_>>>()?;

    let mut tx = sql::begin_write(pool).await?;
    if let Some(lease) = lease {
        leases::check_current::<DB>(&mut tx, lease, Utc::now()).await?;
    }
    let rule_ids = rule_ids::<DB>(&mut tx, runs.iter()).await?;
    let order = in_id_order(&runs.iter().collect::<Vec<_>>());
    let rows = order
        .iter()
        .filter_map(|&i| rows[i].take().map(|r| r.with_rule(rule_ids[i])))
        .collect();
    // Concurrent inserts of one id wait on its primary key; all but the
    // first then insert nothing, and return nothing.
    let mut inserted = insert_runs::<DB>(&mut tx, rows, INSERT_PENDING).await?;
    tx.commit().await?;
    // In input order, each once.
    Ok(runs
        .iter()
        .map(|run| run.id)
        .filter(|id| inserted.remove(id))
        .collect())
}

pub(crate) async fn mark_enqueued<DB: Dialect>(
    pool: &Pool<DB>,
    run_ids: &[RunId],
    at: DateTime<Utc>,
) -> Result<()> {
    if run_ids.is_empty() {
        return Ok(());
    }
    let statement = Statement::new(DB::MARK_ENQUEUED)
        .arg(id_list(run_ids))
        .arg(at);
    let mut tx = sql::begin_write(pool).await?;
    DB::execute(&mut tx, statement).await?;
    tx.commit().await?;
    Ok(())
}

/// Oldest tick first, so a backlog drains in schedule order. `older_than`
/// leaves out the runs a live beat has just inserted and is publishing.
pub(crate) async fn unpublished<DB: Dialect>(
    pool: &Pool<DB>,
    older_than: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<RunRecord>> {
    let mut conditions = Conditions::<DB>::select(SELECT_RUNS);
    // Written as in the `runs_outbox` index's predicate, so both planners use it.
    conditions.holds("status = 'PENDING'");
    conditions.holds("enqueued_at IS NULL");
    conditions.bind("scheduled_for <= ", older_than, "");
    let statement = conditions.order_by("scheduled_for, id", Some(limit));
    let rows = sql::fetch(pool, statement).await?;
    rows.iter().map(run_record).collect()
}
