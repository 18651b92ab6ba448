//! A real `dq worker` process (this binary) for the benchmark: started on
//! the benchmark's dq.toml, its memory read from /proc, stopped with
//! SIGTERM like a deployment would.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::process::{Child, Command};

use crate::bench::measure::memory_bytes;

pub struct WorkerProcess {
    child: Child,
    pid: u32,
}

impl WorkerProcess {
    pub fn start(config: &Path, log: &Path, pool: &str, concurrency: usize) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find the dq binary")?;
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(exe)
            .arg("--config")
            .arg(config)
            .args(["worker", "-Q", "dq_database", "--pool", pool, "-c"])
            .arg(concurrency.to_string())
            .env(
                "DQ_LOG",
                std::env::var("DQ_BENCH_WORKER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start `dq worker`")?;
        let Some(pid) = child.id() else {
            bail!("`dq worker` exited at once");
        };
        Ok(WorkerProcess { child, pid })
    }

    /// Resident memory now (VmRSS), in bytes.
    pub fn rss(&self) -> Option<u64> {
        memory_bytes(&self.pid.to_string(), "VmRSS")
    }

    /// Resident memory at its peak so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        memory_bytes(&self.pid.to_string(), "VmHWM")
    }

    /// CPU time the worker has used so far.
    pub fn cpu(&self) -> Duration {
        super::cpu::of_process(&self.pid.to_string())
    }

    /// Fails if the worker has died (the benchmark would wait forever).
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("`dq worker` exited early ({status}); see its log");
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL if it is not gone within 10 s.
    pub async fn stop(mut self) -> Result<()> {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }
}
