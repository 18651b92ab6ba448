//! What the broker alone can do, measured in the same run so the fleet's
//! figures read as a share of it: `redis-benchmark` (unpipelined LPUSH and
//! RPOP, the server's own tool) where it is installed, and dq-broker with
//! no store and no worker: publish N envelopes, then take and ack them.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::Utc;
use dq_beat::{envelopes, DueRun};
use dq_broker::Broker;
use dq_core::{Queue, Rule};
use tokio::task::JoinSet;

/// Messages per second through dq-broker alone.
#[derive(Debug, Clone, Copy)]
pub struct BrokerOnly {
    pub publish_per_s: f64,
    pub consume_per_s: f64,
}

const PUBLISH_CHUNK: usize = 256;
const PREFETCH: usize = 64;

pub async fn broker_only(broker: &Broker, rule: &Rule, messages: usize) -> Result<BrokerOnly> {
    let now = Utc::now();
    let all: Vec<_> = (0..messages)
        .flat_map(|i| {
            let due = DueRun {
                rule: rule.clone(),
                scheduled_for: now + chrono::Duration::milliseconds(i as i64),
            };
            envelopes(vec![due], broker.config().max_attempts, now)
        })
        .collect();
    let started = Instant::now();
    for chunk in all.chunks(PUBLISH_CHUNK) {
        for result in futures::future::join_all(chunk.iter().map(|e| broker.publish(e))).await {
            result?;
        }
    }
    let publish = started.elapsed();

    let mut consumer = broker
        .consumer(Queue::Database, "dq-bench-baseline", PREFETCH)
        .await?;
    let started = Instant::now();
    let mut acks = JoinSet::new();
    for _ in 0..messages {
        let delivery = tokio::time::timeout(Duration::from_secs(30), consumer.next())
            .await
            .context("the broker stopped delivering")??;
        acks.spawn(delivery.ack());
        while let Some(done) = acks.try_join_next() {
            done??;
        }
    }
    while let Some(done) = acks.join_next().await {
        done??;
    }
    let consume = started.elapsed();
    Ok(BrokerOnly {
        publish_per_s: messages as f64 / publish.as_secs_f64(),
        consume_per_s: messages as f64 / consume.as_secs_f64(),
    })
}

/// `redis-benchmark -t lpush,rpop` against the server of `url`: requests
/// per second of each, or why it could not run.
pub fn redis_benchmark(url: &str, requests: usize) -> Result<Vec<(String, f64)>> {
    let (host, port) = host_port(url)?;
    let output = std::process::Command::new("redis-benchmark")
        .args(["-h", &host, "-p", &port, "-t", "lpush,rpop", "-q", "-n"])
        .arg(requests.to_string())
        .output()
        .context("redis-benchmark is not installed")?;
    if !output.status.success() {
        bail!(
            "redis-benchmark failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    // Lines like "LPUSH: 137362.64 requests per second, p50=0.183 msec".
    let text = String::from_utf8_lossy(&output.stdout).replace('\r', "\n");
    let rates: Vec<(String, f64)> = text
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().split_once(':')?;
            let rate: f64 = rest.split_whitespace().next()?.parse().ok()?;
            rest.contains("requests per second")
                .then(|| (name.to_string(), rate))
        })
        .collect();
    if rates.is_empty() {
        bail!("could not read redis-benchmark's output: {text}");
    }
    Ok(rates)
}

fn host_port(url: &str) -> Result<(String, String)> {
    let rest = url.strip_prefix("redis://").context("not a redis:// URL")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "6379"));
    Ok((host.to_string(), port.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_host_and_port_from_redis_urls() {
        for (url, host, port) in [
            ("redis://127.0.0.1:6379/0", "127.0.0.1", "6379"),
            ("redis://:secret@db.internal:6380", "db.internal", "6380"),
            ("redis://localhost", "localhost", "6379"),
        ] {
            let (h, p) = host_port(url).unwrap();
            assert_eq!((h.as_str(), p.as_str()), (host, port), "{url}");
        }
        assert!(host_port("amqp://x").is_err());
    }
}
