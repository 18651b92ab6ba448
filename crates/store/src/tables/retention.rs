//! Retention: deleting the runs scheduled before a cutoff with everything
//! that hangs off them (violations, metrics, alert outbox events, their
//! delivery items, and deliveries left with no item, with their attempts),
//! a batch of runs per short transaction, each row handed to an archive
//! before its batch's delete commits.
//!
//! What stays (see [`crate::CleanupReport`]) is one SQL predicate,
//! [`kept_run!`], used by the plan's counts and by the batches alike, so
//! the plan says what a cleanup does.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sqlx::Pool;

use crate::error::{Result, StoreError};
use crate::report_model::{ArchiveSink, ArchivedRow, CleanupError, CleanupReport};
use crate::sql::{self, Conditions, Dialect, Fields, Statement, StoredRow};

/// The run `r` stays: it is in flight, its violation is open (or
/// acknowledges an incident still open, which would escalate again without
/// it), or an alert about it is in a delivery still PENDING or SENDING (a
/// dispatcher may be sending it). An event never planned goes: without a
/// dispatcher (no `[alerts]`) none ever will be, and once planned after the
/// retention period it would only be a stale alert.
macro_rules! kept_run {
    () => {
        "(r.status IN ('PENDING', 'RUNNING') \
          OR EXISTS (SELECT 1 FROM violations v WHERE v.run_id = r.id \
              AND v.resolved_at IS NULL AND (v.acknowledged = FALSE \
                  OR EXISTS (SELECT 1 FROM alert_state s WHERE s.rule_id = v.rule_id \
                      AND s.open = TRUE AND v.detected_at >= s.opened_at))) \
          OR EXISTS (SELECT 1 FROM alert_outbox o \
              JOIN alert_delivery_items i ON i.outbox_id = o.id \
              JOIN alert_deliveries d ON d.id = i.delivery_id \
              WHERE o.run_id = r.id AND d.state IN ('PENDING', 'SENDING')))"
    };
}

/// The delivery `dd` goes: settled, with items, every one about a run
/// that goes (an escalation's item, about no run, keeps it).
macro_rules! doomed_delivery {
    () => {
        concat!(
            "(dd.state IN ('SENT', 'FAILED', 'IN_DOUBT') \
             AND EXISTS (SELECT 1 FROM alert_delivery_items x WHERE x.delivery_id = dd.id) \
             AND NOT EXISTS (SELECT 1 FROM alert_delivery_items x WHERE x.delivery_id = dd.id \
                 AND NOT EXISTS (SELECT 1 FROM alert_outbox ob JOIN runs r ON r.id = ob.run_id \
                     WHERE ob.id = x.outbox_id AND r.scheduled_for < $1 AND NOT ",
            kept_run!(),
            ")))"
        )
    };
}

/// Per table of a run's rows: rows that go, rows that stay (`$1`: cutoff).
macro_rules! split_count {
    ($from:literal) => {
        concat!(
            "SELECT COUNT(*) FILTER (WHERE NOT ",
            kept_run!(),
            ") AS deleted, COUNT(*) FILTER (WHERE ",
            kept_run!(),
            ") AS kept FROM ",
            $from,
            " WHERE r.scheduled_for < $1"
        )
    };
}

const COUNT_RUNS: &str = split_count!("runs r");
const COUNT_VIOLATIONS: &str = split_count!("violations y JOIN runs r ON r.id = y.run_id");
const COUNT_METRICS: &str = split_count!("metrics y JOIN runs r ON r.id = y.run_id");
const COUNT_OUTBOX: &str = split_count!("alert_outbox y JOIN runs r ON r.id = y.run_id");
const COUNT_ITEMS: &str = split_count!(
    "alert_delivery_items y JOIN alert_outbox ob ON ob.id = y.outbox_id \
     JOIN runs r ON r.id = ob.run_id"
);
const COUNT_DELIVERIES: &str = concat!(
    "SELECT COUNT(*) AS deleted FROM alert_deliveries dd WHERE ",
    doomed_delivery!()
);
const COUNT_ATTEMPTS: &str = concat!(
    "SELECT COUNT(*) AS deleted FROM alert_attempts y \
     JOIN alert_deliveries dd ON dd.id = y.delivery_id WHERE ",
    doomed_delivery!()
);

