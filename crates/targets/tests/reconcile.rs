//! Reconciliation on real databases: SQLite against SQLite and PostgreSQL
//! against SQLite; identical tables pass, missing and changed rows are
//! counted exactly with bounded samples, whatever the insertion order and
//! however many pages the tables take.

mod common;

use chrono::Utc;
use common::pg::Schema;
use common::{col, rule, Db};
use dq_core::{Bounds, Check, Dataset, Identifier, Rule, RunStatus};
use dq_targets::{reconcile, ExecuteOptions, RuleOutcome, Target};
use serde_json::{json, Value};

fn reconciliation(
    dataset: &str,
    against: &str,
    key: &[&str],
    columns: &[&str],
    page_size: Option<u32>,
) -> Rule {
    let ids = |names: &[&str]| names.iter().map(|n| col(n)).collect::<Vec<Identifier>>();
    rule(
        "replica_matches",
        dataset,
        Check::Reconciliation {
            against_target: "replica".into(),
            against_dataset: Dataset::parse(against).unwrap(),
            key: ids(key),
            columns: ids(columns),
            page_size,
        },
        Bounds::at_most(0.0),
    )
}

fn options(sample_limit: usize) -> ExecuteOptions {
    ExecuteOptions {
        now: Utc::now(),
        sample_limit,
    }
}

/// The breakdown measures of an outcome, by name.
fn breakdown(outcome: &RuleOutcome) -> Vec<(String, f64)> {
    let observation = outcome.observation.as_ref().expect("observed");
    observation
        .measures
        .iter()
        .map(|m| (m.name.clone(), m.value.unwrap_or(f64::NAN)))
        .collect()
}

fn expected_breakdown(counts: [u64; 5]) -> Vec<(String, f64)> {
    let [source, target, missing_t, missing_s, differing] = counts;
    [
        ("mismatched_rows", missing_t + missing_s + differing),
        ("source_rows", source),
        ("target_rows", target),
        ("missing_in_target", missing_t),
        ("missing_in_source", missing_s),
        ("differing_rows", differing),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v as f64))
    .collect()
}

const SQLITE_ORDERS: &str = "CREATE TABLE orders (
    id INTEGER PRIMARY KEY, status TEXT, amount REAL, paid INTEGER, created_at TEXT)";

/// `INSERT` of orders `ids` (in that order), each with a deterministic row.
fn sqlite_rows(table: &str, ids: impl IntoIterator<Item = i64>) -> String {
    let values: Vec<String> = ids
        .into_iter()
        .map(|id| {
            format!(
                "({id}, 'status {}', {}.5, {}, '2025-06-{:02} 12:00:00')",
                id % 3,
                id * 10,
                id % 2,
                1 + id % 28
            )
        })
        .collect();
    format!("INSERT INTO {table} VALUES {};", values.join(", "))
}

async fn sqlite_pair() -> (Db, Db) {
    let (a, b) = (Db::new().await, Db::new().await);
    a.exec(SQLITE_ORDERS).await;
    b.exec(SQLITE_ORDERS).await;
    (a, b)
}

async fn connect(name: &str, url: &str) -> Target {
    Target::connect(name, url).await.unwrap()
}

#[tokio::test]
async fn identical_sqlite_tables_in_any_insertion_order_pass() {
    let (a, b) = sqlite_pair().await;
    a.exec(&sqlite_rows("orders", 1..=25)).await;
    b.exec(&sqlite_rows("orders", (1..=25).rev())).await;
    let (source, replica) = (a.target().await, connect("replica", &b.url()).await);
    for page_size in [None, Some(4)] {
        let rule = reconciliation("orders", "orders", &["id"], &[], page_size);
        let outcome = reconcile(&source, &replica, &rule, &options(5)).await;
        assert_eq!(outcome.verdict.status, RunStatus::Passed, "{outcome:?}");
        assert_eq!(outcome.verdict.observed, Some(0.0));
        assert_eq!(breakdown(&outcome), expected_breakdown([25, 25, 0, 0, 0]));
        assert!(outcome.samples.is_empty());
        assert_eq!(
            outcome.verdict.message,
            "mismatched_rows 0 (<= 0): 25 source rows, 25 target rows: 0 missing in target, \
             0 missing in source, 0 differing"
        );
    }
}

