//! dq-beat: fires each enabled rule on its cron schedule.
//!
//! Every `tick_interval` the beat (1) checks its leader lease, (2) reloads
//! the enabled rules when they are older than `rules_refresh` (changes need
//! no restart), (3) for each rule computes the ticks due since its cursor
//! with the catch-up policy, (4) inserts one PENDING run per (rule, tick)
//! with a deterministic id, fenced by the lease, (5) publishes the jobs and
//! marks the runs enqueued. Runs inserted but never published (a crash in
//! between) are republished from the store, the outbox, by the next leader.

mod jobs;
mod leader;
mod metrics;
mod retention;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_broker::{Broker, Envelope};
use dq_core::catch_up::{due_ticks, CatchUp, Lateness};
use dq_core::{Rule, RunStatus};
use dq_metrics::Metrics;
use dq_store::{NewRun, RuleFilter, Store, StoreError};
use tokio::sync::watch;

pub use jobs::{envelopes, DueRun};
pub use leader::{Leadership, Transition, LEASE_NAME};
pub use retention::{archive_path, run_once, RetentionConfig, RetentionError};

/// Envelopes published concurrently, then marked enqueued in one write.
const PUBLISH_CHUNK: usize = 256;

#[derive(Debug, Clone)]
pub struct BeatConfig {
    /// Unique among beats: host and pid.
    pub owner: String,
    pub tick_interval: Duration,
    pub lease_ttl: Duration,
    pub rules_refresh: Duration,
    pub catch_up: CatchUp,
    /// Ticks up to `lateness.on_time` late are all run (failovers); up to
    /// `lateness.grace` late the catch-up policy decides; later ones are dropped.
    pub lateness: Lateness,
    pub max_attempts: u32,
    /// Unpublished runs older than this are republished from the store.
    pub outbox_after: Duration,
}

impl BeatConfig {
    pub fn new(owner: impl Into<String>) -> Self {
        BeatConfig {
            owner: owner.into(),
            tick_interval: Duration::from_millis(500),
            lease_ttl: Duration::from_secs(10),
            rules_refresh: Duration::from_secs(10),
            catch_up: CatchUp::Latest,
            lateness: Lateness {
                on_time: Duration::from_secs(30),
                grace: Duration::from_secs(3600),
            },
            max_attempts: 3,
            outbox_after: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BeatError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("broker: {0}")]
    Broker(#[from] dq_broker::BrokerError),
}

/// Counters a beat keeps; exported to Prometheus by `metrics.rs`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BeatStats {
    pub is_leader: bool,
    pub runs_enqueued: u64,
    pub jobs_published: u64,
    pub ticks_dropped: u64,
    pub republished: u64,
    /// Scheduling lag of the last published job: due -> enqueued.
    pub last_lag: Option<Duration>,
    pub max_lag: Option<Duration>,
}

pub struct Beat {
    store: Store,
    broker: Broker,
    config: BeatConfig,
    leadership: Leadership,
    rules: Vec<Rule>,
    rules_loaded_at: Option<DateTime<Utc>>,
    cursors: BTreeMap<String, DateTime<Utc>>,
    last_outbox_sweep: Option<DateTime<Utc>>,
    stats: BeatStats,
    metrics: Metrics,
    exported: metrics::Exported,
    retention: Option<retention::Retention>,
}

impl Beat {
    pub fn new(store: Store, broker: Broker, config: BeatConfig) -> Self {
        let leadership = Leadership::new(config.owner.clone(), config.lease_ttl);
        Beat {
            store,
            broker,
            config,
            leadership,
            rules: Vec::new(),
            rules_loaded_at: None,
            cursors: BTreeMap::new(),
            last_outbox_sweep: None,
            stats: BeatStats::default(),
            metrics: Metrics::default(),
            exported: metrics::Exported::default(),
            retention: None,
        }
    }

    /// Records into `metrics` (the process's registry) rather than a
    /// private one.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// While leader, also runs retention on its schedule (`None`: never).
    pub fn with_retention(mut self, config: Option<RetentionConfig>) -> Self {
        self.retention = config.map(retention::Retention::new);
        self
    }

    pub fn stats(&self) -> &BeatStats {
        &self.stats
    }

    /// Runs until `shutdown` turns true; releases the lease on the way out.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> BeatStats {
        let mut interval = tokio::time::interval(self.config.tick_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
            if let Err(e) = self.iterate(Utc::now()).await {
                tracing::warn!(error = %e, "beat iteration failed; retrying next tick");
            }
            self.exported.export(&self.metrics, &self.stats);
        }
        self.leadership.release(&self.store).await;
        self.stats.is_leader = false;
        self.exported.export(&self.metrics, &self.stats);
        self.stats
    }

    /// One beat iteration at `now`. Public so tests can drive time.
    pub async fn iterate(&mut self, now: DateTime<Utc>) -> Result<(), BeatError> {
        match self.leadership.check(&self.store, now).await? {
            Transition::Acquired => {
                tracing::info!(owner = %self.config.owner, "became the leader beat");
                // Resume where the previous leader stopped: the store knows.
                self.cursors = self.store.last_scheduled().await?;
                self.rules_loaded_at = None;
                self.last_outbox_sweep = None;
            }
            Transition::Lost => {
                tracing::warn!(owner = %self.config.owner, "lost the beat lease; standing by");
            }
            Transition::Kept | Transition::Follower => {}
        }
        self.stats.is_leader = self.leadership.is_leader();
        if !self.leadership.is_leader() {
            return Ok(());
        }
        if let Some(retention) = &mut self.retention {
            retention.poll(&self.store, now);
        }
        self.refresh_rules(now).await?;
        let due = self.due_runs(now);
        if !due.is_empty() {
            self.enqueue(due, now).await?;
        }
        self.sweep_outbox(now).await?;
        Ok(())
    }

