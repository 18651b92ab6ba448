//! `dq requeue QUEUE`: replay the dead letters of a queue (after fixing what
//! killed them), attempt counter reset. The runs of a job the workers gave
//! up on were finished as ERROR (retriable); they are reopened first, so the
//! replay executes them instead of being skipped as already final.

use std::path::Path;

use anyhow::Result;
use dq_broker::DeadPayload;

use crate::cli::RequeueArgs;
use crate::exit;

/// Dead letters replayed by one command when no --limit is given.
const MAX_AT_ONCE: usize = 10_000;

pub async fn run(config_path: Option<&Path>, args: RequeueArgs) -> Result<u8> {
    let (config, store) = super::open(config_path).await?;
    let broker = super::connect_broker(&config).await?;
    // The same bound for listing and replaying, so the reopened runs are
    // exactly those of the letters replayed.
    let limit = args.limit.unwrap_or(MAX_AT_ONCE);
    let letters = broker.dead_letters(args.queue, limit).await?;
    let run_ids: Vec<_> = letters
        .iter()
        .filter_map(|l| match &l.payload {
            DeadPayload::Envelope(e) => Some(e.job.runs.iter().map(|r| r.run_id)),
            DeadPayload::Raw(_) => None,
        })
        .flatten()
        .collect();
    let reopened = store.reopen_runs(&run_ids).await?;
    let replayed = broker.requeue_dead(args.queue, Some(limit)).await?;
    println!(
        "requeued {replayed} dead letter(s) of {} ({} run(s) reopened)",
        args.queue,
        reopened.len()
    );
    Ok(exit::OK)
}
