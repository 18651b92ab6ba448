//! `dq cleanup` and the beat's retention job, as the binary runs them, on a
//! SQLite and on a PostgreSQL store: what goes, what stays, the archive
//! written first, a dry run that writes nothing, an archive never
//! overwritten.

mod common;
#[path = "common/seed.rs"]
mod seed;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dq_core::{RunStatus, Severity};
use seed::{days, Backend, Fixture, SeedRun};
use serde_json::Value;

/// Older than 180 days: customers_volume passed 200 days ago (3 metric
/// points), orders_nulls failed 190 days ago (acknowledged, 2 points), both
/// to go (with the alert event of the failure, never planned: no
/// dispatcher runs); orders_fresh failed 185 days ago, its violation still
/// open: it stays. Recent: customers_volume passed 10 days ago (1 point).
fn seeded(backend: Backend, extra: &str) -> Fixture {
    let f = Fixture::new(backend, extra);
    f.seed(&[
        SeedRun {
            metrics: 3,
            ..SeedRun::new("customers_volume", days(200), RunStatus::Passed)
        },
        SeedRun {
            metrics: 2,
            violation: Some(Severity::High),
            acked_after: Some(Duration::from_secs(60)),
            ..SeedRun::new("orders_nulls", days(190), RunStatus::Failed)
        },
        SeedRun {
            metrics: 1,
            violation: Some(Severity::Critical),
            ..SeedRun::new("orders_fresh", days(185), RunStatus::Failed)
        },
        SeedRun {
            metrics: 1,
            ..SeedRun::new("customers_volume", days(10), RunStatus::Passed)
        },
    ]);
    f
}

fn counts(f: &Fixture) -> [i64; 3] {
    ["runs", "violations", "metrics"].map(|t| f.count(t))
}

/// The archive's lines as (table, row), and how many per table.
fn archived(path: &std::path::Path) -> (Vec<(String, Value)>, BTreeMap<String, usize>) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<(String, Value)> = text
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            (v["table"].as_str().unwrap().to_string(), v["row"].clone())
        })
        .collect();
    let mut per_table = BTreeMap::new();
    for (table, _) in &lines {
        *per_table.entry(table.clone()).or_default() += 1;
    }
    (lines, per_table)
}

fn cleanup_archives_then_deletes_old_runs_and_keeps_open_ones(backend: Backend) {
    let f = seeded(backend, "");
    assert_eq!(counts(&f), [4, 2, 7]);

    let dry = f.dq(&["cleanup", "--older-than", "180d", "--dry-run"]);
    dry.assert_code(0);
    assert!(dry.stdout.contains("WOULD DELETE"), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("2 run(s) scheduled before"),
        "{}",
        dry.stdout
    );
    assert_eq!(counts(&f), [4, 2, 7], "a dry run deletes nothing");

    let archive = f.scratch.file("archive.ndjson");
    let archive_arg = archive.display().to_string();
    let done = f.dq(&[
        "cleanup",
        "--older-than",
        "180d",
        "--archive",
        &archive_arg,
        "--batch-size",
        "1",
    ]);
    done.assert_code(0);
    assert!(
        done.stdout.contains("Deleted 2 run(s) scheduled before"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("in 2 batch(es)"), "{}", done.stdout);
    assert!(done.stdout.contains("Archived 9 row(s)"), "{}", done.stdout);
    // Left: the run with the open violation, and the recent one.
    assert_eq!(counts(&f), [2, 1, 2]);

    let (lines, per_table) = archived(&archive);
    assert_eq!(
        per_table,
        BTreeMap::from([
            ("alert_outbox".to_string(), 1),
            ("metrics".to_string(), 5),
            ("runs".to_string(), 2),
            ("violations".to_string(), 1),
        ])
    );
    // Oldest batch first, and in a batch the run before its rows.
    assert_eq!(lines[0].0, "runs");
    assert_eq!(lines[0].1["rule_name"], "customers_volume");
    assert_eq!(lines[0].1["status"], "PASSED");
    let violation = &lines.iter().find(|(t, _)| t == "violations").unwrap().1;
    assert_eq!(violation["rule_name"], "orders_nulls");
    assert_eq!(violation["acknowledged_by"], "ana");
    assert_eq!(violation["sample"], serde_json::json!([{"id": 1}]));

    // An archive is never overwritten.
    let again = f.dq(&["cleanup", "--older-than", "1d", "--archive", &archive_arg]);
    again.assert_code(2);
    assert!(again.stderr.contains("exists already"), "{}", again.stderr);
    assert_eq!(counts(&f), [2, 1, 2], "nothing deleted either");
    assert_eq!(archived(&archive).0.len(), lines.len());
}

/// `[retention]` every second, deleting runs older than 30 days: the beat
/// deletes the two old runs, archives them, and keeps the open one.
fn the_leader_beat_runs_retention_on_its_schedule(backend: Backend) {
    let retention = "[retention]\nolder_than = \"30d\"\nschedule = \"* * * * * *\"\n\
                     archive_dir = \"archive\"\n";
    let f = seeded(backend, retention);
    std::fs::create_dir(f.scratch.file("archive")).unwrap();
    let mut beat = Command::new(env!("CARGO_BIN_EXE_dq"))
        .args(["--config", &f.config, "beat", "--owner", "beat-retention"])
        .current_dir(f.scratch.path())
        .env_remove("DQ_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dq beat");
    let deadline = Instant::now() + Duration::from_secs(30);
    while f.count("runs") > 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Give a cleanup that found nothing more time to (not) delete anything.
    std::thread::sleep(Duration::from_millis(1500));
    let left = counts(&f);
    beat.kill().ok();
    beat.wait().ok();
    assert_eq!(left, [2, 1, 2], "the old runs went, the open one stayed");

    let files: Vec<std::path::PathBuf> = std::fs::read_dir(f.scratch.file("archive"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "empty archives are removed: {files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("dq-retention-") && name.ends_with("Z.ndjson"),
        "{name}"
    );
    let (_, per_table) = archived(&files[0]);
    assert_eq!(per_table["runs"], 2);
    assert_eq!(per_table["metrics"], 5);
}

seed::on_each_backend!(
    cleanup_archives_then_deletes_old_runs_and_keeps_open_ones,
    the_leader_beat_runs_retention_on_its_schedule,
);

#[test]
fn durations_are_humantime_and_a_zero_batch_is_refused() {
    let f = Fixture::new(Backend::Sqlite, "");
    let bad = f.dq(&["cleanup", "--older-than", "six months"]);
    bad.assert_code(2);
    let zero = f.dq(&["cleanup", "--older-than", "180d", "--batch-size", "0"]);
    zero.assert_code(2);
    assert!(zero.stderr.contains("--batch-size"), "{}", zero.stderr);
    let fine = f.dq(&["cleanup", "--older-than", "26weeks", "--dry-run"]);
    fine.assert_code(0);
}
