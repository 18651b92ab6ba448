//! Reading one side of a reconciliation from SQLite: one read transaction
//! (one snapshot for every page) on a connection whose queries stop at the
//! rule's deadline, the catalogue first (SQLite would read a misspelt
//! double-quoted column as a string), then keyset pages in key order.

use std::time::{Duration, Instant};

use dq_core::{ColumnInfo, Dataset, Identifier};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row as _, Sqlite, Transaction, TypeInfo, ValueRef};

use super::merge::{Pages, Row};
use super::value::{hash, Datum, KeyPart};
use crate::error::{Context, TargetError};
use crate::sql_common::{limit, Bind, Sql};
use crate::sqlite::sql::SqliteDialect;
use crate::sqlite::SqliteTarget;
use crate::stats::QueryKind;

/// Virtual-machine steps between deadline checks (as the scans use).
const PROGRESS_STEPS: i32 = 10_000;

pub(crate) struct SqlitePages {
    target: SqliteTarget,
    dataset: Dataset,
    tx: Transaction<'static, Sqlite>,
    timeout: Duration,
    key: Vec<Identifier>,
    columns: Vec<Identifier>,
}

impl SqlitePages {
    /// Opens the read transaction and reads the dataset's columns.
    pub(crate) async fn open(
        target: &SqliteTarget,
        dataset: &Dataset,
        timeout: Duration,
    ) -> Result<(SqlitePages, Vec<ColumnInfo>), TargetError> {
        let context = Context::Dataset(dataset);
        let error = |e: sqlx::Error| target.map_error(e, context, timeout);
        let mut tx = target.pool().begin().await.map_err(error)?;
        let deadline = Instant::now() + timeout;
        tx.lock_handle()
            .await
            .map_err(error)?
            .set_progress_handler(PROGRESS_STEPS, move || Instant::now() < deadline);
        target.record(QueryKind::Catalogue);
        let found = crate::sqlite::sql::columns(dataset)
            .query()
            .fetch_all(&mut *tx)
            .await
            .map_err(error)?;
        let columns = found
            .iter()
            .map(|row| {
                Ok(ColumnInfo {
                    name: row.try_get::<String, _>(0)?,
                    data_type: row.try_get::<String, _>(1)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(error)?;
        let pages = SqlitePages {
            target: target.clone(),
            dataset: dataset.clone(),
            tx,
            timeout,
            key: Vec::new(),
            columns: Vec::new(),
        };
        // pragma_table_info answers an unknown table with no rows.
        if columns.is_empty() {
            pages.close().await;
            return Err(TargetError::DatasetNotFound {
                dataset: dataset.to_string(),
                target: target.name().to_string(),
            });
        }
        Ok((pages, columns))
    }

    /// What the pages select: the key, then the compared columns.
    pub(crate) fn select(&mut self, key: Vec<Identifier>, columns: Vec<Identifier>) {
        self.key = key;
        self.columns = columns;
    }

    /// Ends the read transaction and takes the deadline off the connection.
    pub(crate) async fn close(mut self) {
        if let Ok(mut handle) = self.tx.lock_handle().await {
            handle.remove_progress_handler();
        }
        if let Err(e) = self.tx.rollback().await {
            tracing::debug!(error = %e, "rollback of a reconciliation read");
        }
    }

    fn page_query(&self, after: Option<&[KeyPart]>, rows: u32) -> Sql<SqliteDialect> {
        let key: Vec<String> = self.key.iter().map(Identifier::quoted).collect();
        let mut selected = key.clone();
        selected.extend(self.columns.iter().map(Identifier::quoted));
        let mut sql = Sql::default();
        sql.push(&format!(
            "SELECT {} FROM {} WHERE ",
            selected.join(", "),
            self.dataset.quoted()
        ));
        let not_null: Vec<String> = key.iter().map(|k| format!("{k} IS NOT NULL")).collect();
        sql.push(&not_null.join(" AND "));
        if let Some(after) = after {
            sql.push(&format!(" AND ({}) > (", key.join(", ")));
            for (i, part) in after.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(match part {
                    KeyPart::Int(v) => Bind::Int(*v),
                    KeyPart::Text(v) => Bind::Text(v.clone()),
                });
            }
            sql.push(")");
        }
        sql.push(&format!(" ORDER BY {} LIMIT ", key.join(", ")))
            .bind(limit(rows as usize));
        sql
    }

    fn decode(&self, row: &SqliteRow) -> Result<Row, TargetError> {
        let width = self.key.len();
        let key = (0..width)
            .map(|i| key_part(row, i, &self.key[i]))
            .collect::<Result<Vec<_>, _>>()?;
        let hashes = (width..width + self.columns.len())
            .map(|i| datum(row, i, hash))
            .collect();
        Ok(Row { key, hashes })
    }
}

impl Pages for SqlitePages {
    async fn next_page(
        &mut self,
        after: Option<&[KeyPart]>,
        rows: u32,
    ) -> Result<Vec<Row>, TargetError> {
        self.target.record(QueryKind::Sample);
        let query = self.page_query(after, rows);
        let found = query.query().fetch_all(&mut *self.tx).await.map_err(|e| {
            self.target
                .map_error(e, Context::Dataset(&self.dataset), self.timeout)
        })?;
        found.iter().map(|row| self.decode(row)).collect()
    }
}

fn runtime_type(row: &SqliteRow, index: usize) -> Result<Option<String>, TargetError> {
    let raw = row
        .try_get_raw(index)
        .map_err(|e| TargetError::query(e.to_string()))?;
    Ok((!raw.is_null()).then(|| raw.type_info().name().to_string()))
}

fn key_part(row: &SqliteRow, index: usize, column: &Identifier) -> Result<KeyPart, TargetError> {
    let decode = |e: sqlx::Error| TargetError::query(format!("key column {column}: {e}"));
    match runtime_type(row, index)?.as_deref() {
        Some("INTEGER") => row
            .try_get_unchecked::<i64, _>(index)
            .map(KeyPart::Int)
            .map_err(decode),
        Some("TEXT") => row
            .try_get_unchecked::<String, _>(index)
            .map(KeyPart::Text)
            .map_err(decode),
        other => Err(TargetError::query(format!(
            "key column {column} holds a {} value: reconciliation keys must be integers or text",
            other.unwrap_or("NULL")
        ))),
    }
}

/// `f` of a column value, read by its runtime type.
fn datum<T>(row: &SqliteRow, index: usize, f: impl Fn(Datum<'_>) -> T) -> T {
    let unreadable = |e: sqlx::Error| f(Datum::Text(&format!("<unreadable: {e}>")));
    match runtime_type(row, index) {
        Ok(None) => f(Datum::Null),
        Ok(Some(kind)) => match kind.as_str() {
            "INTEGER" => match row.try_get_unchecked::<i64, _>(index) {
                Ok(v) => f(Datum::Int(v)),
                Err(e) => unreadable(e),
            },
            "REAL" => match row.try_get_unchecked::<f64, _>(index) {
                Ok(v) => f(Datum::Real(v)),
                Err(e) => unreadable(e),
            },
            "BLOB" => match row.try_get_unchecked::<Vec<u8>, _>(index) {
                Ok(v) => f(Datum::Blob(&v)),
                Err(e) => unreadable(e),
            },
            _ => match row.try_get_unchecked::<String, _>(index) {
                Ok(v) => f(Datum::Text(&v)),
                Err(e) => unreadable(e),
            },
        },
        Err(e) => f(Datum::Text(&format!("<unreadable: {e}>"))),
    }
}
