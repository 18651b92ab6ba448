//! The planning pass: pending outbox events (and overdue incidents, for
//! escalation) are read with everything a message needs, handed to the
//! caller's decision, and the decision applied (the rule's new alert state,
//! each notification added to an open batch of its channel or to a new
//! delivery, the event marked planned) in ONE transaction. A crash before
//! the commit leaves the events pending; one pass at a time plans (SQLite's
//! single writer; an advisory lock on PostgreSQL), so a rule's state is
//! never decided twice at once.

use chrono::{DateTime, Utc};
use dq_core::{RunId, Severity};
use sqlx::Pool;

use super::{returned_id, small};
use crate::alert_model::{
    AlertDecision, AlertEvent, AlertEventKind, AlertRun, EscalationScan, Notification, PlanSummary,
    RuleAlertState,
};
use crate::error::{Result, StoreError};
use crate::model::{StoredRule, ViolationRecord};
use crate::sql::{self, Arg, Conditions, Dialect, Fields, Statement, StoredRow};
use crate::tables::{rules, violations};

const SELECT_UNPLANNED: &str = "SELECT id, kind, rule_id, run_id, violation_id, created_at \
     FROM alert_outbox WHERE planned_at IS NULL ORDER BY id LIMIT $1";

const MARK_PLANNED: &str = "UPDATE alert_outbox SET planned_at = $2, decision = $3 WHERE id = $1";

const SELECT_RULE: &str =
    "SELECT id, name, definition, source, created_at, updated_at, version, deleted_at \
     FROM rules WHERE id = $1";

const SELECT_RUN: &str = "SELECT id, scheduled_for, finished_at, status, observed_value, \
     expected, message FROM runs WHERE id = $1";

/// The incident is acknowledged when any of its violations is.
const SELECT_STATE: &str = "SELECT rule_id, open, opened_at, severity, fingerprint, \
         last_violation_id, notified_at, channels, suppressed, last_alert_at, \
         (SELECT COUNT(*) FROM violations v WHERE v.rule_id = s.rule_id \
             AND v.acknowledged = TRUE AND v.detected_at >= s.opened_at) AS acknowledged_count \
     FROM alert_state s WHERE rule_id = $1";

const UPSERT_STATE: &str = "INSERT INTO alert_state (rule_id, open, opened_at, severity, \
         fingerprint, last_violation_id, notified_at, channels, suppressed, last_alert_at, \
         updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
     ON CONFLICT (rule_id) DO UPDATE SET open = excluded.open, opened_at = excluded.opened_at, \
         severity = excluded.severity, fingerprint = excluded.fingerprint, \
         last_violation_id = excluded.last_violation_id, notified_at = excluded.notified_at, \
         channels = excluded.channels, suppressed = excluded.suppressed, \
         last_alert_at = excluded.last_alert_at, updated_at = excluded.updated_at";

const SELECT_OVERDUE: &str = "SELECT rule_id FROM alert_state s";

const INSERT_DELIVERY: &str = "INSERT INTO alert_deliveries (channel, batch_key, state, \
         created_at, due_at, attempts) \
     VALUES ($1, $2, 'PENDING', $3, $4, 0) RETURNING id";

const INSERT_ITEM: &str = "INSERT INTO alert_delivery_items (delivery_id, outbox_id, rule_id, \
         item) VALUES ($1, $2, $3, $4)";

/// Decides one event given the rule's alert state (default: never alerted).
pub(crate) type Decide<'d> = dyn FnMut(&AlertEvent, &RuleAlertState) -> AlertDecision + Send + 'd;

