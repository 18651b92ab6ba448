//! The worker's side of alerting: pending alert events written in the
//! transaction that finishes a run, so an event exists exactly when its run
//! result does (a crash loses neither, a redelivery writes neither twice:
//! this runs only for a run the finish applied).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use dq_core::RunStatus;

use crate::error::Result;
use crate::model::{NewRun, NewViolation};
use crate::sql::{Conditions, Dialect, Fields, Statement};

const INSERT_EVENT: &str = "INSERT INTO alert_outbox (kind, rule_id, rule_name, run_id, \
         violation_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Only violations detected up to the passing run: one detected later (a
/// run that finished out of order) is still open.
const RESOLVE: &str = "UPDATE violations SET resolved_at = $2 \
     WHERE rule_id = $1 AND resolved_at IS NULL AND detected_at <= $2";

/// Of `rule_ids`, the rules with an unresolved violation. Only their
/// passing runs can resolve anything, so a batch of runs that pass, as
/// most do, costs this one query rather than an UPDATE each.
pub(crate) async fn rules_with_open_violations<DB: Dialect>(
    conn: &mut DB::Connection,
    rule_ids: BTreeSet<i64>,
) -> Result<BTreeSet<i64>> {
    if rule_ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    let mut open = Conditions::<DB>::select("SELECT DISTINCT rule_id FROM violations");
    open.holds("resolved_at IS NULL");
    open.one_of_ints("rule_id", rule_ids.into_iter().collect());
    DB::fetch(conn, open.order_by("rule_id", None))
        .await?
        .iter()
        .map(|row| Fields::keyed_by_int(row, "violation", "rule_id").map(|(_, id)| id))
        .collect()
}

/// After `run` was written under `rule_id`: a VIOLATION event for the
/// violation it raised (with its id); or, when it passed, the rule's open
/// violations resolved and, if there were any, a RECOVERY event. `open`
/// holds the rules that may have unresolved violations (see
/// [`rules_with_open_violations`]); it is kept up to date here.
pub(crate) async fn on_finished<DB: Dialect>(
    conn: &mut DB::Connection,
    rule_id: i64,
    run: &NewRun,
    violation: Option<(i64, &NewViolation)>,
    open: &mut BTreeSet<i64>,
    shadow: bool,
) -> Result<()> {
    let event = |kind: &str, violation_id: Option<i64>, at: DateTime<Utc>| {
        Statement::new(INSERT_EVENT)
            .arg(kind)
            .arg(rule_id)
            .arg(run.rule_name.as_str())
            .arg(run.id.to_string())
            .arg(crate::sql::Arg::Int(violation_id))
            .arg(at)
    };
    match violation {
        Some((id, violation)) => {
            open.insert(rule_id);
            // A rule in shadow records its violations and never alerts.
            if !shadow {
                DB::execute(conn, event("VIOLATION", Some(id), violation.detected_at)).await?;
            }
        }
        None if run.status == RunStatus::Passed && open.contains(&rule_id) => {
            let at = run.finished_at.unwrap_or(run.scheduled_for);
            let resolved = DB::execute(conn, Statement::new(RESOLVE).arg(rule_id).arg(at)).await?;
            if resolved > 0 && !shadow {
                DB::execute(conn, event("RECOVERY", None, at)).await?;
            }
        }
        // ERROR, TIMEOUT, SKIPPED say nothing about the data: an open
        // incident stays open.
        None => {}
    }
    Ok(())
}
