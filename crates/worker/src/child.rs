//! The process-pool child: `dq worker-child` (or the `dq-worker-child`
//! binary). It limits its own address space first, so a runaway check kills
//! only this process, then answers requests from its parent, one JSON line
//! each, until its stdin closes.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use dq_core::RunStatus;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::config::CHILD_MEMORY_ENV;
use crate::error::WorkerError;
use crate::execute::{run_job, ExecLimits, TargetCache};
use crate::protocol::{ChildAnswer, ChildRequest, WireOutcome};

/// What a check's message says when its allocation failed inside SQLite or
/// the target driver (rather than in Rust, which aborts the process).
const OUT_OF_MEMORY: &str = "out of memory";

/// The child's `main`: returns when the parent closes stdin.
pub fn child_main() -> ExitCode {
    let memory_limit_mb = match std::env::var(CHILD_MEMORY_ENV) {
        Err(_) => None,
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(mb) => Some(mb),
            Err(e) => {
                eprintln!(
                    "dq worker-child: {CHILD_MEMORY_ENV}={text:?} is not a number of MB: {e}"
                );
                return ExitCode::from(2);
            }
        },
    };
    if let Some(mb) = memory_limit_mb {
        let bytes = mb.saturating_mul(1 << 20);
        if let Err(e) = rlimit::setrlimit(rlimit::Resource::AS, bytes, bytes) {
            eprintln!("dq worker-child: cannot set the memory limit of {mb} MB: {e}");
            return ExitCode::from(2);
        }
        die_on_panic();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("dq worker-child: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(serve(memory_limit_mb)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dq worker-child: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(memory_limit_mb: Option<u64>) -> Result<(), WorkerError> {
    let io = |e: std::io::Error| WorkerError::Child(e.to_string());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    let mut targets = TargetCache::new(BTreeMap::new());
    while let Some(line) = lines.next_line().await.map_err(io)? {
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<ChildRequest>(&line) {
            Err(e) => ChildAnswer {
                outcomes: Vec::new(),
                error: Some(format!("unreadable request: {e}")),
                retire: false,
            },
            Ok(request) => {
                if request.targets != *targets.urls() {
                    targets.close().await;
                    targets = TargetCache::new(request.targets.clone());
                }
                answer(&targets, &request, memory_limit_mb).await
            }
        };
        let mut text = serde_json::to_vec(&answer)
            .map_err(|e| WorkerError::Child(format!("cannot encode the answer: {e}")))?;
        text.push(b'\n');
        stdout.write_all(&text).await.map_err(io)?;
        stdout.flush().await.map_err(io)?;
        if answer.retire {
            break;
        }
    }
    targets.close().await;
    Ok(())
}

async fn answer(
    targets: &TargetCache,
    request: &ChildRequest,
    memory_limit_mb: Option<u64>,
) -> ChildAnswer {
    let limits = ExecLimits {
        sample_limit: request.sample_limit,
        soft_time_limit: request.soft_time_limit_ms.map(Duration::from_millis),
    };
    let mut retire = false;
    let outcomes = run_job(targets, &request.job, &limits)
        .await
        .into_iter()
        .map(|(run_id, mut outcome)| {
            let verdict = &mut outcome.verdict;
            if let Some(mb) = memory_limit_mb {
                if verdict.status == RunStatus::Error && verdict.message.contains(OUT_OF_MEMORY) {
                    verdict.message = format!("{} ({})", memory_limit_message(mb), verdict.message);
                    retire = true;
                }
            }
            WireOutcome::new(run_id, outcome)
        })
        .collect();
    ChildAnswer {
        outcomes,
        error: None,
        retire,
    }
}

/// Under a memory limit, a driver's thread that cannot allocate panics
/// (sqlx's SQLite worker does), and the default hook, which needs memory
/// for its backtrace, can deadlock the child instead of ending it. So the
/// panic is written without a backtrace and the child aborts: the parent
/// sees it die, names the memory limit, and starts another.
fn die_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "dq worker-child: {info}");
        std::process::abort();
    }));
}

/// The run message of a check stopped by its child's memory limit.
pub(crate) fn memory_limit_message(mb: u64) -> String {
    format!("worker child exceeded its memory limit of {mb} MB")
}
