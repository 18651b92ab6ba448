//! What a process-pool parent and its child say to each other: one JSON
//! object per line over the child's stdin (requests) and stdout (answers).
//! Both ends are this crate, built together, so the format has no version;
//! it changes only with the binary.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dq_broker::Job;
use dq_core::{Observation, RuleName, RunId, Verdict};
use dq_targets::RuleOutcome;
use serde::{Deserialize, Serialize};

/// Run this job: its rules' targets are among `targets` (name -> URL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildRequest {
    pub targets: BTreeMap<String, String>,
    pub job: Job,
    pub sample_limit: usize,
    /// Caps every rule's timeout, in milliseconds (rule timeouts travel in
    /// whole seconds).
    #[serde(default)]
    pub soft_time_limit_ms: Option<u64>,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildAnswer {
    /// One per run, in job order.
    #[serde(default)]
    pub outcomes: Vec<WireOutcome>,
    /// The request could not be read: nothing ran.
    #[serde(default)]
    pub error: Option<String>,
    /// The child should be replaced after this answer (it ran out of
    /// memory and its heap may be fragmented).
    #[serde(default)]
    pub retire: bool,
}

/// A [`RuleOutcome`] with its run id, as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireOutcome {
    pub run_id: RunId,
    pub rule: RuleName,
    pub verdict: Verdict,
    pub observation: Option<Observation>,
    pub samples: Vec<serde_json::Value>,
    pub effective_sample_size: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub retriable: bool,
}

impl WireOutcome {
    pub fn new(run_id: RunId, outcome: RuleOutcome) -> Self {
        WireOutcome {
            run_id,
            rule: outcome.rule,
            verdict: outcome.verdict,
            observation: outcome.observation,
            samples: outcome.samples,
            effective_sample_size: outcome.effective_sample_size,
            started_at: outcome.started_at,
            finished_at: outcome.finished_at,
            retriable: outcome.retriable,
        }
    }

    pub fn into_outcome(self) -> (RunId, RuleOutcome) {
        let outcome = RuleOutcome {
            rule: self.rule,
            verdict: self.verdict,
            observation: self.observation,
            samples: self.samples,
            effective_sample_size: self.effective_sample_size,
            started_at: self.started_at,
            finished_at: self.finished_at,
            retriable: self.retriable,
        };
        (self.run_id, outcome)
    }
}