pub(crate) async fn plan<DB: Dialect>(
    pool: &Pool<DB>,
    now: DateTime<Utc>,
    limit: u32,
    escalation: Option<EscalationScan>,
    decide: &mut Decide<'_>,
) -> Result<PlanSummary> {
    let mut tx = sql::begin_write(pool).await?;
    if let Some(lock) = DB::LOCK_ALERT_PLANNING {
        DB::execute(&mut tx, Statement::new(lock)).await?;
    }
    let mut summary = PlanSummary::default();
    let pending = DB::fetch(
        &mut tx,
        Statement::new(SELECT_UNPLANNED).arg(i64::from(limit)),
    )
    .await?;
    for row in &pending {
        let (f, outbox_id) = Fields::keyed_by_int(row, "alert_outbox", "id")?;
        let kind: AlertEventKind = f.parsed("kind")?;
        let rule_id = f.int("rule_id")?;
        let run_id = f.text("run_id")?;
        let violation_id = f.opt_int("violation_id")?;
        let event = AlertEvent {
            outbox_id: Some(outbox_id),
            kind,
            at: f.time("created_at")?,
            rule: rule::<DB>(&mut tx, rule_id).await?,
            run: run::<DB>(&mut tx, &run_id).await?,
            violation: match violation_id {
                Some(id) => violation::<DB>(&mut tx, id).await?,
                None => None,
            },
        };
        let state = state::<DB>(&mut tx, rule_id).await?;
        let decision = decide(&event, &state);
        summary.events += 1;
        summary.notifications += apply::<DB>(&mut tx, &event, decision, now).await?;
    }
    if let Some(scan) = escalation {
        for rule_id in overdue::<DB>(&mut tx, scan).await? {
            let state = state::<DB>(&mut tx, rule_id).await?;
            let violation = match state.last_violation_id {
                Some(id) => violation::<DB>(&mut tx, id).await?,
                None => None,
            };
            let run = match &violation {
                Some(v) => run::<DB>(&mut tx, &v.run_id.to_string()).await?,
                None => None,
            };
            let event = AlertEvent {
                outbox_id: None,
                kind: AlertEventKind::Escalation,
                at: now,
                rule: rule::<DB>(&mut tx, rule_id).await?,
                run,
                violation,
            };
            let decision = decide(&event, &state);
            summary.escalations += 1;
            summary.notifications += apply::<DB>(&mut tx, &event, decision, now).await?;
        }
    }
    tx.commit().await?;
    Ok(summary)
}

/// Writes what was decided; returns the notifications added.
async fn apply<DB: Dialect>(
    conn: &mut DB::Connection,
    event: &AlertEvent,
    decision: AlertDecision,
    now: DateTime<Utc>,
) -> Result<usize> {
    let state = &decision.state;
    if state.rule_id != event.rule.id {
        return Err(StoreError::Invalid(format!(
            "a decision about rule {} returned the state of rule id {}",
            event.rule.rule.name, state.rule_id
        )));
    }
    let upsert = Statement::new(UPSERT_STATE)
        .arg(state.rule_id)
        .arg(state.open)
        .arg(state.opened_at)
        .arg(state.severity.map(Severity::as_str))
        .arg(state.fingerprint.as_deref())
        .arg(Arg::Int(state.last_violation_id))
        .arg(state.notified_at)
        .arg(Arg::json(&state.channels, "the notified channels")?)
        .arg(i64::from(state.suppressed))
        .arg(state.last_alert_at)
        .arg(now);
    DB::execute(conn, upsert).await?;
    let added = decision.notifications.len();
    for notification in decision.notifications {
        add_to_delivery::<DB>(conn, event, notification, now).await?;
    }
    if let Some(id) = event.outbox_id {
        let mark = Statement::new(MARK_PLANNED)
            .arg(id)
            .arg(now)
            .arg(decision.outcome);
        DB::execute(conn, mark).await?;
    }
    Ok(added)
}

/// Into the channel's batch still collecting under the same key, else a
/// new delivery due at the end of its window.
async fn add_to_delivery<DB: Dialect>(
    conn: &mut DB::Connection,
    event: &AlertEvent,
    notification: Notification,
    now: DateTime<Utc>,
) -> Result<()> {
    let open = DB::fetch(
        conn,
        Statement::new(DB::SELECT_OPEN_BATCH)
            .arg(notification.channel.as_str())
            .arg(notification.batch_key.as_str())
            .arg(now),
    )
    .await?;
    let delivery_id = match returned_id(&open, "alert_deliveries")? {
        Some(id) => id,
        None => {
            let window = chrono::Duration::from_std(notification.batch_window).map_err(|_| {
                StoreError::Invalid(format!(
                    "batch window {:?} is too long",
                    notification.batch_window
                ))
            })?;
            let insert = Statement::new(INSERT_DELIVERY)
                .arg(notification.channel.as_str())
                .arg(notification.batch_key.as_str())
                .arg(now)
                .arg(now + window);
            let rows = DB::fetch(conn, insert).await?;
            returned_id(&rows, "alert_deliveries")?
                .ok_or_else(|| StoreError::Corrupt("a delivery insert returned no id".into()))?
        }
    };
    let item = Statement::new(INSERT_ITEM)
        .arg(delivery_id)
        .arg(Arg::Int(event.outbox_id))
        .arg(event.rule.id)
        .arg(Arg::Json(Some(notification.item)));
    DB::execute(conn, item).await?;
    Ok(())
}