/// `$1` cutoff, `$2` batch size: the oldest runs that go.
const FIRST_BATCH: &str = concat!(
    "SELECT r.id, r.scheduled_for FROM runs r WHERE r.scheduled_for < $1 AND NOT ",
    kept_run!(),
    " ORDER BY r.scheduled_for, r.id LIMIT $2"
);

/// [`FIRST_BATCH`] after the run (`$3`, `$4`) that ended the previous
/// batch: what precedes it was deleted or stays, no need to read it again.
const NEXT_BATCH: &str = concat!(
    "SELECT r.id, r.scheduled_for FROM runs r WHERE r.scheduled_for < $1 \
     AND (r.scheduled_for > $3 OR (r.scheduled_for = $3 AND r.id > $4)) AND NOT ",
    kept_run!(),
    " ORDER BY r.scheduled_for, r.id LIMIT $2"
);

/// How a column's value becomes JSON in the archive.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Int,
    Real,
    Bool,
    Time,
    Json,
}

/// A table's archived form: its SELECT and each column's kind, written
/// once by [`archived!`] so they cannot disagree.
struct Archived {
    table: &'static str,
    select: &'static str,
    columns: &'static [(&'static str, Kind)],
}

macro_rules! archived {
    ($table:literal { $first:ident: $first_kind:ident $(, $column:ident: $kind:ident)* $(,)? }) => {
        Archived {
            table: $table,
            select: concat!(
                "SELECT ", stringify!($first) $(, ", ", stringify!($column))*, " FROM ", $table
            ),
            columns: &[
                (stringify!($first), Kind::$first_kind)
                $(, (stringify!($column), Kind::$kind))*
            ],
        }
    };
}

const RUNS: Archived = archived!("runs" {
    id: Text, rule_id: Int, rule_name: Text, target: Text, dataset: Text,
    scheduled_for: Time, enqueued_at: Time, started_at: Time, finished_at: Time,
    status: Text, severity: Text, observed_value: Real, expected: Text, message: Text,
    observation: Json, effective_sample_size: Int, row_count: Int, worker: Text, queue: Text,
    attempt: Int, error: Text, retriable: Bool, duration_ms: Int, rule_version: Int,
});
const VIOLATIONS: Archived = archived!("violations" {
    id: Int, run_id: Text, rule_id: Int, rule_name: Text, severity: Text, detected_at: Time,
    message: Text, observed_value: Real, expected: Text, sample: Json, acknowledged: Bool,
    acknowledged_by: Text, acknowledged_at: Time, ack_note: Text, resolved_at: Time,
    ack_delay_ms: Int,
});
const METRICS: Archived = archived!("metrics" {
    id: Int, run_id: Text, rule_id: Int, target: Text, dataset: Text, column_name: Text,
    name: Text, value: Real, observed_at: Time,
});
const OUTBOX: Archived = archived!("alert_outbox" {
    id: Int, kind: Text, rule_id: Int, rule_name: Text, run_id: Text, violation_id: Int,
    created_at: Time, planned_at: Time, decision: Text,
});
const DELIVERIES: Archived = archived!("alert_deliveries" {
    id: Int, channel: Text, batch_key: Text, state: Text, created_at: Time, due_at: Time,
    attempts: Int, claimed_by: Text, lease_until: Time, sent_at: Time, last_error: Text,
});
const ATTEMPTS: Archived = archived!("alert_attempts" {
    id: Int, delivery_id: Int, attempt: Int, dispatcher: Text, started_at: Time,
    finished_at: Time, outcome: Text, status: Int, error: Text,
});
const ITEMS: Archived = archived!("alert_delivery_items" {
    id: Int, delivery_id: Int, outbox_id: Int, rule_id: Int, item: Json,
});

/// Settled: no dispatcher will touch the delivery again.
const SETTLED: [&str; 3] = ["SENT", "FAILED", "IN_DOUBT"];

