//! Cross-target agreement: the PostgreSQL benchmark's suite
//! (bench/postgres/suite.yaml: the 12 metric rules and the schema rule) on
//! the same generated orders in a PostgreSQL table and in a MongoDB
//! collection gives the same observed values. PostgreSQL is the test
//! server (`DQ_TEST_POSTGRES_URL`); MongoDB is nx-27017 on 127.0.0.1:27017
//! (or `DQ_TEST_MONGO_URL`). A PostgreSQL NULL is written to MongoDB as an
//! explicit null or, every other time, as an absent field: the default
//! `missing: null_or_missing` counts both, as SQL's IS NULL does.

mod common;
mod mongo_common;

use common::pg::Schema;
use dq_core::Rule;
use mongo_common::{observed, outcome, MongoDb};
use mongodb::bson::{Bson, Document};

const SUITE: &str = include_str!("../../../bench/postgres/suite.yaml");
const ROWS: u64 = 3000;
const COUNTRIES: [&str; 20] = [
    "US", "DE", "FR", "GB", "NL", "SE", "ES", "IT", "PL", "CA", "AU", "JP", "BR", "IN", "MX", "CH",
    "AT", "BE", "DK", "NO",
];
const STATUSES: [&str; 4] = ["new", "paid", "shipped", "cancelled"];
const DOMAINS: [&str; 3] = ["example.com", "mail.test", "corp.example.org"];
/// The instant the orders are anchored to (2025-06-30T00:00:00Z).
const ANCHOR: i64 = 1_751_241_600;

/// splitmix64: a pure function of (row, seed), like the benchmark's
/// hashint8extended columns.
fn h(row: u64, seed: u64) -> u64 {
    let mut z = row
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(seed.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Order {
    id: i64,
    customer_id: Option<i64>,
    email: Option<String>,
    /// Cents, so both targets get the exact same two-decimal amount.
    amount_cents: i64,
    status: Option<String>,
    country: String,
    created_at: i64,
}

/// The benchmark generator's distributions, scaled down: ~0.5% NULL
/// customer ids and emails, ~1% invalid emails, ~1% duplicated emails,
/// ~0.3% negative amounts, ~0.5% unknown or NULL statuses.
fn orders() -> Vec<Order> {
    (1..=ROWS)
        .map(|g| {
            let eid = if h(g, 4).is_multiple_of(100) && g > 1 {
                g - 1
            } else {
                g
            };
            let email = match h(g, 3) % 1000 {
                0..=4 => None,
                5..=14 => Some(match h(g, 3) % 4 {
                    0 => format!("user{g}.example.com"),
                    1 => format!("user{g}@"),
                    2 => format!("user {g}@example.com"),
                    _ => format!("user{g}@example"),
                }),
                _ => Some(format!("user{eid}@{}", DOMAINS[(eid % 3) as usize])),
            };
            let amount_cents = if h(g, 5).is_multiple_of(300) {
                -((1 + h(g, 6) % 50_000) as i64)
            } else {
                100 + (h(g, 6) % 99_900) as i64
            };
            let status = match h(g, 7) % 1000 {
                0..=2 => Some("unknown".to_string()),
                3..=4 => None,
                n => Some(STATUSES[(n % 4) as usize].to_string()),
            };
            Order {
                id: g as i64,
                customer_id: (h(g, 1) % 1000 >= 5).then(|| 1 + (h(g, 2) % 500_000) as i64),
                email,
                amount_cents,
                status,
                country: COUNTRIES[(h(g, 8) % 20) as usize].to_string(),
                created_at: ANCHOR - (h(g, 9) % 31_536_000) as i64,
            }
        })
        .collect()
}

fn sql_text(value: &Option<String>) -> String {
    value
        .as_ref()
        .map_or("NULL".into(), |s| format!("'{}'", s.replace('\'', "''")))
}

async fn into_postgres(pg: &Schema, orders: &[Order]) {
    let table = pg.dataset("orders");
    pg.exec(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, customer_id bigint, email text, \
         amount numeric(12,2), status text, country char(2), created_at timestamptz, \
         updated_at timestamptz)"
    ))
    .await;
    for chunk in orders.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|o| {
                format!(
                    "({}, {}, {}, {}.{:02}, {}, '{}', to_timestamp({}), to_timestamp({}))",
                    o.id,
                    o.customer_id.map_or("NULL".into(), |c| c.to_string()),
                    sql_text(&o.email),
                    if o.amount_cents < 0 { "-" } else { "" }.to_string()
                        + &(o.amount_cents.abs() / 100).to_string(),
                    o.amount_cents.abs() % 100,
                    sql_text(&o.status),
                    o.country,
                    o.created_at,
                    o.created_at + 3600,
                )
            })
            .collect();
        pg.exec(&format!("INSERT INTO {table} VALUES {}", values.join(", ")))
            .await;
    }
}

