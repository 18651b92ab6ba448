//! `dq doctor`: what the old runbook's "system down" procedure checked by
//! hand, one line per check with its latency: the store (reachable, every
//! embedded migration applied), the broker (reachable, queues declared),
//! a worker for every queue that has enabled rules, the beat leader and its
//! lag, every target, every alert channel's variables (and with
//! `--send-test` a real test message), and the clocks of this host and the
//! workers against the store's. Exit 0 when every check passes, 1 otherwise.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Utc};
use dq_core::Queue;
use dq_store::{RuleFilter, RunFilter, Store, WorkerHeartbeat};
use serde::Serialize;

use crate::cli::{DoctorArgs, ReportFormat};
use crate::config::{redact, Config};
use crate::exit;

/// One check may take this long before it counts as failed.
const CHECK_DEADLINE: Duration = Duration::from_secs(15);
/// A worker counts as alive with a heartbeat this recent (as `/health/` says).
const WORKER_SEEN_WITHIN: Duration = Duration::from_secs(60);

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
struct Check {
    name: String,
    ok: bool,
    detail: String,
    latency_ms: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    status: &'static str,
    failed: Vec<String>,
    checks: Vec<Check>,
    checked_at: DateTime<Utc>,
}

pub async fn run(config_path: Option<&Path>, args: DoctorArgs) -> Result<u8> {
    let checks = checks(config_path, &args).await;
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.clone())
        .collect();
    let report = Report {
        status: if failed.is_empty() { "ok" } else { "fail" },
        failed,
        checks,
        checked_at: Utc::now(),
    };
    match args.format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Text => print!("{}", text(&report)),
    }
    Ok(if report.failed.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}

async fn checks(config_path: Option<&Path>, args: &DoctorArgs) -> Vec<Check> {
    let mut checks = Vec::new();
    let started = Instant::now();
    let config = match Config::discover(config_path) {
        Ok(config) => {
            checks.push(Check::new("config", Ok(config.origin.clone()), started));
            config
        }
        Err(e) => {
            checks.push(Check::new("config", Err(format!("{e:#}")), started));
            return checks;
        }
    };
    let (store_check, store) = store(&config).await;
    checks.push(store_check);
    checks.push(timed("broker", broker(&config)).await);
    match &store {
        Some(store) => {
            checks.extend(workers(store).await);
            checks.push(timed("beat", beat(store, args.max_beat_lag)).await);
            checks.push(timed("clock", clocks(store, args.max_clock_skew)).await);
        }
        None => {
            for name in ["workers", "beat", "clock"] {
                let skipped = Err("not checked: the store cannot be read".to_string());
                checks.push(Check::new(name, skipped, Instant::now()));
            }
        }
    }
    checks.extend(targets(&config).await);
    checks.extend(channels(&config, args.send_test).await);
    checks
}

