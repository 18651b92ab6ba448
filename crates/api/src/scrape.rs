//! `GET /metrics`: the process's own families, plus the fleet's state read
//! at scrape time (queues from the broker; heartbeats, open violations and
//! new acknowledgements from the store), so one API instance exports what
//! no single worker or beat can see.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use dq_core::{Queue, Severity};
use dq_metrics::{Metrics, QueueLabels, SeverityLabels};
use dq_store::ViolationFilter;

use crate::health::WORKER_SEEN_WITHIN;
use crate::ApiState;

/// How long the broker and the store may take per scrape.
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Acknowledgements are read again this far back, so one committed late
/// (its time set before its commit) is still counted, once.
const ACK_OVERLAP: chrono::Duration = chrono::Duration::seconds(120);

/// Which acknowledgements the histogram has counted.
#[derive(Debug)]
pub struct AckWatermark {
    /// Acknowledgements before this are not counted: an exporter's
    /// counters start at zero with the process.
    started: DateTime<Utc>,
    /// The last scrape.
    since: DateTime<Utc>,
    /// Counted recently, with their time: what the overlap would count twice.
    counted: HashMap<i64, DateTime<Utc>>,
}

impl AckWatermark {
    pub fn starting(start: DateTime<Utc>) -> Self {
        AckWatermark {
            started: start,
            since: start,
            counted: HashMap::new(),
        }
    }
}

#[utoipa::path(get, path = "/metrics", tag = "metrics",
    responses((status = 200, description = "Prometheus exposition: OpenMetrics when asked for, else text format 0.0.4", content_type = "text/plain")))]
pub async fn metrics(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    refresh_fleet(&state).await;
    exposition(&state.metrics, &headers)
}

/// `/metrics` of a process with no API (a worker, a beat): its families only.
pub async fn own_metrics(State(metrics): State<Metrics>, headers: HeaderMap) -> Response {
    exposition(&metrics, &headers)
}

fn exposition(metrics: &Metrics, headers: &HeaderMap) -> Response {
    let wants_openmetrics = headers
        .get(ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let (body, content_type) = if wants_openmetrics {
        (metrics.encode(), dq_metrics::OPENMETRICS_CONTENT_TYPE)
    } else {
        (metrics.encode_text(), dq_metrics::TEXT_CONTENT_TYPE)
    };
    match body {
        Ok(body) => ([(CONTENT_TYPE, content_type)], body).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics",
        )
            .into_response(),
    }
}

async fn refresh_fleet(state: &ApiState) {
    let now = Utc::now();
    let (queues, workers, open, acks) = tokio::join!(
        within(refresh_queues(state)),
        within(refresh_workers(state, now)),
        within(refresh_open_violations(state)),
        within(count_new_acknowledgements(state, now)),
    );
    for (what, result) in [
        ("queue statistics", queues),
        ("worker heartbeats", workers),
        ("open violations", open),
        ("acknowledgements", acks),
    ] {
        if let Err(e) = result {
            tracing::warn!(error = %e, "/metrics: cannot read the {what}; exporting the last values");
        }
    }
}

async fn within(read: impl std::future::Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(READ_DEADLINE, read)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}s", READ_DEADLINE.as_secs())))
}

async fn refresh_queues(state: &ApiState) -> Result<(), String> {
    let Some(broker) = &state.broker else {
        return Ok(());
    };
    let f = state.metrics.families();
    for queue in Queue::ALL {
        let stats = broker.queue_stats(queue).await.map_err(|e| e.to_string())?;
        let labels = QueueLabels {
            queue: queue.as_str().to_string(),
        };
        f.queue_depth.get_or_create(&labels).set(gauge(stats.depth));
        f.queue_delayed
            .get_or_create(&labels)
            .set(gauge(stats.delayed));
        f.queue_dead_letters
            .get_or_create(&labels)
            .set(gauge(stats.dead));
        match stats.in_flight {
            Some(n) => {
                f.queue_in_flight.get_or_create(&labels).set(gauge(n));
            }
            // Unknown is absent, not zero.
            None => {
                f.queue_in_flight.remove(&labels);
            }
        }
    }
    Ok(())
}

async fn refresh_workers(state: &ApiState, now: DateTime<Utc>) -> Result<(), String> {
    let since = now - chrono::Duration::from_std(WORKER_SEEN_WITHIN).unwrap_or_default();
    let workers = state
        .store
        .workers(since)
        .await
        .map_err(|e| e.to_string())?;
    let f = state.metrics.families();
    for queue in Queue::ALL {
        let seen = workers.iter().filter(|w| w.queue == queue).count();
        f.workers_seen
            .get_or_create(&QueueLabels {
                queue: queue.as_str().to_string(),
            })
            .set(seen as i64);
    }
    Ok(())
}

async fn refresh_open_violations(state: &ApiState) -> Result<(), String> {
    let counts = state
        .store
        .open_violation_counts()
        .await
        .map_err(|e| e.to_string())?;
    let f = state.metrics.families();
    for severity in Severity::ALL {
        let open = counts
            .iter()
            .find(|(s, _)| *s == severity)
            .map_or(0, |(_, n)| *n);
        f.open_violations
            .get_or_create(&SeverityLabels {
                severity: severity.as_str().to_string(),
            })
            .set(gauge(open));
    }
    Ok(())
}

/// Observes each acknowledgement made since the last scrape, whoever made
/// it (`dq ack`, this API, another API), exactly once per process.
async fn count_new_acknowledgements(state: &ApiState, now: DateTime<Utc>) -> Result<(), String> {
    let mut watermark = state.acks.lock().await;
    let filter = ViolationFilter {
        acknowledged_since: Some(watermark.since - ACK_OVERLAP),
        ..ViolationFilter::default()
    };
    let acknowledged = state
        .store
        .violations(&filter)
        .await
        .map_err(|e| e.to_string())?;
    let f = state.metrics.families();
    for violation in acknowledged {
        let (Some(at), Some(delay_ms)) = (violation.acknowledged_at, violation.ack_delay_ms) else {
            continue;
        };
        if at < watermark.started || watermark.counted.contains_key(&violation.id) {
            continue;
        }
        f.violation_ack
            .get_or_create(&SeverityLabels {
                severity: violation.severity.as_str().to_string(),
            })
            .observe(delay_ms as f64 / 1000.0);
        watermark.counted.insert(violation.id, at);
    }
    // The next scrape reads from `now - ACK_OVERLAP` on; older ids cannot recur.
    let horizon = now - ACK_OVERLAP - ACK_OVERLAP;
    watermark.counted.retain(|_, at| *at >= horizon);
    watermark.since = now;
    Ok(())
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
