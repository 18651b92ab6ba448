//! The alerting tables (migration 0003): the outbox a run's finish writes
//! (`outbox.rs`), the planning pass that turns events into deliveries
//! under each rule's alert state (`plan.rs`), and the deliveries a
//! dispatcher claims, attempts and settles (`deliveries.rs`).

mod deliveries;
mod outbox;
mod plan;

pub(crate) use deliveries::{attempts, backlog, claim, list, recover, settle};
pub(crate) use outbox::{on_finished, rules_with_open_violations};
pub(crate) use plan::plan;

use crate::error::Result;
use crate::sql::{Fields, StoredRow};

/// The `id` a `RETURNING id` statement gave.
fn returned_id<R: StoredRow>(rows: &[R], table: &'static str) -> Result<Option<i64>> {
    rows.first()
        .map(|row| Fields::keyed_by_int(row, table, "id").map(|(_, id)| id))
        .transpose()
}

/// A count or attempt number read back from a signed column.
fn small<R: StoredRow>(f: &Fields<'_, R>, column: &str) -> Result<u32> {
    f.convert(column, u32::try_from(f.int(column)?))
}
