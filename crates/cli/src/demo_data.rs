//! The demo shop: a small SQLite database with known, seeded quality problems,
//! so every status shows up in `dq demo`. Deterministic except for "now":
//! timestamps are anchored to the time the demo runs, so freshness behaves.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Sqlite, Transaction};

pub const ORDERS: u32 = 2000;
pub const CUSTOMERS: u32 = 500;
pub const SHIPMENTS: u32 = 300;

/// Seeded: orders without a customer (0.6 %: above the 0.5 % warning).
pub const NULL_CUSTOMER_IDS: u32 = 12;
/// Seeded: orders whose customer does not exist.
pub const ORPHAN_ORDERS: u32 = 4;

/// A stable pseudo-random number for row `i` and column `seed` (SplitMix64).
fn h(i: u32, seed: u64) -> u64 {
    let mut z = (u64::from(i) << 8 | seed).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Replaces `path` with a fresh demo database.
pub async fn create(path: &Path, now: DateTime<Utc>) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove old {file}")),
        }
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot create demo database {}", path.display()))?;
    let mut tx = pool.begin().await?;
    create_tables(&mut tx).await?;
    insert_customers(&mut tx, now).await?;
    insert_orders(&mut tx, now).await?;
    insert_shipments(&mut tx, now).await?;
    tx.commit().await?;
    pool.close().await;
    Ok(())
}

async fn create_tables(tx: &mut Transaction<'_, Sqlite>) -> Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE customers (
            id INTEGER PRIMARY KEY, email TEXT, name TEXT NOT NULL,
            country TEXT, created_at TEXT NOT NULL);
         CREATE TABLE orders (
            id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL NOT NULL,
            status TEXT NOT NULL, reference TEXT, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL);
         CREATE TABLE shipments (
            id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, carrier TEXT,
            shipped_at TEXT NOT NULL);",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_customers(tx: &mut Transaction<'_, Sqlite>, now: DateTime<Utc>) -> Result<()> {
    const COUNTRIES: [&str; 6] = ["FR", "DE", "NL", "ES", "IT", "BE"];
    for i in 1..=CUSTOMERS {
        let email = match i {
            // 3 customers without email (the rule tolerates 5).
            10 | 20 | 30 => None,
            // 7 malformed addresses.
            40..=46 => Some(match i % 3 {
                0 => format!("customer{i}.example.com"),
                1 => format!("customer{i}@"),
                _ => format!("customer {i}@example.com"),
            }),
            // 2 addresses reused: 4 rows share an email.
            101 => Some("customer1@example.com".to_string()),
            102 => Some("customer2@example.com".to_string()),
            _ => Some(format!("customer{i}@example.com")),
        };
        let country = match i {
            50 => "FRA".to_string(),
            51 => "Germany".to_string(),
            _ => COUNTRIES[(h(i, 1) % COUNTRIES.len() as u64) as usize].to_string(),
        };
        let created = now - Duration::days(30 + (h(i, 2) % 300) as i64);
        sqlx::query(
            "INSERT INTO customers (id, email, name, country, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(i64::from(i))
        .bind(email)
        .bind(format!("Customer {i}"))
        .bind(country)
        .bind(ts(created))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn insert_orders(tx: &mut Transaction<'_, Sqlite>, now: DateTime<Utc>) -> Result<()> {
    const STATUSES: [&str; 4] = ["new", "paid", "shipped", "cancelled"];
    for i in 1..=ORDERS {
        let customer_id = if i % 100 == 7 && i / 100 < NULL_CUSTOMER_IDS {
            None
        } else if (1..=ORPHAN_ORDERS).contains(&(i % 500)) && i > 1500 {
            Some(9000 + i64::from(i))
        } else {
            Some(1 + (h(i, 3) % u64::from(CUSTOMERS)) as i64)
        };
        let mut status = STATUSES[(h(i, 4) % 4) as usize];
        let mut amount = 5.0 + (h(i, 5) % 20_000) as f64 / 100.0;
        if i % 700 == 13 {
            // Refunds recorded as negative amounts on cancelled orders.
            amount = -amount;
            status = "cancelled";
        }
        if i % 400 == 11 {
            status = "unknown";
        }
        let reference = if i == 77 || i == 1234 {
            format!("REF-{i}")
        } else {
            uuid_like(i)
        };
        let age_minutes = if i == ORDERS {
            20
        } else {
            (h(i, 6) % (30 * 24 * 60)) as i64 + 20
        };
        let created = now - Duration::minutes(age_minutes);
        let updated = if i == ORDERS {
            now - Duration::minutes(10)
        } else {
            created + Duration::minutes((h(i, 7) % 10) as i64)
        };
        sqlx::query(
            "INSERT INTO orders (id, customer_id, amount, status, reference, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(i64::from(i))
        .bind(customer_id)
        .bind(amount)
        .bind(status)
        .bind(reference)
        .bind(ts(created))
        .bind(ts(updated))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn insert_shipments(tx: &mut Transaction<'_, Sqlite>, now: DateTime<Utc>) -> Result<()> {
    // The feed stopped three days ago: shipments_fresh fails.
    for i in 1..=SHIPMENTS {
        let shipped =
            now - Duration::days(3) - Duration::minutes((h(i, 8) % (20 * 24 * 60)) as i64);
        sqlx::query(
            "INSERT INTO shipments (id, order_id, carrier, shipped_at) VALUES (?, ?, ?, ?)",
        )
        .bind(i64::from(i))
        .bind(i64::from(1 + (h(i, 9) % u64::from(ORDERS)) as u32))
        .bind(if i % 2 == 0 { "dhl" } else { "ups" })
        .bind(ts(shipped))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn uuid_like(i: u32) -> String {
    let a = h(i, 10);
    let b = h(i, 11);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}