#[tokio::test]
async fn missing_and_changed_rows_are_counted_with_bounded_samples_across_pages() {
    let (a, b) = sqlite_pair().await;
    a.exec(&sqlite_rows("orders", 1..=40)).await;
    // The replica lacks 3, 4 and 30, has 41 and 42 extra, and differs on
    // 7 (amount) and 12 (status and paid).
    let replica_ids = (1..=42).filter(|id| ![3, 4, 30].contains(id)).rev();
    b.exec(&sqlite_rows("orders", replica_ids)).await;
    b.exec("UPDATE orders SET amount = 1 WHERE id = 7").await;
    b.exec("UPDATE orders SET status = 'lost', paid = 1 - paid WHERE id = 12")
        .await;
    let (source, replica) = (a.target().await, connect("replica", &b.url()).await);
    for page_size in [Some(3), Some(7), None] {
        let rule = reconciliation("orders", "orders", &["id"], &[], page_size);
        let outcome = reconcile(&source, &replica, &rule, &options(2)).await;
        assert_eq!(outcome.verdict.status, RunStatus::Failed, "{outcome:?}");
        assert_eq!(outcome.verdict.observed, Some(7.0));
        assert_eq!(breakdown(&outcome), expected_breakdown([40, 39, 3, 2, 2]));
        assert_eq!(
            outcome.samples,
            vec![
                json!({"key": {"id": 3}, "problem": "missing_in_target"}),
                json!({"key": {"id": 4}, "problem": "missing_in_target"}),
                json!({"key": {"id": 41}, "problem": "missing_in_source"}),
                json!({"key": {"id": 42}, "problem": "missing_in_source"}),
                json!({"key": {"id": 7}, "problem": "differs", "columns": ["amount"]}),
                json!({"key": {"id": 12}, "problem": "differs", "columns": ["status", "paid"]}),
            ],
            "page size {page_size:?}"
        );
        assert!(
            outcome.verdict.message.starts_with("mismatched_rows 7 > 0"),
            "{}",
            outcome.verdict.message
        );
    }
    // Only the listed columns are compared.
    let rule = reconciliation("orders", "orders", &["id"], &["created_at"], Some(5));
    let outcome = reconcile(&source, &replica, &rule, &options(2)).await;
    assert_eq!(breakdown(&outcome), expected_breakdown([40, 39, 3, 2, 0]));
}

#[tokio::test]
async fn composite_text_keys_page_in_byte_order() {
    let (a, b) = sqlite_pair().await;
    let ddl =
        "CREATE TABLE lines (region TEXT, line INTEGER, qty INTEGER, PRIMARY KEY (region, line))";
    a.exec(ddl).await;
    b.exec(ddl).await;
    let mut rows = Vec::new();
    for region in ["b", "B", "é", "a", "Z"] {
        for line in 1..=4 {
            rows.push(format!("('{region}', {line}, {line})"));
        }
    }
    a.exec(&format!("INSERT INTO lines VALUES {}", rows.join(", ")))
        .await;
    rows.reverse();
    b.exec(&format!("INSERT INTO lines VALUES {}", rows.join(", ")))
        .await;
    b.exec("UPDATE lines SET qty = 0 WHERE region = 'é' AND line = 2")
        .await;
    let (source, replica) = (a.target().await, connect("replica", &b.url()).await);
    let rule = reconciliation("lines", "lines", &["region", "line"], &[], Some(3));
    let outcome = reconcile(&source, &replica, &rule, &options(5)).await;
    assert_eq!(breakdown(&outcome), expected_breakdown([20, 20, 0, 0, 1]));
    assert_eq!(
        outcome.samples,
        vec![json!({"key": {"region": "é", "line": 2}, "problem": "differs", "columns": ["qty"]})]
    );
}

