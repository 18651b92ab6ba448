//! SQLite text for every request: the scope's source relation, predicates,
//! the fused scan, GROUP BY counts, catalogue and sample queries. Identifiers
//! only ever enter as `quoted()` validated names; every value (accepted
//! values, bounds, regexes, cutoffs, limits) is a bind parameter.

use chrono::{DateTime, Utc};
use dq_core::{Dataset, Identifier, Literal, MetricRequest, RowPredicate, Scope};

pub(crate) use crate::sql_common::Bind;
use crate::sql_common::{limit, outside, saturating_i64, unix_seconds, Dialect};

/// The name of the scoped relation; unlikely to shadow a user's table, which
/// would turn the CTE into a (failing) self reference.
const SCOPED: &str = "dq_scoped";

/// SQLite's spelling: `?` placeholders, rows read as they are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = sqlx::Sqlite;
    const NEVER: &'static str = "0";
    const ROW: &'static str = "*";
    const ROW_ALIAS: &'static str = "";
    const COUNT_ALIAS: &'static str = "";

    fn placeholder(_: usize) -> String {
        "?".to_string()
    }
}

/// SQL text with `?` placeholders and their values, in textual order.
pub(crate) type Sql = crate::sql_common::Sql<SqliteDialect>;

/// The rows a scan sees: the dataset itself, or a CTE applying the scope's
/// filter, window and random sample. A sample is drawn per query: the fused
/// scan's aggregates all come from one sample, while a duplicate count or a
/// failing-row fetch draws its own (SQLite in `query_only` mode has nowhere
/// to keep one sample across queries).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Source {
    prefix: Sql,
    relation: String,
}

impl Source {
    pub(crate) fn new(dataset: &Dataset, scope: &Scope, now: DateTime<Utc>) -> Source {
        if scope.is_whole_table() {
            return Source {
                prefix: Sql::default(),
                relation: dataset.quoted(),
            };
        }
        let mut sql = Sql::default();
        // Sampled rows must be drawn once per query, however often the body
        // refers to them (the duplicate sample reads the relation twice).
        let materialized = if scope.sample_size.is_some() {
            "MATERIALIZED "
        } else {
            ""
        };
        sql.push(&format!(
            "WITH {SCOPED} AS {materialized}(SELECT * FROM {}",
            dataset.quoted()
        ));
        let mut conditions = 0;
        let mut and_where = |sql: &mut Sql| {
            sql.push(if conditions == 0 { " WHERE " } else { " AND " });
            conditions += 1;
        };
        if let Some(filter) = &scope.filter {
            and_where(&mut sql);
            sql.push("(").push(filter.as_sql()).push(")");
        }
        if let Some(window) = &scope.window {
            and_where(&mut sql);
            let cutoff = unix_seconds(now) - window.length.as_secs_f64();
            sql.push(&timestamp_seconds(&window.column))
                .push(" >= ")
                .bind(Bind::Real(cutoff));
        }
        if let Some(size) = scope.sample_size {
            sql.push(" ORDER BY random() LIMIT ")
                .bind(Bind::Int(saturating_i64(size)));
        }
        sql.push(") ");
        Source {
            prefix: sql,
            relation: SCOPED.to_string(),
        }
    }

    /// A query over this source: the CTE (if any), ready for `SELECT ...`.
    fn start(&self) -> Sql {
        self.prefix.clone()
    }

    fn relation(&self) -> &str {
        &self.relation
    }
}

/// A column as Unix seconds, whether it holds numbers (already Unix seconds)
/// or ISO-8601 text ('2025-06-30 12:00:00', '2025-06-30T12:00:00Z'); text
/// that is no date gives NULL. Rounded to milliseconds because julianday()
/// arithmetic leaves float noise in the last digits.
fn timestamp_seconds(column: &Identifier) -> String {
    let c = column.quoted();
    format!(
        "(CASE WHEN typeof({c}) IN ('integer', 'real') THEN {c} \
         ELSE round((julianday({c}) - 2440587.5) * 86400.0, 3) END)"
    )
}

fn literal(value: &Literal) -> Bind {
    match value {
        Literal::Integer(v) => Bind::Int(*v),
        Literal::Float(v) => Bind::Real(*v),
        Literal::Bool(v) => Bind::Int(i64::from(*v)),
        Literal::Text(v) => Bind::Text(v.clone()),
    }
}

