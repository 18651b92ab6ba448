//! PostgreSQL text for every request: the scope's source (relation, sample,
//! filter, window), predicates, the fused scan, the duplicate count with
//! its top values, catalogue and sample queries (custom queries are
//! wrapped by `sql_common`, in this dialect). Identifiers only ever enter
//! as `quoted()` validated names; every value (accepted values,
//! bounds, regexes, cutoffs, limits, sample percentages) is a `$n` bind.
//!
//! The SQL is worded by each column's type, as a person writing it by hand
//! would: a numeric column is compared with numeric constants (not
//! converted to float on every row), a timestamp window binds a timestamp.

use chrono::{DateTime, Utc};
use dq_core::{ColumnInfo, Dataset, Identifier, Literal, MetricRequest, RowPredicate, Scope};

pub(crate) use crate::sql_common::Bind;
use crate::sql_common::{limit, outside, saturating_i64, unix_seconds, Dialect};

/// PostgreSQL's spelling: `$n` placeholders, rows rendered as JSON text by
/// the server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PostgresDialect;

impl Dialect for PostgresDialect {
    type Db = sqlx::Postgres;
    const NEVER: &'static str = "false";
    const ROW: &'static str = "row_to_json(dq_row.*)::text";
    const ROW_ALIAS: &'static str = " dq_row";
    const COUNT_ALIAS: &'static str = " dq_custom";

    fn placeholder(n: usize) -> String {
        format!("${n}")
    }
}

/// SQL text with `$n` placeholders and their values, in order.
pub(crate) type Sql = crate::sql_common::Sql<PostgresDialect>;

/// What SQL a column's type calls for, from its `format_type` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Timestamptz,
    Timestamp,
    Date,
    /// `numeric`: exact, and slow to convert, so compared with numerics.
    Decimal,
    /// Integers and floats.
    Number,
    Bool,
    Text,
    /// Anything else (enums, uuid, json, arrays, domains): read as text.
    Other,
}

impl Kind {
    pub(crate) fn of(data_type: &str) -> Kind {
        // `numeric(12,2)`, `timestamp(3) with time zone`: the typmod does not matter.
        let mut base = String::new();
        let mut depth = 0;
        for c in data_type.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ if depth == 0 => base.push(c),
                _ => {}
            }
        }
        match base
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str()
        {
            "timestamp with time zone" => Kind::Timestamptz,
            "timestamp without time zone" => Kind::Timestamp,
            "date" => Kind::Date,
            "numeric" => Kind::Decimal,
            "smallint" | "integer" | "bigint" | "real" | "double precision" => Kind::Number,
            "boolean" => Kind::Bool,
            "text" | "character varying" | "character" => Kind::Text,
            _ => Kind::Other,
        }
    }
}

/// The dataset's columns, to look up a column's [`Kind`]; an unknown column
/// is `Other` (its text form), which the catalogue check makes rare.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Columns<'a>(pub(crate) &'a [ColumnInfo]);

impl Columns<'_> {
    pub(crate) fn kind(&self, column: &Identifier) -> Kind {
        self.0
            .iter()
            .find(|c| c.name == column.as_str())
            .map_or(Kind::Other, |c| Kind::of(&c.data_type))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// Whole pages: reads only the sampled fraction of the table.
    System,
    /// Single rows: reads every page, keeps each row with probability p.
    Bernoulli,
}

/// A `TABLESAMPLE` clause. The seed makes every statement of one run draw
/// the same sample, so the fused scan and the duplicate count agree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    pub(crate) method: Method,
    pub(crate) percent: f64,
    pub(crate) seed: f64,
}

/// SYSTEM keeps or drops whole pages, so a sample of few pages is lumpy
/// (a page holds ~100 rows); below this many expected pages the table is
/// small enough that BERNOULLI, which reads every page, costs little.
const MIN_SYSTEM_PAGES: f64 = 100.0;

/// How to draw about `size` rows from a table the planner estimates at
/// `reltuples` rows in `relpages` pages. `None` reads the whole table: no
/// sample wanted, a table never analysed (`reltuples` -1) or empty, or a
/// sample as large as the table.
pub(crate) fn sample(
    size: Option<u64>,
    reltuples: f64,
    relpages: i64,
    seed: f64,
) -> Option<Sample> {
    let size = size? as f64;
    if reltuples.is_nan() || reltuples <= 0.0 {
        return None;
    }
    let percent = 100.0 * size / reltuples;
    if percent >= 100.0 {
        return None;
    }
    let pages = relpages.max(0) as f64 * percent / 100.0;
    let method = if pages >= MIN_SYSTEM_PAGES {
        Method::System
    } else {
        Method::Bernoulli
    };
    Some(Sample {
        method,
        percent,
        seed,
    })
}

