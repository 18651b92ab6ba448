//! WHERE clauses assembled from optional filters. Only `&'static str`
//! fragments and numbered placeholders go into the SQL; every value is an
//! argument.

use std::fmt::Write;
use std::marker::PhantomData;

use super::{Arg, Dialect, Statement};

pub(crate) struct Conditions<DB> {
    sql: String,
    args: Vec<Arg>,
    any: bool,
    dialect: PhantomData<DB>,
}

impl<DB: Dialect> Conditions<DB> {
    pub(crate) fn select(sql: &'static str) -> Self {
        Conditions {
            sql: sql.to_string(),
            args: Vec::new(),
            any: false,
            dialect: PhantomData,
        }
    }

    fn next(&mut self) -> &mut String {
        self.sql
            .push_str(if self.any { " AND " } else { " WHERE " });
        self.any = true;
        &mut self.sql
    }

    fn placeholder(&mut self, arg: Arg) {
        self.args.push(arg);
        // Writing to a String cannot fail.
        let _ = write!(self.sql, "${}", self.args.len());
    }

    /// A condition with no value: `enabled = TRUE`.
    pub(crate) fn holds(&mut self, condition: &'static str) {
        self.next().push_str(condition);
    }

    /// `before $n after`, e.g. `scheduled_for >= $1`.
    pub(crate) fn bind(
        &mut self,
        before: &'static str,
        value: impl Into<Arg>,
        after: &'static str,
    ) {
        self.next().push_str(before);
        self.placeholder(value.into());
        self.sql.push_str(after);
    }

    /// Keyset pagination in a descending listing: the rows that come after
    /// (`first`, `second`) when ordered by `first_column DESC, second_column DESC`.
    pub(crate) fn after_desc(
        &mut self,
        first_column: &'static str,
        first: impl Into<Arg>,
        second_column: &'static str,
        second: impl Into<Arg>,
    ) {
        self.next().push('(');
        self.sql.push_str(first_column);
        self.sql.push_str(" < ");
        self.placeholder(first.into());
        let first_placeholder = self.args.len();
        self.sql.push_str(" OR (");
        self.sql.push_str(first_column);
        // The same value again, by number: both backends reuse `$n`.
        let _ = write!(self.sql, " = ${first_placeholder} AND ");
        self.sql.push_str(second_column);
        self.sql.push_str(" < ");
        self.placeholder(second.into());
        self.sql.push_str("))");
    }

    /// `column` is one of `values`; no condition at all when `values` is empty.
    pub(crate) fn one_of(&mut self, column: &'static str, values: Vec<String>) {
        if values.is_empty() {
            return;
        }
        self.next().push_str(column);
        let (open, close) = DB::IN_LIST;
        self.sql.push_str(open);
        self.placeholder(Arg::Texts(values));
        self.sql.push_str(close);
    }

    /// `column` is one of the integers `values`; no condition when empty.
    pub(crate) fn one_of_ints(&mut self, column: &'static str, values: Vec<i64>) {
        if values.is_empty() {
            return;
        }
        self.next().push_str(column);
        let (open, close) = DB::IN_LIST;
        self.sql.push_str(open);
        self.placeholder(Arg::Ints(values));
        self.sql.push_str(close);
    }

    /// The rule's tags hold `tag`.
    pub(crate) fn has_tag(&mut self, tag: &str) {
        let (before, after) = DB::HAS_TAG;
        self.bind(before, tag, after);
    }

    /// The finished statement: `ORDER BY order_by`, then `LIMIT $n` if any.
    pub(crate) fn order_by(mut self, order_by: &'static str, limit: Option<u32>) -> Statement {
        self.sql.push_str(" ORDER BY ");
        self.sql.push_str(order_by);
        if let Some(limit) = limit {
            self.sql.push_str(" LIMIT ");
            self.placeholder(Arg::Int(Some(i64::from(limit))));
        }
        Statement::assembled(self.sql, self.args)
    }

    /// The finished statement as it stands, for a DELETE or UPDATE (no
    /// ORDER BY). Its caller makes sure a condition was added: without one
    /// the statement touches every row.
    pub(crate) fn finish(self) -> Statement {
        Statement::assembled(self.sql, self.args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Postgres, Sqlite};

    fn filtered<DB: Dialect>() -> Statement {
        let mut conditions = Conditions::<DB>::select("SELECT id FROM rules");
        conditions.bind("a >= ", 5_i64, "");
        conditions.one_of("b", Vec::new());
        conditions.one_of("c", vec!["x".to_string(), "y".to_string()]);
        conditions.holds("enabled = TRUE");
        conditions.has_tag("sla");
        conditions.order_by("name", Some(10))
    }

    #[test]
    fn placeholders_are_numbered_in_order_and_lists_are_one_argument() {
        let args = vec![
            Arg::Int(Some(5)),
            Arg::Texts(vec!["x".to_string(), "y".to_string()]),
            Arg::Text(Some("sla".to_string())),
            Arg::Int(Some(10)),
        ];
        let cases: Vec<(&str, Statement, &str)> = vec![
            (
                "postgres",
                filtered::<Postgres>(),
                "SELECT id FROM rules WHERE a >= $1 AND c = ANY($2) AND enabled = TRUE \
                 AND tags ? $3 ORDER BY name LIMIT $4",
            ),
            (
                "sqlite",
                filtered::<Sqlite>(),
                "SELECT id FROM rules WHERE a >= $1 AND c IN (SELECT value FROM json_each($2)) \
                 AND enabled = TRUE AND EXISTS (SELECT 1 FROM json_each(rules.tags) \
                 WHERE json_each.value = $3) ORDER BY name LIMIT $4",
            ),
        ];
        for (label, statement, sql) in cases {
            assert_eq!(statement.parts(), (sql, args.as_slice()), "{label}");
        }
        let none = Conditions::<Sqlite>::select("SELECT 1").order_by("x", None);
        assert_eq!(none.parts(), ("SELECT 1 ORDER BY x", &[][..]));
    }
}
