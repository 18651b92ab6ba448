//! The rule_versions table: one row per change to a rule, written in the
//! same transaction as the change, read by `dq rules history` and rolled
//! back to by `dq rules rollback`. Rows are never changed once written.

use chrono::{DateTime, Utc};
use sqlx::Pool;

use crate::error::Result;
use crate::load_plan::VersionNote;
use crate::model::RuleVersion;
use crate::sql::{self, Arg, Dialect, Fields, Statement, StoredRow};

/// The rule's row as it is now (after the write) is the version's content.
const RECORD: &str = "INSERT INTO rule_versions (rule_id, version, definition, source, \
         changed_by, changed_at, change, fields) \
     SELECT id, version, definition, source, $2, $3, $4, $5 FROM rules WHERE id = $1";

const HISTORY: &str = "SELECT v.version, v.definition, v.source, v.changed_by, v.changed_at, \
         v.change, v.fields \
     FROM rule_versions v JOIN rules r ON r.id = v.rule_id \
     WHERE r.name = $1 ORDER BY v.version";

/// Records the rule `rule_id`'s current row as its new version.
pub(crate) async fn record<DB: Dialect>(
    conn: &mut DB::Connection,
    rule_id: i64,
    actor: &str,
    at: DateTime<Utc>,
    note: &VersionNote,
) -> Result<()> {
    let statement = Statement::new(RECORD)
        .arg(rule_id)
        .arg(actor)
        .arg(at)
        .arg(note.change.as_str())
        .arg(Arg::json(&note.fields, "changed fields")?);
    DB::execute(conn, statement).await?;
    Ok(())
}

/// Every version of the rule `name`, oldest first (none if no such rule).
pub(crate) async fn history<DB: Dialect>(pool: &Pool<DB>, name: &str) -> Result<Vec<RuleVersion>> {
    let rows = sql::fetch(pool, Statement::new(HISTORY).arg(name)).await?;
    rows.iter().map(version).collect()
}

fn version<R: StoredRow>(row: &R) -> Result<RuleVersion> {
    let (f, version) = Fields::keyed_by_int(row, "rule version", "version")?;
    Ok(RuleVersion {
        version: f.convert("version", u32::try_from(version))?,
        definition: f.raw_json("definition")?,
        source: f.opt_text("source")?,
        changed_by: f.text("changed_by")?,
        changed_at: f.time("changed_at")?,
        change: f.text("change")?,
        fields: f.json("fields")?,
    })
}
