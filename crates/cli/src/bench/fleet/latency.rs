//! Latency at a steady low rate: a run is due, inserted PENDING and
//! published (what the beat does at its tick), executed by the worker, and
//! its result committed; the commit is seen through LISTEN/NOTIFY (a
//! trigger on the benchmark's runs table), so the figure is due -> result
//! visible to any reader of the store.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use chrono::Utc;
use dq_beat::{envelopes, DueRun};
use dq_core::{Rule, RunStatus};
use dq_store::NewRun;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use super::env::{FleetEnv, CHANNEL};

#[derive(Debug, Clone)]
pub struct Latencies {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Medians of the publisher's two steps: the PENDING insert, the publish.
    pub insert_p50: Duration,
    pub publish_p50: Duration,
}

/// Publishes one single-run job every `1/rate` s for `duration`, each for
/// its own rule of `rules`, and measures due -> stored for each.
pub async fn measure(
    env: &FleetEnv,
    rules: &[Rule],
    rate: u32,
    duration: Duration,
) -> Result<Latencies> {
    let jobs = ((rate as f64) * duration.as_secs_f64()) as usize;
    if jobs == 0 || jobs > rules.len() {
        bail!(
            "the latency phase needs between 1 and {} jobs, not {jobs}",
            rules.len()
        );
    }
    let mut listener = PgListener::connect(&env.store_url).await?;
    listener.listen(CHANNEL).await?;
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<(String, Instant)>();
    let listening = tokio::spawn(async move {
        while let Ok(notification) = listener.recv().await {
            if seen_tx
                .send((notification.payload().to_string(), Instant::now()))
                .is_err()
            {
                break;
            }
        }
    });

    let mut due_at: HashMap<String, Instant> = HashMap::with_capacity(jobs);
    let (mut inserts, mut publishes) = (Vec::with_capacity(jobs), Vec::with_capacity(jobs));
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now();
    for (i, rule) in rules.iter().take(jobs).enumerate() {
        tokio::time::sleep_until(start + period * i as u32).await;
        let due = Instant::now();
        let scheduled_for = Utc::now();
        let run = NewRun::for_rule(rule, scheduled_for, RunStatus::Pending);
        due_at.insert(run.id.to_string(), due);
        env.store.enqueue_runs(None, &[run]).await?;
        inserts.push(due.elapsed());
        let due_run = DueRun {
            rule: rule.clone(),
            scheduled_for,
        };
        for envelope in envelopes(
            vec![due_run],
            env.broker.config().max_attempts,
            scheduled_for,
        ) {
            let publishing = Instant::now();
            env.broker.publish(&envelope).await?;
            publishes.push(publishing.elapsed());
        }
    }

    let mut latencies = Vec::with_capacity(jobs);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while latencies.len() < jobs {
        let Ok(Some((run_id, at))) = tokio::time::timeout_at(deadline, seen.recv()).await else {
            break;
        };
        if let Some(due) = due_at.remove(&run_id) {
            latencies.push(at.duration_since(due));
        }
    }
    listening.abort();
    if latencies.len() < jobs {
        bail!(
            "only {} of {jobs} runs were stored within 30 s of the last publish",
            latencies.len()
        );
    }
    Ok(Latencies {
        count: latencies.len(),
        p50: quantile(&mut latencies, 0.50),
        p99: quantile(&mut latencies, 0.99),
        max: quantile(&mut latencies, 1.0),
        insert_p50: quantile(&mut inserts, 0.5),
        publish_p50: quantile(&mut publishes, 0.5),
    })
}

fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    let last = samples.len().saturating_sub(1);
    samples
        .get((last as f64 * q).round() as usize)
        .copied()
        .unwrap_or_default()
}