/// The rows a query sees: the dataset, maybe sampled, with the scope's
/// filter and window as conditions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Source {
    relation: String,
    sample: Option<Sample>,
    filter: Option<String>,
    /// `lhs >= bind` with a cast for the bind.
    window: Option<(String, Bind, &'static str)>,
}

impl Source {
    pub(crate) fn new(
        dataset: &Dataset,
        scope: &Scope,
        now: DateTime<Utc>,
        columns: Columns<'_>,
        sample: Option<Sample>,
    ) -> Source {
        let window = scope.window.as_ref().map(|w| {
            let cutoff = chrono::Duration::from_std(w.length)
                .ok()
                .and_then(|length| now.checked_sub_signed(length))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let c = w.column.quoted();
            match columns.kind(&w.column) {
                Kind::Timestamptz => (c, Bind::Timestamptz(cutoff), ""),
                Kind::Timestamp | Kind::Date => (c, Bind::Timestamp(cutoff.naive_utc()), ""),
                Kind::Number => (c, Bind::Real(unix_seconds(cutoff)), ""),
                Kind::Decimal => (c, Bind::Real(unix_seconds(cutoff)), "::numeric"),
                Kind::Text | Kind::Bool | Kind::Other => {
                    (format!("{c}::timestamptz"), Bind::Timestamptz(cutoff), "")
                }
            }
        });
        Source {
            relation: dataset.quoted(),
            sample,
            filter: scope.filter.as_ref().map(|f| f.as_sql().to_string()),
            window,
        }
    }

    /// ` FROM rel [TABLESAMPLE ...] [WHERE filter AND window AND extra]`.
    fn push_from(&self, sql: &mut Sql, extra: Option<&dyn Fn(&mut Sql)>) {
        sql.push(" FROM ").push(&self.relation);
        if let Some(sample) = &self.sample {
            let method = match sample.method {
                Method::System => "SYSTEM",
                Method::Bernoulli => "BERNOULLI",
            };
            sql.push(&format!(" TABLESAMPLE {method} ("))
                .bind(Bind::Real(sample.percent))
                .push(") REPEATABLE (")
                .bind(Bind::Real(sample.seed))
                .push(")");
        }
        let mut first = true;
        let mut and = |sql: &mut Sql| {
            sql.push(if first { " WHERE " } else { " AND " });
            first = false;
        };
        if let Some(filter) = &self.filter {
            and(sql);
            sql.push("(").push(filter).push(")");
        }
        if let Some((lhs, cutoff, cast)) = &self.window {
            and(sql);
            sql.push(&format!("{lhs} >= "))
                .bind(cutoff.clone())
                .push(cast);
        }
        if let Some(extra) = extra {
            and(sql);
            extra(sql);
        }
    }
}

/// The column as text, for checks on text (a regex, a length) of a column
/// of another type.
fn as_text(column: &Identifier, kind: Kind) -> String {
    match kind {
        Kind::Text => column.quoted(),
        _ => format!("{}::text", column.quoted()),
    }
}

fn literal_text(value: &Literal) -> String {
    match value {
        Literal::Text(v) => v.clone(),
        other => other.to_string(),
    }
}

