//! The rules table: loading manifests (plan, then apply in one transaction)
//! and reading rules back.

use chrono::Utc;
use dq_core::Rule;
use serde_json::Value;
use sqlx::Pool;

use crate::error::{Result, StoreError};
use crate::load_plan::{self, ExistingRule, LoadSet, RuleWrite};
use crate::model::{LoadPlan, RuleFilter, SaveMode, StoredRule};
use crate::sql::{self, Arg, Conditions, Dialect, Fields, Statement, StoredRow};

const SELECT_RULES: &str = "SELECT id, name, definition, source, created_at, updated_at FROM rules";
const SELECT_RULE_BY_NAME: &str =
    "SELECT id, name, definition, source, created_at, updated_at FROM rules WHERE name = $1";

const UPSERT: &str = "INSERT INTO rules (name, target, dataset, check_kind, severity, queue, \
         schedule, timezone, enabled, tags, owner, definition, source, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
     ON CONFLICT (name) DO UPDATE SET target = excluded.target, dataset = excluded.dataset, \
         check_kind = excluded.check_kind, severity = excluded.severity, queue = excluded.queue, \
         schedule = excluded.schedule, timezone = excluded.timezone, enabled = excluded.enabled, \
         tags = excluded.tags, owner = excluded.owner, definition = excluded.definition, \
         source = excluded.source, updated_at = excluded.updated_at";

/// The source of rules written by the API (rather than loaded from a file).
pub const API_SOURCE: &str = "api";

const DISABLE: &str =
    "UPDATE rules SET enabled = FALSE, definition = $2, updated_at = $3 WHERE id = $1";

pub(crate) async fn plan_loads<DB: Dialect>(
    pool: &Pool<DB>,
    sets: &[LoadSet<'_>],
) -> Result<Vec<LoadPlan>> {
    let rows = sql::fetch(pool, touched::<DB>(sets)).await?;
    let existing = existing_rules(&rows)?;
    Ok(load_plan::plan_loads(&existing, sets)?.plans)
}

pub(crate) async fn apply_loads<DB: Dialect>(
    pool: &Pool<DB>,
    sets: &[LoadSet<'_>],
) -> Result<Vec<LoadPlan>> {
    let mut tx = sql::begin_write(pool).await?;
    if let Some(lock) = DB::LOCK_LOADS {
        DB::execute(&mut tx, Statement::new(lock)).await?;
    }
    // Planned inside the transaction, so the plans returned are what was written.
    let rows = DB::fetch(&mut tx, touched::<DB>(sets)).await?;
    let work = load_plan::plan_loads(&existing_rules(&rows)?, sets)?;
    let now = Utc::now();
    for write in &work.writes {
        let statement = match write {
            RuleWrite::Upsert {
                rule,
                source,
                definition,
            } => upsert(rule, definition, source, now)?,
            RuleWrite::Disable { id, definition } => Statement::new(DISABLE)
                .arg(*id)
                .arg(Arg::json(definition, "rule definition")?)
                .arg(now),
        };
        DB::execute(&mut tx, statement).await?;
    }
    tx.commit().await?;
    Ok(work.plans)
}

/// Creates or replaces one rule (the API's writes), keeping every other
/// rule as it is: unlike a manifest load, nothing is disabled. Returns the
/// rule as stored.
pub(crate) async fn save<DB: Dialect>(
    pool: &Pool<DB>,
    rule: &Rule,
    source: &str,
    mode: SaveMode,
) -> Result<StoredRule> {
    let name = rule.name.as_str();
    edit_one(pool, name, |existing| match (mode, existing) {
        (SaveMode::Create, Some(_)) => {
            Err(StoreError::Conflict(format!("rule {name} exists already")))
        }
        (SaveMode::Replace, None) => Err(StoreError::NotFound(format!("rule {name}"))),
        _ => Ok(Some((rule.clone(), source.to_string()))),
    })
    .await
}

/// Sets the rule's `enabled` (column and definition); returns the rule as
/// stored.
pub(crate) async fn set_enabled<DB: Dialect>(
    pool: &Pool<DB>,
    name: &str,
    enabled: bool,
) -> Result<StoredRule> {
    edit_one(pool, name, |existing| {
        let Some(stored) = existing else {
            return Err(StoreError::NotFound(format!("rule {name}")));
        };
        if stored.rule.enabled == enabled {
            return Ok(None);
        }
        let mut rule = stored.rule;
        rule.enabled = enabled;
        let source = stored.source.unwrap_or_else(|| API_SOURCE.to_string());
        Ok(Some((rule, source)))
    })
    .await
}

/// One rule's read-decide-write, in one transaction under the loads' lock:
/// `decide` sees the stored rule (if any) and returns what to write under
/// which source (or nothing); the rule is read back after the write.
async fn edit_one<DB: Dialect>(
    pool: &Pool<DB>,
    name: &str,
    decide: impl FnOnce(Option<StoredRule>) -> Result<Option<(Rule, String)>>,
) -> Result<StoredRule> {
    let mut tx = sql::begin_write(pool).await?;
    if let Some(lock) = DB::LOCK_LOADS {
        DB::execute(&mut tx, Statement::new(lock)).await?;
    }
    let by_name = || Statement::new(SELECT_RULE_BY_NAME).arg(name);
    let existing = DB::fetch(&mut tx, by_name()).await?;
    let existing = existing.first().map(stored_rule).transpose()?;
    if let Some((rule, source)) = decide(existing)? {
        let definition = serde_json::to_value(&rule)
            .map_err(|e| StoreError::Invalid(format!("rule {name} cannot be stored: {e}")))?;
        DB::execute(&mut tx, upsert(&rule, &definition, &source, Utc::now())?).await?;
    }
    let stored = DB::fetch(&mut tx, by_name()).await?;
    tx.commit().await?;
    stored
        .first()
        .map(stored_rule)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("rule {name}")))
}