/// The condition a failing row meets. NULLs never fail a value check:
/// everything but IsNull requires the column to be non-NULL.
fn predicate(sql: &mut Sql, predicate: &RowPredicate, relation: &str) {
    match predicate {
        // SQL's NULL is an explicit null.
        RowPredicate::IsNull(c) | RowPredicate::IsExplicitNull(c) => {
            sql.push(&format!("{} IS NULL", c.quoted()));
        }
        // Document-only predicates: refused before any query (scan_common).
        RowPredicate::IsAbsent(_) | RowPredicate::TypeNotIn(..) => {
            sql.push("1 = 0");
        }
        RowPredicate::NotIn(c, values) => {
            let c = c.quoted();
            sql.push(&format!("{c} IS NOT NULL"));
            if !values.is_empty() {
                sql.push(&format!(" AND {c} NOT IN ("));
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(literal(value));
                }
                sql.push(")");
            }
        }
        RowPredicate::OutsideRange(c, min, max) => {
            let c = c.quoted();
            sql.push(&format!("{c} IS NOT NULL AND "));
            outside(sql, &c, min.map(Bind::Real), max.map(Bind::Real), "");
        }
        RowPredicate::RegexMismatch(c, regex) => {
            let c = c.quoted();
            sql.push(&format!("{c} IS NOT NULL AND NOT ({c} REGEXP "))
                .bind(Bind::Text(regex.clone()))
                .push(")");
        }
        RowPredicate::LengthOutside(c, min, max) => {
            let c = c.quoted();
            sql.push(&format!("{c} IS NOT NULL AND "));
            let bound = |v: &Option<u64>| v.map(|v| Bind::Int(saturating_i64(v)));
            outside(sql, &format!("length({c})"), bound(min), bound(max), "");
        }
        RowPredicate::Duplicated(c) => {
            let c = c.quoted();
            sql.push(&format!(
                "{c} IN (SELECT {c} FROM {relation} WHERE {c} IS NOT NULL \
                 GROUP BY {c} HAVING count(*) > 1)"
            ));
        }
    }
}

/// Appends the select-list expression of a scan aggregate; false (nothing
/// appended) for requests that need a query of their own.
fn aggregate(sql: &mut Sql, request: &MetricRequest, relation: &str) -> bool {
    match request {
        MetricRequest::RowCount => {
            sql.push("count(*)");
        }
        MetricRequest::CountWhere(p) => {
            sql.push("count(*) FILTER (WHERE ");
            predicate(sql, p, relation);
            sql.push(")");
        }
        MetricRequest::Avg(c) => {
            sql.push(&format!("avg({})", c.quoted()));
        }
        MetricRequest::MaxTimestamp(c) => {
            sql.push(&format!("max({})", timestamp_seconds(c)));
        }
        MetricRequest::DuplicateRows(_)
        | MetricRequest::Distribution { .. }
        | MetricRequest::Columns
        | MetricRequest::CustomSql { .. }
        | MetricRequest::JsonSchemaViolations(_)
        | MetricRequest::CustomPipeline { .. } => return false,
    }
    true
}

/// The fused scan: every aggregate in one pass, one result column each, in
/// the order of `requests` (requests that are no aggregates are skipped, so
/// callers pass only [`MetricRequest::is_scan_aggregate`] ones).
pub(crate) fn fused_scan(source: &Source, requests: &[&MetricRequest]) -> Sql {
    let mut sql = source.start();
    sql.push("SELECT ");
    let mut first = true;
    for request in requests {
        let mut expression = Sql::default();
        if aggregate(&mut expression, request, source.relation()) {
            if !first {
                sql.push(", ");
            }
            first = false;
            sql.text.push_str(&expression.text);
            sql.binds.extend(expression.binds);
        }
    }
    sql.push(&format!(" FROM {}", source.relation()));
    sql
}

/// Non-NULL rows whose value occurs more than once.
pub(crate) fn duplicate_rows(source: &Source, column: &Identifier) -> Sql {
    let c = column.quoted();
    let mut sql = source.start();
    sql.push(&format!(
        "SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {} \
         WHERE {c} IS NOT NULL GROUP BY {c} HAVING count(*) > 1)",
        source.relation()
    ));
    sql
}

