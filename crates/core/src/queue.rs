//! Workload classes. Each queue is served by workers with the concurrency
//! model that fits it (see DESIGN.md, "Queues and pools").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Queue {
    /// Checks pushed down to the target database; served by async workers.
    #[serde(rename = "dq_database")]
    Database,
    /// Checks computed in the worker (CPU bound); served by a thread pool.
    #[serde(rename = "dq_compute")]
    Compute,
    /// Checks that pull data into the worker; served by child processes.
    #[serde(rename = "dq_memory")]
    Memory,
}

impl Queue {
    pub const ALL: [Queue; 3] = [Queue::Database, Queue::Compute, Queue::Memory];

    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Database => "dq_database",
            Queue::Compute => "dq_compute",
            Queue::Memory => "dq_memory",
        }
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown queue {0:?} (expected one of dq_database, dq_compute, dq_memory)")]
pub struct UnknownQueue(pub String);

impl FromStr for Queue {
    type Err = UnknownQueue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Queue::ALL
            .into_iter()
            .find(|q| q.as_str() == s.trim())
            .ok_or_else(|| UnknownQueue(s.to_string()))
    }
}