/// Compares in the column's own type when the values are of that type
/// (numbers with a numeric column, booleans with a boolean one, anything
/// with a text column), otherwise as text: an enum label, a uuid.
fn not_in(sql: &mut Sql, column: &Identifier, values: &[Literal], kind: Kind) {
    let c = column.quoted();
    sql.push(&format!("{c} IS NOT NULL"));
    if values.is_empty() {
        return;
    }
    let numbers = values
        .iter()
        .all(|v| matches!(v, Literal::Integer(_) | Literal::Float(_)));
    let booleans = values.iter().all(|v| matches!(v, Literal::Bool(_)));
    let typed = |value: &Literal| match value {
        Literal::Integer(v) => Bind::Int(*v),
        Literal::Float(v) => Bind::Real(*v),
        Literal::Bool(v) => Bind::Bool(*v),
        Literal::Text(v) => Bind::Text(v.clone()),
    };
    let text = |value: &Literal| Bind::Text(literal_text(value));
    let (lhs, binds, cast): (String, Vec<Bind>, &str) = match kind {
        Kind::Decimal if numbers => (c, values.iter().map(typed).collect(), "::numeric"),
        Kind::Number if numbers => (c, values.iter().map(typed).collect(), ""),
        Kind::Bool if booleans => (c, values.iter().map(typed).collect(), ""),
        Kind::Text => (c, values.iter().map(text).collect(), ""),
        _ => (as_text(column, kind), values.iter().map(text).collect(), ""),
    };
    sql.push(&format!(" AND {lhs} NOT IN ("));
    for (i, bind) in binds.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(bind).push(cast);
    }
    sql.push(")");
}

/// The condition a failing row meets. NULLs never fail a value check:
/// everything but IsNull requires the column to be non-NULL.
fn predicate(sql: &mut Sql, p: &RowPredicate, columns: Columns<'_>, source: &Source) {
    match p {
        // SQL's NULL is an explicit null.
        RowPredicate::IsNull(c) | RowPredicate::IsExplicitNull(c) => {
            sql.push(&format!("{} IS NULL", c.quoted()));
        }
        // Document-only predicates: refused before any query (scan_common).
        RowPredicate::IsAbsent(_) | RowPredicate::TypeNotIn(..) => {
            sql.push("1 = 0");
        }
        RowPredicate::NotIn(c, values) => not_in(sql, c, values, columns.kind(c)),
        RowPredicate::OutsideRange(c, min, max) => {
            let q = c.quoted();
            let cast = match columns.kind(c) {
                Kind::Decimal => "::numeric",
                _ => "",
            };
            sql.push(&format!("{q} IS NOT NULL AND "));
            outside(sql, &q, min.map(Bind::Real), max.map(Bind::Real), cast);
        }
        RowPredicate::RegexMismatch(c, regex) => {
            let text = as_text(c, columns.kind(c));
            sql.push(&format!("{} IS NOT NULL AND {text} !~ ", c.quoted()))
                .bind(Bind::Text(regex.clone()));
        }
        RowPredicate::LengthOutside(c, min, max) => {
            let length = format!("char_length({})", as_text(c, columns.kind(c)));
            let bound = |v: &Option<u64>| v.map(|v| Bind::Int(saturating_i64(v)));
            sql.push(&format!("{} IS NOT NULL AND ", c.quoted()));
            outside(sql, &length, bound(min), bound(max), "");
        }
        RowPredicate::Duplicated(c) => {
            let q = c.quoted();
            sql.push(&format!("{q} IN (SELECT {q}"));
            source.push_from(
                sql,
                Some(&|s: &mut Sql| {
                    s.push(&format!("{q} IS NOT NULL"));
                }),
            );
            sql.push(&format!(" GROUP BY {q} HAVING count(*) > 1)"));
        }
    }
}

/// Appends the select-list expression of a scan aggregate (nothing for
/// requests that need a query of their own).
fn aggregate(sql: &mut Sql, request: &MetricRequest, columns: Columns<'_>, source: &Source) {
    match request {
        MetricRequest::RowCount => {
            sql.push("count(*)");
        }
        // What a person writes, and a plain aggregate rather than a filter.
        MetricRequest::CountWhere(RowPredicate::IsNull(c)) => {
            sql.push(&format!("count(*) - count({})", c.quoted()));
        }
        MetricRequest::CountWhere(p) => {
            sql.push("count(*) FILTER (WHERE ");
            predicate(sql, p, columns, source);
            sql.push(")");
        }
        MetricRequest::Avg(c) => {
            sql.push(&format!("avg({})::float8", c.quoted()));
        }
        MetricRequest::MaxTimestamp(c) => {
            let q = c.quoted();
            sql.push(&match columns.kind(c) {
                Kind::Timestamptz | Kind::Timestamp | Kind::Date => {
                    format!("extract(epoch FROM max({q}))::float8")
                }
                // Numbers are Unix seconds already.
                Kind::Number | Kind::Decimal => format!("max({q})::float8"),
                _ => format!("extract(epoch FROM max({q}::timestamptz))::float8"),
            });
        }
        MetricRequest::DuplicateRows(_)
        | MetricRequest::Distribution { .. }
        | MetricRequest::Columns
        | MetricRequest::CustomSql { .. }
        | MetricRequest::JsonSchemaViolations(_)
        | MetricRequest::CustomPipeline { .. } => {}
    }
}