/// What [`crate::Store::cleanup_plan`] counts: what a cleanup at `cutoff`
/// would delete now, and what it would keep.
pub(crate) async fn plan<DB: Dialect>(
    pool: &Pool<DB>,
    cutoff: DateTime<Utc>,
) -> Result<CleanupReport> {
    let mut report = CleanupReport::empty(cutoff, true);
    for (table, sql, splits) in [
        ("runs", COUNT_RUNS, true),
        ("violations", COUNT_VIOLATIONS, true),
        ("metrics", COUNT_METRICS, true),
        ("alert_outbox", COUNT_OUTBOX, true),
        ("alert_deliveries", COUNT_DELIVERIES, false),
        ("alert_attempts", COUNT_ATTEMPTS, false),
        ("alert_delivery_items", COUNT_ITEMS, true),
    ] {
        let rows = sql::fetch(pool, Statement::new(sql).arg(cutoff)).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt(format!("counting {table} returned no row")))?;
        let (f, _) = Fields::keyed_by_int(row, table, "deleted")?;
        let counts = report.table_mut(table);
        counts.deleted = f.count("deleted")?.unwrap_or(0);
        if splits {
            counts.kept = Some(f.count("kept")?.unwrap_or(0));
        }
    }
    Ok(report)
}

/// Deletes in batches of `batch_size` runs, oldest first, each batch in
/// its own write transaction: its rows handed to `archive` (then flushed)
/// before the delete commits. `progress` sees the report after each batch.
/// Then the backend tidies the touched tables up (outside any transaction).
pub(crate) async fn cleanup<DB: Dialect>(
    pool: &Pool<DB>,
    cutoff: DateTime<Utc>,
    batch_size: u32,
    mut archive: Option<&mut dyn ArchiveSink>,
    progress: &mut (dyn FnMut(&CleanupReport) + Send),
) -> Result<CleanupReport, CleanupError> {
    if batch_size == 0 {
        return Err(StoreError::Invalid("a cleanup batch holds at least one run".into()).into());
    }
    let mut report = CleanupReport::empty(cutoff, false);
    let mut after: Option<(DateTime<Utc>, String)> = None;
    loop {
        let mut tx = sql::begin_write(pool).await?;
        let select = match &after {
            None => Statement::new(FIRST_BATCH)
                .arg(cutoff)
                .arg(i64::from(batch_size)),
            Some((at, id)) => Statement::new(NEXT_BATCH)
                .arg(cutoff)
                .arg(i64::from(batch_size))
                .arg(*at)
                .arg(id.as_str()),
        };
        let batch = DB::fetch(&mut tx, select).await?;
        let mut run_ids = Vec::with_capacity(batch.len());
        let mut end = None;
        for row in &batch {
            let (f, id) = Fields::keyed_by_text(row, "runs", "id")?;
            end = Some((f.time("scheduled_for")?, id.clone()));
            run_ids.push(id);
        }
        let Some(end) = end else {
            tx.rollback().await?;
            break;
        };
        let deleted = delete_batch::<DB>(&mut tx, run_ids, archive.as_deref_mut()).await?;
        if let Some(sink) = archive.as_deref_mut() {
            sink.flush().map_err(CleanupError::Archive)?;
        }
        tx.commit().await?;
        for (table, n) in deleted {
            report.table_mut(table).deleted += n;
        }
        report.batches += 1;
        after = Some(end);
        progress(&report);
    }
    let left = plan(pool, cutoff).await?;
    for (counts, left) in report.tables.iter_mut().zip(&left.tables) {
        counts.kept = left.kept;
    }
    if report.batches > 0 {
        // The deletes are committed: a tidy-up that fails (say, VACUUM
        // refused to a role that does not own the tables) is only reported.
        let mut conn = pool.acquire().await?;
        if let Err(e) = DB::execute(&mut conn, Statement::new(DB::TIDY_AFTER_CLEANUP)).await {
            tracing::warn!(error = %e, "cleanup: tidying the tables up afterwards failed");
        }
    }
    Ok(report)
}