    async fn refresh_rules(&mut self, now: DateTime<Utc>) -> Result<(), BeatError> {
        let fresh = self
            .rules_loaded_at
            .is_some_and(|at| (now - at).to_std().unwrap_or_default() < self.config.rules_refresh);
        if fresh {
            return Ok(());
        }
        let filter = RuleFilter {
            enabled_only: true,
            ..RuleFilter::default()
        };
        self.rules = self
            .store
            .rules(&filter)
            .await?
            .into_iter()
            .map(|r| r.rule)
            .collect();
        self.rules_loaded_at = Some(now);
        // A rule seen for the first time starts now: no catch-up for ticks
        // before it existed.
        for rule in &self.rules {
            self.cursors.entry(rule.name.to_string()).or_insert(now);
        }
        Ok(())
    }

    fn due_runs(&mut self, now: DateTime<Utc>) -> Vec<DueRun> {
        let mut due = Vec::new();
        for rule in &self.rules {
            let cursor = self.cursors.get(rule.name.as_str()).copied().unwrap_or(now);
            let ticks = due_ticks(
                &rule.schedule,
                cursor,
                now,
                self.config.catch_up,
                self.config.lateness,
            );
            self.stats.ticks_dropped += ticks.dropped as u64;
            if ticks.dropped > 0 {
                tracing::info!(rule = %rule.name, dropped = ticks.dropped, "missed ticks not run (catch-up policy)");
            }
            self.cursors.insert(rule.name.to_string(), ticks.cursor);
            due.extend(ticks.enqueue.into_iter().map(|tick| DueRun {
                rule: rule.clone(),
                scheduled_for: tick,
            }));
        }
        due
    }

    async fn enqueue(&mut self, due: Vec<DueRun>, now: DateTime<Utc>) -> Result<(), BeatError> {
        let Some(lease) = self.leadership.lease().cloned() else {
            return Ok(());
        };
        let runs: Vec<NewRun> = due
            .iter()
            .map(|d| NewRun::for_rule(&d.rule, d.scheduled_for, RunStatus::Pending))
            .collect();
        let inserted = match self.store.enqueue_runs(Some(&lease), &runs).await {
            Ok(inserted) => inserted,
            Err(StoreError::LeaseLost(_)) => {
                tracing::warn!("lease lost while enqueuing; nothing written");
                self.leadership.drop_lease();
                self.stats.is_leader = false;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        // Only runs this beat inserted are published here; runs that existed
        // already were published by whoever inserted them, or are in the outbox.
        let fresh: Vec<DueRun> = due
            .into_iter()
            .filter(|d| inserted.contains(&d.run_id()))
            .collect();
        self.stats.runs_enqueued += fresh.len() as u64;
        self.publish(envelopes(fresh, self.config.max_attempts, now))
            .await
    }

    /// Publishes `envelopes` a chunk at a time, the publishes of a chunk
    /// concurrently (they pipeline over the broker connection: Redis
    /// commands, AMQP publisher confirms), then marks the chunk's published
    /// runs enqueued in one write. A publish that failed leaves its runs
    /// unmarked, in the outbox, and is the error returned once the rest of
    /// its chunk is marked.
    async fn publish(&mut self, envelopes: Vec<Envelope>) -> Result<(), BeatError> {
        for chunk in envelopes.chunks(PUBLISH_CHUNK) {
            let results =
                futures::future::join_all(chunk.iter().map(|e| self.broker.publish(e))).await;
            let published_at = Utc::now();
            let mut ids = Vec::new();
            let mut first_error = None;
            for (envelope, result) in chunk.iter().zip(results) {
                if let Err(e) = result {
                    first_error.get_or_insert(e);
                    continue;
                }
                ids.extend(envelope.job.runs.iter().map(|r| r.run_id));
                let lag = (published_at - envelope.job.scheduled_for)
                    .to_std()
                    .unwrap_or_default();
                self.stats.last_lag = Some(lag);
                self.stats.max_lag = Some(self.stats.max_lag.map_or(lag, |m| m.max(lag)));
                self.stats.jobs_published += 1;
            }
            if !ids.is_empty() {
                self.store.mark_enqueued(&ids, published_at).await?;
            }
            if let Some(e) = first_error {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Republishes runs a previous leader inserted but never published.
    async fn sweep_outbox(&mut self, now: DateTime<Utc>) -> Result<(), BeatError> {
        let due = self
            .last_outbox_sweep
            .is_none_or(|at| (now - at).to_std().unwrap_or_default() >= self.config.outbox_after);
        if !due {
            return Ok(());
        }
        self.last_outbox_sweep = Some(now);
        let older_than =
            now - chrono::Duration::from_std(self.config.outbox_after).unwrap_or_default();
        let stale = self.store.unpublished_runs(older_than, 1000).await?;
        if stale.is_empty() {
            return Ok(());
        }
        let by_name: BTreeMap<&str, &Rule> =
            self.rules.iter().map(|r| (r.name.as_str(), r)).collect();
        let due: Vec<DueRun> = stale
            .iter()
            .filter_map(|run| {
                by_name.get(run.rule_name.as_str()).map(|rule| DueRun {
                    rule: (*rule).clone(),
                    scheduled_for: run.scheduled_for,
                })
            })
            .collect();
        tracing::info!(
            runs = due.len(),
            "republishing runs that were stored but never published"
        );
        self.stats.republished += due.len() as u64;
        self.publish(envelopes(due, self.config.max_attempts, now))
            .await
    }
}
