//! Every metric dq exports. A family is added here and nowhere else; its
//! name, type, unit and help text are what `/metrics` shows.
//!
//! | family | type | labels | recorded by |
//! |---|---|---|---|
//! | `dq_runs_total` | counter | rule, queue, severity, status | worker, when a run is stored |
//! | `dq_check_duration_seconds` | histogram | queue | worker |
//! | `dq_violations_total` | counter | severity | worker |
//! | `dq_rule_last_success_timestamp_seconds` | gauge | rule | worker (PASSED or WARNED) |
//! | `dq_freshness_age_seconds` | gauge | rule, target, dataset | worker (freshness rules) |
//! | `dq_worker_active_tasks` | gauge | queue | worker |
//! | `dq_jobs_total` | counter | queue, outcome | worker |
//! | `dq_beat_is_leader` | gauge | | beat |
//! | `dq_beat_lag_seconds` | gauge | | beat: due -> enqueued, last job |
//! | `dq_beat_runs_enqueued_total` | counter | | beat |
//! | `dq_beat_ticks_dropped_total` | counter | | beat |
//! | `dq_alerts_sent_total` | counter | channel | alert dispatcher |
//! | `dq_alerts_failed_total` | counter | channel | alert dispatcher (failed attempts) |
//! | `dq_queue_depth` | gauge | queue | API, at scrape |
//! | `dq_queue_in_flight` | gauge | queue | API, at scrape (not on AMQP) |
//! | `dq_queue_delayed` | gauge | queue | API, at scrape |
//! | `dq_queue_dead_letters` | gauge | queue | API, at scrape |
//! | `dq_workers_seen` | gauge | queue | API, at scrape (heartbeat within 60 s) |
//! | `dq_open_violations` | gauge | severity | API, at scrape |
//! | `dq_violation_ack_seconds` | histogram | severity | API: each acknowledgement, once |

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

use crate::labels::{
    AlertLabels, FreshnessLabels, JobLabels, QueueLabels, RuleLabels, RunLabels, SeverityLabels,
};

/// A gauge holding seconds or a timestamp.
pub type FloatGauge = Gauge<f64, AtomicU64>;
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// From a no-op check (milliseconds) to the longest scans (minutes).
pub const CHECK_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Alert response times: the runbook's target is 15 minutes (900 s).
pub const ACK_SECONDS_BUCKETS: [f64; 10] = [
    60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0,
];

fn check_duration_histogram() -> Histogram {
    Histogram::new(CHECK_DURATION_BUCKETS)
}

fn ack_seconds_histogram() -> Histogram {
    Histogram::new(ACK_SECONDS_BUCKETS)
}

/// The runbook's KPIs as PromQL over these families: (name, expression,
/// target). `deploy/prometheus` records and alerts on the same expressions,
/// and `dq report kpis` computes the same quantities from the store.
pub const KPIS: [(&str, &str, &str); 5] = [
    (
        "check_success_rate",
        r#"sum(increase(dq_runs_total{status="PASSED"}[7d])) / sum(increase(dq_runs_total[7d]))"#,
        "> 0.95",
    ),
    (
        "average_check_duration_seconds",
        "sum(increase(dq_check_duration_seconds_sum[7d])) / sum(increase(dq_check_duration_seconds_count[7d]))",
        "< 30",
    ),
    (
        "alert_response_time_seconds",
        "sum(increase(dq_violation_ack_seconds_sum[7d])) / sum(increase(dq_violation_ack_seconds_count[7d]))",
        "< 900",
    ),
    (
        "critical_rule_pass_rate",
        r#"sum(increase(dq_runs_total{severity="CRITICAL",status="PASSED"}[7d])) / sum(increase(dq_runs_total{severity="CRITICAL"}[7d]))"#,
        "== 1",
    ),
    (
        "data_freshness_seconds",
        "max(dq_freshness_age_seconds)",
        "< 7200",
    ),
];

/// Every family; each field's doc is its help text.
pub struct Families {
    pub runs: Family<RunLabels, Counter>,
    pub check_duration: HistogramFamily<QueueLabels>,
    pub violations: Family<SeverityLabels, Counter>,
    pub rule_last_success: Family<RuleLabels, FloatGauge>,
    pub freshness_age: Family<FreshnessLabels, FloatGauge>,
    pub worker_active_tasks: Family<QueueLabels, Gauge>,
    pub jobs: Family<JobLabels, Counter>,
    pub beat_is_leader: Gauge,
    pub beat_lag: FloatGauge,
    pub beat_runs_enqueued: Counter,
    pub beat_ticks_dropped: Counter,
    pub alerts_sent: Family<AlertLabels, Counter>,
    pub alerts_failed: Family<AlertLabels, Counter>,
    pub queue_depth: Family<QueueLabels, Gauge>,
    pub queue_in_flight: Family<QueueLabels, Gauge>,
    pub queue_delayed: Family<QueueLabels, Gauge>,
    pub queue_dead_letters: Family<QueueLabels, Gauge>,
    pub workers_seen: Family<QueueLabels, Gauge>,
    pub open_violations: Family<SeverityLabels, Gauge>,
    pub violation_ack: HistogramFamily<SeverityLabels>,
}

