//! The process pool: jobs run in child processes (`dq worker-child`), one
//! job at a time per child, spoken to in JSON lines (`protocol`). A child
//! limits its own memory, so a runaway check kills only the child; the
//! parent sees it die, records why, and starts another. The hard limit is
//! a SIGKILL, and a child is replaced after `max_tasks_per_child` jobs. The
//! worker itself always lives on.

use std::collections::{BTreeMap, VecDeque};
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use dq_broker::Job;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

use super::JobOutput;
use crate::child::memory_limit_message;
use crate::config::{ChildCommand, ProcessOptions, CHILD_MEMORY_ENV};
use crate::error::WorkerError;
use crate::execute::ExecLimits;
use crate::protocol::{ChildAnswer, ChildRequest};

/// Lines of a child's stderr kept to explain its death.
const STDERR_TAIL: usize = 20;
/// How long a child may take to exit once told to (stdin closed, or killed).
const EXIT_WAIT: Duration = Duration::from_secs(5);
/// What Rust prints when an allocation fails (then it aborts).
const ALLOCATION_FAILED: [&str; 3] = [
    "memory allocation of",
    "out of memory",
    "Cannot allocate memory",
];

pub(crate) struct ProcessPool {
    command: ChildCommand,
    memory_limit_mb: Option<u64>,
    max_tasks: Option<u32>,
    targets: BTreeMap<String, String>,
    limits: ExecLimits,
    idle: Mutex<Vec<Child>>,
    pids: Mutex<Vec<u32>>,
}

struct Child {
    process: tokio::process::Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: JoinHandle<VecDeque<String>>,
    pid: u32,
    tasks: u32,
}

impl ProcessPool {
    pub(crate) fn new(
        options: &ProcessOptions,
        targets: BTreeMap<String, String>,
        limits: ExecLimits,
    ) -> Result<Self, WorkerError> {
        let command = match &options.command {
            Some(command) => command.clone(),
            None => ChildCommand::current_exe().map_err(|e| WorkerError::Pool {
                pool: "process",
                cause: format!("cannot find this executable to start children: {e}"),
            })?,
        };
        Ok(ProcessPool {
            command,
            memory_limit_mb: options.memory_limit_mb,
            max_tasks: options.max_tasks_per_child,
            targets,
            limits,
            idle: Mutex::default(),
            pids: Mutex::default(),
        })
    }

    pub(crate) fn child_pids(&self) -> Vec<u32> {
        lock(&self.pids).clone()
    }

    pub(crate) async fn run(&self, job: Job, hard_limit: Duration) -> JobOutput {
        let request = ChildRequest {
            targets: self.targets.clone(),
            job,
            sample_limit: self.limits.sample_limit,
            soft_time_limit_ms: self
                .limits
                .soft_time_limit
                .map(|d| d.as_millis().try_into().unwrap_or(u64::MAX)),
        };
        let mut line = match serde_json::to_string(&request) {
            Ok(line) => line,
            Err(e) => return JobOutput::Died(format!("cannot encode the job for the child: {e}")),
        };
        line.push('\n');

        let idle = lock(&self.idle).pop();
        let mut child = match idle {
            Some(child) => child,
            None => match self.spawn() {
                Ok(child) => child,
                Err(e) => return JobOutput::Unavailable(e),
            },
        };
        // A child that died while idle is not the job's fault: replace it once.
        if child.send(&line).await.is_err() {
            child.stop().await;
            child = match self.spawn() {
                Ok(child) => child,
                Err(e) => return JobOutput::Unavailable(e),
            };
            if let Err(e) = child.send(&line).await {
                child.stop().await;
                return JobOutput::Unavailable(format!("cannot send the job to the child: {e}"));
            }
        }
        match tokio::time::timeout(hard_limit, child.stdout.next_line()).await {
            Err(_) => {
                tracing::warn!(pid = child.pid, "hard time limit: killing the worker child");
                child.stop().await;
                JobOutput::HardTimeout(hard_limit)
            }
            Ok(Ok(Some(text))) => self.answered(child, &text).await,
            Ok(Ok(None)) | Ok(Err(_)) => {
                let (status, tail) = child.wait_dead().await;
                let message = child_died_message(status, &tail, self.memory_limit_mb);
                tracing::warn!(%message, "worker child died during a job");
                JobOutput::Died(message)
            }
        }
    }

    async fn answered(&self, mut child: Child, text: &str) -> JobOutput {
        let answer = match serde_json::from_str::<ChildAnswer>(text) {
            Ok(answer) => answer,
            Err(e) => {
                child.stop().await;
                return JobOutput::Died(format!("unreadable answer from the worker child: {e}"));
            }
        };
        child.tasks += 1;
        let recycle = answer.retire || self.max_tasks.is_some_and(|max| child.tasks >= max);
        if recycle {
            // Retired in the background: the job's results need not wait.
            tokio::spawn(child.retire());
        } else {
            lock(&self.idle).push(child);
        }
        match answer.error {
            Some(e) => JobOutput::Died(format!("the worker child refused the job: {e}")),
            None => JobOutput::Outcomes(
                answer
                    .outcomes
                    .into_iter()
                    .map(|o| o.into_outcome())
                    .collect(),
            ),
        }
    }

