//! From due (rule, tick) pairs to jobs: the rules due at one tick on the same
//! (target, dataset, queue) travel as one job, so the worker scans the
//! dataset once for all of them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dq_broker::{Envelope, Job, JobRun, ENVELOPE_VERSION};
use dq_core::{Queue, Rule, RunId};

/// One rule due at one tick.
#[derive(Debug, Clone)]
pub struct DueRun {
    pub rule: Rule,
    pub scheduled_for: DateTime<Utc>,
}

impl DueRun {
    pub fn run_id(&self) -> RunId {
        RunId::for_tick(&self.rule.name, self.scheduled_for)
    }
}

type JobKey = (String, String, Queue, DateTime<Utc>);

/// Groups runs into envelopes, in a stable order (by tick, then target,
/// dataset, queue), each with a deterministic job id.
pub fn envelopes(runs: Vec<DueRun>, max_attempts: u32, now: DateTime<Utc>) -> Vec<Envelope> {
    let mut groups: BTreeMap<(DateTime<Utc>, JobKey), Vec<DueRun>> = BTreeMap::new();
    for run in runs {
        let key: JobKey = (
            run.rule.target.clone(),
            run.rule.dataset.to_string(),
            run.rule.queue,
            run.scheduled_for,
        );
        groups
            .entry((run.scheduled_for, key))
            .or_default()
            .push(run);
    }
    groups
        .into_values()
        .filter_map(|group| {
            let first = group.first()?;
            let queue = first.rule.queue;
            let job = Job {
                target: first.rule.target.clone(),
                dataset: first.rule.dataset.clone(),
                scheduled_for: first.scheduled_for,
                runs: group
                    .iter()
                    .map(|r| JobRun {
                        run_id: r.run_id(),
                        rule: r.rule.clone(),
                    })
                    .collect(),
            };
            Some(Envelope {
                version: ENVELOPE_VERSION,
                id: job.job_id(queue),
                queue,
                attempt: 1,
                max_attempts,
                published_at: now,
                job,
            })
        })
        .collect()
}
