//! The rules table: loading manifests (plan, then apply in one transaction),
//! single-rule edits (the API's and `dq rules`'), and reading rules back.
//! Every write bumps the rule's version and records it (`rule_versions.rs`)
//! in the same transaction.

use chrono::{DateTime, Utc};
use dq_core::Rule;
use serde_json::Value;
use sqlx::Pool;

use super::rule_versions;
use crate::error::{Result, StoreError};
use crate::load_plan::{self, ExistingRule, LoadSet, RuleWrite, VersionNote};
use crate::model::{LoadPlan, RuleFilter, RuleVersion, SaveMode, StoredRule};
use crate::sql::{self, Arg, Conditions, Dialect, Fields, Statement, StoredRow};

const SELECT_RULES: &str = "SELECT id, name, definition, source, created_at, updated_at, \
     version, deleted_at FROM rules";
const SELECT_RULE_BY_NAME: &str = "SELECT id, name, definition, source, created_at, updated_at, \
     version, deleted_at FROM rules WHERE name = $1";

/// `$16`: `deleted_at` (NULL but for a delete that keeps the history).
const UPSERT: &str = "INSERT INTO rules (name, target, dataset, check_kind, severity, queue, \
         schedule, timezone, enabled, tags, owner, definition, source, created_at, updated_at, \
         shadow, deleted_at, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16, 1) \
     ON CONFLICT (name) DO UPDATE SET target = excluded.target, dataset = excluded.dataset, \
         check_kind = excluded.check_kind, severity = excluded.severity, queue = excluded.queue, \
         schedule = excluded.schedule, timezone = excluded.timezone, enabled = excluded.enabled, \
         tags = excluded.tags, owner = excluded.owner, definition = excluded.definition, \
         source = excluded.source, updated_at = excluded.updated_at, shadow = excluded.shadow, \
         deleted_at = excluded.deleted_at, version = rules.version + 1 \
     RETURNING id";

/// The source of rules written by the API (rather than loaded from a file).
pub const API_SOURCE: &str = "api";

const DISABLE: &str = "UPDATE rules SET enabled = FALSE, definition = $2, updated_at = $3, \
     version = version + 1 WHERE id = $1";

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
    actor: &str,
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
        let (id, note) = match write {
            RuleWrite::Upsert {
                rule,
                source,
                definition,
                note,
            } => {
                let rows = DB::fetch(&mut tx, upsert(rule, definition, source, now, None)?).await?;
                (returned_id(&rows)?, note)
            }
            RuleWrite::Disable {
                id,
                definition,
                note,
            } => {
                let disable = Statement::new(DISABLE)
                    .arg(*id)
                    .arg(Arg::json(definition, "rule definition")?)
                    .arg(now);
                DB::execute(&mut tx, disable).await?;
                (*id, note)
            }
        };
        rule_versions::record::<DB>(&mut tx, id, actor, now, note).await?;
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
    actor: &str,
) -> Result<StoredRule> {
    let name = rule.name.as_str();
    edit_one(pool, name, actor, |existing| {
        let note = match (mode, &existing) {
            (SaveMode::Create, Some(old)) if old.deleted_at.is_none() => {
                return Err(StoreError::Conflict(format!("rule {name} exists already")))
            }
            (SaveMode::Replace, None) => return Err(StoreError::NotFound(format!("rule {name}"))),
            (SaveMode::Replace, Some(old)) if old.deleted_at.is_some() => {
                return Err(StoreError::NotFound(format!("rule {name} (deleted)")))
            }
            (SaveMode::Create, Some(old)) => VersionNote::new(
                "created again (it had been deleted)",
                diff(&old.rule, rule)?,
            ),
            (SaveMode::Create, None) => VersionNote::new("created", Vec::new()),
            (SaveMode::Replace, Some(old)) => {
                let fields = diff(&old.rule, rule)?;
                if fields.is_empty() && old.source.as_deref() == Some(source) {
                    return Ok(None);
                }
                VersionNote::new("changed", fields)
            }
        };
        Ok(Some(Edit::of(rule.clone(), source, note)))
    })
    .await
}

/// Sets the rule's `enabled` (column and definition); returns the rule as
/// stored.
pub(crate) async fn set_enabled<DB: Dialect>(
    pool: &Pool<DB>,
    name: &str,
    enabled: bool,
    actor: &str,
) -> Result<StoredRule> {
    edit_live(pool, name, actor, |mut rule| {
        if rule.enabled == enabled {
            return None;
        }
        rule.enabled = enabled;
        let change = if enabled { "enabled" } else { "disabled" };
        Some((rule, VersionNote::new(change, vec!["enabled".into()])))
    })
    .await
}

/// Turns alerting on for a rule loaded in shadow.
pub(crate) async fn promote<DB: Dialect>(
    pool: &Pool<DB>,
    name: &str,
    actor: &str,
) -> Result<StoredRule> {
    edit_live(pool, name, actor, |mut rule| {
        if !rule.shadow {
            return None;
        }
        rule.shadow = false;
        let note = VersionNote::new("promoted: out of shadow, alerts on", vec!["shadow".into()]);
        Some((rule, note))
    })
    .await
}

/// Restores the definition of version `to` (found in `history`), as a new
/// version.
pub(crate) async fn rollback<DB: Dialect>(
    pool: &Pool<DB>,
    name: &str,
    to: &RuleVersion,
    actor: &str,
) -> Result<StoredRule> {
    let restored: Rule = serde_json::from_value(to.definition.clone())
        .map_err(|e| StoreError::Corrupt(format!("rule {name} version {}: {e}", to.version)))?;
    let source = to.source.clone().unwrap_or_else(|| API_SOURCE.to_string());
    edit_one(pool, name, actor, |existing| {
        let Some(old) = existing else {
            return Err(StoreError::NotFound(format!("rule {name}")));
        };
        let note = VersionNote::new(
            format!("rolled back to v{}", to.version),
            diff(&old.rule, &restored)?,
        );
        Ok(Some(Edit::of(restored, &source, note)))
    })
    .await
}

