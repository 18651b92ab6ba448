//! WHERE clauses assembled from optional filters. Only `&'static str`
//! fragments are pushed as SQL; every value goes through a bind.

use sqlx::{Encode, QueryBuilder, Sqlite, Type};

pub(super) struct Conditions {
    query: QueryBuilder<Sqlite>,
    any: bool,
}

impl Conditions {
    pub(super) fn select(sql: &'static str) -> Self {
        Conditions {
            query: QueryBuilder::new(sql),
            any: false,
        }
    }

    fn next(&mut self) -> &mut QueryBuilder<Sqlite> {
        self.query.push(if self.any { " AND " } else { " WHERE " });
        self.any = true;
        &mut self.query
    }

    /// A condition with no value: `enabled = 1`.
    pub(super) fn holds(&mut self, condition: &'static str) {
        self.next().push(condition);
    }

    /// `before ? after`, e.g. `scheduled_for >= ?`.
    pub(super) fn bind<'t, T>(&mut self, before: &'static str, value: T, after: &'static str)
    where
        T: Encode<'t, Sqlite> + Type<Sqlite>,
    {
        self.next().push(before).push_bind(value).push(after);
    }

    /// `column IN (?, ?, ...)`; no condition at all when `values` is empty.
    pub(super) fn one_of<'t, T>(&mut self, column: &'static str, values: Vec<T>)
    where
        T: Encode<'t, Sqlite> + Type<Sqlite>,
    {
        if values.is_empty() {
            return;
        }
        let query = self.next();
        query.push(column).push(" IN (");
        let mut list = query.separated(", ");
        for value in values {
            list.push_bind(value);
        }
        query.push(")");
    }

    /// The finished query: `ORDER BY order_by`, then `LIMIT ?` if any.
    pub(super) fn order_by(
        mut self,
        order_by: &'static str,
        limit: Option<u32>,
    ) -> QueryBuilder<Sqlite> {
        self.query.push(" ORDER BY ").push(order_by);
        if let Some(limit) = limit {
            self.query.push(" LIMIT ").push_bind(i64::from(limit));
        }
        self.query
    }
}
