//! Reading one side of a reconciliation from PostgreSQL: one read-only,
//! repeatable-read transaction (one snapshot for every page, each
//! statement under the rule's timeout), the catalogue first, then keyset
//! pages in key order.
//!
//! Both sides must sort keys the same way: integer keys sort as numbers,
//! every other key as its text under the "C" collation (bytewise, as
//! SQLite sorts text). Compared columns are read as their text, booleans
//! as `1`/`0` like SQLite stores them; `value` makes the rest agree.

use std::time::Duration;

use dq_core::{ColumnInfo, Dataset, Identifier};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row as _, Transaction};

use super::merge::{Pages, Row};
use super::value::{hash, Datum, KeyPart};
use crate::error::{Context, TargetError};
use crate::postgres::sql::PostgresDialect;
use crate::postgres::PostgresTarget;
use crate::sql_common::{limit, Bind, Sql};
use crate::stats::QueryKind;

const INTEGER_TYPES: [&str; 3] = ["smallint", "integer", "bigint"];

pub(crate) struct PostgresPages {
    target: PostgresTarget,
    dataset: Dataset,
    tx: Transaction<'static, Postgres>,
    timeout: Duration,
    catalogue: Vec<ColumnInfo>,
    /// Per key column: whether it is an integer (else read as C text).
    key: Vec<(Identifier, bool)>,
    columns: Vec<Identifier>,
}

impl PostgresPages {
    /// Opens the read transaction and reads the dataset's columns.
    pub(crate) async fn open(
        target: &PostgresTarget,
        dataset: &Dataset,
        timeout: Duration,
    ) -> Result<(PostgresPages, Vec<ColumnInfo>), TargetError> {
        let context = Context::Dataset(dataset);
        let mut tx = target.begin(timeout, context).await?;
        target.record(QueryKind::Catalogue);
        let found = crate::postgres::sql::catalogue(dataset)
            .query()
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| target.map_error(e, context, timeout))?;
        if found.is_empty() {
            return Err(TargetError::DatasetNotFound {
                dataset: dataset.to_string(),
                target: target.name().to_string(),
            });
        }
        let decode = |e: sqlx::Error| TargetError::query(format!("catalogue: {e}"));
        let mut catalogue = Vec::with_capacity(found.len());
        for row in &found {
            // A table without columns comes back as one row of NULLs.
            let name: Option<String> = row.try_get(0).map_err(decode)?;
            let data_type: Option<String> = row.try_get(1).map_err(decode)?;
            if let (Some(name), Some(data_type)) = (name, data_type) {
                catalogue.push(ColumnInfo { name, data_type });
            }
        }
        let pages = PostgresPages {
            target: target.clone(),
            dataset: dataset.clone(),
            tx,
            timeout,
            catalogue: catalogue.clone(),
            key: Vec::new(),
            columns: Vec::new(),
        };
        Ok((pages, catalogue))
    }

    /// What the pages select: the key, then the compared columns.
    pub(crate) fn select(&mut self, key: Vec<Identifier>, columns: Vec<Identifier>) {
        self.key = key
            .into_iter()
            .map(|column| {
                let integer = INTEGER_TYPES.contains(&self.data_type(&column));
                (column, integer)
            })
            .collect();
        self.columns = columns;
    }

    fn data_type(&self, column: &Identifier) -> &str {
        self.catalogue
            .iter()
            .find(|c| c.name == column.as_str())
            .map_or("", |c| c.data_type.as_str())
    }

    pub(crate) async fn close(self) {
        if let Err(e) = self.tx.rollback().await {
            tracing::debug!(error = %e, "rollback of a reconciliation read");
        }
    }

    /// The key column as it is sorted and compared.
    fn key_expression(column: &Identifier, integer: bool) -> String {
        if integer {
            column.quoted()
        } else {
            format!("({}::text COLLATE \"C\")", column.quoted())
        }
    }

    fn page_query(&self, after: Option<&[KeyPart]>, rows: u32) -> Sql<PostgresDialect> {
        let order: Vec<String> = self
            .key
            .iter()
            .map(|(c, integer)| Self::key_expression(c, *integer))
            .collect();
        let mut selected: Vec<String> = self
            .key
            .iter()
            .map(|(c, integer)| match integer {
                true => format!("{}::int8", c.quoted()),
                false => Self::key_expression(c, false),
            })
            .collect();
        selected.extend(self.columns.iter().map(|c| {
            if self.data_type(c) == "boolean" {
                format!("{}::int::text", c.quoted())
            } else {
                format!("{}::text", c.quoted())
            }
        }));
        let mut sql = Sql::default();
        sql.push(&format!(
            "SELECT {} FROM {} WHERE ",
            selected.join(", "),
            self.dataset.quoted()
        ));
        let not_null: Vec<String> = self
            .key
            .iter()
            .map(|(c, _)| format!("{} IS NOT NULL", c.quoted()))
            .collect();
        sql.push(&not_null.join(" AND "));
        if let Some(after) = after {
            sql.push(&format!(" AND ({}) > (", order.join(", ")));
            for (i, part) in after.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                match part {
                    KeyPart::Int(v) => sql.bind(Bind::Int(*v)),
                    KeyPart::Text(v) => sql.bind(Bind::Text(v.clone())),
                };
            }
            // One column in parentheses is a value, not a row: both forms compare.
            sql.push(")");
        }
        sql.push(&format!(" ORDER BY {} LIMIT ", order.join(", ")))
            .bind(limit(rows as usize));
        sql
    }

    fn decode(&self, row: &PgRow) -> Result<Row, TargetError> {
        let width = self.key.len();
        let mut key = Vec::with_capacity(width);
        for (i, (column, integer)) in self.key.iter().enumerate() {
            let decode = |e: sqlx::Error| TargetError::query(format!("key column {column}: {e}"));
            key.push(match integer {
                true => KeyPart::Int(row.try_get::<i64, _>(i).map_err(decode)?),
                false => KeyPart::Text(row.try_get::<String, _>(i).map_err(decode)?),
            });
        }
        let mut hashes = Vec::with_capacity(self.columns.len());
        for (i, column) in self.columns.iter().enumerate() {
            let value: Option<String> = row
                .try_get(width + i)
                .map_err(|e| TargetError::query(format!("column {column}: {e}")))?;
            hashes.push(hash(value.as_deref().map_or(Datum::Null, Datum::Text)));
        }
        Ok(Row { key, hashes })
    }
}

impl Pages for PostgresPages {
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