/// A drift check's values: up to `limit` random non-NULL numbers of the
/// column, or its `limit` most frequent values (as text) with their counts.
pub(crate) fn distribution(
    source: &Source,
    column: &Identifier,
    categorical: bool,
    limit: u64,
) -> Sql {
    let c = column.quoted();
    let mut sql = source.start();
    let relation = source.relation();
    if categorical {
        sql.push(&format!(
            "SELECT CAST({c} AS TEXT), count(*) FROM {relation} WHERE {c} IS NOT NULL \
             GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT "
        ));
    } else {
        sql.push(&format!(
            "SELECT CAST({c} AS REAL), NULL FROM {relation} WHERE {c} IS NOT NULL \
             ORDER BY random() LIMIT "
        ));
    }
    sql.bind(Bind::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    sql
}

/// Column names and declared types. In SQLite a dataset's schema is the
/// name of an attached database, `main` by default.
pub(crate) fn columns(dataset: &Dataset) -> Sql {
    let mut sql = Sql::default();
    let schema = dataset
        .schema
        .as_ref()
        .map_or("main", |s| s.as_str())
        .to_string();
    sql.push("SELECT name, type FROM pragma_table_info(")
        .bind(Bind::Text(dataset.name.as_str().to_string()))
        .push(", ")
        .bind(Bind::Text(schema))
        .push(") ORDER BY cid");
    sql
}

/// Up to `rows` rows meeting `predicate`; duplicates come grouped by value
/// so a person sees the copies side by side.
pub(crate) fn sample_where(source: &Source, p: &RowPredicate, rows: usize) -> Sql {
    let mut sql = source.start();
    sql.push(&format!("SELECT * FROM {} WHERE ", source.relation()));
    predicate(&mut sql, p, source.relation());
    if let RowPredicate::Duplicated(c) = p {
        sql.push(&format!(" ORDER BY {}", c.quoted()));
    }
    sql.push(" LIMIT ").bind(limit(rows));
    sql
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;
    use dq_core::{RowFilter, Window};

    use super::*;

    fn id(name: &str) -> Identifier {
        Identifier::new(name).unwrap()
    }

    #[test]
    fn predicates_bind_every_value() {
        let c = id("c");
        for (p, text, binds) in [
            (RowPredicate::IsNull(c.clone()), r#""c" IS NULL"#, vec![]),
            (
                RowPredicate::NotIn(
                    c.clone(),
                    vec![
                        Literal::Text("a".into()),
                        Literal::Integer(2),
                        Literal::Bool(true),
                    ],
                ),
                r#""c" IS NOT NULL AND "c" NOT IN (?, ?, ?)"#,
                vec![Bind::Text("a".into()), Bind::Int(2), Bind::Int(1)],
            ),
            (
                RowPredicate::OutsideRange(c.clone(), Some(0.0), None),
                r#""c" IS NOT NULL AND ("c" < ?)"#,
                vec![Bind::Real(0.0)],
            ),
            (
                RowPredicate::OutsideRange(c.clone(), Some(0.0), Some(9.5)),
                r#""c" IS NOT NULL AND ("c" < ? OR "c" > ?)"#,
                vec![Bind::Real(0.0), Bind::Real(9.5)],
            ),
            (
                RowPredicate::RegexMismatch(c.clone(), "^a$".into()),
                r#""c" IS NOT NULL AND NOT ("c" REGEXP ?)"#,
                vec![Bind::Text("^a$".into())],
            ),
            (
                RowPredicate::LengthOutside(c.clone(), None, Some(5)),
                r#""c" IS NOT NULL AND (length("c") > ?)"#,
                vec![Bind::Int(5)],
            ),
            (
                RowPredicate::LengthOutside(c.clone(), None, None),
                r#""c" IS NOT NULL AND 0"#,
                vec![],
            ),
            (
                RowPredicate::Duplicated(c.clone()),
                r#""c" IN (SELECT "c" FROM "t" WHERE "c" IS NOT NULL GROUP BY "c" HAVING count(*) > 1)"#,
                vec![],
            ),
        ] {
            let mut sql = Sql::default();
            predicate(&mut sql, &p, "\"t\"");
            assert_eq!(sql.text, text, "{p:?}");
            assert_eq!(sql.binds, binds, "{p:?}");
            assert_eq!(sql.text.matches('?').count(), sql.binds.len());
        }
    }

    #[test]
    fn scoped_source_binds_cutoff_and_sample_size() {
        let now = Utc.with_ymd_and_hms(2025, 6, 30, 12, 0, 0).unwrap();
        let scope = Scope {
            sample_size: Some(100),
            filter: Some(RowFilter::new("status = 'paid'").unwrap()),
            window: Some(Window {
                column: id("updated_at"),
                length: Duration::from_secs(3600),
            }),
        };
        let dataset = Dataset::parse("orders").unwrap();
        let source = Source::new(&dataset, &scope, now);
        let sql = fused_scan(
            &source,
            &[
                &MetricRequest::RowCount,
                &MetricRequest::Columns,
                &MetricRequest::CountWhere(RowPredicate::IsNull(id("customer_id"))),
            ],
        );
        assert!(sql.text.starts_with(
            "WITH dq_scoped AS MATERIALIZED (SELECT * FROM \"orders\" WHERE (status = 'paid') AND "
        ));
        assert!(sql.text.ends_with(
            "SELECT count(*), count(*) FILTER (WHERE \"customer_id\" IS NULL) FROM dq_scoped"
        ));
        assert_eq!(
            sql.binds,
            vec![Bind::Real(unix_seconds(now) - 3600.0), Bind::Int(100)]
        );

        let whole = Source::new(&dataset, &Scope::default(), now);
        assert_eq!(
            fused_scan(&whole, &[&MetricRequest::RowCount]).text,
            "SELECT count(*) FROM \"orders\""
        );
    }
}
