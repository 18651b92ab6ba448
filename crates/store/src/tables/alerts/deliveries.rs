//! Deliveries through their life: claimed by one dispatcher (a conditional
//! update: of two dispatchers, one wins), its attempt recorded STARTED in
//! the same transaction, settled by that dispatcher (SENT, back to PENDING
//! for a retry, FAILED), or found with its lease expired, its dispatcher
//! dead mid-attempt: IN_DOUBT, never sent again, because it may have
//! arrived.

use chrono::{DateTime, Utc};
use sqlx::Pool;

use super::{returned_id, small};
use crate::alert_model::{
    AlertBacklog, AttemptOutcome, AttemptRecord, ClaimedDelivery, DeliveryFilter, DeliveryRecord,
    DeliveryState,
};
use crate::error::{Result, StoreError};
use crate::sql::{self, Arg, Conditions, Dialect, Fields, Statement, StoredRow};

const CLAIM: &str = "UPDATE alert_deliveries \
     SET state = 'SENDING', claimed_by = $2, lease_until = $3, attempts = attempts + 1 \
     WHERE id = $1 AND state = 'PENDING' \
     RETURNING id, channel, batch_key, attempts";

const INSERT_ATTEMPT: &str = "INSERT INTO alert_attempts (delivery_id, attempt, dispatcher, \
         started_at, outcome) VALUES ($1, $2, $3, $4, 'STARTED')";

const SELECT_ITEMS: &str =
    "SELECT id, item FROM alert_delivery_items WHERE delivery_id = $1 ORDER BY id";

const FINISH_ATTEMPT: &str = "UPDATE alert_attempts \
     SET finished_at = $3, outcome = $4, status = $5, error = $6 \
     WHERE delivery_id = $1 AND attempt = $2";

/// Only by the dispatcher that claimed it. An IN_DOUBT delivery whose
/// attempt does end after all gets its real outcome.
const SETTLE: &str = "UPDATE alert_deliveries \
     SET state = $3, due_at = COALESCE($4, due_at), sent_at = $5, last_error = $6, \
         lease_until = NULL \
     WHERE id = $1 AND claimed_by = $2 AND state IN ('SENDING', 'IN_DOUBT')";

const EXPIRE: &str = "UPDATE alert_deliveries SET state = 'IN_DOUBT', lease_until = NULL, \
         last_error = 'the dispatcher stopped during an attempt; not sent again, it may have arrived' \
     WHERE state = 'SENDING' AND lease_until <= $1 \
     RETURNING id, attempts";

const ABANDON_ATTEMPT: &str = "UPDATE alert_attempts SET outcome = 'UNKNOWN', finished_at = $3 \
     WHERE delivery_id = $1 AND attempt = $2 AND outcome = 'STARTED'";

const SELECT_DELIVERIES: &str = "SELECT id, channel, batch_key, state, created_at, due_at, \
     attempts, claimed_by, sent_at, last_error FROM alert_deliveries";

const SELECT_ATTEMPTS: &str = "SELECT delivery_id, attempt, dispatcher, started_at, \
     finished_at, outcome, status, error FROM alert_attempts WHERE delivery_id = $1 \
     ORDER BY attempt";

const BACKLOG: &str = "SELECT \
     (SELECT COUNT(*) FROM alert_outbox WHERE planned_at IS NULL) AS unplanned, \
     (SELECT COUNT(*) FROM alert_deliveries WHERE state IN ('PENDING', 'SENDING')) AS undelivered";

pub(crate) async fn claim<DB: Dialect>(
    pool: &Pool<DB>,
    dispatcher: &str,
    now: DateTime<Utc>,
    lease: std::time::Duration,
    limit: u32,
) -> Result<Vec<ClaimedDelivery>> {
    if dispatcher.trim().is_empty() {
        return Err(StoreError::Invalid(
            "deliveries are claimed by a named dispatcher".into(),
        ));
    }
    let lease = chrono::Duration::from_std(lease)
        .ok()
        .filter(|l| *l > chrono::Duration::zero())
        .ok_or_else(|| StoreError::Invalid(format!("lease {lease:?} is not usable")))?;
    let mut tx = sql::begin_write(pool).await?;
    let due = DB::fetch(
        &mut tx,
        Statement::new(DB::SELECT_DUE_DELIVERIES)
            .arg(now)
            .arg(i64::from(limit)),
    )
    .await?;
    let mut claimed = Vec::new();
    for row in &due {
        let Some(id) = returned_id(std::slice::from_ref(row), "alert_deliveries")? else {
            continue;
        };
        let rows = DB::fetch(
            &mut tx,
            Statement::new(CLAIM)
                .arg(id)
                .arg(dispatcher)
                .arg(now + lease),
        )
        .await?;
        let Some(row) = rows.first() else {
            // Another dispatcher got there first.
            continue;
        };
        let (f, id) = Fields::keyed_by_int(row, "alert_deliveries", "id")?;
        let attempt = small(&f, "attempts")?;
        let start = Statement::new(INSERT_ATTEMPT)
            .arg(id)
            .arg(i64::from(attempt))
            .arg(dispatcher)
            .arg(now);
        DB::execute(&mut tx, start).await?;
        let items = DB::fetch(&mut tx, Statement::new(SELECT_ITEMS).arg(id)).await?;
        claimed.push(ClaimedDelivery {
            id,
            channel: f.text("channel")?,
            batch_key: f.text("batch_key")?,
            attempt,
            items: items_of(&items)?,
        });
    }
    tx.commit().await?;
    Ok(claimed)
}