/// The fused scan: every aggregate in one pass, one result column each, in
/// the order of `requests` (callers pass only scan aggregates).
pub(crate) fn fused_scan(
    source: &Source,
    requests: &[&MetricRequest],
    columns: Columns<'_>,
) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT ");
    for (i, request) in requests
        .iter()
        .filter(|r| r.is_scan_aggregate())
        .enumerate()
    {
        if i > 0 {
            sql.push(", ");
        }
        aggregate(&mut sql, request, columns, source);
    }
    source.push_from(&mut sql, None);
    sql
}

/// Non-NULL rows whose value occurs more than once, and the `top` most
/// repeated values with their counts as a JSON array of
/// `{"<column>": value, "occurrences": n}`: one GROUP BY gives both, so a
/// failing duplicate rule needs no sample query.
/// A drift check's values: up to `limit` random non-NULL numbers of the
/// column, or its `limit` most frequent values (as text) with their counts.
pub(crate) fn distribution(
    source: &Source,
    column: &Identifier,
    categorical: bool,
    limit: u64,
) -> Sql {
    let c = column.quoted();
    let not_null = |s: &mut Sql| {
        s.push(&format!("{c} IS NOT NULL"));
    };
    let mut sql = Sql::default();
    if categorical {
        sql.push(&format!("SELECT {c}::text, count(*)::int8"));
        source.push_from(&mut sql, Some(&not_null));
        sql.push(" GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ");
    } else {
        sql.push(&format!("SELECT {c}::float8, NULL::int8"));
        source.push_from(&mut sql, Some(&not_null));
        sql.push(" ORDER BY random() LIMIT ");
    }
    sql.bind(Bind::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    sql
}

pub(crate) fn duplicates(source: &Source, column: &Identifier, top: usize) -> Sql {
    let c = column.quoted();
    let mut sql = Sql::default();
    sql.push(&format!("WITH dq_dups AS (SELECT {c} AS v, count(*) AS n"));
    source.push_from(
        &mut sql,
        Some(&|s: &mut Sql| {
            s.push(&format!("{c} IS NOT NULL"));
        }),
    );
    sql.push(&format!(
        " GROUP BY {c} HAVING count(*) > 1) \
         SELECT (SELECT coalesce(sum(n), 0)::int8 FROM dq_dups), \
         (SELECT json_agg(json_build_object("
    ))
    .bind(Bind::Text(column.as_str().to_string()))
    .push(
        "::text, v, 'occurrences', n) ORDER BY n DESC, v)::text \
         FROM (SELECT v, n FROM dq_dups ORDER BY n DESC, v LIMIT ",
    )
    .bind(limit(top))
    .push(") dq_top)");
    sql
}

/// Columns in order with their `format_type` names, and the planner's size
/// estimates for sampling. The name resolves as the scan's queries will
/// (search_path for an unqualified one); no row means no such relation.
pub(crate) fn catalogue(dataset: &Dataset) -> Sql {
    let mut sql = Sql::default();
    sql.push(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), \
         c.reltuples::float8, c.relpages::int8 \
         FROM pg_catalog.pg_class c \
         LEFT JOIN pg_catalog.pg_attribute a \
         ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         WHERE c.oid = pg_catalog.to_regclass(",
    )
    .bind(Bind::Text(dataset.quoted()))
    .push(") AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY a.attnum");
    sql
}

/// Up to `rows` rows meeting `p`, each as one JSON object in column order.
pub(crate) fn sample_where(
    source: &Source,
    p: &RowPredicate,
    columns: Columns<'_>,
    rows: usize,
) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT row_to_json(dq_row.*)::text FROM (SELECT *");
    source.push_from(
        &mut sql,
        Some(&|s: &mut Sql| predicate(s, p, columns, source)),
    );
    if let RowPredicate::Duplicated(c) = p {
        // Copies side by side.
        sql.push(&format!(" ORDER BY {}", c.quoted()));
    }
    sql.push(" LIMIT ").bind(limit(rows)).push(") dq_row");
    sql
}

#[cfg(test)]
mod tests;