    fn spawn(&self) -> Result<Child, String> {
        let program = &self.command.program;
        let mut command = Command::new(program);
        command
            .args(&self.command.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        match self.memory_limit_mb {
            // One malloc arena: each extra one reserves 64 MiB of address
            // space, which the limit counts, before using any of it.
            Some(mb) => command
                .env(CHILD_MEMORY_ENV, mb.to_string())
                .env("MALLOC_ARENA_MAX", "1"),
            None => command.env_remove(CHILD_MEMORY_ENV),
        };
        let cannot = |e: &dyn std::fmt::Display| {
            format!("cannot start the worker child {}: {e}", program.display())
        };
        let mut process = command.spawn().map_err(|e| cannot(&e))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (
            process.stdin.take(),
            process.stdout.take(),
            process.stderr.take(),
        ) else {
            return Err(cannot(&"its standard streams are not piped"));
        };
        let pid = process.id().unwrap_or_default();
        lock(&self.pids).push(pid);
        tracing::info!(pid, "worker child started");
        Ok(Child {
            process,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            stderr: tokio::spawn(keep_tail(pid, stderr)),
            pid,
            tasks: 0,
        })
    }

    pub(crate) async fn shutdown(self) {
        let children = std::mem::take(&mut *lock(&self.idle));
        futures::future::join_all(children.into_iter().map(Child::retire)).await;
    }
}

impl Child {
    async fn send(&mut self, line: &str) -> std::io::Result<()> {
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await
    }

    /// SIGKILL, and reap it.
    async fn stop(mut self) {
        let _ = self.process.start_kill();
        let _ = tokio::time::timeout(EXIT_WAIT, self.process.wait()).await;
    }

    /// Closes its stdin so it exits by itself; killed if it does not.
    async fn retire(self) {
        let Child {
            mut process,
            stdin,
            pid,
            ..
        } = self;
        drop(stdin);
        if tokio::time::timeout(EXIT_WAIT, process.wait())
            .await
            .is_err()
        {
            let _ = process.start_kill();
            let _ = process.wait().await;
        }
        tracing::info!(pid, "worker child retired");
    }

    /// Its exit status and last stderr lines, once it is gone.
    async fn wait_dead(mut self) -> (Option<ExitStatus>, VecDeque<String>) {
        let status = match tokio::time::timeout(EXIT_WAIT, self.process.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                let _ = self.process.start_kill();
                self.process.wait().await.ok()
            }
        };
        let tail = tokio::time::timeout(EXIT_WAIT, self.stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        (status, tail)
    }
}

/// Reads a child's stderr to its end, logging each line and keeping the last.
async fn keep_tail(pid: u32, stderr: tokio::process::ChildStderr) -> VecDeque<String> {
    let mut tail = VecDeque::with_capacity(STDERR_TAIL);
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(pid, "worker child: {line}");
        if tail.len() == STDERR_TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    tail
}

/// Why a child died under a job, for the job's runs: its memory limit when
/// its last words were an allocation failure, else its exit status.
pub(crate) fn child_died_message(
    status: Option<ExitStatus>,
    stderr_tail: &VecDeque<String>,
    memory_limit_mb: Option<u64>,
) -> String {
    let status = status.map_or_else(|| "unknown status".to_string(), |s| s.to_string());
    let out_of_memory = stderr_tail
        .iter()
        .any(|line| ALLOCATION_FAILED.iter().any(|sign| line.contains(sign)));
    if let (true, Some(mb)) = (out_of_memory, memory_limit_mb) {
        return format!("{} (died: {status})", memory_limit_message(mb));
    }
    match stderr_tail.iter().rev().find(|l| !l.trim().is_empty()) {
        Some(last) => format!("worker child died: {status}: {last}"),
        None => format!("worker child died: {status}"),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere; a Vec is still a Vec.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn deaths_are_explained() {
        let tail = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<VecDeque<_>>();
        let abort = Some(ExitStatus::from_raw(6));
        let cases = [
            (
                tail(&["memory allocation of 1048576 bytes failed"]),
                Some(64),
                "worker child exceeded its memory limit of 64 MB (died: signal: 6 (SIGABRT)",
            ),
            (
                tail(&["memory allocation of 1048576 bytes failed"]),
                None,
                "worker child died: signal: 6 (SIGABRT)",
            ),
            (
                tail(&["thread 'main' panicked at x.rs:1:1", ""]),
                Some(64),
                "worker child died: signal: 6 (SIGABRT): thread 'main' panicked",
            ),
            (
                tail(&[]),
                Some(64),
                "worker child died: signal: 6 (SIGABRT)",
            ),
        ];
        for (lines, limit, expected) in cases {
            let message = child_died_message(abort, &lines, limit);
            assert!(message.starts_with(expected), "{message:?} vs {expected:?}");
        }
        assert_eq!(
            child_died_message(None, &tail(&[]), None),
            "worker child died: unknown status"
        );
    }
}
