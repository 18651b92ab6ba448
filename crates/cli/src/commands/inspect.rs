//! `dq inspect`: what `celery inspect` gave, for either broker: queues,
//! dead letters, workers, running checks, the schedule, and run counts;
//! and what the runbook did with psql and the mongo shell: whether each
//! target answers, how fast, which version, how many connections.

use std::path::Path;
use std::time::Duration;

use super::table;
use anyhow::Result;
use chrono::Utc;
use dq_broker::{Broker, DeadPayload};
use dq_core::{Queue, RunStatus};
use dq_store::{RuleFilter, RunFilter, Store};

use crate::cli::{InspectArgs, InspectWhat};
use crate::exit;
use crate::report::duration;

pub async fn run(config_path: Option<&Path>, args: InspectArgs) -> Result<u8> {
    if matches!(args.what, InspectWhat::Targets) {
        // Needs only the configuration: it must work when the store is down.
        let config = crate::config::Config::discover(config_path)?;
        let (text, all_up) = targets(&config).await;
        print!("{text}");
        return Ok(if all_up { exit::OK } else { exit::FAILED });
    }
    let (config, store) = super::open(config_path).await?;
    let text = match args.what {
        InspectWhat::Queues => queues(&super::connect_broker(&config).await?).await?,
        InspectWhat::Dead => {
            dead(
                &super::connect_broker(&config).await?,
                args.queue,
                args.limit,
            )
            .await?
        }
        InspectWhat::Workers => workers(&store).await?,
        InspectWhat::Active => active(&store, args.limit).await?,
        InspectWhat::Scheduled => scheduled(&store, args.limit).await?,
        InspectWhat::Stats => stats(&store).await?,
        InspectWhat::Targets => unreachable!("answered above"),
    };
    print!("{text}");
    Ok(exit::OK)
}

