use std::time::Duration;

use chrono::TimeZone;
use dq_core::{RowFilter, Window};

use super::*;
use crate::sql_common::{custom_count, custom_sample, custom_scalar};

fn id(name: &str) -> Identifier {
    Identifier::new(name).unwrap()
}

fn column(name: &str, data_type: &str) -> ColumnInfo {
    ColumnInfo {
        name: name.into(),
        data_type: data_type.into(),
    }
}

fn orders_columns() -> Vec<ColumnInfo> {
    vec![
        column("id", "bigint"),
        column("email", "text"),
        column("amount", "numeric(12,2)"),
        column("status", "mood"),
        column("country", "character(2)"),
        column("score", "double precision"),
        column("active", "boolean"),
        column("created_at", "timestamp with time zone"),
        column("day", "date"),
        column("epoch", "bigint"),
        column("iso", "text"),
    ]
}

fn whole(dataset: &str) -> Source {
    let columns = orders_columns();
    Source::new(
        &Dataset::parse(dataset).unwrap(),
        &Scope::default(),
        Utc::now(),
        Columns(&columns),
        None,
    )
}

#[test]
fn kinds_from_format_type() {
    for (data_type, kind) in [
        ("timestamp with time zone", Kind::Timestamptz),
        ("timestamp(3) with time zone", Kind::Timestamptz),
        ("timestamp without time zone", Kind::Timestamp),
        ("date", Kind::Date),
        ("numeric", Kind::Decimal),
        ("numeric(12,2)", Kind::Decimal),
        ("integer", Kind::Number),
        ("double precision", Kind::Number),
        ("boolean", Kind::Bool),
        ("character varying(255)", Kind::Text),
        ("character(2)", Kind::Text),
        ("text", Kind::Text),
        ("integer[]", Kind::Other),
        ("uuid", Kind::Other),
        ("public.mood", Kind::Other),
        ("time without time zone", Kind::Other),
    ] {
        assert_eq!(Kind::of(data_type), kind, "{data_type}");
    }
}

#[test]
fn predicates_are_worded_by_column_type_and_bind_every_value() {
    let columns = orders_columns();
    let columns = Columns(&columns);
    let source = whole("s.orders");
    let text = |v: &str| Literal::Text(v.into());
    for (p, sql_text, binds) in [
        (
            RowPredicate::IsNull(id("email")),
            r#""email" IS NULL"#,
            vec![],
        ),
        (
            RowPredicate::NotIn(id("email"), vec![text("a"), Literal::Integer(2)]),
            r#""email" IS NOT NULL AND "email" NOT IN ($1, $2)"#,
            vec![Bind::Text("a".into()), Bind::Text("2".into())],
        ),
        (
            RowPredicate::NotIn(id("amount"), vec![Literal::Integer(1), Literal::Float(2.5)]),
            r#""amount" IS NOT NULL AND "amount" NOT IN ($1::numeric, $2::numeric)"#,
            vec![Bind::Int(1), Bind::Real(2.5)],
        ),
        (
            RowPredicate::NotIn(id("id"), vec![Literal::Integer(1)]),
            r#""id" IS NOT NULL AND "id" NOT IN ($1)"#,
            vec![Bind::Int(1)],
        ),
        (
            RowPredicate::NotIn(id("active"), vec![Literal::Bool(true)]),
            r#""active" IS NOT NULL AND "active" NOT IN ($1)"#,
            vec![Bind::Bool(true)],
        ),
        (
            RowPredicate::NotIn(id("status"), vec![text("happy")]),
            r#""status" IS NOT NULL AND "status"::text NOT IN ($1)"#,
            vec![Bind::Text("happy".into())],
        ),
        (
            RowPredicate::NotIn(id("id"), vec![text("x")]),
            r#""id" IS NOT NULL AND "id"::text NOT IN ($1)"#,
            vec![Bind::Text("x".into())],
        ),
        (
            RowPredicate::NotIn(id("email"), vec![]),
            r#""email" IS NOT NULL"#,
            vec![],
        ),
        (
            RowPredicate::OutsideRange(id("amount"), Some(0.0), Some(9.5)),
            r#""amount" IS NOT NULL AND ("amount" < $1::numeric OR "amount" > $2::numeric)"#,
            vec![Bind::Real(0.0), Bind::Real(9.5)],
        ),
        (
            RowPredicate::OutsideRange(id("score"), None, Some(1.0)),
            r#""score" IS NOT NULL AND ("score" > $1)"#,
            vec![Bind::Real(1.0)],
        ),
        (
            RowPredicate::OutsideRange(id("score"), None, None),
            r#""score" IS NOT NULL AND false"#,
            vec![],
        ),
        (
            RowPredicate::RegexMismatch(id("email"), "^a$".into()),
            r#""email" IS NOT NULL AND "email" !~ $1"#,
            vec![Bind::Text("^a$".into())],
        ),
        (
            RowPredicate::RegexMismatch(id("id"), "^[0-9]+$".into()),
            r#""id" IS NOT NULL AND "id"::text !~ $1"#,
            vec![Bind::Text("^[0-9]+$".into())],
        ),
        (
            RowPredicate::LengthOutside(id("country"), Some(2), Some(2)),
            r#""country" IS NOT NULL AND (char_length("country") < $1 OR char_length("country") > $2)"#,
            vec![Bind::Int(2), Bind::Int(2)],
        ),
        (
            RowPredicate::Duplicated(id("email")),
            r#""email" IN (SELECT "email" FROM "s"."orders" WHERE "email" IS NOT NULL GROUP BY "email" HAVING count(*) > 1)"#,
            vec![],
        ),
    ] {
        let mut sql = Sql::default();
        predicate(&mut sql, &p, columns, &source);
        assert_eq!(sql.text, sql_text, "{p:?}");
        assert_eq!(sql.binds, binds, "{p:?}");
    }
}