impl Default for Families {
    fn default() -> Self {
        Families {
            runs: Family::default(),
            check_duration: Family::new_with_constructor(check_duration_histogram),
            violations: Family::default(),
            rule_last_success: Family::default(),
            freshness_age: Family::default(),
            worker_active_tasks: Family::default(),
            jobs: Family::default(),
            beat_is_leader: Gauge::default(),
            beat_lag: FloatGauge::default(),
            beat_runs_enqueued: Counter::default(),
            beat_ticks_dropped: Counter::default(),
            alerts_sent: Family::default(),
            alerts_failed: Family::default(),
            queue_depth: Family::default(),
            queue_in_flight: Family::default(),
            queue_delayed: Family::default(),
            queue_dead_letters: Family::default(),
            workers_seen: Family::default(),
            open_violations: Family::default(),
            violation_ack: Family::new_with_constructor(ack_seconds_histogram),
        }
    }
}

impl Families {
    pub(crate) fn register(&self, r: &mut Registry) {
        let s = Unit::Seconds;
        r.register(
            "dq_runs",
            "Runs finished and stored by this process, by rule, queue, the rule's severity and status",
            self.runs.clone(),
        );
        r.register_with_unit(
            "dq_check_duration",
            "Time a check took, start to finish, by queue",
            s.clone(),
            self.check_duration.clone(),
        );
        r.register(
            "dq_violations",
            "Violations raised (FAILED or WARNED runs), by the violation's severity",
            self.violations.clone(),
        );
        r.register_with_unit(
            "dq_rule_last_success_timestamp",
            "Unix time of the rule's last PASSED or WARNED run stored by this process",
            s.clone(),
            self.rule_last_success.clone(),
        );
        r.register_with_unit(
            "dq_freshness_age",
            "Age of the newest row a freshness rule saw at its last run",
            s.clone(),
            self.freshness_age.clone(),
        );
        r.register(
            "dq_worker_active_tasks",
            "Jobs a worker is running now, by queue",
            self.worker_active_tasks.clone(),
        );
        r.register(
            "dq_jobs",
            "Deliveries a worker settled, by queue and outcome (acked, retried, dead_lettered, duplicate)",
            self.jobs.clone(),
        );
        r.register(
            "dq_beat_is_leader",
            "1 while this beat holds the leader lease",
            self.beat_is_leader.clone(),
        );
        r.register_with_unit(
            "dq_beat_lag",
            "Scheduling lag of the last job this beat published: due time to enqueued",
            s.clone(),
            self.beat_lag.clone(),
        );
        r.register(
            "dq_beat_runs_enqueued",
            "Runs this beat inserted and published",
            self.beat_runs_enqueued.clone(),
        );
        r.register(
            "dq_beat_ticks_dropped",
            "Missed ticks dropped after an outage (older than the catch-up window)",
            self.beat_ticks_dropped.clone(),
        );
        r.register(
            "dq_alerts_sent",
            "Alert deliveries a channel accepted",
            self.alerts_sent.clone(),
        );
        r.register(
            "dq_alerts_failed",
            "Alert delivery attempts that failed (retried or given up)",
            self.alerts_failed.clone(),
        );
        r.register(
            "dq_queue_depth",
            "Jobs waiting in the queue",
            self.queue_depth.clone(),
        );
        r.register(
            "dq_queue_in_flight",
            "Jobs delivered and not yet acked (absent on AMQP)",
            self.queue_in_flight.clone(),
        );
        r.register(
            "dq_queue_delayed",
            "Retries waiting for their backoff",
            self.queue_delayed.clone(),
        );
        r.register(
            "dq_queue_dead_letters",
            "Jobs in the queue's dead letters",
            self.queue_dead_letters.clone(),
        );
        r.register(
            "dq_workers_seen",
            "Workers with a heartbeat in the last 60 seconds, by queue",
            self.workers_seen.clone(),
        );
        r.register(
            "dq_open_violations",
            "Violations neither acknowledged nor resolved, by severity",
            self.open_violations.clone(),
        );
        r.register_with_unit(
            "dq_violation_ack",
            "Alert response time: violation detected to acknowledged, by severity",
            s,
            self.violation_ack.clone(),
        );
    }
}
