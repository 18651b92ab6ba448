//! Heartbeats: every interval the worker tells the store who it is, what it
//! runs and how it is doing, for `dq inspect` and the fleet's dashboards.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_store::{Store, WorkerHeartbeat};
use tokio::sync::watch;

use crate::config::WorkerConfig;
use crate::stats::Counters;

pub(crate) struct Heartbeats {
    pub(crate) store: Store,
    pub(crate) config: WorkerConfig,
    pub(crate) counters: Arc<Counters>,
    pub(crate) started_at: DateTime<Utc>,
}

impl Heartbeats {
    /// Beats at once, then every interval until `stop` flips, then once more
    /// so the last counts are stored.
    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        let interval = self
            .config
            .heartbeat_interval
            .max(Duration::from_millis(10));
        loop {
            self.beat().await;
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
        self.beat().await;
    }

    async fn beat(&self) {
        let heartbeat = WorkerHeartbeat {
            worker: self.config.name.clone(),
            queue: self.config.queue,
            pool: self.config.pool.as_str().to_string(),
            concurrency: u32::try_from(self.config.concurrency).unwrap_or(u32::MAX),
            processed: Counters::get(&self.counters.processed),
            failed: Counters::get(&self.counters.failed),
            rss_bytes: rss_bytes(),
            started_at: self.started_at,
            seen_at: Utc::now(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        if let Err(e) = self.store.heartbeat(&heartbeat).await {
            tracing::warn!(worker = %heartbeat.worker, error = %e, "cannot store the heartbeat");
        }
    }
}

/// This process's resident memory (VmRSS), where /proc tells it.
pub(crate) fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_read_from_proc_status() {
        for (status, expected) in [
            (
                "Name:\tdq\nVmRSS:\t   12345 kB\nVmData: 1 kB\n",
                Some(12345 * 1024),
            ),
            ("Name:\tdq\n", None),
            ("VmRSS:\tlots kB\n", None),
        ] {
            assert_eq!(parse_vm_rss(status), expected, "{status:?}");
        }
        assert!(rss_bytes().is_some_and(|b| b > 0));
    }
}
