//! The violations table: one per failed or warned run, listed for on-call
//! people and acknowledged by them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use dq_core::{RuleName, RunId, Severity};
use sqlx::Pool;

use super::AwaitingRuleId;
use crate::error::{Result, StoreError};
use crate::model::{NewViolation, ViolationFilter, ViolationRecord};
use crate::sql::{self, Arg, Conditions, Dialect, Fields, Statement, StoredRow};

const INSERT_VIOLATION: &str = "INSERT INTO violations (run_id, rule_name, severity, \
         detected_at, message, observed_value, expected, sample, rule_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";

pub(crate) const SELECT_VIOLATIONS: &str = "SELECT id, run_id, rule_id, rule_name, severity, \
     detected_at, message, observed_value, expected, sample, acknowledged, acknowledged_by, \
     acknowledged_at, ack_note, ack_delay_ms, resolved_at FROM violations";

const OPEN_COUNTS: &str = "SELECT severity, COUNT(*) AS open FROM violations \
     WHERE acknowledged = FALSE AND resolved_at IS NULL GROUP BY severity";

/// For `record_run`'s transaction, right after its run row; returns the
/// violation's id ([`inserted_id`]).
pub(super) fn insert(
    run_id: &str,
    rule_name: &RuleName,
    violation: &NewViolation,
) -> Result<AwaitingRuleId> {
    let statement = Statement::new(INSERT_VIOLATION)
        .arg(run_id)
        .arg(rule_name.as_str())
        .arg(violation.severity.as_str())
        .arg(violation.detected_at)
        .arg(violation.message.as_str())
        .arg(Arg::finite(
            violation.observed_value,
            "the violation's observed value",
        )?)
        .arg(violation.expected.as_str())
        .arg(Arg::json(&violation.sample, "the violation's sample")?);
    Ok(AwaitingRuleId::new(statement, None))
}

pub(crate) async fn list<DB: Dialect>(
    pool: &Pool<DB>,
    filter: &ViolationFilter,
) -> Result<Vec<ViolationRecord>> {
    let mut conditions = Conditions::<DB>::select(SELECT_VIOLATIONS);
    if let Some(since) = filter.since {
        conditions.bind("detected_at >= ", since, "");
    }
    if let Some(until) = filter.until {
        conditions.bind("detected_at < ", until, "");
    }
    if let Some((detected_at, id)) = filter.after {
        conditions.after_desc("detected_at", detected_at, "id", id);
    }
    if let Some(since) = filter.acknowledged_since {
        conditions.bind("acknowledged_at >= ", since, "");
    }
    conditions.one_of("rule_name", filter.rule_names.clone());
    if filter.unacknowledged_only {
        conditions.holds("acknowledged = FALSE");
    }
    if let Some(min) = filter.min_severity {
        // Severities are stored by name, so "at least" is the list of names.
        let at_least = Severity::ALL.into_iter().filter(|s| *s >= min);
        conditions.one_of(
            "severity",
            at_least.map(|s| s.as_str().to_string()).collect(),
        );
    }
    let statement = conditions.order_by("detected_at DESC, id DESC", filter.limit);
    let rows = sql::fetch(pool, statement).await?;
    rows.iter().map(violation_record).collect()
}

pub(crate) async fn by_id<DB: Dialect>(
    pool: &Pool<DB>,
    id: i64,
) -> Result<Option<ViolationRecord>> {
    let mut conditions = Conditions::<DB>::select(SELECT_VIOLATIONS);
    conditions.bind("id = ", id, "");
    let rows = sql::fetch(pool, conditions.order_by("id", None)).await?;
    rows.first().map(violation_record).transpose()
}

/// Violations neither acknowledged nor resolved, counted by severity.
pub(crate) async fn open_counts<DB: Dialect>(pool: &Pool<DB>) -> Result<Vec<(Severity, u64)>> {
    let rows = sql::fetch(pool, Statement::new(OPEN_COUNTS)).await?;
    rows.iter()
        .map(|row| {
            let (f, _) = Fields::keyed_by_text(row, "violation severity", "severity")?;
            Ok((f.parsed("severity")?, f.count("open")?.unwrap_or(0)))
        })
        .collect()
}

pub(crate) async fn acknowledge<DB: Dialect>(
    pool: &Pool<DB>,
    violation_ids: &[i64],
    by: &str,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Vec<i64>> {
    if by.trim().is_empty() {
        return Err(StoreError::Invalid(
            "an acknowledgement must say who acknowledges".to_string(),
        ));
    }
    let wanted: BTreeSet<i64> = violation_ids.iter().copied().collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let ids = Arg::Ints(wanted.iter().copied().collect());
    let mut tx = sql::begin_write(pool).await?;
    let known = ids_of(
        DB::fetch(
            &mut tx,
            Statement::new(DB::SELECT_KNOWN_VIOLATIONS).arg(ids.clone()),
        )
        .await?,
    )?;
    let unknown: Vec<String> = wanted
        .iter()
        .filter(|id| !known.contains(id))
        .map(i64::to_string)
        .collect();
    if !unknown.is_empty() {
        return Err(StoreError::NotFound(format!(
            "no violation with id {}",
            unknown.join(", ")
        )));
    }
    // Only the unacknowledged ones change: a first acknowledgement stands.
    let acknowledge = Statement::new(DB::ACKNOWLEDGE)
        .arg(ids)
        .arg(by)
        .arg(at)
        .arg(note);
    let acknowledged = ids_of(DB::fetch(&mut tx, acknowledge).await?)?;
    tx.commit().await?;
    Ok(acknowledged.into_iter().collect())
}

/// The id an [`insert`] returned.
pub(crate) fn inserted_id<R: StoredRow>(rows: &[R]) -> Result<i64> {
    rows.first()
        .map(|row| Fields::keyed_by_int(row, "violation", "id").map(|(_, id)| id))
        .transpose()?
        .ok_or_else(|| StoreError::Corrupt("a violation insert returned no id".to_string()))
}

fn ids_of<R: StoredRow>(rows: Vec<R>) -> Result<BTreeSet<i64>> {
    rows.iter()
        .map(|row| Fields::keyed_by_int(row, "violation", "id").map(|(_, id)| id))
        .collect()
}

pub(crate) fn violation_record<R: StoredRow>(row: &R) -> Result<ViolationRecord> {
    let (f, id) = Fields::keyed_by_int(row, "violation", "id")?;
    Ok(ViolationRecord {
        id,
        run_id: f.convert(
            "run_id",
            RunId::parse(&f.text("run_id")?).ok_or("not a run id"),
        )?,
        rule_id: f.int("rule_id")?,
        rule_name: f.convert("rule_name", RuleName::new(f.text("rule_name")?))?,
        severity: f.parsed("severity")?,
        detected_at: f.time("detected_at")?,
        message: f.text("message")?,
        observed_value: f.opt_real("observed_value")?,
        expected: f.text("expected")?,
        sample: f.json("sample")?,
        acknowledged: f.boolean("acknowledged")?,
        acknowledged_by: f.opt_text("acknowledged_by")?,
        acknowledged_at: f.opt_time("acknowledged_at")?,
        ack_note: f.opt_text("ack_note")?,
        ack_delay_ms: f.count("ack_delay_ms")?,
        resolved_at: f.opt_time("resolved_at")?,
    })
}
