//! `dq inspect targets` on SQLite and PostgreSQL (the server of
//! `DQ_TEST_POSTGRES_URL`, default 127.0.0.1:5432): a reachable target
//! shows its ping latency and version, PostgreSQL its connections by
//! state; an unreachable one is named, and the command exits 1. It needs
//! only dq.toml: no store is opened.

mod common;

use common::{Run, Scratch};

fn inspect(scratch: &Scratch) -> Run {
    scratch.dq(&["--config", "dq.toml", "inspect", "targets"])
}

/// The row of target `name`.
fn row<'a>(run: &'a Run, name: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no row for target {name}:\n{}", run.stdout))
}

/// The ping latency of a reachable row, in milliseconds.
fn ping_ms(row: &str) -> f64 {
    let words: Vec<&str> = row.split_whitespace().collect();
    let ms = words
        .iter()
        .position(|w| *w == "ms")
        .unwrap_or_else(|| panic!("no latency in {row}"));
    words[ms - 1]
        .parse()
        .unwrap_or_else(|_| panic!("latency is not a number in {row}"))
}

#[test]
fn reachable_sqlite_and_postgres_targets_show_version_latency_and_connections() {
    let scratch = Scratch::new();
    scratch.dq(&["demo", "--dir", "demo"]).assert_code(0);
    let postgres = common::postgres::server_url();
    scratch.write(
        "dq.toml",
        &format!(
            "store = \"postgres://dq@127.0.0.1:1/no_store\"\n\
             [targets.shop]\nurl = \"sqlite://demo/shop.db\"\n\
             [targets.warehouse]\nurl = \"{postgres}\"\n"
        ),
    );
    let run = inspect(&scratch);
    run.assert_code(0);
    for header in ["TARGET", "REACHABLE", "PING", "VERSION", "CONNECTIONS"] {
        assert!(run.stdout.contains(header), "{}", run.stdout);
    }

    let shop = row(&run, "shop");
    assert!(shop.contains(" yes "), "{shop}");
    assert!(shop.contains("SQLite 3."), "{shop}");
    assert!((0.0..10_000.0).contains(&ping_ms(shop)), "{shop}");
    // SQLite has no connections to count.
    assert!(shop.trim_end_matches(['│', ' ']).ends_with('-'), "{shop}");

    let warehouse = row(&run, "warehouse");
    assert!(warehouse.contains(" yes "), "{warehouse}");
    assert!(warehouse.contains("PostgreSQL "), "{warehouse}");
    assert!((0.0..10_000.0).contains(&ping_ms(warehouse)), "{warehouse}");
    // pg_stat_activity by state: the inspecting connection itself is active.
    let active = warehouse
        .split_whitespace()
        .find_map(|w| w.strip_prefix("active="))
        .unwrap_or_else(|| panic!("no active= count in {warehouse}"));
    assert!(active.parse::<u64>().is_ok_and(|n| n >= 1), "{warehouse}");
}

#[test]
fn an_unreachable_target_is_named_and_exits_1() {
    let scratch = Scratch::new();
    scratch.dq(&["demo", "--dir", "demo"]).assert_code(0);
    scratch.write(
        "dq.toml",
        "store = \"sqlite://store.db\"\n\
         [targets.shop]\nurl = \"sqlite://demo/shop.db\"\n\
         [targets.down]\nurl = \"postgres://dq:secret@127.0.0.1:1/nothing\"\n",
    );
    let run = inspect(&scratch);
    run.assert_code(1);
    assert!(row(&run, "shop").contains(" yes "), "{}", run.stdout);
    let down = row(&run, "down");
    assert!(down.contains("no: cannot connect"), "{}", run.stdout);
    assert!(down.contains("(retriable)"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("secret"),
        "password shown:\n{}",
        run.stdout
    );
}
