//! Reconciliation: a rule's dataset compared with another dataset (on the
//! same or another target) row by row. Both sides are read in key order a
//! page at a time (`sqlite`, `postgres`), walked together (`merge`) with
//! each row's compared columns hashed in a form both backends agree on
//! (`value`), and the counts observed and judged by dq-core
//! (`dq_core::reconciliation`). Memory is a page per side, never a table.
//!
//! Unlike the other kinds this needs two targets, so callers (the worker,
//! `dq run`) hand reconciliation rules to [`reconcile`] with both
//! connected, and the rest of a job to [`crate::execute`].

mod layout;
mod merge;
mod postgres;
mod sqlite;
mod value;

use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_core::reconciliation::{page_size, Counts};
use dq_core::{judge, Check, ColumnInfo, Dataset, Identifier, Rule, RunStatus, Verdict};
use serde_json::Value;

use self::layout::Layout;
use self::merge::{merge, Pages, Row, Side, Tally};
use self::postgres::PostgresPages;
use self::sqlite::SqlitePages;
use self::value::KeyPart;
use crate::error::TargetError;
use crate::execute::{ExecuteOptions, RuleOutcome};
use crate::Target;

/// How long past the rule's timeout the client waits for the servers'
/// own cancellation before giving up.
const CLIENT_GRACE: Duration = Duration::from_millis(500);

/// The other target a reconciliation rule reads, if `rule` is one.
pub fn against_target(rule: &Rule) -> Option<&str> {
    match &rule.check {
        Check::Reconciliation { against_target, .. } => Some(against_target),
        _ => None,
    }
}

/// Runs a reconciliation rule: `source` holds the rule's dataset,
/// `against` the dataset it is compared with. Never fails as a whole: a
/// read error is an ERROR verdict (TIMEOUT on timeout), a connection
/// problem a retriable one.
pub async fn reconcile(
    source: &Target,
    against: &Target,
    rule: &Rule,
    options: &ExecuteOptions,
) -> RuleOutcome {
    let started_at = Utc::now();
    let work = compare(source, against, rule, options.sample_limit);
    let result = match tokio::time::timeout(rule.timeout + CLIENT_GRACE, work).await {
        Ok(result) => result,
        Err(_) => Err(TargetError::Timeout {
            after: rule.timeout,
        }),
    };
    match result {
        Ok((counts, samples)) => judged(rule, counts, samples, started_at),
        Err(e) => {
            let mut verdict = Verdict::error(e.to_string());
            if matches!(e, TargetError::Timeout { .. }) {
                verdict.status = RunStatus::Timeout;
            }
            RuleOutcome::failed(rule, verdict, e.is_retriable(), started_at, Utc::now())
        }
    }
}

fn judged(
    rule: &Rule,
    counts: Counts,
    samples: Vec<Value>,
    started_at: DateTime<Utc>,
) -> RuleOutcome {
    let observation = counts.observation(rule);
    let mut verdict = judge(rule, &observation);
    verdict.message = format!("{}: {}", verdict.message, counts.summary());
    let samples = if verdict.status.is_violation() {
        samples
    } else {
        Vec::new()
    };
    RuleOutcome {
        rule: rule.name.clone(),
        verdict,
        observation: Some(observation),
        samples,
        effective_sample_size: None,
        started_at,
        finished_at: Utc::now(),
        retriable: false,
    }
}

/// One side, opened: its read transaction, and its columns.
enum Reader {
    Sqlite(SqlitePages),
    Postgres(PostgresPages),
}

impl Reader {
    async fn open(
        target: &Target,
        dataset: &Dataset,
        timeout: Duration,
    ) -> Result<(Reader, Vec<ColumnInfo>), TargetError> {
        match target {
            Target::Sqlite(t) => SqlitePages::open(t, dataset, timeout)
                .await
                .map(|(pages, columns)| (Reader::Sqlite(pages), columns)),
            Target::Postgres(t) => PostgresPages::open(t, dataset, timeout)
                .await
                .map(|(pages, columns)| (Reader::Postgres(pages), columns)),
            Target::Mongo(_) | Target::Noop(_) => Err(TargetError::query(format!(
                "target {} cannot be reconciled: reconciliation reads SQLite and PostgreSQL targets",
                target.name()
            ))),
        }
    }

    fn select(&mut self, key: Vec<Identifier>, columns: Vec<Identifier>) {
        match self {
            Reader::Sqlite(r) => r.select(key, columns),
            Reader::Postgres(r) => r.select(key, columns),
        }
    }

    async fn close(self) {
        match self {
            Reader::Sqlite(r) => r.close().await,
            Reader::Postgres(r) => r.close().await,
        }
    }
}

impl Pages for Reader {
    async fn next_page(
        &mut self,
        after: Option<&[KeyPart]>,
        rows: u32,
    ) -> Result<Vec<Row>, TargetError> {
        match self {
            Reader::Sqlite(r) => r.next_page(after, rows).await,
            Reader::Postgres(r) => r.next_page(after, rows).await,
        }
    }
}

/// The counts and bounded samples of comparing the rule's two datasets.
async fn compare(
    source: &Target,
    against: &Target,
    rule: &Rule,
    sample_limit: usize,
) -> Result<(Counts, Vec<Value>), TargetError> {
    let Check::Reconciliation {
        against_dataset,
        key,
        columns,
        ..
    } = &rule.check
    else {
        return Err(TargetError::query(format!(
            "rule {} is a {} check, not a reconciliation",
            rule.name,
            rule.check.kind()
        )));
    };
    let (mut left, left_columns) = Reader::open(source, &rule.dataset, rule.timeout).await?;
    let (mut right, right_columns) =
        match Reader::open(against, against_dataset, rule.timeout).await {
            Ok(opened) => opened,
            Err(e) => {
                left.close().await;
                return Err(e);
            }
        };
    let layout = Layout::new(
        key,
        columns,
        (source.name(), &rule.dataset, &left_columns),
        (against.name(), against_dataset, &right_columns),
    );
    let layout = match layout {
        Ok(layout) => layout,
        Err(e) => {
            left.close().await;
            right.close().await;
            return Err(e);
        }
    };
    left.select(layout.source_key.clone(), layout.source_columns.clone());
    right.select(layout.against_key.clone(), layout.against_columns.clone());
    let rows = page_size(&rule.check);
    let mut left = Side::new(left, format!("{} {}", source.name(), rule.dataset), rows);
    let mut right = Side::new(right, format!("{} {against_dataset}", against.name()), rows);
    let mut tally = Tally::new(&layout.key_names, &layout.column_names, sample_limit);
    let merged = merge(&mut left, &mut right, &mut tally).await;
    left.into_pages().close().await;
    right.into_pages().close().await;
    merged?;
    Ok((tally.counts, tally.samples()))
}