/// The fused scan has the floor's shape (floor_metrics.sql): one SELECT of
/// plain aggregates over the bare table.
#[test]
fn fused_scan_is_one_select_of_aggregates() {
    let columns = orders_columns();
    let columns = Columns(&columns);
    let source = whole("public.orders");
    let requests = [
        MetricRequest::RowCount,
        MetricRequest::CountWhere(RowPredicate::IsNull(id("email"))),
        MetricRequest::Columns,
        MetricRequest::CountWhere(RowPredicate::RegexMismatch(id("email"), "^x$".into())),
        MetricRequest::Avg(id("amount")),
        MetricRequest::MaxTimestamp(id("created_at")),
        MetricRequest::MaxTimestamp(id("epoch")),
        MetricRequest::MaxTimestamp(id("iso")),
        MetricRequest::DuplicateRows(id("email")),
    ];
    let refs: Vec<&MetricRequest> = requests.iter().collect();
    let sql = fused_scan(&source, &refs, columns);
    assert_eq!(
        sql.text,
        "SELECT count(*), count(*) - count(\"email\"), \
         count(*) FILTER (WHERE \"email\" IS NOT NULL AND \"email\" !~ $1), \
         avg(\"amount\")::float8, extract(epoch FROM max(\"created_at\"))::float8, \
         max(\"epoch\")::float8, extract(epoch FROM max(\"iso\"::timestamptz))::float8 \
         FROM \"public\".\"orders\""
    );
    assert_eq!(sql.binds, vec![Bind::Text("^x$".into())]);
}