pub(crate) async fn settle<DB: Dialect>(
    pool: &Pool<DB>,
    delivery: &ClaimedDelivery,
    dispatcher: &str,
    outcome: &AttemptOutcome,
    now: DateTime<Utc>,
) -> Result<()> {
    let (state, outcome_name, status, error, due, sent) = match outcome {
        AttemptOutcome::Delivered { status } => (
            DeliveryState::Sent,
            "DELIVERED",
            *status,
            None,
            None,
            Some(now),
        ),
        AttemptOutcome::Retry {
            status,
            error,
            not_before,
        } => (
            DeliveryState::Pending,
            "RETRY",
            *status,
            Some(error.as_str()),
            Some(*not_before),
            None,
        ),
        AttemptOutcome::Failed { status, error } => (
            DeliveryState::Failed,
            "FAILED",
            *status,
            Some(error.as_str()),
            None,
            None,
        ),
    };
    let status = Arg::Int(status.map(i64::from));
    let mut tx = sql::begin_write(pool).await?;
    let attempt = Statement::new(FINISH_ATTEMPT)
        .arg(delivery.id)
        .arg(i64::from(delivery.attempt))
        .arg(now)
        .arg(outcome_name)
        .arg(status)
        .arg(error);
    DB::execute(&mut tx, attempt).await?;
    let settle = Statement::new(SETTLE)
        .arg(delivery.id)
        .arg(dispatcher)
        .arg(state.as_str())
        .arg(due)
        .arg(sent)
        .arg(error);
    DB::execute(&mut tx, settle).await?;
    tx.commit().await?;
    Ok(())
}

/// Deliveries whose dispatcher died mid-attempt (lease expired at `now`)
/// become IN_DOUBT, their attempt UNKNOWN. Returns how many.
pub(crate) async fn recover<DB: Dialect>(pool: &Pool<DB>, now: DateTime<Utc>) -> Result<u64> {
    let mut tx = sql::begin_write(pool).await?;
    let expired = DB::fetch(&mut tx, Statement::new(EXPIRE).arg(now)).await?;
    for row in &expired {
        let (f, id) = Fields::keyed_by_int(row, "alert_deliveries", "id")?;
        let abandon = Statement::new(ABANDON_ATTEMPT)
            .arg(id)
            .arg(f.int("attempts")?)
            .arg(now);
        DB::execute(&mut tx, abandon).await?;
    }
    tx.commit().await?;
    Ok(expired.len() as u64)
}

pub(crate) async fn list<DB: Dialect>(
    pool: &Pool<DB>,
    filter: &DeliveryFilter,
) -> Result<Vec<DeliveryRecord>> {
    let mut conditions = Conditions::<DB>::select(SELECT_DELIVERIES);
    if let Some(since) = filter.since {
        conditions.bind("created_at >= ", since, "");
    }
    conditions.one_of("channel", filter.channels.clone());
    conditions.one_of(
        "state",
        filter
            .states
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
    );
    let statement = conditions.order_by("id DESC", filter.limit);
    let mut conn = pool.acquire().await?;
    let rows = DB::fetch(&mut conn, statement).await?;
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        let (f, id) = Fields::keyed_by_int(row, "alert_deliveries", "id")?;
        let items = DB::fetch(&mut conn, Statement::new(SELECT_ITEMS).arg(id)).await?;
        records.push(DeliveryRecord {
            id,
            channel: f.text("channel")?,
            batch_key: f.text("batch_key")?,
            state: f.parsed("state")?,
            created_at: f.time("created_at")?,
            due_at: f.time("due_at")?,
            attempts: small(&f, "attempts")?,
            claimed_by: f.opt_text("claimed_by")?,
            sent_at: f.opt_time("sent_at")?,
            last_error: f.opt_text("last_error")?,
            items: items_of(&items)?,
        });
    }
    Ok(records)
}

pub(crate) async fn attempts<DB: Dialect>(
    pool: &Pool<DB>,
    delivery_id: i64,
) -> Result<Vec<AttemptRecord>> {
    let rows = sql::fetch(pool, Statement::new(SELECT_ATTEMPTS).arg(delivery_id)).await?;
    rows.iter()
        .map(|row| {
            let (f, delivery_id) = Fields::keyed_by_int(row, "alert_attempts", "delivery_id")?;
            Ok(AttemptRecord {
                delivery_id,
                attempt: small(&f, "attempt")?,
                dispatcher: f.text("dispatcher")?,
                started_at: f.time("started_at")?,
                finished_at: f.opt_time("finished_at")?,
                outcome: f.text("outcome")?,
                status: f
                    .opt_int("status")?
                    .map(|s| f.convert("status", u16::try_from(s)))
                    .transpose()?,
                error: f.opt_text("error")?,
            })
        })
        .collect()
}

pub(crate) async fn backlog<DB: Dialect>(pool: &Pool<DB>) -> Result<AlertBacklog> {
    let rows = sql::fetch(pool, Statement::new(BACKLOG)).await?;
    let Some(row) = rows.first() else {
        return Ok(AlertBacklog::default());
    };
    let (f, unplanned) = Fields::keyed_by_int(row, "alert_outbox", "unplanned")?;
    Ok(AlertBacklog {
        unplanned: f.convert("unplanned", u64::try_from(unplanned))?,
        undelivered: f.count("undelivered")?.unwrap_or(0),
    })
}

fn items_of<R: StoredRow>(rows: &[R]) -> Result<Vec<serde_json::Value>> {
    rows.iter()
        .map(|row| {
            let (f, _) = Fields::keyed_by_int(row, "alert_delivery_items", "id")?;
            f.raw_json("item")
        })
        .collect()
}
