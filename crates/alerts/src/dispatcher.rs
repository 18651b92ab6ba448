//! The dispatcher: each tick it (1) marks deliveries whose dispatcher died
//! mid-attempt IN_DOUBT, (2) plans pending outbox events (and overdue
//! incidents) into deliveries under the fatigue policy, in one store
//! transaction, (3) claims the deliveries that are due and sends them,
//! recording every attempt and retrying failures with backoff (a 429's
//! Retry-After is honoured). It runs inside `dq worker` / `dq serve` and as
//! `dq alerts dispatch`; any number may run against one store.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use dq_store::{AlertBacklog, AttemptOutcome, ClaimedDelivery, EscalationScan, PlanSummary, Store};
use tokio::sync::watch;

use crate::channels::{Channels, SendError};
use crate::config::AlertsConfig;
use crate::error::AlertError;
use crate::item::AlertItem;
use crate::policy;

/// Outbox events planned per transaction.
const PLAN_BATCH: u32 = 500;
/// Deliveries claimed (and sent concurrently) per tick.
const SEND_BATCH: u32 = 16;

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickSummary {
    /// Deliveries found abandoned by a dead dispatcher (now IN_DOUBT).
    pub in_doubt: u64,
    pub planned: PlanSummary,
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
}

pub struct Dispatcher {
    store: Store,
    config: AlertsConfig,
    channels: Channels,
    name: String,
    metrics: dq_metrics::Metrics,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("name", &self.name)
            .field("channels", &self.channels)
            .finish()
    }
}

