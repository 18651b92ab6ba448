//! The no-op target (`noop://`, optionally `noop://?latency_ms=10`): every
//! rule PASSES without touching any data, after waiting the configured
//! latency. It exists to measure and smoke-test the fleet itself (beat,
//! broker, worker, store) with the checks' own cost taken out, or replaced
//! by a fixed, known I/O wait; `dq bench fleet` runs on it.

use std::time::Duration;

use chrono::Utc;
use dq_core::{RunStatus, ScanPlan, Verdict};

use crate::error::TargetError;
use crate::execute::RuleOutcome;
use crate::stats::QueryStats;

const SCHEME: &str = "noop://";

/// Longest latency a no-op target may simulate; beyond it is a typo.
const MAX_LATENCY: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct NoopTarget {
    name: String,
    latency: Duration,
}

pub(crate) fn is_noop_url(url: &str) -> bool {
    url.starts_with(SCHEME)
}

pub(crate) fn connect(name: &str, url: &str) -> Result<NoopTarget, TargetError> {
    let invalid = |cause: String| TargetError::InvalidUrl {
        target: name.to_string(),
        url: url.to_string(),
        cause,
    };
    let rest = url.strip_prefix(SCHEME).unwrap_or_default();
    let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !host.trim_end_matches('/').is_empty() {
        return Err(invalid(format!(
            "a no-op target has no host (got {host:?}); write noop:// or noop://?latency_ms=N"
        )));
    }
    let mut latency = Duration::ZERO;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("latency_ms", value)) => {
                let millis: u64 = value.parse().map_err(|_| {
                    invalid(format!(
                        "latency_ms must be a whole number of milliseconds, got {value:?}"
                    ))
                })?;
                latency = Duration::from_millis(millis);
                if latency > MAX_LATENCY {
                    return Err(invalid(format!("latency_ms {millis} is over one hour")));
                }
            }
            _ => {
                return Err(invalid(format!(
                    "unknown parameter {pair:?} (the only one is latency_ms)"
                )))
            }
        }
    }
    Ok(NoopTarget {
        name: name.to_string(),
        latency,
    })
}

impl NoopTarget {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn latency(&self) -> Duration {
        self.latency
    }

    pub(crate) fn query_stats(&self) -> QueryStats {
        QueryStats::default()
    }

    /// One PASSED outcome per rule of the plan, after the latency: the
    /// wait stands for the one scan a real target makes per plan.
    pub(crate) async fn execute(&self, plan: &ScanPlan<'_>) -> Vec<RuleOutcome> {
        let started_at = Utc::now();
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let finished_at = Utc::now();
        plan.rules
            .iter()
            .map(|rule| RuleOutcome {
                rule: rule.name.clone(),
                verdict: Verdict {
                    status: RunStatus::Passed,
                    severity: None,
                    message: "no-op target: nothing checked".to_string(),
                    observed: None,
                    expected: String::new(),
                },
                observation: None,
                samples: Vec::new(),
                effective_sample_size: None,
                started_at,
                finished_at,
                retriable: false,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_latency_and_refuses_what_it_does_not_know() {
        assert_eq!(
            connect("n", "noop://").map(|t| t.latency()).ok(),
            Some(Duration::ZERO)
        );
        assert_eq!(
            connect("n", "noop://?latency_ms=10")
                .map(|t| t.latency())
                .ok(),
            Some(Duration::from_millis(10))
        );
        for bad in [
            "noop://host",
            "noop://?latency=3",
            "noop://?latency_ms=x",
            "noop://?latency_ms=99999999",
        ] {
            let err = connect("n", bad).expect_err(bad).to_string();
            assert!(err.contains("target n"), "{bad}: {err}");
        }
    }
}