#[test]
fn scoped_source_binds_sample_filter_and_window() {
    let now = Utc.with_ymd_and_hms(2025, 6, 30, 12, 0, 0).unwrap();
    let columns = orders_columns();
    let columns = Columns(&columns);
    let window = |name: &str| Scope {
        sample_size: None,
        filter: Some(RowFilter::new("status = 'paid'").unwrap()),
        window: Some(Window {
            column: id(name),
            length: Duration::from_secs(3600),
        }),
    };
    let dataset = Dataset::parse("orders").unwrap();
    let sample = Sample {
        method: Method::System,
        percent: 1.5,
        seed: 7.0,
    };
    let hour_ago = now - chrono::Duration::hours(1);
    for (column, lhs, cutoff) in [
        (
            "created_at",
            "\"created_at\" >= $3",
            Bind::Timestamptz(hour_ago),
        ),
        (
            "day",
            "\"day\" >= $3",
            Bind::Timestamp(hour_ago.naive_utc()),
        ),
        (
            "epoch",
            "\"epoch\" >= $3",
            Bind::Real(unix_seconds(hour_ago)),
        ),
        (
            "amount",
            "\"amount\" >= $3::numeric",
            Bind::Real(unix_seconds(hour_ago)),
        ),
        (
            "iso",
            "\"iso\"::timestamptz >= $3",
            Bind::Timestamptz(hour_ago),
        ),
    ] {
        let source = Source::new(&dataset, &window(column), now, columns, Some(sample));
        let sql = fused_scan(&source, &[&MetricRequest::RowCount], columns);
        assert_eq!(
            sql.text,
            format!(
                "SELECT count(*) FROM \"orders\" TABLESAMPLE SYSTEM ($1) REPEATABLE ($2) \
                 WHERE (status = 'paid') AND {lhs}"
            ),
            "{column}"
        );
        assert_eq!(sql.binds, vec![Bind::Real(1.5), Bind::Real(7.0), cutoff]);
    }
}

#[test]
fn sampling_method_and_percent() {
    // (sample size, reltuples, relpages, expected)
    for (size, reltuples, relpages, expected) in [
        (None, 1e6, 10_000, None),
        (Some(100), -1.0, 0, None),
        (Some(100), 0.0, 0, None),
        (Some(2000), 1000.0, 10, None),
        (Some(1000), 1000.0, 10, None),
        (Some(100), 1000.0, 10, Some((Method::Bernoulli, 10.0))),
        (Some(10_000), 1e7, 80_000, Some((Method::Bernoulli, 0.1))),
        (Some(100_000), 1e7, 80_000, Some((Method::System, 1.0))),
    ] {
        let got = sample(size, reltuples, relpages, 3.0).map(|s| (s.method, s.percent));
        assert_eq!(
            got, expected,
            "{size:?} of {reltuples} rows in {relpages} pages"
        );
    }
}

#[test]
fn duplicates_count_and_top_values_in_one_statement() {
    let sql = duplicates(&whole("public.orders"), &id("email"), 5);
    assert_eq!(
        sql.text,
        "WITH dq_dups AS (SELECT \"email\" AS v, count(*) AS n FROM \"public\".\"orders\" \
         WHERE \"email\" IS NOT NULL GROUP BY \"email\" HAVING count(*) > 1) \
         SELECT (SELECT coalesce(sum(n), 0)::int8 FROM dq_dups), \
         (SELECT json_agg(json_build_object($1::text, v, 'occurrences', n) ORDER BY n DESC, v)::text \
         FROM (SELECT v, n FROM dq_dups ORDER BY n DESC, v LIMIT $2) dq_top)"
    );
    assert_eq!(sql.binds, vec![Bind::Text("email".into()), Bind::Int(5)]);
}

#[test]
fn samples_and_custom_queries_are_bounded() {
    let columns = orders_columns();
    let sql = sample_where(
        &whole("orders"),
        &RowPredicate::IsNull(id("email")),
        Columns(&columns),
        3,
    );
    assert_eq!(
        sql.text,
        "SELECT row_to_json(dq_row.*)::text FROM (SELECT * FROM \"orders\" \
         WHERE \"email\" IS NULL LIMIT $1) dq_row"
    );
    assert_eq!(sql.binds, vec![Bind::Int(3)]);
    let custom = custom_sample::<PostgresDialect>("SELECT 1 -- why", 4);
    assert_eq!(
        custom.text,
        "SELECT row_to_json(dq_row.*)::text FROM (\nSELECT 1 -- why\n) dq_row LIMIT $1"
    );
    assert_eq!(custom.binds, vec![Bind::Int(4)]);
    assert!(custom_scalar::<PostgresDialect>("SELECT 1")
        .text
        .ends_with(") dq_row LIMIT 2"));
    assert_eq!(
        custom_count::<PostgresDialect>("SELECT 1").text,
        "SELECT count(*) FROM (\nSELECT 1\n) dq_custom"
    );
}
