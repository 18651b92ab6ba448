//! `GET /api/v1/dq/health/`: what the old runbook curled. Every part is
//! checked at once, each within a deadline, and a part that is down is
//! named: 200 when all are up, 503 otherwise.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use dq_core::Queue;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ApiState;

/// How long one part may take to answer before it counts as down.
const CHECK_DEADLINE: Duration = Duration::from_secs(3);
/// A worker counts as seen if it sent a heartbeat this recently.
pub const WORKER_SEEN_WITHIN: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `down` when any part is.
    pub status: String,
    /// The parts that are down: store, broker, beat, workers.
    pub down: Vec<String>,
    pub store: Part,
    pub broker: Part,
    pub beat: Part,
    pub workers: Part,
    /// Workers seen in the last 60 s, by queue.
    pub workers_by_queue: BTreeMap<String, u64>,
    /// The beat holding the leader lease.
    pub beat_leader: Option<String>,
    /// When the last run finished, whatever its status.
    pub last_run_at: Option<DateTime<Utc>>,
    pub version: String,
    pub checked_at: DateTime<Utc>,
}

/// One part of the system, as the health check saw it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Part {
    pub ok: bool,
    pub detail: String,
    pub latency_ms: u64,
}

#[utoipa::path(get, path = "/health/", tag = "health",
    responses((status = 200, description = "Every part is up", body = Health),
        (status = 503, description = "The parts in `down` are not", body = Health)))]
pub async fn health(State(state): State<ApiState>) -> (StatusCode, Json<Health>) {
    let now = Utc::now();
    let store = state.store.clone();
    let ((store_part, last_run_at), (broker, ()), (beat, beat_leader), (workers, workers_by_queue)) = tokio::join!(
        timed(async {
            match store.last_finished_at().await {
                Ok(last) => ((true, "reachable and migrated".to_string()), last),
                Err(e) => ((false, e.to_string()), None),
            }
        }),
        timed(broker_check(&state)),
        timed(beat_check(&state, now)),
        timed(workers_check(&state, now)),
    );
    let mut down = Vec::new();
    for (name, part) in [
        ("store", &store_part),
        ("broker", &broker),
        ("beat", &beat),
        ("workers", &workers),
    ] {
        if !part.ok {
            down.push(name.to_string());
        }
    }
    let code = if down.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let health = Health {
        status: if down.is_empty() { "ok" } else { "down" }.to_string(),
        down,
        store: store_part,
        broker,
        beat,
        workers,
        workers_by_queue,
        beat_leader,
        last_run_at,
        version: env!("CARGO_PKG_VERSION").to_string(),
        checked_at: now,
    };
    (code, Json(health))
}

async fn broker_check(state: &ApiState) -> ((bool, String), ()) {
    let Some(broker) = &state.broker else {
        return ((false, "no broker connection".to_string()), ());
    };
    let url = broker.config().url.clone();
    match broker.queue_stats(Queue::Database).await {
        Ok(_) => (
            (true, format!("reachable ({})", dq_core::redact_url(&url))),
            (),
        ),
        Err(e) => ((false, format!("{}: {e}", dq_core::redact_url(&url))), ()),
    }
}

async fn beat_check(state: &ApiState, now: DateTime<Utc>) -> ((bool, String), Option<String>) {
    match state.store.current_lease(&state.config.beat_lease).await {
        Ok(Some(lease)) if lease.is_held_at(now) => (
            (
                true,
                format!("{} leads (lease token {})", lease.owner, lease.token),
            ),
            Some(lease.owner),
        ),
        Ok(Some(lease)) => (
            (
                false,
                format!(
                    "no leader: {}'s lease expired at {}",
                    lease.owner, lease.expires_at
                ),
            ),
            None,
        ),
        Ok(None) => ((false, "no beat has ever run".to_string()), None),
        Err(e) => ((false, format!("cannot read the lease: {e}")), None),
    }
}

async fn workers_check(
    state: &ApiState,
    now: DateTime<Utc>,
) -> ((bool, String), BTreeMap<String, u64>) {
    let since = now - chrono::Duration::from_std(WORKER_SEEN_WITHIN).unwrap_or_default();
    match state.store.workers(since).await {
        Ok(workers) => {
            let mut by_queue: BTreeMap<String, u64> = Queue::ALL
                .iter()
                .map(|q| (q.as_str().to_string(), 0))
                .collect();
            for worker in &workers {
                *by_queue
                    .entry(worker.queue.as_str().to_string())
                    .or_default() += 1;
            }
            let ok = !workers.is_empty();
            let detail = if ok {
                format!("{} seen in the last 60 s", workers.len())
            } else {
                "no worker heartbeat in the last 60 s".to_string()
            };
            ((ok, detail), by_queue)
        }
        Err(e) => (
            (false, format!("cannot read heartbeats: {e}")),
            BTreeMap::new(),
        ),
    }
}

/// Runs one check within [`CHECK_DEADLINE`], measuring it.
async fn timed<T: Default>(check: impl Future<Output = ((bool, String), T)>) -> (Part, T) {
    let started = Instant::now();
    let ((ok, detail), extra) = match tokio::time::timeout(CHECK_DEADLINE, check).await {
        Ok(result) => result,
        Err(_) => (
            (
                false,
                format!("no answer within {}s", CHECK_DEADLINE.as_secs()),
            ),
            T::default(),
        ),
    };
    let part = Part {
        ok,
        detail,
        latency_ms: started.elapsed().as_millis() as u64,
    };
    (part, extra)
}
