//! How a worker runs: its queue and pool, its limits, how it retries, how
//! often it reports, and how its result writer batches.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use dq_broker::Job;
use dq_core::Queue;

/// Added to a job's longest rule timeout to make its default hard limit: the
/// rule timeouts (soft limits) are enforced on the target and should fire
/// first; the hard limit only catches what they cannot stop.
pub const HARD_LIMIT_MARGIN: Duration = Duration::from_secs(30);
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(30);
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// No wait: a batch is what finished while the previous one was being
/// committed (group commit), so a lone result is written at once and a
/// burst shares commits.
pub const DEFAULT_BATCH_DELAY: Duration = Duration::ZERO;
/// The environment variable through which the parent tells a process-pool
/// child its memory limit (set before the child allocates anything).
pub const CHILD_MEMORY_ENV: &str = "DQ_WORKER_CHILD_MEMORY_MB";

/// Where a job's checks run (see the "Queues and pools" table of DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// Tokio tasks: checks pushed down to the target database.
    Async,
    /// OS threads, each with its own runtime: CPU-bound checks.
    Threads,
    /// Child processes: memory limit per child, hard kill, recycling.
    Process,
}

impl PoolKind {
    pub const ALL: [PoolKind; 3] = [PoolKind::Async, PoolKind::Threads, PoolKind::Process];

    pub fn as_str(self) -> &'static str {
        match self {
            PoolKind::Async => "async",
            PoolKind::Threads => "threads",
            PoolKind::Process => "process",
        }
    }
}

impl fmt::Display for PoolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown pool {0:?} (expected async, threads or process)")]
pub struct UnknownPool(pub String);

impl FromStr for PoolKind {
    type Err = UnknownPool;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PoolKind::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownPool(s.to_string()))
    }
}

/// Exponential backoff with jitter between the attempts of a job whose
/// target could not be reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The delay before the second attempt (before jitter).
    pub min_delay: Duration,
    /// No delay grows past this (before jitter).
    pub max_delay: Duration,
    pub factor: f32,
    /// Adds up to 100 % at random, so jobs that failed together do not all
    /// come back at the same instant.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(300),
            factor: 2.0,
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// How long to wait after failed attempt `attempt` (1-based) before the
    /// next one: `min_delay * factor^(attempt-1)`, capped, plus jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let mut builder = ExponentialBuilder::new()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay.max(self.min_delay))
            .with_factor(self.factor)
            .without_max_times();
        if self.jitter {
            builder = builder.with_jitter();
        }
        let step = attempt.max(1) as usize - 1;
        builder.build().nth(step).unwrap_or(self.max_delay)
    }
}

/// How the process pool starts and bounds its children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessOptions {
    /// The child's address-space limit (RLIMIT_AS), in MiB; `None`: unlimited.
    pub memory_limit_mb: Option<u64>,
    /// A child is replaced after this many jobs; `None`: never.
    pub max_tasks_per_child: Option<u32>,
    /// What to start; `None`: this executable with `worker-child`.
    pub command: Option<ChildCommand>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl ChildCommand {
    /// `dq worker-child`: the running binary, whatever it is called.
    pub fn current_exe() -> std::io::Result<ChildCommand> {
        Ok(ChildCommand {
            program: std::env::current_exe()?,
            args: vec!["worker-child".to_string()],
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    /// Unique per process: `host:pid:queue` (see [`WorkerConfig::default_name`]).
    pub name: String,
    pub queue: Queue,
    pub pool: PoolKind,
    /// Jobs run at once (tasks, threads or children).
    pub concurrency: usize,
    /// The soft limit is each rule's own timeout, enforced on the target;
    /// when set, no rule gets more than this.
    pub soft_time_limit: Option<Duration>,
    /// The per-job ceiling after which the worker abandons the job (aborts
    /// the task, kills the child) and records TIMEOUT. `None`: the job's
    /// longest rule timeout plus [`HARD_LIMIT_MARGIN`].
    pub hard_time_limit: Option<Duration>,
    pub retry: RetryPolicy,
    pub heartbeat_interval: Duration,
    /// On shutdown, how long in-flight jobs may still run before they are
    /// abandoned (and redelivered later by the broker).
    pub shutdown_deadline: Duration,
    /// The result writer commits at most this many runs per transaction...
    pub batch_size: usize,
    /// ...and waits at most this long for a batch to fill (beyond what is
    /// already waiting).
    pub batch_delay: Duration,
    /// Failing rows kept per violation.
    pub sample_limit: usize,
    pub process: ProcessOptions,
    /// Where the worker records its runs, jobs and active tasks.
    pub metrics: dq_metrics::Metrics,
}

impl WorkerConfig {
    pub fn new(queue: Queue, pool: PoolKind) -> Self {
        WorkerConfig {
            name: WorkerConfig::default_name(queue),
            queue,
            pool,
            concurrency: 4,
            soft_time_limit: None,
            hard_time_limit: None,
            retry: RetryPolicy::default(),
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            shutdown_deadline: DEFAULT_SHUTDOWN_DEADLINE,
            batch_size: DEFAULT_BATCH_SIZE,
            batch_delay: DEFAULT_BATCH_DELAY,
            sample_limit: dq_targets::DEFAULT_SAMPLE_LIMIT,
            process: ProcessOptions::default(),
            metrics: dq_metrics::Metrics::default(),
        }
    }

    /// `host:pid:queue`.
    pub fn default_name(queue: Queue) -> String {
        format!("{}:{}:{}", host_name(), std::process::id(), queue.as_str())
    }

    /// The hard limit of one job.
    pub fn hard_limit_for(&self, job: &Job) -> Duration {
        if let Some(limit) = self.hard_time_limit {
            return limit;
        }
        let longest = job
            .runs
            .iter()
            .map(|r| self.soft_limit(r.rule.timeout))
            .max()
            .unwrap_or_default();
        longest + HARD_LIMIT_MARGIN
    }

    /// A rule's timeout under this worker's soft limit.
    pub fn soft_limit(&self, rule_timeout: Duration) -> Duration {
        match self.soft_time_limit {
            Some(cap) => rule_timeout.min(cap),
            None => rule_timeout,
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// `1m30s`, `2h`, `1.5s`, `250ms`: how limits are shown in run messages.
pub fn format_limit(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 || (d.subsec_millis() != 0 && secs < 60) {
        return dq_targets::format_duration(d);
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut text = String::new();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if value > 0 {
            text.push_str(&format!("{value}{unit}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_like_a_person_writes_them() {
        for (d, text) in [
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_secs(3600), "1h"),
            (Duration::from_secs(3661), "1h1m1s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1500), "1.5s"),
        ] {
            assert_eq!(format_limit(d), text, "{d:?}");
        }
    }

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        let plain = RetryPolicy {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            factor: 2.0,
            jitter: false,
        };
        let delays: Vec<u64> = (1..=6).map(|k| plain.delay(k).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        let jittered = RetryPolicy {
            jitter: true,
            ..plain
        };
        for k in 1..=6 {
            let base = plain.delay(k);
            let d = jittered.delay(k);
            assert!(d >= base && d <= base * 2, "attempt {k}: {d:?} vs {base:?}");
        }
    }

    #[test]
    fn pools_parse_by_name() {
        for pool in PoolKind::ALL {
            assert_eq!(pool.as_str().parse::<PoolKind>(), Ok(pool));
        }
        assert!("prefork".parse::<PoolKind>().is_err());
    }
}
