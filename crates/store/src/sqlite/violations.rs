//! The violations table: one per failed or warned run, listed for on-call
//! people and acknowledged by them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use dq_core::{RuleName, RunId, Severity};
use sqlx::{FromRow, SqliteConnection};

use super::codec::{self, Origin};
use super::conditions::Conditions;
use super::{SqliteStore, BEGIN_WRITE};
use crate::error::{Result, StoreError};
use crate::model::{NewViolation, ViolationFilter, ViolationRecord};

const INSERT_VIOLATION: &str = "INSERT INTO violations (run_id, rule_id, rule_name, severity, \
         detected_at, message, observed_value, expected, sample) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

const SELECT_VIOLATIONS: &str = "SELECT id, run_id, rule_id, rule_name, severity, detected_at, \
     message, observed_value, expected, sample, acknowledged, acknowledged_by, acknowledged_at, \
     ack_note, resolved_at FROM violations";

const SELECT_KNOWN_IDS: &str =
    "SELECT id FROM violations WHERE id IN (SELECT value FROM json_each(?1))";

const ACKNOWLEDGE: &str = "UPDATE violations \
     SET acknowledged = 1, acknowledged_by = ?2, acknowledged_at = ?3, ack_note = ?4 \
     WHERE acknowledged = 0 AND id IN (SELECT value FROM json_each(?1)) \
     RETURNING id";

#[derive(FromRow)]
struct ViolationRow {
    id: i64,
    run_id: String,
    rule_id: i64,
    rule_name: String,
    severity: String,
    detected_at: String,
    message: String,
    observed_value: Option<f64>,
    expected: String,
    sample: String,
    acknowledged: bool,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<String>,
    ack_note: Option<String>,
    resolved_at: Option<String>,
}

/// Inside `record_run`'s transaction, right after its run row.
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    run_id: &str,
    rule_id: i64,
    rule_name: &RuleName,
    violation: &NewViolation,
) -> Result<()> {
    sqlx::query(INSERT_VIOLATION)
        .bind(run_id)
        .bind(rule_id)
        .bind(rule_name.as_str())
        .bind(violation.severity.as_str())
        .bind(codec::ts(violation.detected_at))
        .bind(&violation.message)
        .bind(violation.observed_value)
        .bind(&violation.expected)
        .bind(codec::json_text(
            &violation.sample,
            "the violation's sample",
        )?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn violations(
        &self,
        filter: &ViolationFilter,
    ) -> Result<Vec<ViolationRecord>> {
        let mut conditions = Conditions::select(SELECT_VIOLATIONS);
        if let Some(since) = filter.since {
            conditions.bind("detected_at >= ", codec::ts(since), "");
        }
        conditions.one_of("rule_name", filter.rule_names.clone());
        if filter.unacknowledged_only {
            conditions.holds("acknowledged = 0");
        }
        if let Some(min) = filter.min_severity {
            // Severities are stored by name, so "at least" is the list of names.
            let at_least = Severity::ALL.into_iter().filter(|s| *s >= min);
            conditions.one_of("severity", at_least.map(Severity::as_str).collect());
        }
        let mut query = conditions.order_by("detected_at DESC, id DESC", filter.limit);
        let rows: Vec<ViolationRow> = query.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(violation_record).collect()
    }

    pub(crate) async fn acknowledge(
        &self,
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
        let ids = codec::json_text(&wanted, "violation ids")?;
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let known: BTreeSet<i64> = sqlx::query_scalar(SELECT_KNOWN_IDS)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        let unknown: Vec<String> = wanted.difference(&known).map(i64::to_string).collect();
        if !unknown.is_empty() {
            return Err(StoreError::NotFound(format!(
                "no violation with id {}",
                unknown.join(", ")
            )));
        }
        let mut acknowledged: Vec<i64> = sqlx::query_scalar(ACKNOWLEDGE)
            .bind(&ids)
            .bind(by)
            .bind(codec::ts(at))
            .bind(note)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        acknowledged.sort_unstable();
        Ok(acknowledged)
    }
}

fn violation_record(row: ViolationRow) -> Result<ViolationRecord> {
    let origin = Origin {
        table: "violation",
        key: &row.id,
    };
    Ok(ViolationRecord {
        id: row.id,
        run_id: origin.parse("run_id", RunId::parse(&row.run_id).ok_or("not a run id"))?,
        rule_id: row.rule_id,
        rule_name: origin.parse("rule_name", RuleName::new(row.rule_name.as_str()))?,
        severity: origin.parse("severity", row.severity.parse())?,
        detected_at: origin.ts("detected_at", &row.detected_at)?,
        sample: origin.json("sample", &row.sample)?,
        acknowledged_at: origin.opt_ts("acknowledged_at", row.acknowledged_at.as_deref())?,
        resolved_at: origin.opt_ts("resolved_at", row.resolved_at.as_deref())?,
        message: row.message,
        observed_value: row.observed_value,
        expected: row.expected,
        acknowledged: row.acknowledged,
        acknowledged_by: row.acknowledged_by,
        ack_note: row.ack_note,
    })
}
