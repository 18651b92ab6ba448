//! What a worker exports to Prometheus (the families are declared in
//! dq-metrics): each stored run, each settled job, the jobs running now.
//! Runs are counted only once the store has finished them, so a
//! redelivered job that rewrites nothing counts nothing.

use dq_core::{Queue, Rule, RunStatus, Severity};
use dq_metrics::{FreshnessLabels, JobLabels, Metrics, QueueLabels, RuleLabels, RunLabels};
use dq_store::RunResult;

/// What the metrics need of a run's rule that its stored result lacks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleFacts {
    /// The rule's own severity (a run's is its verdict's, if any).
    pub(crate) severity: Severity,
    pub(crate) freshness: bool,
}

impl RuleFacts {
    pub(crate) fn of(rule: &Rule) -> Self {
        RuleFacts {
            severity: rule.severity,
            freshness: rule.check.kind() == "freshness",
        }
    }
}

/// How a delivery was settled.
#[derive(Debug, Clone, Copy)]
pub(crate) enum JobOutcome {
    Acked,
    Retried,
    DeadLettered,
    /// A redelivery of finished work, acked without running.
    Duplicate,
}

impl JobOutcome {
    fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Acked => "acked",
            JobOutcome::Retried => "retried",
            JobOutcome::DeadLettered => "dead_lettered",
            JobOutcome::Duplicate => "duplicate",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct WorkerMetrics {
    metrics: Metrics,
    queue: Queue,
}

impl WorkerMetrics {
    pub(crate) fn new(metrics: Metrics, queue: Queue) -> Self {
        let exported = WorkerMetrics { metrics, queue };
        // Exported from the start, at 0: an idle worker is not a missing one.
        let _ = exported
            .metrics
            .families()
            .worker_active_tasks
            .get_or_create(&exported.queue_labels());
        exported
    }

    fn queue_labels(&self) -> QueueLabels {
        QueueLabels {
            queue: self.queue.as_str().to_string(),
        }
    }

    pub(crate) fn job_settled(&self, outcome: JobOutcome) {
        let labels = JobLabels {
            queue: self.queue.as_str().to_string(),
            outcome: outcome.as_str().to_string(),
        };
        self.metrics.families().jobs.get_or_create(&labels).inc();
    }

    /// Counts a job as running until the guard is dropped.
    pub(crate) fn active_task(&self) -> ActiveTask {
        let gauge = self
            .metrics
            .families()
            .worker_active_tasks
            .get_or_create(&self.queue_labels())
            .clone();
        gauge.inc();
        ActiveTask { gauge }
    }

    /// A run the store has just finished.
    pub(crate) fn run_stored(&self, result: &RunResult, facts: RuleFacts) {
        let f = self.metrics.families();
        let run = &result.run;
        let rule = run.rule_name.to_string();
        f.runs
            .get_or_create(&RunLabels {
                rule: rule.clone(),
                queue: run.queue.as_str().to_string(),
                severity: facts.severity.as_str().to_string(),
                status: run.status.as_str().to_string(),
            })
            .inc();
        if let Some(ms) = run.duration_ms {
            f.check_duration
                .get_or_create(&QueueLabels {
                    queue: run.queue.as_str().to_string(),
                })
                .observe(ms as f64 / 1000.0);
        }
        if let Some(violation) = &result.violation {
            f.violations
                .get_or_create(&dq_metrics::SeverityLabels {
                    severity: violation.severity.as_str().to_string(),
                })
                .inc();
        }
        let judged = matches!(
            run.status,
            RunStatus::Passed | RunStatus::Warned | RunStatus::Failed
        );
        if matches!(run.status, RunStatus::Passed | RunStatus::Warned) {
            if let Some(finished) = run.finished_at {
                let at = finished.timestamp_millis() as f64 / 1000.0;
                f.rule_last_success
                    .get_or_create(&RuleLabels { rule: rule.clone() })
                    .set(at);
            }
        }
        if let (true, true, Some(age)) = (facts.freshness, judged, run.observed_value) {
            f.freshness_age
                .get_or_create(&FreshnessLabels {
                    rule,
                    target: run.target.clone(),
                    dataset: run.dataset.to_string(),
                })
                .set(age);
        }
    }
}

/// A job counted in `dq_worker_active_tasks` while it lives.
pub(crate) struct ActiveTask {
    gauge: dq_metrics::IntGauge,
}

impl Drop for ActiveTask {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}
