//! One test body on both backends: [`on_each_backend!`] turns each
//! `async fn name(backend: Backend)` into the tests `name::sqlite` and
//! `name::postgres`, and a [`Fixture`] is that test's database on the
//! backend it was given.

use dq_targets::Target;

use super::pg::Schema;
use super::{orders, Db};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// For each test function named (an `async fn(Backend)`), a module of that
/// name with two tests, `sqlite` and `postgres`, running it on each backend.
#[allow(unused_macros)] // not every test binary has a test for both
macro_rules! on_each_backend {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn sqlite() {
                super::$test($crate::common::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$test($crate::common::Backend::Postgres).await;
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use on_each_backend;

/// A test's own database: a SQLite file in a temp dir, or a PostgreSQL
/// schema; either goes away with the fixture.
pub enum Fixture {
    Sqlite(Db),
    Postgres(Schema),
}

impl Fixture {
    /// An empty database.
    pub async fn new(backend: Backend) -> Fixture {
        match backend {
            Backend::Sqlite => Fixture::Sqlite(Db::new().await),
            Backend::Postgres => Fixture::Postgres(Schema::new().await),
        }
    }

    /// A database holding the `orders` fixture, as table `orders`.
    pub async fn with_orders(backend: Backend) -> Fixture {
        match backend {
            Backend::Sqlite => Fixture::Sqlite(orders::db().await),
            Backend::Postgres => Fixture::Postgres(Schema::with_orders().await),
        }
    }

    /// `sqlite` on SQLite, `postgres` on PostgreSQL: for what the backends
    /// store, word or answer differently.
    pub fn pick<T>(&self, sqlite: T, postgres: T) -> T {
        match self {
            Fixture::Sqlite(_) => sqlite,
            Fixture::Postgres(_) => postgres,
        }
    }

    /// `table` as a rule's dataset, and as hand-written SQL names it: the
    /// table itself on SQLite, `<schema>.<table>` on PostgreSQL.
    pub fn dataset(&self, table: &str) -> String {
        match self {
            Fixture::Sqlite(_) => table.to_string(),
            Fixture::Postgres(pg) => pg.dataset(table),
        }
    }

    pub async fn target(&self) -> Target {
        match self {
            Fixture::Sqlite(db) => db.target().await,
            Fixture::Postgres(pg) => pg.target().await,
        }
    }

    /// Runs one or more statements as the writer.
    pub async fn exec(&self, sql: &str) {
        match self {
            Fixture::Sqlite(db) => db.exec(sql).await,
            Fixture::Postgres(pg) => pg.exec(sql).await,
        }
    }

    /// The one value a hand-written query returns, as a float.
    pub async fn number(&self, sql: &str) -> Option<f64> {
        match self {
            Fixture::Sqlite(db) => db.number(sql).await,
            Fixture::Postgres(pg) => pg.number(sql).await,
        }
    }

    /// The rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        match self {
            Fixture::Sqlite(db) => db.count(table).await,
            Fixture::Postgres(pg) => pg.count(table).await,
        }
    }
}