/// Deletes the rule `rule_id` with everything of it: its runs a batch at a
/// time exactly as a cleanup deletes old ones (archived first), then, in one
/// last transaction, its alert items about no run (escalations) and the
/// settled deliveries they empty, its remaining outbox events and metric
/// points, its alert state, its versions and the rule row. `extra` (the
/// rule and its versions, as JSON) goes to the archive before that last
/// transaction commits.
pub(crate) async fn purge_rule<DB: Dialect>(
    pool: &Pool<DB>,
    rule_id: i64,
    batch_size: u32,
    mut archive: Option<&mut dyn ArchiveSink>,
    extra: Vec<ArchivedRow>,
) -> Result<CleanupReport, CleanupError> {
    let mut report = CleanupReport::empty(Utc::now(), false);
    loop {
        let mut tx = sql::begin_write(pool).await?;
        let select = Statement::new("SELECT id FROM runs WHERE rule_id = $1 ORDER BY id LIMIT $2")
            .arg(rule_id)
            .arg(i64::from(batch_size.max(1)));
        let run_ids = DB::fetch(&mut tx, select)
            .await?
            .iter()
            .map(|row| Fields::keyed_by_text(row, "runs", "id").map(|(_, id)| id))
            .collect::<Result<Vec<String>>>()?;
        if run_ids.is_empty() {
            tx.rollback().await?;
            break;
        }
        let deleted = delete_batch::<DB>(&mut tx, run_ids, archive.as_deref_mut()).await?;
        if let Some(sink) = archive.as_deref_mut() {
            sink.flush().map_err(CleanupError::Archive)?;
        }
        tx.commit().await?;
        for (table, n) in deleted {
            report.table_mut(table).deleted += n;
        }
        report.batches += 1;
    }
    let mut tx = sql::begin_write(pool).await?;
    let rule = Ids::Ints(vec![rule_id]);
    let items = read::<DB>(&mut tx, &ITEMS, "rule_id", &rule).await?;
    let item_ids: BTreeSet<i64> = ints(&items, "id").into_iter().collect();
    let candidates = Ids::Ints(ints(&items, "delivery_id"));
    let deliveries = emptied_deliveries::<DB>(&mut tx, &candidates, &item_ids).await?;
    let delivery_ids = Ids::Ints(ints(&deliveries, "id"));
    if let Some(sink) = archive {
        write_all(sink, &DELIVERIES, deliveries)?;
        let attempts = read::<DB>(&mut tx, &ATTEMPTS, "delivery_id", &delivery_ids).await?;
        write_all(sink, &ATTEMPTS, attempts)?;
        write_all(sink, &ITEMS, items)?;
        for row in &extra {
            sink.write(row).map_err(CleanupError::Archive)?;
        }
        sink.flush().map_err(CleanupError::Archive)?;
    }
    let item_ids = Ids::Ints(item_ids.into_iter().collect());
    let last: [(&'static str, &'static str, &'static str, &Ids); 9] = [
        (
            "alert_delivery_items",
            "DELETE FROM alert_delivery_items",
            "id",
            &item_ids,
        ),
        (
            "alert_attempts",
            "DELETE FROM alert_attempts",
            "delivery_id",
            &delivery_ids,
        ),
        (
            "alert_deliveries",
            "DELETE FROM alert_deliveries",
            "id",
            &delivery_ids,
        ),
        ("alert_outbox", "DELETE FROM alert_outbox", "rule_id", &rule),
        ("metrics", "DELETE FROM metrics", "rule_id", &rule),
        ("alert_state", "DELETE FROM alert_state", "rule_id", &rule),
        (
            "rule_versions",
            "DELETE FROM rule_versions",
            "rule_id",
            &rule,
        ),
        ("violations", "DELETE FROM violations", "rule_id", &rule),
        ("rules", "DELETE FROM rules", "id", &rule),
    ];
    for (table, statement, column, ids) in last {
        let n = delete::<DB>(&mut tx, statement, column, ids).await?;
        if report.tables.iter().any(|t| t.table == table) {
            report.table_mut(table).deleted += n;
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// One batch, inside its transaction: reads what goes, archives it parents
/// first, deletes it children first. Returns rows deleted per table.
async fn delete_batch<'s, DB: Dialect>(
    conn: &mut DB::Connection,
    run_ids: Vec<String>,
    archive: Option<&mut (dyn ArchiveSink + 's)>,
) -> Result<Vec<(&'static str, u64)>, CleanupError> {
    let runs = Ids::Texts(run_ids);
    // The alerting rows are few: read them whole, to know what goes.
    let outbox = read::<DB>(conn, &OUTBOX, "run_id", &runs).await?;
    let outbox_ids = Ids::Ints(ints(&outbox, "id"));
    let items = read::<DB>(conn, &ITEMS, "outbox_id", &outbox_ids).await?;
    let item_ids: BTreeSet<i64> = ints(&items, "id").into_iter().collect();
    let candidates = Ids::Ints(ints(&items, "delivery_id"));
    let deliveries = emptied_deliveries::<DB>(conn, &candidates, &item_ids).await?;
    let delivery_ids = Ids::Ints(ints(&deliveries, "id"));

    if let Some(sink) = archive {
        for table in [&RUNS, &VIOLATIONS, &METRICS] {
            let column = if table.table == "runs" {
                "id"
            } else {
                "run_id"
            };
            let rows = read::<DB>(conn, table, column, &runs).await?;
            write_all(sink, table, rows)?;
        }
        write_all(sink, &OUTBOX, outbox)?;
        write_all(sink, &DELIVERIES, deliveries)?;
        let attempts = read::<DB>(conn, &ATTEMPTS, "delivery_id", &delivery_ids).await?;
        write_all(sink, &ATTEMPTS, attempts)?;
        write_all(sink, &ITEMS, items)?;
    }

    let item_ids = Ids::Ints(item_ids.into_iter().collect());
    Ok(vec![
        (
            "alert_delivery_items",
            delete::<DB>(conn, "DELETE FROM alert_delivery_items", "id", &item_ids).await?,
        ),
        (
            "alert_attempts",
            delete::<DB>(
                conn,
                "DELETE FROM alert_attempts",
                "delivery_id",
                &delivery_ids,
            )
            .await?,
        ),
        (
            "alert_deliveries",
            delete::<DB>(conn, "DELETE FROM alert_deliveries", "id", &delivery_ids).await?,
        ),
        (
            "alert_outbox",
            delete::<DB>(conn, "DELETE FROM alert_outbox", "id", &outbox_ids).await?,
        ),
        (
            "violations",
            delete::<DB>(conn, "DELETE FROM violations", "run_id", &runs).await?,
        ),
        (
            "metrics",
            delete::<DB>(conn, "DELETE FROM metrics", "run_id", &runs).await?,
        ),
        (
            "runs",
            delete::<DB>(conn, "DELETE FROM runs", "id", &runs).await?,
        ),
    ])
}

/// Of the deliveries `candidates`, the settled ones whose every item is
/// in `going`, read whole.
async fn emptied_deliveries<DB: Dialect>(
    conn: &mut DB::Connection,
    candidates: &Ids,
    going: &BTreeSet<i64>,
) -> Result<Vec<Map<String, Value>>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut all_items =
        Conditions::<DB>::select("SELECT id, delivery_id FROM alert_delivery_items");
    candidates.condition(&mut all_items, "delivery_id");
    let mut keeps_items = BTreeSet::new();
    for row in DB::fetch(conn, all_items.order_by("id", None)).await? {
        let (f, id) = Fields::keyed_by_int(&row, "alert_delivery_items", "id")?;
        if !going.contains(&id) {
            keeps_items.insert(f.int("delivery_id")?);
        }
    }
    let emptied: Vec<i64> = match candidates {
        Ids::Ints(ids) => ids
            .iter()
            .filter(|id| !keeps_items.contains(id))
            .copied()
            .collect(),
        Ids::Texts(_) => Vec::new(),
    };
    let mut deliveries = Conditions::<DB>::select(DELIVERIES.select);
    let emptied = Ids::Ints(emptied);
    if emptied.is_empty() {
        return Ok(Vec::new());
    }
    emptied.condition(&mut deliveries, "id");
    deliveries.one_of("state", SETTLED.iter().map(|s| s.to_string()).collect());
    let rows = DB::fetch(conn, deliveries.order_by("id", None)).await?;
    rows.iter().map(|row| row_json(row, &DELIVERIES)).collect()
}

/// A list of keys, never empty when used in a condition: an empty `IN`
/// list is no condition at all, and a DELETE without one empties the table.
enum Ids {
    Texts(Vec<String>),
    Ints(Vec<i64>),
}

impl Ids {
    fn is_empty(&self) -> bool {
        match self {
            Ids::Texts(ids) => ids.is_empty(),
            Ids::Ints(ids) => ids.is_empty(),
        }
    }

    fn condition<DB: Dialect>(&self, conditions: &mut Conditions<DB>, column: &'static str) {
        match self {
            Ids::Texts(ids) => conditions.one_of(column, ids.clone()),
            Ids::Ints(ids) => conditions.one_of_ints(column, ids.clone()),
        }
    }
}

/// The rows of `table` whose `column` is one of `ids`, as JSON, by id.
async fn read<DB: Dialect>(
    conn: &mut DB::Connection,
    table: &Archived,
    column: &'static str,
    ids: &Ids,
) -> Result<Vec<Map<String, Value>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut conditions = Conditions::<DB>::select(table.select);
    ids.condition(&mut conditions, column);
    let rows = DB::fetch(conn, conditions.order_by("id", None)).await?;
    rows.iter().map(|row| row_json(row, table)).collect()
}

async fn delete<DB: Dialect>(
    conn: &mut DB::Connection,
    delete_from: &'static str,
    column: &'static str,
    ids: &Ids,
) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut conditions = Conditions::<DB>::select(delete_from);
    ids.condition(&mut conditions, column);
    Ok(DB::execute(conn, conditions.finish()).await?)
}

fn write_all(
    sink: &mut dyn ArchiveSink,
    table: &Archived,
    rows: Vec<Map<String, Value>>,
) -> Result<(), CleanupError> {
    for row in rows {
        let archived = ArchivedRow {
            table: table.table,
            row,
        };
        sink.write(&archived).map_err(CleanupError::Archive)?;
    }
    Ok(())
}

/// The integer `column` of rows read by [`read`].
fn ints(rows: &[Map<String, Value>], column: &str) -> Vec<i64> {
    let set: BTreeSet<i64> = rows
        .iter()
        .filter_map(|row| row.get(column).and_then(Value::as_i64))
        .collect();
    set.into_iter().collect()
}

/// One row as JSON, column by column.
fn row_json<R: StoredRow>(row: &R, table: &Archived) -> Result<Map<String, Value>> {
    // Keyed by its id in error messages: text for runs, an integer elsewhere.
    let f = match table.table {
        "runs" => Fields::keyed_by_text(row, table.table, "id")?.0,
        _ => Fields::keyed_by_int(row, table.table, "id")?.0,
    };
    let mut json = Map::new();
    for &(column, kind) in table.columns {
        let value = match kind {
            Kind::Text => f.opt_text(column)?.map(Value::String),
            Kind::Int => f.opt_int(column)?.map(Value::from),
            // Stored numbers are finite: both backends refuse others on the way in.
            Kind::Real => f
                .opt_real(column)?
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            Kind::Bool => Some(Value::Bool(f.boolean(column)?)),
            Kind::Time => f
                .opt_time(column)?
                .map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::Micros, true))),
            Kind::Json => f.opt_json::<Value>(column)?,
        };
        json.insert(column.to_string(), value.unwrap_or(Value::Null));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archived_selects_name_exactly_their_columns() {
        for table in [
            &RUNS,
            &VIOLATIONS,
            &METRICS,
            &OUTBOX,
            &DELIVERIES,
            &ATTEMPTS,
            &ITEMS,
        ] {
            let listed = table
                .select
                .strip_prefix("SELECT ")
                .and_then(|s| s.strip_suffix(&format!(" FROM {}", table.table)))
                .unwrap();
            let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
            assert_eq!(listed, columns.join(", "), "{}", table.table);
            assert_eq!(columns[0], "id", "{}", table.table);
        }
        assert_eq!(
            [
                &RUNS,
                &VIOLATIONS,
                &METRICS,
                &OUTBOX,
                &DELIVERIES,
                &ATTEMPTS,
                &ITEMS
            ]
            .map(|t| t.table),
            crate::report_model::RETAINED_TABLES,
            "archived parents first, as RETAINED_TABLES says"
        );
    }

    #[test]
    fn kept_runs_are_one_predicate_everywhere() {
        for sql in [
            FIRST_BATCH,
            NEXT_BATCH,
            COUNT_RUNS,
            COUNT_DELIVERIES,
            COUNT_ATTEMPTS,
        ] {
            assert!(sql.contains(kept_run!()), "{sql}");
        }
    }
}