impl Dispatcher {
    /// `name` must be unique among running dispatchers (host:pid:role);
    /// `env` resolves the variables the channels name.
    pub fn new(
        store: Store,
        config: AlertsConfig,
        name: impl Into<String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, AlertError> {
        let channels = Channels::from_config(&config, env)?;
        Ok(Dispatcher {
            store,
            config,
            channels,
            name: name.into(),
            metrics: dq_metrics::Metrics::default(),
        })
    }

    /// Records deliveries into `metrics` (the process's registry) rather
    /// than a private one.
    pub fn with_metrics(mut self, metrics: dq_metrics::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// One pass: recover, plan, send what is due at `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickSummary, AlertError> {
        let mut summary = TickSummary {
            in_doubt: self.store.recover_deliveries(now).await?,
            ..TickSummary::default()
        };
        if summary.in_doubt > 0 {
            tracing::warn!(
                deliveries = summary.in_doubt,
                "deliveries left mid-attempt by a stopped dispatcher are IN_DOUBT (not resent)"
            );
        }
        let config = &self.config;
        let escalation = config.escalate_after.and_then(|after| {
            let after = chrono::Duration::from_std(after).ok()?;
            Some(EscalationScan {
                notified_before: now - after,
                min_severity: config.escalate_min_severity,
            })
        });
        summary.planned = self
            .store
            .plan_alerts(now, PLAN_BATCH, escalation, &mut |event, state| {
                policy::decide(config, event, state, now)
            })
            .await?;
        let claimed = self
            .store
            .claim_deliveries(&self.name, now, config.delivery.lease, SEND_BATCH)
            .await?;
        // Concurrently: one slow endpoint does not hold the others back.
        let outcomes =
            futures::future::join_all(claimed.iter().map(|delivery| self.attempt(delivery))).await;
        for outcome in outcomes {
            match outcome? {
                AttemptOutcome::Delivered { .. } => summary.delivered += 1,
                AttemptOutcome::Retry { .. } => summary.retried += 1,
                AttemptOutcome::Failed { .. } => summary.failed += 1,
            }
        }
        Ok(summary)
    }

    /// Sends one claimed delivery and records how it went.
    async fn attempt(&self, delivery: &ClaimedDelivery) -> Result<AttemptOutcome, AlertError> {
        let items: Result<Vec<AlertItem>, _> = delivery
            .items
            .iter()
            .map(|item| serde_json::from_value(item.clone()))
            .collect();
        let policy = &self.config.delivery;
        let started = std::time::Instant::now();
        let sent = match items {
            Err(e) => Err(SendError::Permanent {
                status: None,
                error: format!("unreadable stored item: {e}"),
            }),
            // The channel's own timeout applies too; this one also bounds
            // an SMTP session, so the lease always outlasts an attempt.
            Ok(items) => match tokio::time::timeout(
                policy.send_timeout,
                self.channels.send(&delivery.channel, delivery.id, &items),
            )
            .await
            {
                Ok(sent) => sent,
                Err(_) => Err(SendError::Retry {
                    status: None,
                    error: format!("no answer within {:?}", policy.send_timeout),
                    after: None,
                }),
            },
        };
        let now = Utc::now();
        let outcome = match sent {
            Ok(sent) => AttemptOutcome::Delivered {
                status: sent.status,
            },
            Err(SendError::Permanent { status, error }) => AttemptOutcome::Failed { status, error },
            Err(SendError::Retry { status, error, .. })
                if delivery.attempt >= policy.max_attempts =>
            {
                AttemptOutcome::Failed {
                    status,
                    error: format!("gave up after {} attempts: {error}", delivery.attempt),
                }
            }
            Err(SendError::Retry {
                status,
                error,
                after,
            }) => {
                let delay = self
                    .backoff(delivery.attempt)
                    .max(after.unwrap_or_default());
                AttemptOutcome::Retry {
                    status,
                    error,
                    not_before: now + chrono::Duration::from_std(delay).unwrap_or_default(),
                }
            }
        };
        let channel = dq_metrics::AlertLabels {
            channel: delivery.channel.clone(),
        };
        let families = self.metrics.families();
        match &outcome {
            AttemptOutcome::Delivered { .. } => families.alerts_sent.get_or_create(&channel).inc(),
            AttemptOutcome::Retry { .. } | AttemptOutcome::Failed { .. } => {
                families.alerts_failed.get_or_create(&channel).inc()
            }
        };
        log_attempt(delivery, &outcome, started.elapsed());
        self.store
            .settle_delivery(delivery, &self.name, &outcome, now)
            .await?;
        Ok(outcome)
    }

    /// Exponential with jitter, from `retry_min_delay` to `retry_max_delay`.
    fn backoff(&self, attempt: u32) -> Duration {
        let policy = &self.config.delivery;
        ExponentialBuilder::new()
            .with_min_delay(policy.retry_min_delay)
            .with_max_delay(policy.retry_max_delay.max(policy.retry_min_delay))
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(attempt.max(1) as usize - 1)
            .unwrap_or(policy.retry_max_delay)
    }

    /// Ticks every `poll_interval` until `shutdown` turns true. An attempt
    /// in flight is finished first (it is bounded by `send_timeout`).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(dispatcher = %self.name, channels = ?self.channels, "alert dispatcher started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            if let Err(e) = self.tick(Utc::now()).await {
                tracing::error!(error = %e, "alert dispatch failed; trying again");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.delivery.poll_interval) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        tracing::info!(dispatcher = %self.name, "alert dispatcher stopped");
    }

    /// Ticks until nothing is left to plan or send (batches and retries
    /// included), or `within` has passed; returns what is left.
    pub async fn drain(&self, within: Duration) -> Result<AlertBacklog, AlertError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            self.tick(Utc::now()).await?;
            let left = self.store.alert_backlog().await?;
            if left == AlertBacklog::default() || tokio::time::Instant::now() >= deadline {
                return Ok(left);
            }
            let pause = self
                .config
                .delivery
                .poll_interval
                .min(Duration::from_millis(200));
            tokio::time::sleep(pause).await;
        }
    }
}

/// The dispatcher's two stable log events, each emitted here only:
/// `alert sent` (info) and `alert failed` (warn; `will_retry` false once
/// the delivery is FAILED for good). Fields: delivery, channel, attempt,
/// rules (the rules of its items, comma-separated), items, duration_ms,
/// and for failures error, will_retry, retry_at.
fn log_attempt(delivery: &ClaimedDelivery, outcome: &AttemptOutcome, took: Duration) {
    let rules = delivery
        .items
        .iter()
        .filter_map(|item| item.get("rule").and_then(|rule| rule.as_str()))
        .collect::<Vec<_>>()
        .join(",");
    let duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    let (error, retry_at) = match outcome {
        AttemptOutcome::Delivered { .. } => {
            tracing::info!(
                delivery = delivery.id, channel = %delivery.channel, attempt = delivery.attempt,
                rules, items = delivery.items.len(), duration_ms, "alert sent"
            );
            return;
        }
        AttemptOutcome::Retry {
            error, not_before, ..
        } => (error, Some(not_before.to_rfc3339())),
        AttemptOutcome::Failed { error, .. } => (error, None),
    };
    tracing::warn!(
        delivery = delivery.id, channel = %delivery.channel, attempt = delivery.attempt,
        rules, items = delivery.items.len(), duration_ms, %error,
        will_retry = retry_at.is_some(), retry_at = retry_at.as_deref().unwrap_or_default(),
        "alert failed"
    );
}