async fn rule<DB: Dialect>(conn: &mut DB::Connection, id: i64) -> Result<StoredRule> {
    let rows = DB::fetch(conn, Statement::new(SELECT_RULE).arg(id)).await?;
    rows.first()
        .map(rules::stored_rule)
        .transpose()?
        .ok_or_else(|| StoreError::Corrupt(format!("alert event of rule id {id}, which is gone")))
}

async fn run<DB: Dialect>(conn: &mut DB::Connection, id: &str) -> Result<Option<AlertRun>> {
    let rows = DB::fetch(conn, Statement::new(SELECT_RUN).arg(id)).await?;
    rows.first().map(alert_run).transpose()
}

async fn violation<DB: Dialect>(
    conn: &mut DB::Connection,
    id: i64,
) -> Result<Option<ViolationRecord>> {
    let mut conditions = Conditions::<DB>::select(violations::SELECT_VIOLATIONS);
    conditions.bind("id = ", id, "");
    let rows = DB::fetch(conn, conditions.order_by("id", None)).await?;
    rows.first().map(violations::violation_record).transpose()
}

async fn state<DB: Dialect>(conn: &mut DB::Connection, rule_id: i64) -> Result<RuleAlertState> {
    let rows = DB::fetch(conn, Statement::new(SELECT_STATE).arg(rule_id)).await?;
    let Some(row) = rows.first() else {
        return Ok(RuleAlertState {
            rule_id,
            ..RuleAlertState::default()
        });
    };
    let (f, rule_id) = Fields::keyed_by_int(row, "alert_state", "rule_id")?;
    Ok(RuleAlertState {
        rule_id,
        open: f.boolean("open")?,
        opened_at: f.opt_time("opened_at")?,
        severity: f.opt_parsed("severity")?,
        fingerprint: f.opt_text("fingerprint")?,
        last_violation_id: f.opt_int("last_violation_id")?,
        notified_at: f.opt_time("notified_at")?,
        channels: f.json("channels")?,
        suppressed: small(&f, "suppressed")?,
        last_alert_at: f.opt_time("last_alert_at")?,
        acknowledged: f.int("acknowledged_count")? > 0,
    })
}

async fn overdue<DB: Dialect>(conn: &mut DB::Connection, scan: EscalationScan) -> Result<Vec<i64>> {
    let mut conditions = Conditions::<DB>::select(SELECT_OVERDUE);
    conditions.holds("open = TRUE");
    conditions.bind("notified_at <= ", scan.notified_before, "");
    let at_least = Severity::ALL
        .into_iter()
        .filter(|s| *s >= scan.min_severity);
    conditions.one_of(
        "severity",
        at_least.map(|s| s.as_str().to_string()).collect(),
    );
    conditions.holds(
        "NOT EXISTS (SELECT 1 FROM violations v WHERE v.rule_id = s.rule_id \
         AND v.acknowledged = TRUE AND v.detected_at >= s.opened_at)",
    );
    let rows = DB::fetch(conn, conditions.order_by("rule_id", None)).await?;
    rows.iter()
        .map(|row| Fields::keyed_by_int(row, "alert_state", "rule_id").map(|(_, id)| id))
        .collect()
}

fn alert_run<R: StoredRow>(row: &R) -> Result<AlertRun> {
    let (f, id) = Fields::keyed_by_text(row, "run", "id")?;
    Ok(AlertRun {
        id: f.convert("id", RunId::parse(&id).ok_or("not a run id"))?,
        scheduled_for: f.time("scheduled_for")?,
        finished_at: f.opt_time("finished_at")?,
        status: f.parsed("status")?,
        observed_value: f.opt_real("observed_value")?,
        expected: f.text("expected")?,
        message: f.text("message")?,
    })
}
