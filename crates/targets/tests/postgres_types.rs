//! The SQL is worded by column type: enums and uuids compared as text,
//! numbers as numbers, lengths and regexes on the text of any column, and
//! time read from timestamps, dates, Unix seconds or ISO text alike, for
//! freshness and windows. Each count must equal a hand-written query.

mod common;

use std::time::Duration;

use chrono::TimeZone;
use common::pg::Schema;
use common::{col, options, rule, single_plan};
use dq_core::{
    Bounds, Check, Literal, MetricRequest, MetricValue, Pattern, Rule, RunStatus, Scope, Window,
};
use dq_targets::{compute_metrics, execute};

async fn typed_table() -> Schema {
    let pg = Schema::new().await;
    let s = &pg.name;
    pg.exec(&format!(
        "CREATE TYPE \"{s}\".mood AS ENUM ('happy', 'sad', 'meh');
         CREATE TABLE \"{s}\".typed (
           id int, mood \"{s}\".mood, u uuid, n int, amount numeric(8,2), flag bool, ch char(3),
           tz timestamptz, naive timestamp, d date, unix bigint, unix_num numeric, iso text);
         INSERT INTO \"{s}\".typed VALUES
           (1, 'happy', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1, 1.50, true, 'abc',
            '2025-06-30 12:00:00+00', '2025-06-30 12:00:00', '2025-06-30', 1751284800,
            1751284800.5, '2025-06-30T12:00:00Z'),
           (2, 'sad', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 2, 2.00, false, 'ab',
            '2025-06-29 12:00:00+02', '2025-06-29 12:00:00', '2025-06-29', 1751198400,
            1, '2025-06-30 13:00:00+02'),
           (3, 'meh', NULL, 3, -1.25, false, 'a',
            NULL, NULL, NULL, NULL, NULL, NULL),
           (4, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL);"
    ))
    .await;
    pg
}

fn noon() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.with_ymd_and_hms(2025, 6, 30, 12, 0, 0).unwrap()
}

