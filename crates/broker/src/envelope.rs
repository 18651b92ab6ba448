//! What travels on a queue: a versioned JSON envelope around one job.
//!
//! The field names are a wire contract between beats and workers of
//! different builds: rename nothing, add only optional fields, and bump
//! `ENVELOPE_VERSION` for anything else. A consumer refuses versions it does
//! not know (the message is dead-lettered with the reason) rather than
//! misreading them.

use chrono::{DateTime, Utc};
use dq_core::{Dataset, Queue, Rule, RunId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::BrokerError;

pub const ENVELOPE_VERSION: u32 = 1;

/// Namespace for UUIDv5 job ids (a fixed random UUID, never to change).
const JOB_NAMESPACE: Uuid = Uuid::from_u128(0x2b9e_61c4_0d7a_4f3e_8a15_c6d2_93f0_7e41);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub version: u32,
    /// The job id: deterministic, set by the publisher (`Job::job_id`).
    pub id: String,
    pub queue: Queue,
    /// 1-based: the first delivery is attempt 1.
    pub attempt: u32,
    pub max_attempts: u32,
    pub published_at: DateTime<Utc>,
    pub job: Job,
}

/// One job = the rules due at one tick on one (target, dataset, queue): the
/// worker scans the dataset once for all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub target: String,
    pub dataset: Dataset,
    pub scheduled_for: DateTime<Utc>,
    pub runs: Vec<JobRun>,
}

/// One rule's run inside a job. The rule definition travels with the job, so
/// a worker runs exactly what the beat scheduled even if the rule changes
/// in the store meanwhile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    pub run_id: RunId,
    pub rule: Rule,
}

impl Job {
    /// Deterministic from target, dataset, queue, scheduled time and run ids
    /// (in any order): a second beat or a republish yields the same id.
    pub fn job_id(&self, queue: Queue) -> String {
        let mut runs: Vec<String> = self.runs.iter().map(|r| r.run_id.to_string()).collect();
        runs.sort();
        let key = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.target,
            self.dataset,
            queue.as_str(),
            self.scheduled_for.timestamp_nanos_opt().unwrap_or(i64::MAX),
            runs.join(",")
        );
        Uuid::new_v5(&JOB_NAMESPACE, key.as_bytes())
            .hyphenated()
            .to_string()
    }
}

impl Envelope {
    /// A first attempt of `job` on `queue`, published now.
    pub fn new(queue: Queue, job: Job, max_attempts: u32) -> Self {
        Envelope {
            version: ENVELOPE_VERSION,
            id: job.job_id(queue),
            queue,
            attempt: 1,
            max_attempts: max_attempts.max(1),
            published_at: Utc::now(),
            job,
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, BrokerError> {
        serde_json::to_vec(self).map_err(|e| BrokerError::Encode {
            id: self.id.clone(),
            message: e.to_string(),
        })
    }

    /// Reads a body from a queue. The error is the reason the message is
    /// refused, written for the dead-letter listing.
    pub fn decode(body: &[u8]) -> Result<Envelope, String> {
        #[derive(Deserialize)]
        struct Probe {
            version: u32,
        }
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| format!("not JSON ({e}): {}", preview(body)))?;
        let probe: Probe =
            serde_json::from_value(value.clone()).map_err(|e| format!("not an envelope ({e})"))?;
        if probe.version != ENVELOPE_VERSION {
            return Err(format!(
                "unsupported envelope version {} (this build reads version {ENVELOPE_VERSION})",
                probe.version
            ));
        }
        serde_json::from_value(value).map_err(|e| format!("invalid version-1 envelope: {e}"))
    }

    /// The same job for its next attempt.
    pub fn next_attempt(&self) -> Envelope {
        Envelope {
            attempt: self.attempt.saturating_add(1),
            ..self.clone()
        }
    }

    /// A dead letter's envelope as replayed: a fresh first attempt.
    pub fn replayed(&self) -> Envelope {
        Envelope {
            attempt: 1,
            published_at: Utc::now(),
            ..self.clone()
        }
    }

    /// Whether this attempt is the last one allowed.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts.max(1)
    }
}