#[tokio::test]
async fn postgres_against_its_sqlite_replica() {
    let pg = Schema::new().await;
    let s = &pg.name;
    pg.exec(&format!(
        "CREATE TABLE \"{s}\".orders (
            code text PRIMARY KEY, qty integer, amount numeric(10,2), price double precision,
            paid boolean, created_at timestamptz, note text)"
    ))
    .await;
    // Text keys whose order differs between collations: "C" is bytewise.
    let codes = ["a", "B", "b", "é", "Z", "a-1", "a_1", "10", "9"];
    let pg_rows: Vec<String> = codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            format!(
                "('{code}', {i}, {i}.50, {i}.25, {}, '2025-06-30 1{i}:00:00.25+00', {})",
                i % 2 == 0,
                if i == 3 {
                    "NULL".to_string()
                } else {
                    format!("'note {i}'")
                }
            )
        })
        .collect();
    pg.exec(&format!(
        "INSERT INTO \"{s}\".orders VALUES {}",
        pg_rows.join(", ")
    ))
    .await;
    let lite = Db::new().await;
    lite.exec("CREATE TABLE orders (code TEXT PRIMARY KEY, qty INTEGER, amount REAL, price REAL, paid INTEGER, created_at TEXT, note TEXT)").await;
    let lite_rows: Vec<String> = codes
        .iter()
        .enumerate()
        .rev()
        .map(|(i, code)| {
            format!(
                "('{code}', {i}, {i}.5, {i}.25, {}, '2025-06-30T1{i}:00:00.250Z', {})",
                i64::from(i % 2 == 0),
                if i == 3 {
                    "NULL".to_string()
                } else {
                    format!("'note {i}'")
                }
            )
        })
        .collect();
    lite.exec(&format!(
        "INSERT INTO orders VALUES {}",
        lite_rows.join(", ")
    ))
    .await;
    let source = pg.target().await;
    let replica = connect("replica", &lite.url()).await;
    let dataset = pg.dataset("orders");
    for page_size in [Some(2), None] {
        let rule = reconciliation(&dataset, "orders", &["code"], &[], page_size);
        let outcome = reconcile(&source, &replica, &rule, &options(5)).await;
        assert_eq!(outcome.verdict.status, RunStatus::Passed, "{outcome:?}");
        assert_eq!(breakdown(&outcome), expected_breakdown([9, 9, 0, 0, 0]));
    }

    lite.exec("DELETE FROM orders WHERE code = 'é'").await;
    lite.exec("UPDATE orders SET note = 'changed', paid = 1 - paid WHERE code = 'B'")
        .await;
    lite.exec("INSERT INTO orders VALUES ('zz', 1, 1, 1, 0, NULL, NULL)")
        .await;
    let rule = reconciliation(&dataset, "orders", &["code"], &[], Some(2));
    let outcome = reconcile(&source, &replica, &rule, &options(5)).await;
    assert_eq!(outcome.verdict.status, RunStatus::Failed, "{outcome:?}");
    assert_eq!(breakdown(&outcome), expected_breakdown([9, 9, 1, 1, 1]));
    assert_eq!(
        outcome.samples,
        vec![
            json!({"key": {"code": "é"}, "problem": "missing_in_target"}),
            json!({"key": {"code": "zz"}, "problem": "missing_in_source"}),
            json!({"key": {"code": "B"}, "problem": "differs", "columns": ["paid", "note"]}),
        ]
    );
}

#[tokio::test]
async fn postgres_against_postgres_with_integer_keys() {
    let pg = Schema::new().await;
    let s = &pg.name;
    for table in ["orders", "replica"] {
        pg.exec(&format!(
            "CREATE TABLE \"{s}\".{table} (id bigint PRIMARY KEY, amount numeric(12,2));
             INSERT INTO \"{s}\".{table} SELECT g, g * 1.5 FROM generate_series(1, 2500) g;"
        ))
        .await;
    }
    pg.exec(&format!(
        "DELETE FROM \"{s}\".replica WHERE id IN (5, 2000); \
         UPDATE \"{s}\".replica SET amount = 0 WHERE id = 1234"
    ))
    .await;
    let source = pg.target().await;
    let replica = connect("replica", &pg.url).await;
    let rule = reconciliation(
        &pg.dataset("orders"),
        &pg.dataset("replica"),
        &["id"],
        &[],
        Some(1000),
    );
    let outcome = reconcile(&source, &replica, &rule, &options(1)).await;
    assert_eq!(
        breakdown(&outcome),
        expected_breakdown([2500, 2498, 2, 0, 1])
    );
    let samples: Vec<&Value> = outcome.samples.iter().collect();
    assert_eq!(
        samples,
        [
            &json!({"key": {"id": 5}, "problem": "missing_in_target"}),
            &json!({"key": {"id": 1234}, "problem": "differs", "columns": ["amount"]}),
        ]
    );
}

#[tokio::test]
async fn unknown_columns_and_datasets_are_errors_naming_the_side() {
    let (a, b) = sqlite_pair().await;
    let (source, replica) = (a.target().await, connect("replica", &b.url()).await);
    for (rule, expected) in [
        (
            reconciliation("orders", "orders", &["order_id"], &[], None),
            "column order_id not found in dataset orders on target local",
        ),
        (
            reconciliation("orders", "orders_copy", &["id"], &[], None),
            "dataset orders_copy not found on target replica",
        ),
    ] {
        let outcome = reconcile(&source, &replica, &rule, &options(5)).await;
        assert_eq!(outcome.verdict.status, RunStatus::Error);
        assert_eq!(outcome.verdict.message, expected);
        assert!(!outcome.retriable);
    }
}
