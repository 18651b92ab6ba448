//! The retention job (`[retention]` in dq.toml): when its cron schedule is
//! due, the leader beat deletes the runs scheduled more than `older_than`
//! ago with everything hanging off them ([`Store::cleanup`]), archiving
//! the rows first to `archive_dir/dq-retention-<UTC time>.ndjson` when a
//! directory is set. The cleanup runs in a task of its own, so a long one
//! never delays a tick, and at most one runs at a time: a schedule due
//! while the previous cleanup still runs is skipped.
//!
//! A beat that loses the lease mid-cleanup lets it finish: batches are
//! idempotent, and a second cleanup racing it deletes nothing twice (at
//! worst its archive repeats rows the other one deleted).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_core::Schedule;
use dq_store::{CleanupReport, NdjsonArchive, Store};
use tokio::task::JoinHandle;

/// What `[retention]` says.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionConfig {
    /// Runs scheduled longer ago than this are deleted.
    pub older_than: Duration,
    /// When the job runs (cron, read in UTC unless the schedule says otherwise).
    pub schedule: Schedule,
    /// Where archive files go; `None`: rows are deleted without an archive.
    pub archive_dir: Option<PathBuf>,
    /// Runs deleted per transaction.
    pub batch_size: u32,
}

impl RetentionConfig {
    pub const DEFAULT_BATCH_SIZE: u32 = 1000;

    pub fn new(older_than: Duration, schedule: Schedule) -> Self {
        RetentionConfig {
            older_than,
            schedule,
            archive_dir: None,
            batch_size: Self::DEFAULT_BATCH_SIZE,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("older_than {0:?} is too long")]
    OlderThan(Duration),
    #[error("cannot create the archive {path}: {source}")]
    Archive {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Cleanup(#[from] dq_store::CleanupError),
}

/// The archive file of a cleanup started at `at`: named by that time, so
/// files sort in time order and never collide (one cleanup at a time).
pub fn archive_path(dir: &Path, at: DateTime<Utc>) -> PathBuf {
    dir.join(format!(
        "dq-retention-{}.ndjson",
        at.format("%Y%m%dT%H%M%SZ")
    ))
}

/// One cleanup at `now`: what [`Retention`] runs when due. An archive file
/// that received no row is removed again.
pub async fn run_once(
    store: &Store,
    config: &RetentionConfig,
    now: DateTime<Utc>,
) -> Result<CleanupReport, RetentionError> {
    let older_than = chrono::Duration::from_std(config.older_than)
        .map_err(|_| RetentionError::OlderThan(config.older_than))?;
    let cutoff = now - older_than;
    let mut archive = match &config.archive_dir {
        Some(dir) => {
            let path = archive_path(dir, now);
            let file = NdjsonArchive::create(&path)
                .map_err(|source| RetentionError::Archive { path, source })?;
            Some(file)
        }
        None => None,
    };
    let sink = archive
        .as_mut()
        .map(|a| a as &mut dyn dq_store::ArchiveSink);
    let report = store
        .cleanup(cutoff, config.batch_size, sink, &mut |_| {})
        .await;
    if let Some(archive) = archive.filter(|a| a.rows() == 0) {
        let _ = std::fs::remove_file(archive.path());
    }
    Ok(report?)
}

/// The job's state in the leader beat.
pub(crate) struct Retention {
    config: RetentionConfig,
    /// The next time the schedule is due; set on the first poll.
    next: Option<DateTime<Utc>>,
    running: Option<JoinHandle<()>>,
}

impl Retention {
    pub(crate) fn new(config: RetentionConfig) -> Self {
        if let Some(dir) = config.archive_dir.as_deref().filter(|d| !d.is_dir()) {
            // Said at start, not first at 03:00 when the cleanup fails.
            tracing::warn!(
                archive_dir = %dir.display(),
                "retention: the archive directory does not exist; cleanups will fail until it does"
            );
        }
        Retention {
            config,
            next: None,
            running: None,
        }
    }

    /// Called by the leader at each iteration: starts a cleanup in its own
    /// task when the schedule is due and none is running. Never waits.
    pub(crate) fn poll(&mut self, store: &Store, now: DateTime<Utc>) {
        let Some(due) = self.next else {
            self.next = self.config.schedule.next_after(now);
            return;
        };
        if now < due {
            return;
        }
        self.next = self.config.schedule.next_after(now);
        if self
            .running
            .as_ref()
            .is_some_and(|task| !task.is_finished())
        {
            tracing::warn!("retention: the previous cleanup is still running; skipping this one");
            return;
        }
        let store = store.clone();
        let config = self.config.clone();
        self.running = Some(tokio::spawn(async move {
            match run_once(&store, &config, now).await {
                Ok(report) => log(&report, &config, now),
                Err(e) => tracing::warn!(error = %e, "retention: cleanup failed"),
            }
        }));
    }
}

fn log(report: &CleanupReport, config: &RetentionConfig, now: DateTime<Utc>) {
    let archive = config
        .archive_dir
        .as_deref()
        .filter(|_| report.total_deleted() > 0)
        .map(|dir| archive_path(dir, now).display().to_string());
    tracing::info!(
        cutoff = %report.cutoff,
        runs = report.deleted("runs"),
        violations = report.deleted("violations"),
        metrics = report.deleted("metrics"),
        kept_runs = report.table("runs").and_then(|t| t.kept).unwrap_or(0),
        batches = report.batches,
        archive = archive.as_deref().unwrap_or("-"),
        "retention: cleanup done"
    );
}
