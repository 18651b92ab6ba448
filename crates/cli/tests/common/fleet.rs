//! The fleet as processes, for end-to-end fault tests: long-lived `dq`
//! processes (workers, beats, publishers), each logging to a file of its own
//! in the scratch directory and killed when the test ends so a failing test
//! leaves none behind; the stored runs; what the workers' logs say they ran.
//!
//! Not in `common/mod.rs`: a test takes it with
//! `#[path = "common/fleet.rs"] mod fleet;` (next to `mod common;`).

#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::common::Scratch;

/// One `dq --config dq.toml ARGS` process; its log (stderr) goes to
/// `{name}.log` in the scratch directory, its stdout is kept for `finish`.
pub struct Service {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Service {
    pub fn spawn(scratch: &Scratch, name: &str, args: &[&str]) -> Service {
        Service::spawn_with_env(scratch, name, args, &[])
    }

    /// [`Service::spawn`] with these environment variables set.
    pub fn spawn_with_env(
        scratch: &Scratch,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Service {
        let log = scratch.file(&format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_dq"))
            .args(["--config", "dq.toml"])
            .args(args)
            .current_dir(scratch.path())
            .env_remove("DQ_CONFIG")
            .env_remove("DQ_LOG")
            .env_remove("DQ_API_TOKEN")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(file)
            .spawn()
            .expect("spawn dq");
        Service {
            name: name.to_string(),
            child,
            log,
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Panics, with the end of its log, if the process has exited.
    pub fn assert_alive(&mut self, when: &str) {
        let status = self.child.try_wait().expect("try_wait");
        assert!(
            status.is_none(),
            "{} exited {when}: {status:?}\n{}",
            self.name,
            self.log_tail(40)
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log();
        let all: Vec<&str> = text.lines().collect();
        format!(
            "--- {}.log (last {lines} lines)\n{}\n",
            self.name,
            all[all.len().saturating_sub(lines)..].join("\n")
        )
    }

    /// SIGKILL: no shutdown, nothing settled.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// SIGTERM, and waits for the graceful exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().expect("wait for dq")
    }

    /// Waits for the exit (at most `within`); returns the status and stdout.
    pub fn finish(&mut self, within: Duration) -> (ExitStatus, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                started.elapsed() < within,
                "{} still running after {within:?}\n{}",
                self.name,
                self.log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stdout = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            let _ = pipe.read_to_string(&mut stdout);
        }
        (status, stdout)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Every stored run, through `dq export`.
pub fn runs(scratch: &Scratch) -> Vec<serde_json::Value> {
    let out = scratch.dq(&[
        "--config", "dq.toml", "export", "runs", "-", "--format", "ndjson",
    ]);
    out.assert_code(0);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect()
}

pub fn is_final(run: &serde_json::Value) -> bool {
    !matches!(run["status"].as_str(), Some("PENDING" | "RUNNING"))
}

pub fn time_of(run: &serde_json::Value, field: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    run[field].as_str().and_then(|s| s.parse().ok())
}

/// Calls `check` every `every` until it returns `Some`, or panics with
/// `explain()` once `within` has passed.
pub fn wait_for<T>(
    within: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
    explain: impl Fn() -> String,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            started.elapsed() < within,
            "still waiting after {within:?}: {}",
            explain()
        );
        std::thread::sleep(every);
    }
}

/// One execution a worker's log records ("job started"; a redelivery of
/// finished work is acked without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub job: String,
    pub attempt: u32,
    /// How many of the job's runs it started.
    pub runs: u64,
}

pub fn jobs_started(log: &str) -> Vec<Started> {
    log.lines()
        .filter(|l| l.contains("job started"))
        .map(|line| {
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|word| word.strip_prefix(name))
                    .unwrap_or_else(|| panic!("no {name} in {line:?}"))
            };
            let number = |name: &str| {
                field(name)
                    .parse()
                    .unwrap_or_else(|_| panic!("{name} is not a number in {line:?}"))
            };
            Started {
                job: field("job=").to_string(),
                attempt: number("attempt=") as u32,
                runs: number("runs="),
            }
        })
        .collect()
}

/// The cells of one queue's row in `dq inspect queues`:
/// QUEUE READY IN-FLIGHT DELAYED DEAD ...
pub fn queue_row(scratch: &Scratch, queue: &str) -> Vec<String> {
    let out = scratch.dq(&["--config", "dq.toml", "inspect", "queues"]);
    out.assert_code(0);
    out.stdout
        .lines()
        .find(|l| l.contains(queue))
        .unwrap_or_else(|| panic!("no {queue} row:\n{}", out.stdout))
        .split_whitespace()
        .filter(|cell| *cell != "│")
        .map(str::to_string)
        .collect()
}