impl Check {
    fn new(name: impl Into<String>, outcome: Result<String, String>, started: Instant) -> Check {
        let (ok, detail) = match outcome {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        Check {
            name: name.into(),
            ok,
            detail,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Runs one check within [`CHECK_DEADLINE`], measuring it.
async fn timed(
    name: impl Into<String>,
    check: impl Future<Output = Result<String, String>>,
) -> Check {
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_DEADLINE, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}s", CHECK_DEADLINE.as_secs())));
    Check::new(name, outcome, started)
}

/// Opens the store WITHOUT migrating it, and compares its migrations with
/// the ones this build embeds.
async fn store(config: &Config) -> (Check, Option<Store>) {
    let started = Instant::now();
    let url = redact(&config.store_url);
    let opened = tokio::time::timeout(
        CHECK_DEADLINE,
        Store::open_without_migrating(&config.store_url),
    )
    .await;
    let store = match opened {
        Ok(Ok(store)) => store,
        Ok(Err(e)) => {
            return (
                Check::new("store", Err(format!("{url}: {e}")), started),
                None,
            )
        }
        Err(_) => {
            let late = format!("{url}: no answer within {}s", CHECK_DEADLINE.as_secs());
            return (Check::new("store", Err(late), started), None);
        }
    };
    let outcome = match store.migration_status().await {
        Err(e) => Err(format!("{url}: cannot read its migrations: {e}")),
        Ok(status) if status.is_current() => Ok(format!(
            "{url}: reachable, all {} migrations applied",
            status.embedded.len()
        )),
        Ok(status) => {
            let mut problems = Vec::new();
            if !status.pending.is_empty() {
                problems.push(format!(
                    "{} of {} migrations not applied ({}): run `dq migrate`",
                    status.pending.len(),
                    status.embedded.len(),
                    versions(&status.pending)
                ));
            }
            if !status.unknown.is_empty() {
                problems.push(format!(
                    "migrated by a newer dq ({}): upgrade this dq",
                    versions(&status.unknown)
                ));
            }
            if !status.changed.is_empty() {
                problems.push(format!(
                    "migrations changed since they were applied ({})",
                    versions(&status.changed)
                ));
            }
            Err(format!("{url}: {}", problems.join("; ")))
        }
    };
    let ok = outcome.is_ok();
    (Check::new("store", outcome, started), ok.then_some(store))
}

fn versions(list: &[i64]) -> String {
    let shown: Vec<String> = list.iter().map(|v| format!("{v:04}")).collect();
    shown.join(", ")
}

async fn broker(config: &Config) -> Result<String, String> {
    let url = redact(&config.broker.url);
    if config.broker.url.starts_with("memory:") {
        return Ok(format!(
            "{url}: in-process; its queues live inside each `dq serve` process (nothing to reach)"
        ));
    }
    // Connecting declares the queues (Redis: stream and consumer group;
    // AMQP: queues and exchanges); their statistics prove they exist.
    let broker = super::connect_broker(config)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let mut queues = Vec::new();
    for queue in Queue::ALL {
        let stats = broker
            .queue_stats(queue)
            .await
            .map_err(|e| format!("{url}: queue {queue}: {e}"))?;
        let consumers = stats
            .consumers
            .map_or(String::new(), |n| format!(", {n} consumers"));
        queues.push(format!("{queue} ({} ready{consumers})", stats.depth));
    }
    Ok(format!(
        "{url}: reachable, queues declared: {}",
        queues.join(", ")
    ))
}

/// One line per queue that has enabled rules or workers: a queue with
/// rules and no live worker fails.
async fn workers(store: &Store) -> Vec<Check> {
    let started = Instant::now();
    let since = Utc::now() - chrono::Duration::from_std(WORKER_SEEN_WITHIN).unwrap_or_default();
    let enabled = RuleFilter {
        enabled_only: true,
        ..RuleFilter::default()
    };
    let (rules, seen) = match tokio::join!(store.rules(&enabled), store.workers(since)) {
        (Ok(rules), Ok(seen)) => (rules, seen),
        (Err(e), _) | (_, Err(e)) => {
            return vec![Check::new(
                "workers",
                Err(format!("cannot read rules or heartbeats: {e}")),
                started,
            )]
        }
    };
    let mut rules_by_queue: BTreeMap<Queue, usize> = BTreeMap::new();
    for rule in &rules {
        *rules_by_queue.entry(rule.rule.queue).or_default() += 1;
    }
    let mut checks = Vec::new();
    for queue in Queue::ALL {
        let rules = rules_by_queue.get(&queue).copied().unwrap_or_default();
        let names: Vec<&str> = seen
            .iter()
            .filter(|w| w.queue == queue)
            .map(|w| w.worker.as_str())
            .collect();
        let outcome = match (rules, names.len()) {
            (0, 0) => continue,
            (rules, 0) => Err(format!(
                "{rules} enabled rule(s) and no worker heartbeat in the last {}s: start `dq worker -Q {queue}`",
                WORKER_SEEN_WITHIN.as_secs()
            )),
            (rules, n) => Ok(format!(
                "{n} worker(s) alive ({}), {rules} enabled rule(s)",
                names.join(", ")
            )),
        };
        checks.push(Check::new(format!("workers {queue}"), outcome, started));
    }
    if checks.is_empty() {
        checks.push(Check::new(
            "workers",
            Ok("no enabled rules and no worker: nothing to run".to_string()),
            started,
        ));
    }
    checks
}

/// A beat holds the leader lease, and published the last hour's runs
/// within `max_lag` of their ticks (the lag `dq inspect stats` shows).
async fn beat(store: &Store, max_lag: Duration) -> Result<String, String> {
    let now = Utc::now();
    let leader = match store.current_lease(dq_beat::LEASE_NAME).await {
        Ok(Some(lease)) if lease.is_held_at(now) => {
            format!("{} leads (lease token {})", lease.owner, lease.token)
        }
        Ok(Some(lease)) => {
            return Err(format!(
                "no leader: {}'s lease expired at {}: start `dq beat`",
                lease.owner,
                lease.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
            ))
        }
        Ok(None) => return Err("no beat has ever run: start `dq beat`".to_string()),
        Err(e) => return Err(format!("cannot read the leader lease: {e}")),
    };
    let runs = store
        .runs(&RunFilter {
            since: Some(now - chrono::Duration::hours(1)),
            ..RunFilter::default()
        })
        .await
        .map_err(|e| format!("{leader}; cannot read the last hour's runs: {e}"))?;
    match super::inspect::max_scheduling_lag(&runs) {
        None => Ok(format!("{leader}; no run published in the last hour")),
        Some(lag) if lag > max_lag => Err(format!(
            "{leader}; but scheduling lag reached {} in the last hour (more than {})",
            seconds(lag),
            seconds(max_lag)
        )),
        Some(lag) => Ok(format!(
            "{leader}; scheduling lag at most {} in the last hour",
            seconds(lag)
        )),
    }
}

/// This host's clock and every live worker's (through its last heartbeat)
/// against the store's. A heartbeat is up to one interval old when read,
/// so only a heartbeat from the future, or older than the interval, shows
/// a skew.
async fn clocks(store: &Store, max_skew: Duration) -> Result<String, String> {
    let before = Utc::now();
    let store_now = store
        .clock_now()
        .await
        .map_err(|e| format!("cannot read the store's clock: {e}"))?;
    let after = Utc::now();
    let local = before + (after - before) / 2;
    let host_offset = signed_seconds(local - store_now);
    let since = store_now - chrono::Duration::from_std(WORKER_SEEN_WITHIN).unwrap_or_default();
    let workers = store
        .workers(since)
        .await
        .map_err(|e| format!("cannot read heartbeats: {e}"))?;
    let interval = dq_worker::config::DEFAULT_HEARTBEAT_INTERVAL.as_secs_f64();
    let mut worst = ("this host".to_string(), host_offset.abs());
    for worker in &workers {
        let skew = worker_skew(worker, store_now, interval);
        if skew > worst.1 {
            worst = (format!("worker {}", worker.worker), skew);
        }
    }
    let detail = format!(
        "max skew {:.1}s ({}); this host {host_offset:+.1}s from the store, {} worker(s) compared",
        worst.1,
        worst.0,
        workers.len()
    );
    if worst.1 > max_skew.as_secs_f64() {
        Err(format!(
            "{detail}: more than {}; synchronise the clocks (NTP)",
            seconds(max_skew)
        ))
    } else {
        Ok(detail)
    }
}

/// How far a worker's clock is from the store's, as far as its last
/// heartbeat shows: ahead by any amount, behind only past one interval.
fn worker_skew(worker: &WorkerHeartbeat, store_now: DateTime<Utc>, interval: f64) -> f64 {
    let offset = signed_seconds(worker.seen_at - store_now);
    if offset > 0.0 {
        offset
    } else {
        (-offset - interval).max(0.0)
    }
}

fn signed_seconds(delta: chrono::Duration) -> f64 {
    delta.num_milliseconds() as f64 / 1000.0
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

async fn targets(config: &Config) -> Vec<Check> {
    if config.targets.is_empty() {
        let none = Ok("none configured ([targets.NAME] in dq.toml)".to_string());
        return vec![Check::new("targets", none, Instant::now())];
    }
    let probes = config.targets.iter().map(|(name, target)| {
        timed(format!("target {name}"), async move {
            let url = redact(&target.url);
            let started = Instant::now();
            // The connection checks use, then `dq inspect targets`' probe.
            let connected = dq_targets::Target::connect(name, &target.url)
                .await
                .map_err(|e| e.to_string())?;
            let health = connected.health().await;
            connected.close().await;
            let health = health.map_err(|e| e.to_string())?;
            Ok(format!(
                "{url}: reachable, {}, ping {} ms (connect + ping {} ms)",
                health.version,
                health.ping.as_millis(),
                started.elapsed().as_millis()
            ))
        })
    });
    futures::future::join_all(probes).await
}

/// Every channel's variables; with `send_test`, a test message through
/// each channel whose variables are all set.
async fn channels(config: &Config, send_test: bool) -> Vec<Check> {
    let started = Instant::now();
    let Some(alerts) = &config.alerts else {
        let none = "no [alerts] section: violations are recorded, nothing is sent";
        return vec![Check::new("alerts", Ok(none.to_string()), started)];
    };
    if alerts.channels.is_empty() {
        let none = "[alerts] has no channel: nothing is sent";
        return vec![Check::new("alerts", Ok(none.to_string()), started)];
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut outcomes: BTreeMap<String, Result<String, String>> = BTreeMap::new();
    let mut ready = alerts.clone();
    for (name, channel) in &alerts.channels {
        let variables = channel.required_variables();
        let missing: Vec<&str> = variables
            .iter()
            .copied()
            .filter(|v| env(v).is_none())
            .collect();
        let outcome = if missing.is_empty() {
            let set = if variables.is_empty() {
                "no secret needed".to_string()
            } else {
                format!("{} set", variables.join(", "))
            };
            Ok(format!("{}: {set}", channel.kind()))
        } else {
            ready.channels.remove(name);
            Err(format!(
                "{}: {} not set",
                channel.kind(),
                missing.join(", ")
            ))
        };
        outcomes.insert(name.clone(), outcome);
    }
    if send_test && !ready.channels.is_empty() {
        match dq_alerts::Channels::from_config(&ready, &env) {
            Err(e) => {
                for outcome in outcomes.values_mut().filter(|o| o.is_ok()) {
                    *outcome = Err(format!("cannot build the channels: {e}"));
                }
            }
            Ok(built) => {
                for (name, sent) in built.send_test(Utc::now()).await {
                    let Some(Ok(detail)) = outcomes.remove(&name) else {
                        continue;
                    };
                    let outcome = match sent {
                        Ok(sent) => Ok(format!(
                            "{detail}; test message delivered{}",
                            sent.status
                                .map_or(String::new(), |s| format!(" (HTTP {s})"))
                        )),
                        Err(e) => Err(format!("{detail}; test message failed: {e}")),
                    };
                    outcomes.insert(name, outcome);
                }
            }
        }
    }
    outcomes
        .into_iter()
        .map(|(name, outcome)| Check::new(format!("channel {name}"), outcome, started))
        .collect()
}

fn text(report: &Report) -> String {
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for check in &report.checks {
        out.push_str(&format!(
            "{} {:<width$}  {}  ({} ms)\n",
            if check.ok { "OK  " } else { "FAIL" },
            check.name,
            check.detail,
            check.latency_ms
        ));
    }
    if report.failed.is_empty() {
        out.push_str(&format!("all {} checks passed\n", report.checks.len()));
    } else {
        out.push_str(&format!(
            "{} of {} checks failed: {}\n",
            report.failed.len(),
            report.checks.len(),
            report.failed.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heartbeat(seen_at: DateTime<Utc>) -> WorkerHeartbeat {
        WorkerHeartbeat {
            worker: "w".into(),
            queue: Queue::Database,
            pool: "async".into(),
            concurrency: 1,
            processed: 0,
            failed: 0,
            rss_bytes: None,
            started_at: seen_at,
            seen_at,
            version: "0".into(),
        }
    }

    #[test]
    fn worker_skew_counts_the_future_and_what_is_older_than_an_interval() {
        let now = Utc::now();
        let ms = chrono::Duration::milliseconds;
        for (seen, expected) in [
            (ms(0), 0.0),
            (ms(-9_000), 0.0),
            (ms(-10_000), 0.0),
            (ms(-16_000), 6.0),
            (ms(2_500), 2.5),
        ] {
            let skew = worker_skew(&heartbeat(now + seen), now, 10.0);
            assert!((skew - expected).abs() < 1e-9, "{seen:?}: {skew}");
        }
    }

    #[test]
    fn text_names_what_failed() {
        let started = Instant::now();
        let report = Report {
            status: "fail",
            failed: vec!["beat".into()],
            checks: vec![
                Check::new("store", Ok("fine".into()), started),
                Check::new("beat", Err("no leader".into()), started),
            ],
            checked_at: Utc::now(),
        };
        let text = text(&report);
        assert!(text.contains("OK   store  fine"), "{text}");
        assert!(text.contains("FAIL beat   no leader"), "{text}");
        assert!(text.ends_with("1 of 2 checks failed: beat\n"), "{text}");
    }
}