/// The start of a body, lossily as text, for error messages.
pub fn preview(body: &[u8]) -> String {
    const MAX: usize = 80;
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dq_core::manifest::{load_manifests, ManifestFile};

    fn rules() -> Vec<Rule> {
        let text = "version: 1\ndefaults:\n  target: warehouse\nrules:\n  - name: orders_not_empty\n    dataset: public.orders\n    check: row_count\n    min: 1\n  - name: orders_ids\n    dataset: public.orders\n    check: null_count\n    column: id\n    max: 0\n";
        load_manifests(
            &[ManifestFile {
                path: "t.yaml",
                text,
            }],
            &|t| t == "warehouse",
        )
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn job(at: DateTime<Utc>) -> Job {
        Job {
            target: "warehouse".into(),
            dataset: Dataset::parse("public.orders").unwrap(),
            scheduled_for: at,
            runs: rules()
                .into_iter()
                .map(|rule| JobRun {
                    run_id: RunId::for_tick(&rule.name, at),
                    rule,
                })
                .collect(),
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn field_names_are_stable_and_the_envelope_round_trips() {
        let envelope = Envelope::new(Queue::Database, job(at(0)), 3);
        let json: serde_json::Value = serde_json::from_slice(&envelope.encode().unwrap()).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "version",
                "id",
                "queue",
                "attempt",
                "max_attempts",
                "published_at",
                "job"
            ]
        );
        let job_keys: Vec<&str> = json["job"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(job_keys, ["target", "dataset", "scheduled_for", "runs"]);
        let run = json["job"]["runs"][0].as_object().unwrap();
        assert_eq!(
            run.keys().map(String::as_str).collect::<Vec<_>>(),
            ["run_id", "rule"]
        );
        assert_eq!(json["version"], 1);
        assert_eq!(json["queue"], "dq_database");
        assert_eq!(json["job"]["dataset"], "public.orders");
        assert_eq!(json["attempt"], 1);
        let back = Envelope::decode(&envelope.encode().unwrap()).unwrap();
        assert_eq!(back, envelope);
    }

    #[test]
    fn refused_bodies_say_why() {
        let good = serde_json::to_value(Envelope::new(Queue::Compute, job(at(0)), 3)).unwrap();
        let mut future = good.clone();
        future["version"] = 2.into();
        let mut broken = good.clone();
        broken["job"]["runs"] = "nope".into();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"garbage \xff".to_vec(), "not JSON"),
            (b"{\"hello\": 1}".to_vec(), "not an envelope"),
            (
                serde_json::to_vec(&future).unwrap(),
                "unsupported envelope version 2",
            ),
            (
                serde_json::to_vec(&broken).unwrap(),
                "invalid version-1 envelope",
            ),
        ];
        for (body, expected) in cases {
            let reason = Envelope::decode(&body).unwrap_err();
            assert!(
                reason.contains(expected),
                "{reason:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn job_ids_are_deterministic() {
        let base = job(at(0));
        let id = base.job_id(Queue::Database);
        assert_eq!(id, job(at(0)).job_id(Queue::Database));
        let mut reversed = base.clone();
        reversed.runs.reverse();
        assert_eq!(
            reversed.job_id(Queue::Database),
            id,
            "run order does not matter"
        );
        let mut other_target = base.clone();
        other_target.target = "lake".into();
        let mut fewer_runs = base.clone();
        fewer_runs.runs.pop();
        for (what, other) in [
            ("queue", base.job_id(Queue::Memory)),
            ("tick", job(at(60)).job_id(Queue::Database)),
            ("target", other_target.job_id(Queue::Database)),
            ("runs", fewer_runs.job_id(Queue::Database)),
        ] {
            assert_ne!(other, id, "a different {what} gives a different id");
        }
        assert_eq!(Envelope::new(Queue::Database, base, 3).id, id);
    }

    #[test]
    fn attempts_count_up_to_the_limit() {
        let first = Envelope::new(Queue::Database, job(at(0)), 2);
        assert!(!first.is_last_attempt());
        let second = first.next_attempt();
        assert_eq!(second.attempt, 2);
        assert!(second.is_last_attempt());
        assert_eq!(
            Envelope::new(Queue::Database, job(at(0)), 0).max_attempts,
            1
        );
    }
}
