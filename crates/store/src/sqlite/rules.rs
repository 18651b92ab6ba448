//! The rules table: loading manifests (plan, then apply in one transaction)
//! and reading rules back.

use chrono::Utc;
use dq_core::Rule;
use serde_json::Value;
use sqlx::{FromRow, SqliteConnection};

use super::codec::{self, Origin};
use super::conditions::Conditions;
use super::{SqliteStore, BEGIN_WRITE};
use crate::error::Result;
use crate::load_plan::{self, ExistingRule, LoadSet, RuleWrite};
use crate::model::{LoadPlan, RuleFilter, StoredRule};

const SELECT_RULES: &str = "SELECT id, name, definition, source, created_at, updated_at FROM rules";
const SELECT_RULE_BY_NAME: &str =
    "SELECT id, name, definition, source, created_at, updated_at FROM rules WHERE name = ?1";

/// The stored rules a load touches: those it names and those loaded earlier
/// from one of its sources.
const SELECT_TOUCHED: &str = "SELECT id, name, enabled, source, definition FROM rules \
     WHERE source IN (SELECT value FROM json_each(?1)) \
         OR name IN (SELECT value FROM json_each(?2))";

const UPSERT: &str = "INSERT INTO rules (name, target, dataset, check_kind, severity, queue, \
         schedule, timezone, enabled, tags, owner, definition, source, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14) \
     ON CONFLICT (name) DO UPDATE SET target = excluded.target, dataset = excluded.dataset, \
         check_kind = excluded.check_kind, severity = excluded.severity, queue = excluded.queue, \
         schedule = excluded.schedule, timezone = excluded.timezone, enabled = excluded.enabled, \
         tags = excluded.tags, owner = excluded.owner, definition = excluded.definition, \
         source = excluded.source, updated_at = excluded.updated_at";

const DISABLE: &str =
    "UPDATE rules SET enabled = 0, definition = ?2, updated_at = ?3 WHERE id = ?1";

#[derive(FromRow)]
struct RuleRow {
    id: i64,
    name: String,
    definition: String,
    source: Option<String>,
    created_at: String,
    updated_at: String,
}

#[derive(FromRow)]
struct TouchedRow {
    id: i64,
    name: String,
    enabled: bool,
    source: Option<String>,
    definition: String,
}

impl SqliteStore {
    pub(crate) async fn plan_loads(&self, sets: &[LoadSet<'_>]) -> Result<Vec<LoadPlan>> {
        let mut conn = self.pool.acquire().await?;
        let existing = touched_rules(&mut conn, sets).await?;
        Ok(load_plan::plan_loads(&existing, sets)?.plans)
    }

    pub(crate) async fn apply_loads(&self, sets: &[LoadSet<'_>]) -> Result<Vec<LoadPlan>> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        // Planned inside the transaction, so the plans returned are what was written.
        let existing = touched_rules(&mut tx, sets).await?;
        let work = load_plan::plan_loads(&existing, sets)?;
        let now = codec::ts(Utc::now());
        for write in &work.writes {
            match write {
                RuleWrite::Upsert {
                    rule,
                    source,
                    definition,
                } => upsert(&mut tx, rule, definition, source, &now).await?,
                RuleWrite::Disable { id, definition } => {
                    let text = codec::json_text(definition, "rule definition")?;
                    sqlx::query(DISABLE)
                        .bind(id)
                        .bind(text)
                        .bind(&now)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(work.plans)
    }

    pub(crate) async fn rules(&self, filter: &RuleFilter) -> Result<Vec<StoredRule>> {
        let mut conditions = Conditions::select(SELECT_RULES);
        conditions.one_of("name", filter.names.clone());
        if let Some(tag) = &filter.tag {
            conditions.bind(
                "EXISTS (SELECT 1 FROM json_each(rules.tags) WHERE json_each.value = ",
                tag.clone(),
                ")",
            );
        }
        if filter.enabled_only {
            conditions.holds("enabled = 1");
        }
        let mut query = conditions.order_by("name", None);
        let rows: Vec<RuleRow> = query.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(stored_rule).collect()
    }

    pub(crate) async fn rule_by_name(&self, name: &str) -> Result<Option<StoredRule>> {
        let row: Option<RuleRow> = sqlx::query_as(SELECT_RULE_BY_NAME)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(stored_rule).transpose()
    }
}

async fn touched_rules(
    conn: &mut SqliteConnection,
    sets: &[LoadSet<'_>],
) -> Result<Vec<ExistingRule>> {
    let sources: Vec<&str> = sets.iter().map(|(source, _)| *source).collect();
    let names: Vec<&str> = sets
        .iter()
        .flat_map(|(_, rules)| rules.iter().map(|r| r.name.as_str()))
        .collect();
    let rows: Vec<TouchedRow> = sqlx::query_as(SELECT_TOUCHED)
        .bind(codec::json_text(&sources, "sources")?)
        .bind(codec::json_text(&names, "rule names")?)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| ExistingRule {
            id: row.id,
            definition: load_plan::normalized_definition(&row.definition),
            name: row.name,
            enabled: row.enabled,
            source: row.source,
        })
        .collect())
}

async fn upsert(
    conn: &mut SqliteConnection,
    rule: &Rule,
    definition: &Value,
    source: &str,
    now: &str,
) -> Result<()> {
    sqlx::query(UPSERT)
        .bind(rule.name.as_str())
        .bind(&rule.target)
        .bind(rule.dataset.to_string())
        .bind(rule.check.kind())
        .bind(rule.severity.as_str())
        .bind(rule.queue.as_str())
        .bind(rule.schedule.expression())
        .bind(rule.schedule.timezone().name())
        .bind(rule.enabled)
        .bind(codec::json_text(&rule.tags, "rule tags")?)
        .bind(rule.owner.as_deref())
        .bind(codec::json_text(definition, "rule definition")?)
        .bind(source)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn stored_rule(row: RuleRow) -> Result<StoredRule> {
    let origin = Origin {
        table: "rule",
        key: &row.name,
    };
    Ok(StoredRule {
        id: row.id,
        rule: origin.json("definition", &row.definition)?,
        created_at: origin.ts("created_at", &row.created_at)?,
        updated_at: origin.ts("updated_at", &row.updated_at)?,
        source: row.source,
    })
}