/// One row per configured target, and whether all of them answered.
async fn targets(config: &crate::config::Config) -> (String, bool) {
    let mut t = table(&[
        "TARGET",
        "URL",
        "REACHABLE",
        "PING",
        "VERSION",
        "CONNECTIONS",
    ]);
    let mut all_up = true;
    for (name, target) in &config.targets {
        let url = crate::config::redact(&target.url);
        let health = match dq_targets::Target::connect(name, &target.url).await {
            Ok(connected) => {
                let health = connected.health().await;
                connected.close().await;
                health
            }
            Err(e) => Err(e),
        };
        match health {
            Ok(h) => {
                let connections: Vec<String> = h
                    .connections
                    .iter()
                    .map(|(state, n)| format!("{state}={n}"))
                    .collect();
                t.add_row(vec![
                    name.clone(),
                    url,
                    "yes".into(),
                    format!("{:.1} ms", h.ping.as_secs_f64() * 1000.0),
                    h.version,
                    if connections.is_empty() {
                        "-".into()
                    } else {
                        connections.join(" ")
                    },
                ]);
            }
            Err(e) => {
                all_up = false;
                let retriable = if e.is_retriable() { " (retriable)" } else { "" };
                t.add_row(vec![
                    name.clone(),
                    url,
                    format!("no: {e}{retriable}"),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]);
            }
        }
    }
    if config.targets.is_empty() {
        return (
            "no targets configured ([targets.NAME] in dq.toml)\n".into(),
            true,
        );
    }
    (format!("{t}\n"), all_up)
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

async fn queues(broker: &Broker) -> Result<String> {
    let mut t = table(&[
        "QUEUE",
        "READY",
        "IN FLIGHT",
        "DELAYED",
        "DEAD",
        "CONSUMERS",
        "OLDEST READY",
    ]);
    for queue in Queue::ALL {
        let s = broker.queue_stats(queue).await?;
        t.add_row(vec![
            queue.to_string(),
            s.depth.to_string(),
            opt(s.in_flight),
            s.delayed.to_string(),
            s.dead.to_string(),
            opt(s.consumers),
            opt(s.oldest_ready_age.map(duration)),
        ]);
    }
    Ok(format!("{t}\n"))
}

async fn dead(broker: &Broker, queue: Option<Queue>, limit: usize) -> Result<String> {
    let mut t = table(&["QUEUE", "DIED", "JOB", "RULES", "ATTEMPT", "REASON"]);
    let queues: Vec<Queue> = queue
        .map(|q| vec![q])
        .unwrap_or_else(|| Queue::ALL.to_vec());
    for queue in queues {
        for letter in broker.dead_letters(queue, limit).await? {
            let (job, rules, attempt) = match &letter.payload {
                DeadPayload::Envelope(e) => (
                    e.id.clone(),
                    e.job
                        .runs
                        .iter()
                        .map(|r| r.rule.name.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    e.attempt.to_string(),
                ),
                DeadPayload::Raw(text) => (
                    format!("(unreadable) {}", text.chars().take(40).collect::<String>()),
                    "-".into(),
                    "-".into(),
                ),
            };
            t.add_row(vec![
                queue.to_string(),
                letter.died_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                job,
                rules,
                attempt,
                letter.reason.clone(),
            ]);
        }
    }
    Ok(format!(
        "{t}\nReplay with `dq requeue QUEUE` once the cause is fixed.\n"
    ))
}

async fn workers(store: &Store) -> Result<String> {
    let since = Utc::now() - chrono::Duration::minutes(2);
    let mut t = table(&[
        "WORKER",
        "QUEUE",
        "POOL",
        "CONCURRENCY",
        "PROCESSED",
        "FAILED",
        "RSS",
        "UPTIME",
        "SEEN",
    ]);
    let now = Utc::now();
    for w in store.workers(since).await? {
        t.add_row(vec![
            w.worker.clone(),
            w.queue.to_string(),
            w.pool.clone(),
            w.concurrency.to_string(),
            w.processed.to_string(),
            w.failed.to_string(),
            opt(w
                .rss_bytes
                .map(|b| format!("{:.1} MiB", b as f64 / 1048576.0))),
            duration((now - w.started_at).to_std().unwrap_or_default()),
            format!(
                "{} ago",
                duration((now - w.seen_at).to_std().unwrap_or_default())
            ),
        ]);
    }
    Ok(format!("{t}\n(workers seen in the last 2 minutes)\n"))
}

async fn active(store: &Store, limit: usize) -> Result<String> {
    let runs = store
        .runs(&RunFilter {
            statuses: vec![RunStatus::Running],
            limit: Some(limit as u32),
            ..RunFilter::default()
        })
        .await?;
    let mut t = table(&["RUN", "RULE", "QUEUE", "WORKER", "RUNNING FOR", "ATTEMPT"]);
    let now = Utc::now();
    for run in runs {
        t.add_row(vec![
            run.id.to_string(),
            run.rule_name.to_string(),
            run.queue.to_string(),
            opt(run.worker.clone()),
            opt(run
                .started_at
                .map(|s| duration((now - s).to_std().unwrap_or_default()))),
            run.attempt.to_string(),
        ]);
    }
    Ok(format!("{t}\n"))
}

async fn scheduled(store: &Store, limit: usize) -> Result<String> {
    let now = Utc::now();
    let mut next: Vec<_> = store
        .rules(&RuleFilter {
            enabled_only: true,
            ..RuleFilter::default()
        })
        .await?
        .into_iter()
        .filter_map(|r| r.rule.schedule.next_after(now).map(|t| (t, r.rule)))
        .collect();
    next.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let mut t = table(&["NEXT (UTC)", "IN", "RULE", "SCHEDULE", "QUEUE"]);
    for (at, rule) in next.into_iter().take(limit) {
        t.add_row(vec![
            at.format("%Y-%m-%d %H:%M:%S").to_string(),
            duration((at - now).to_std().unwrap_or_default()),
            rule.name.to_string(),
            format!(
                "{} ({})",
                rule.schedule.expression(),
                rule.schedule.timezone().name()
            ),
            rule.queue.to_string(),
        ]);
    }
    let leader = match store.current_lease(dq_beat::LEASE_NAME).await? {
        Some(lease) if lease.is_held_at(now) => {
            format!("beat leader: {} (lease token {})", lease.owner, lease.token)
        }
        _ => "beat leader: none (no beat is running)".to_string(),
    };
    Ok(format!("{t}\n{leader}\n"))
}

/// The longest a run waited from its tick to its publication (what the
/// beat's lag is), among `runs`; `None` when none was published.
pub(crate) fn max_scheduling_lag(runs: &[dq_store::RunRecord]) -> Option<Duration> {
    runs.iter()
        .filter_map(|r| {
            r.enqueued_at
                .map(|e| (e - r.scheduled_for).to_std().unwrap_or_default())
        })
        .max()
}

async fn stats(store: &Store) -> Result<String> {
    let since = Utc::now() - chrono::Duration::hours(1);
    let runs = store
        .runs(&RunFilter {
            since: Some(since),
            ..RunFilter::default()
        })
        .await?;
    let mut t = table(&["STATUS", "RUNS (LAST HOUR)"]);
    for status in RunStatus::ALL {
        let n = runs.iter().filter(|r| r.status == status).count();
        if n > 0 {
            t.add_row(vec![status.to_string(), n.to_string()]);
        }
    }
    let max_lag = max_scheduling_lag(&runs);
    Ok(format!(
        "{t}\nscheduling lag (due -> enqueued), max over the last hour: {}\n",
        opt(max_lag.map(duration))
    ))
}
