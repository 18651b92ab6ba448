//! What both backends' SQL is made of: text with placeholders and the values
//! bound to them, in order; the bounds of a range check; and the wrappers
//! around a user's custom query. A [`Dialect`] supplies the few words the
//! backends spell differently. Each backend's `sql` module builds its own
//! statements from these.

use std::fmt::Debug;
use std::marker::PhantomData;

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Database, Encode, Type};

/// How a backend spells what the shared builders write.
pub(crate) trait Dialect: Debug + Clone + Copy + PartialEq {
    type Db: Database;
    /// The placeholder for the `n`th bound value, counting from 1.
    fn placeholder(n: usize) -> String;
    /// A condition no row meets (a range check without bounds).
    const NEVER: &'static str;
    /// What a wrapper selects of a custom query's rows to show them.
    const ROW: &'static str;
    /// The alias a custom query gets when its rows are shown ("" for none).
    const ROW_ALIAS: &'static str;
    /// The alias a custom query gets when its rows are counted.
    const COUNT_ALIAS: &'static str;
}

/// A value bound to a statement. A backend binds only the kinds its SQL
/// needs (SQLite: numbers and text).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    Timestamptz(DateTime<Utc>),
    Timestamp(NaiveDateTime),
}

/// SQL text with placeholders and their values, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sql<D> {
    pub(crate) text: String,
    pub(crate) binds: Vec<Bind>,
    dialect: PhantomData<D>,
}

impl<D> Default for Sql<D> {
    fn default() -> Self {
        Sql {
            text: String::new(),
            binds: Vec::new(),
            dialect: PhantomData,
        }
    }
}

impl<D: Dialect> Sql<D> {
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub(crate) fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        self.text.push_str(&D::placeholder(self.binds.len()));
        self
    }

    /// The text is built only from quoted identifiers, fixed SQL and
    /// placeholders (or a screened filter / a user's custom SQL, both run
    /// where the database refuses writes), which is what `AssertSqlSafe`
    /// asserts.
    pub(crate) fn query<'q>(&self) -> Query<'q, D::Db, <D::Db as Database>::Arguments>
    where
        i64: Encode<'q, D::Db> + Type<D::Db>,
        f64: Encode<'q, D::Db> + Type<D::Db>,
        String: Encode<'q, D::Db> + Type<D::Db>,
        bool: Encode<'q, D::Db> + Type<D::Db>,
        DateTime<Utc>: Encode<'q, D::Db> + Type<D::Db>,
        NaiveDateTime: Encode<'q, D::Db> + Type<D::Db>,
    {
        let mut query = sqlx::query(AssertSqlSafe(self.text.clone()));
        for bind in &self.binds {
            query = match bind {
                Bind::Int(v) => query.bind(*v),
                Bind::Real(v) => query.bind(*v),
                Bind::Text(v) => query.bind(v.clone()),
                Bind::Bool(v) => query.bind(*v),
                Bind::Timestamptz(v) => query.bind(*v),
                Bind::Timestamp(v) => query.bind(*v),
            };
        }
        query
    }
}

pub(crate) fn unix_seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

pub(crate) fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A row limit as a bound value.
pub(crate) fn limit(rows: usize) -> Bind {
    Bind::Int(saturating_i64(rows as u64))
}

/// `(lhs < ? OR lhs > ?)` for the bounds given, each value followed by
/// `cast`; the dialect's never-true condition for none.
pub(crate) fn outside<D: Dialect>(
    sql: &mut Sql<D>,
    lhs: &str,
    min: Option<Bind>,
    max: Option<Bind>,
    cast: &str,
) {
    let parts: Vec<(&str, Bind)> = [("<", min), (">", max)]
        .into_iter()
        .filter_map(|(op, bound)| bound.map(|b| (op, b)))
        .collect();
    if parts.is_empty() {
        sql.push(D::NEVER);
        return;
    }
    sql.push("(");
    for (i, (op, bound)) in parts.into_iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push(&format!("{lhs} {op} ")).bind(bound).push(cast);
    }
    sql.push(")");
}

/// `SELECT <what> FROM (<body>)<alias>`. The newlines keep a trailing
/// `-- comment` in the user's query from swallowing the closing parenthesis.
fn around_custom<D: Dialect>(body: &str, what: &str, alias: &str) -> Sql<D> {
    let mut sql = Sql::default();
    sql.push(&format!("SELECT {what} FROM (\n{body}\n){alias}"));
    sql
}

/// The number of rows a custom query returns, without fetching them.
pub(crate) fn custom_count<D: Dialect>(body: &str) -> Sql<D> {
    around_custom(body, "count(*)", D::COUNT_ALIAS)
}

/// Two rows are enough to tell "exactly one" from "more than one".
pub(crate) fn custom_scalar<D: Dialect>(body: &str) -> Sql<D> {
    let mut sql = around_custom(body, D::ROW, D::ROW_ALIAS);
    sql.push(" LIMIT 2");
    sql
}

/// Up to `rows` of a custom query's rows.
pub(crate) fn custom_sample<D: Dialect>(body: &str, rows: usize) -> Sql<D> {
    let mut sql = around_custom(body, D::ROW, D::ROW_ALIAS);
    sql.push(" LIMIT ").bind(limit(rows));
    sql
}