pub(crate) async fn list<DB: Dialect>(
    pool: &Pool<DB>,
    filter: &RuleFilter,
) -> Result<Vec<StoredRule>> {
    let mut conditions = Conditions::<DB>::select(SELECT_RULES);
    conditions.one_of("name", filter.names.clone());
    if let Some(tag) = &filter.tag {
        conditions.has_tag(tag);
    }
    if filter.enabled_only {
        conditions.holds("enabled = TRUE");
    }
    if filter.disabled_only {
        conditions.holds("enabled = FALSE");
    }
    let exactly = [
        ("target = ", filter.target.clone()),
        ("dataset = ", filter.dataset.clone()),
        ("queue = ", filter.queue.map(|q| q.as_str().to_string())),
        (
            "severity = ",
            filter.severity.map(|s| s.as_str().to_string()),
        ),
        ("owner = ", filter.owner.clone()),
    ];
    for (column, value) in exactly {
        if let Some(value) = value {
            conditions.bind(column, value, "");
        }
    }
    let rows = sql::fetch(pool, conditions.order_by("name", None)).await?;
    rows.iter().map(stored_rule).collect()
}

pub(crate) async fn by_name<DB: Dialect>(
    pool: &Pool<DB>,
    name: &str,
) -> Result<Option<StoredRule>> {
    let rows = sql::fetch(pool, Statement::new(SELECT_RULE_BY_NAME).arg(name)).await?;
    rows.first().map(stored_rule).transpose()
}

/// The stored rules a load touches: those it names and those loaded earlier
/// from one of its sources.
fn touched<DB: Dialect>(sets: &[LoadSet<'_>]) -> Statement {
    let sources = sets.iter().map(|(source, _)| source.to_string()).collect();
    let names = sets
        .iter()
        .flat_map(|(_, rules)| rules.iter().map(|r| r.name.to_string()))
        .collect();
    Statement::new(DB::SELECT_TOUCHED_RULES)
        .arg(Arg::Texts(sources))
        .arg(Arg::Texts(names))
}

fn existing_rules<R: StoredRow>(rows: &[R]) -> Result<Vec<ExistingRule>> {
    rows.iter()
        .map(|row| {
            let (fields, name) = Fields::keyed_by_text(row, "rule", "name")?;
            Ok(ExistingRule {
                id: fields.int("id")?,
                enabled: fields.boolean("enabled")?,
                source: fields.opt_text("source")?,
                // A definition that is not even JSON can still be overwritten.
                definition: fields
                    .raw_json("definition")
                    .map(load_plan::normalized_definition)
                    .unwrap_or(Value::Null),
                name,
            })
        })
        .collect()
}

fn upsert(
    rule: &Rule,
    definition: &Value,
    source: &str,
    now: chrono::DateTime<Utc>,
) -> Result<Statement> {
    Ok(Statement::new(UPSERT)
        .arg(rule.name.as_str())
        .arg(rule.target.as_str())
        .arg(rule.dataset.to_string())
        .arg(rule.check.kind())
        .arg(rule.severity.as_str())
        .arg(rule.queue.as_str())
        .arg(rule.schedule.expression())
        .arg(rule.schedule.timezone().name())
        .arg(rule.enabled)
        .arg(Arg::json(&rule.tags, "rule tags")?)
        .arg(rule.owner.as_deref())
        .arg(Arg::json(definition, "rule definition")?)
        .arg(source)
        .arg(now))
}

pub(crate) fn stored_rule<R: StoredRow>(row: &R) -> Result<StoredRule> {
    let (fields, _) = Fields::keyed_by_text(row, "rule", "name")?;
    Ok(StoredRule {
        id: fields.int("id")?,
        rule: fields.json("definition")?,
        source: fields.opt_text("source")?,
        created_at: fields.time("created_at")?,
        updated_at: fields.time("updated_at")?,
    })
}