#[tokio::test]
async fn row_checks_compare_in_each_column_type() {
    let pg = typed_table().await;
    let target = pg.target().await;
    let ds = pg.dataset("typed");
    let text = |v: &str| Literal::Text(v.to_string());
    let accepted = |name: &str, column: &str, values: Vec<Literal>| {
        rule(
            name,
            &ds,
            Check::AcceptedValues {
                column: col(column),
                values,
            },
            Bounds::at_most(0.0),
        )
    };
    let regex = |name: &str, column: &str, re: &str| {
        rule(
            name,
            &ds,
            Check::Regex {
                column: col(column),
                pattern: Pattern::Regex(re.into()),
            },
            Bounds::at_most(0.0),
        )
    };
    // (rule, count, the same count by hand)
    let cases: Vec<(Rule, f64, &str)> = vec![
        (
            accepted("enum", "mood", vec![text("happy"), text("sad")]),
            1.0,
            "mood NOT IN ('happy', 'sad')",
        ),
        (
            accepted(
                "uuid",
                "u",
                vec![text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")],
            ),
            1.0,
            "u <> 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
        ),
        (
            accepted("ints", "n", vec![Literal::Integer(1), Literal::Integer(2)]),
            1.0,
            "n NOT IN (1, 2)",
        ),
        (
            accepted(
                "floats",
                "n",
                vec![Literal::Float(1.0), Literal::Float(2.5)],
            ),
            2.0,
            "n NOT IN (1.0, 2.5)",
        ),
        (
            accepted("texts_on_int", "n", vec![text("1"), text("2")]),
            1.0,
            "n::text NOT IN ('1', '2')",
        ),
        (
            accepted(
                "numerics",
                "amount",
                vec![Literal::Float(1.5), Literal::Integer(2)],
            ),
            1.0,
            "amount NOT IN (1.5, 2)",
        ),
        (
            accepted("bools", "flag", vec![Literal::Bool(true)]),
            2.0,
            "NOT flag",
        ),
        (
            rule(
                "range",
                &ds,
                Check::ValueRange {
                    column: col("amount"),
                    min_value: Some(0.0),
                    max_value: Some(1.75),
                    avg: Bounds::default(),
                },
                Bounds::at_most(0.0),
            ),
            2.0,
            "amount < 0 OR amount > 1.75",
        ),
        (
            regex("int_regex", "n", "^[12]$"),
            1.0,
            "n::text !~ '^[12]$'",
        ),
        (
            regex("enum_regex", "mood", "^(happy|sad)$"),
            1.0,
            "mood::text !~ '^(happy|sad)$'",
        ),
        (
            rule(
                "char_length",
                &ds,
                Check::StringLength {
                    column: col("ch"),
                    min_length: Some(3),
                    max_length: Some(3),
                },
                Bounds::at_most(0.0),
            ),
            2.0,
            "char_length(ch) <> 3",
        ),
    ];
    let rules: Vec<Rule> = cases.iter().map(|(r, _, _)| r.clone()).collect();
    let plan = single_plan(&rules);
    let outcomes = execute(&target, &plan, &options(noon(), 5)).await;
    for ((rule, expected, condition), outcome) in cases.iter().zip(&outcomes) {
        let name = rule.name.as_str();
        assert_eq!(
            outcome.verdict.status,
            RunStatus::Failed,
            "{name}: {}",
            outcome.verdict.message
        );
        assert_eq!(outcome.verdict.observed, Some(*expected), "{name}");
        let by_hand = pg
            .number(&format!("SELECT count(*) FROM {ds} WHERE {condition}"))
            .await;
        assert_eq!(by_hand, Some(*expected), "{name}: {condition}");
        assert_eq!(
            outcome.samples.len(),
            *expected as usize,
            "{name}: {:?}",
            outcome.samples
        );
    }
}

/// Freshness reads Unix seconds from timestamp, date, number and ISO text
/// columns alike.
#[tokio::test]
async fn freshness_reads_every_kind_of_time_column() {
    let pg = typed_table().await;
    let target = pg.target().await;
    let ds = pg.dataset("typed");
    let noon = noon().timestamp() as f64;
    for (column, latest) in [
        ("tz", noon),
        ("naive", noon),
        ("d", noon - 12.0 * 3600.0),
        ("unix", noon),
        ("unix_num", noon + 0.5),
        ("iso", noon),
    ] {
        let rules = vec![rule(
            "fresh",
            &ds,
            Check::Freshness {
                column: col(column),
            },
            Bounds::at_most(1e9),
        )];
        let plan = single_plan(&rules);
        let metrics = compute_metrics(&target, &plan, &options(self::noon(), 5))
            .await
            .unwrap();
        assert_eq!(
            metrics.get(&MetricRequest::MaxTimestamp(col(column)).key()),
            Some(&MetricValue::Number(Some(latest))),
            "{column}"
        );
    }
}

#[tokio::test]
async fn windows_work_on_every_kind_of_time_column() {
    let pg = typed_table().await;
    let target = pg.target().await;
    let ds = pg.dataset("typed");
    let now = noon() + chrono::Duration::minutes(30);
    // One day back from 2025-06-30 12:30 UTC.
    let cutoff = "'2025-06-29 12:30:00+00'";
    for (column, rows, condition) in [
        ("tz", 1.0, format!("tz >= {cutoff}")),
        (
            "naive",
            1.0,
            format!("naive >= {cutoff}::timestamptz AT TIME ZONE 'UTC'"),
        ),
        (
            "d",
            1.0,
            format!("d >= ({cutoff}::timestamptz AT TIME ZONE 'UTC')"),
        ),
        (
            "unix",
            1.0,
            format!("unix >= extract(epoch FROM {cutoff}::timestamptz)"),
        ),
        (
            "unix_num",
            1.0,
            format!("unix_num >= extract(epoch FROM {cutoff}::timestamptz)"),
        ),
        ("iso", 2.0, format!("iso::timestamptz >= {cutoff}")),
    ] {
        let mut windowed = rule("rows", &ds, Check::RowCount, Bounds::at_least(0.0));
        windowed.scope = Scope {
            window: Some(Window {
                column: col(column),
                length: Duration::from_secs(86_400),
            }),
            ..Scope::default()
        };
        let rules = vec![windowed];
        let plan = single_plan(&rules);
        let outcomes = execute(&target, &plan, &options(now, 5)).await;
        assert_eq!(
            outcomes[0].verdict.observed,
            Some(rows),
            "{column}: {}",
            outcomes[0].verdict.message
        );
        let by_hand = pg
            .number(&format!("SELECT count(*) FROM {ds} WHERE {condition}"))
            .await;
        assert_eq!(by_hand, Some(rows), "{column}: {condition}");
    }
}
