//! The procedures of docs/runbook.md, followed step by step with the
//! commands it gives: the routine checks, backup and restore on both store
//! backends, and retention. (Every `dq` line of the runbook is also parsed
//! by the binary's own parser: crates/cli/src/doc_commands.rs.)

mod common;

use std::process::Command;

use common::postgres::PgSchema;
use common::Scratch;

/// The demo shop as target `shop`, its rules loaded and a few run twice:
/// a store with runs, violations and metric points.
fn populated(scratch: &Scratch, store_url: &str) {
    scratch.demo();
    scratch.write(
        "dq.toml",
        &format!("store = \"{store_url}\"\n[targets.shop]\nurl = \"sqlite://demo/shop.db\"\n"),
    );
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../manifests/demo.yaml");
    scratch
        .dq(&["--config", "dq.toml", "load", manifest])
        .assert_code(0);
    for _ in 0..2 {
        let run = scratch.dq(&[
            "--config",
            "dq.toml",
            "run",
            "--rule-name",
            "orders_not_empty",
            "--rule-name",
            "orders_customer_id_nulls",
            "--rule-name",
            "customers_email_unique",
        ]);
        assert!(run.code <= 1, "{}\n{}", run.stdout, run.stderr);
    }
}

fn run_count(scratch: &Scratch) -> usize {
    let out = scratch.dq(&[
        "--config", "dq.toml", "export", "runs", "-", "--format", "ndjson",
    ]);
    out.assert_code(0);
    out.stdout.lines().filter(|l| !l.trim().is_empty()).count()
}

fn tool(program: &str, args: &[&str], scratch: &Scratch) {
    let output = Command::new(program)
        .args(args)
        .current_dir(scratch.path())
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed by the runbook: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn routine_checks() {
    let scratch = Scratch::new();
    populated(&scratch, "sqlite://store.db");
    let dq = |args: &[&str]| {
        let mut all = vec!["--config", "dq.toml"];
        all.extend_from_slice(args);
        scratch.dq(&all)
    };
    let open = dq(&["violations", "--unacknowledged"]);
    open.assert_code(0);
    assert!(
        open.stdout.contains("orders_customer_id_nulls"),
        "{}",
        open.stdout
    );
    dq(&[
        "alerts", "status", "--state", "FAILED", "--state", "IN_DOUBT",
    ])
    .assert_code(0);
    dq(&["inspect", "queues"]).assert_code(0);

    let weekly = dq(&["report", "weekly"]);
    weekly.assert_code(0);
    assert!(
        weekly.stdout.contains("customers_email_unique"),
        "{}",
        weekly.stdout
    );
    let alerts = dq(&["report", "alerts", "--days", "7"]);
    alerts.assert_code(0);
    assert!(
        alerts.stdout.contains("customers_email_unique"),
        "{}",
        alerts.stdout
    );
    let kpis = dq(&["report", "kpis", "--format", "json"]);
    assert!(kpis.code == 0 || kpis.code == 1, "{}", kpis.stderr);
    let kpis: serde_json::Value = serde_json::from_str(&kpis.stdout).expect("kpis as JSON");
    assert!(!kpis.is_null(), "{kpis}");

    // Acknowledge what is open, as the daily check ends.
    let listed = dq(&["violations", "--unacknowledged", "--json"]);
    let first: serde_json::Value =
        serde_json::from_str(listed.stdout.lines().next().expect("an open violation"))
            .expect("json line");
    let id = first["id"].as_i64().expect("id").to_string();
    dq(&["ack", &id, "--by", "ana", "--note", "looking"]).assert_code(0);
}

#[test]
fn backup_and_restore_sqlite() {
    let scratch = Scratch::new();
    populated(&scratch, "sqlite://store.db");
    let before = run_count(&scratch);
    assert!(before > 0);
    tool("sqlite3", &["store.db", ".backup 'backup.db'"], &scratch);
    scratch
        .dq(&["--config", "dq.toml", "export", "manifest", "rules.yaml"])
        .assert_code(0);

    // The store is lost; the copy goes back, and the rules from the manifest.
    std::fs::remove_file(scratch.file("store.db")).expect("remove store");
    std::fs::copy(scratch.file("backup.db"), scratch.file("store.db")).expect("restore");
    scratch
        .dq(&["--config", "dq.toml", "migrate"])
        .assert_code(0);
    scratch
        .dq(&["--config", "dq.toml", "inspect", "stats"])
        .assert_code(0);
    assert_eq!(run_count(&scratch), before);
    let reload = scratch.dq(&["--config", "dq.toml", "load", "rules.yaml", "--dry-run"]);
    reload.assert_code(0);
}

#[test]
fn backup_and_restore_postgres() {
    let scratch = Scratch::new();
    let schema = PgSchema::new("dq_runbook");
    populated(&scratch, &schema.url());
    let before = run_count(&scratch);
    assert!(before > 0);
    let server = common::postgres::server_url();
    let dump = scratch.file("dq.dump").display().to_string();
    tool(
        "pg_dump",
        &[
            "--format=custom",
            &format!("--schema={}", schema.name),
            &format!("--file={dump}"),
            &server,
        ],
        &scratch,
    );

    // Everything in the schema is lost; the dump goes back.
    schema.execute(&format!(
        "DROP SCHEMA \"{0}\" CASCADE; CREATE SCHEMA \"{0}\"",
        schema.name
    ));
    assert_eq!(
        schema.query_i64(&format!(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = '{}'",
            schema.name
        )),
        0
    );
    tool(
        "pg_restore",
        &[
            "--clean",
            "--if-exists",
            &format!("--dbname={server}"),
            &dump,
        ],
        &scratch,
    );
    scratch
        .dq(&["--config", "dq.toml", "migrate"])
        .assert_code(0);
    assert_eq!(run_count(&scratch), before);
}

#[test]
fn retention_dry_run_then_archive() {
    let scratch = Scratch::new();
    populated(&scratch, "sqlite://store.db");
    let before = run_count(&scratch);
    let plan = scratch.dq(&[
        "--config",
        "dq.toml",
        "cleanup",
        "--older-than",
        "180d",
        "--dry-run",
    ]);
    plan.assert_code(0);
    assert_eq!(run_count(&scratch), before, "a dry run deletes nothing");
    // Everything is older than 0 s: all runs go except those whose violation is open.
    scratch
        .dq(&[
            "--config",
            "dq.toml",
            "cleanup",
            "--older-than",
            "0s",
            "--archive",
            "archive.ndjson",
        ])
        .assert_code(0);
    let archive = std::fs::read_to_string(scratch.file("archive.ndjson")).expect("archive");
    let lines: Vec<serde_json::Value> = archive
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect();
    let archived_runs = lines.iter().filter(|l| l["table"] == "runs").count();
    assert!(archived_runs > 0, "{archive}");
    assert_eq!(run_count(&scratch), before - archived_runs);
}