/// Deletes a rule but keeps its history (runs, violations, versions): it is
/// disabled, hidden from listings and never scheduled; loading its name
/// again brings it back. An enabled rule is refused unless `force`.
pub(crate) async fn retire<DB: Dialect>(
    pool: &Pool<DB>,
    name: &str,
    force: bool,
    actor: &str,
) -> Result<StoredRule> {
    edit_one(pool, name, actor, |existing| {
        let Some(old) = existing.filter(|r| r.deleted_at.is_none()) else {
            return Err(StoreError::NotFound(format!("rule {name}")));
        };
        if old.rule.enabled && !force {
            return Err(StoreError::Conflict(format!(
                "rule {name} is enabled: disable it first (or force)"
            )));
        }
        let mut rule = old.rule;
        rule.enabled = false;
        let source = old.source.unwrap_or_else(|| API_SOURCE.to_string());
        let mut edit = Edit::of(
            rule,
            &source,
            VersionNote::new("deleted (history kept)", vec![]),
        );
        edit.deleted = true;
        Ok(Some(edit))
    })
    .await
}

/// What an edit writes.
struct Edit {
    rule: Rule,
    source: String,
    deleted: bool,
    note: VersionNote,
}

impl Edit {
    fn of(rule: Rule, source: &str, note: VersionNote) -> Self {
        Edit {
            rule,
            source: source.to_string(),
            deleted: false,
            note,
        }
    }
}

/// [`edit_one`] of a rule that exists and is not deleted, keeping its source.
async fn edit_live<DB: Dialect>(
    pool: &Pool<DB>,
    name: &str,
    actor: &str,
    change: impl FnOnce(Rule) -> Option<(Rule, VersionNote)>,
) -> Result<StoredRule> {
    edit_one(pool, name, actor, |existing| {
        let Some(old) = existing.filter(|r| r.deleted_at.is_none()) else {
            return Err(StoreError::NotFound(format!("rule {name}")));
        };
        let source = old.source.unwrap_or_else(|| API_SOURCE.to_string());
        Ok(change(old.rule).map(|(rule, note)| Edit::of(rule, &source, note)))
    })
    .await
}

/// One rule's read-decide-write, in one transaction under the loads' lock:
/// `decide` sees the stored rule (if any) and returns what to write (or
/// nothing); the write is a new version by `actor`, and the rule is read
/// back after it.
async fn edit_one<DB: Dialect>(
    pool: &Pool<DB>,
    name: &str,
    actor: &str,
    decide: impl FnOnce(Option<StoredRule>) -> Result<Option<Edit>>,
) -> Result<StoredRule> {
    let mut tx = sql::begin_write(pool).await?;
    if let Some(lock) = DB::LOCK_LOADS {
        DB::execute(&mut tx, Statement::new(lock)).await?;
    }
    let by_name = || Statement::new(SELECT_RULE_BY_NAME).arg(name);
    let existing = DB::fetch(&mut tx, by_name()).await?;
    let existing = existing.first().map(stored_rule).transpose()?;
    if let Some(edit) = decide(existing)? {
        let definition = serde_json::to_value(&edit.rule)
            .map_err(|e| StoreError::Invalid(format!("rule {name} cannot be stored: {e}")))?;
        let now = Utc::now();
        let deleted_at = edit.deleted.then_some(now);
        let upsert = upsert(&edit.rule, &definition, &edit.source, now, deleted_at)?;
        let id = returned_id(&DB::fetch(&mut tx, upsert).await?)?;
        rule_versions::record::<DB>(&mut tx, id, actor, now, &edit.note).await?;
    }
    let stored = DB::fetch(&mut tx, by_name()).await?;
    tx.commit().await?;
    stored
        .first()
        .map(stored_rule)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("rule {name}")))
}

/// The definition fields that differ between two rules.
fn diff(old: &Rule, new: &Rule) -> Result<Vec<String>> {
    let json = |rule: &Rule| {
        serde_json::to_value(rule)
            .map_err(|e| StoreError::Invalid(format!("rule {} as JSON: {e}", rule.name)))
    };
    Ok(load_plan::changed_fields(&json(old)?, &json(new)?))
}

fn returned_id<R: StoredRow>(rows: &[R]) -> Result<i64> {
    rows.first()
        .map(|row| Fields::keyed_by_int(row, "rule", "id").map(|(_, id)| id))
        .transpose()?
        .ok_or_else(|| StoreError::Corrupt("a rule write returned no id".to_string()))
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
    if !filter.include_deleted {
        conditions.holds("deleted_at IS NULL");
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
                deleted: fields.opt_time("deleted_at")?.is_some(),
                name,
            })
        })
        .collect()
}

fn upsert(
    rule: &Rule,
    definition: &Value,
    source: &str,
    now: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
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
        .arg(now)
        .arg(rule.shadow)
        .arg(deleted_at))
}

pub(crate) fn stored_rule<R: StoredRow>(row: &R) -> Result<StoredRule> {
    let (fields, _) = Fields::keyed_by_text(row, "rule", "name")?;
    Ok(StoredRule {
        id: fields.int("id")?,
        rule: fields.json("definition")?,
        source: fields.opt_text("source")?,
        created_at: fields.time("created_at")?,
        updated_at: fields.time("updated_at")?,
        version: fields.convert("version", u32::try_from(fields.int("version")?))?,
        deleted_at: fields.opt_time("deleted_at")?,
    })
}
