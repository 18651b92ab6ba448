//! `dq cleanup --older-than 180d [--archive FILE] [--dry-run]
//! [--batch-size 1000]`: deletes the runs scheduled before the cutoff with
//! everything hanging off them, a batch at a time, archiving each batch's
//! rows to an NDJSON file before its delete commits.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use comfy_table::{presets, ContentArrangement, Table};
use dq_store::{ArchiveSink, CleanupReport, NdjsonArchive};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::CleanupArgs;
use crate::exit;

pub async fn run(config_path: Option<&Path>, args: CleanupArgs) -> Result<u8> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let older_than = chrono::Duration::from_std(args.older_than)
        .with_context(|| format!("--older-than {:?} is too long", args.older_than))?;
    let (_, store) = super::open(config_path).await?;
    let cutoff = Utc::now() - older_than;
    let plan = store.cleanup_plan(cutoff).await?;
    if args.dry_run {
        print_counts(&plan);
        println!(
            "Dry run: nothing deleted. {} run(s) scheduled before {} would be deleted.",
            plan.deleted("runs"),
            cutoff.format("%Y-%m-%d %H:%M:%S UTC")
        );
        return Ok(exit::OK);
    }
    let mut archive = match &args.archive {
        Some(path) => Some(NdjsonArchive::create(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                "the archive {} exists already; an archive is never overwritten, choose another file",
                path.display()
            ),
            _ => anyhow::Error::new(e)
                .context(format!("cannot create the archive {}", path.display())),
        })?),
        None => None,
    };
    let bar = progress_bar(plan.deleted("runs"));
    let sink = archive.as_mut().map(|a| a as &mut dyn ArchiveSink);
    let done = store
        .cleanup(cutoff, args.batch_size, sink, &mut |report| {
            bar.set_position(report.deleted("runs"))
        })
        .await;
    bar.finish_and_clear();
    let report = done.context("cleanup stopped; the batches before the error stay deleted")?;
    print_counts(&report);
    println!(
        "Deleted {} run(s) scheduled before {} in {} batch(es).",
        report.deleted("runs"),
        cutoff.format("%Y-%m-%d %H:%M:%S UTC"),
        report.batches
    );
    if let Some(archive) = archive {
        if archive.rows() == 0 {
            // Nothing was deleted: an empty archive would only mislead.
            std::fs::remove_file(archive.path()).ok();
            println!("Nothing to archive; no archive file written.");
        } else {
            println!(
                "Archived {} row(s) to {}.",
                archive.rows(),
                archive.path().display()
            );
        }
    }
    Ok(exit::OK)
}

fn print_counts(report: &CleanupReport) {
    let mut table = Table::new();
    let deleted = if report.dry_run {
        "WOULD DELETE"
    } else {
        "DELETED"
    };
    table
        .load_style(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec!["TABLE", deleted, "KEPT"]);
    for t in &report.tables {
        table.add_row(vec![
            t.table.to_string(),
            t.deleted.to_string(),
            t.kept.map_or_else(|| "-".into(), |k| k.to_string()),
        ]);
    }
    println!("{table}");
    if report.table("runs").and_then(|t| t.kept).unwrap_or(0) > 0 {
        println!(
            "Kept: runs whose violation is still open (or acknowledges an incident still \
             open), whose alert is being delivered, or that are still running."
        );
    }
}

/// Batches deleted of the runs planned, on a terminal only.
fn progress_bar(runs: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() || runs == 0 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(runs);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {pos}/{len} runs deleted [{bar:30}]")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