async fn into_mongo(db: &MongoDb, orders: &[Order]) {
    let date = |secs: i64| Bson::DateTime(mongodb::bson::DateTime::from_millis(secs * 1000));
    let documents: Vec<Document> = orders
        .iter()
        .map(|o| {
            let mut d = Document::new();
            // A NULL is an explicit null for even ids, an absent field for odd ones.
            let mut put = |key: &str, value: Option<Bson>| match value {
                Some(v) => {
                    d.insert(key, v);
                }
                None if o.id % 2 == 0 => {
                    d.insert(key, Bson::Null);
                }
                None => {}
            };
            put("id", Some(Bson::Int64(o.id)));
            put("customer_id", o.customer_id.map(Bson::Int64));
            put("email", o.email.clone().map(Bson::String));
            put("amount", Some(Bson::Double(o.amount_cents as f64 / 100.0)));
            put("status", o.status.clone().map(Bson::String));
            put("country", Some(Bson::String(o.country.clone())));
            put("created_at", Some(date(o.created_at)));
            put("updated_at", Some(date(o.created_at + 3600)));
            d
        })
        .collect();
    db.insert("orders", documents).await;
}

fn suite(target: &str, dataset: &str) -> Vec<Rule> {
    let text = SUITE
        .replace("target: bench", &format!("target: {target}"))
        .replace("public.orders", dataset);
    dq_core::manifest::load_manifests(
        &[dq_core::manifest::ManifestFile {
            path: "bench/postgres/suite.yaml",
            text: &text,
        }],
        &|t: &str| t == target,
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
}

#[tokio::test]
async fn the_benchmark_suite_observes_the_same_values_on_postgres_and_mongodb() {
    let orders = orders();
    let pg = Schema::new().await;
    into_postgres(&pg, &orders).await;
    let db = MongoDb::new().await;
    into_mongo(&db, &orders).await;

    let pg_rules = suite("bench", &pg.dataset("orders"));
    let mongo_rules = suite(mongo_common::TARGET, &format!("{}.orders", db.name));
    assert_eq!(
        pg_rules.len(),
        13,
        "the benchmark's 12 metric rules and its schema rule"
    );
    let pg_target = pg.target().await;
    let mongo_target = db.target().await;
    let on_pg = mongo_common::run(&pg_target, &pg_rules).await;
    let on_mongo = mongo_common::run(&mongo_target, &mongo_rules).await;

    let mut compared = 0;
    for rule in &pg_rules {
        let name = rule.name.as_str();
        let (p, m) = (observed(&on_pg, name), observed(&on_mongo, name));
        assert!(
            (p - m).abs() <= 1e-9 * p.abs().max(1.0),
            "{name}: PostgreSQL observed {p}, MongoDB {m}"
        );
        for (pm, mm) in outcome(&on_pg, name)
            .observation
            .iter()
            .flat_map(|o| &o.measures)
            .zip(
                outcome(&on_mongo, name)
                    .observation
                    .iter()
                    .flat_map(|o| &o.measures),
            )
        {
            let (a, b) = (pm.value.unwrap_or(f64::NAN), mm.value.unwrap_or(f64::NAN));
            assert!(
                (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                "{name} {}: {a} vs {b}",
                pm.name
            );
        }
        assert_eq!(
            outcome(&on_pg, name).verdict.status,
            outcome(&on_mongo, name).verdict.status,
            "{name}"
        );
        compared += 1;
    }
    assert_eq!(compared, 13);
    // The data has problems for most rules, so equal values are not all zeros.
    let failing = on_pg
        .iter()
        .filter(|o| o.verdict.status.is_violation())
        .count();
    assert!(failing >= 5, "only {failing} rules failed");
}
