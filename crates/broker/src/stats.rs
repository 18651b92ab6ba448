//! What the admin calls return: queue statistics, dead letters, and what a
//! retry did.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::envelope::Envelope;

/// A snapshot of one queue. Fields a backend cannot know are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Messages waiting to be delivered.
    pub depth: u64,
    /// Delivered and not yet acked. `None` on AMQP (only the management
    /// plugin knows it).
    pub in_flight: Option<u64>,
    /// Retries waiting for their delay.
    pub delayed: u64,
    /// Dead letters.
    pub dead: u64,
    /// Consumers attached (Redis: consumers seen within the visibility timeout).
    pub consumers: Option<u64>,
    /// How long the oldest waiting message has waited. `None` when the queue
    /// is empty or, on AMQP, always (reading it would disturb the queue).
    pub oldest_ready_age: Option<Duration>,
}

/// A message that will not be delivered again unless requeued.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub payload: DeadPayload,
    pub reason: String,
    pub died_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeadPayload {
    Envelope(Box<Envelope>),
    /// The body as text (lossy), when it is not an envelope this build reads.
    Raw(String),
}

impl DeadPayload {
    pub fn from_body(body: &[u8]) -> DeadPayload {
        match Envelope::decode(body) {
            Ok(envelope) => DeadPayload::Envelope(Box::new(envelope)),
            Err(_) => DeadPayload::Raw(String::from_utf8_lossy(body).into_owned()),
        }
    }

    pub fn envelope(&self) -> Option<&Envelope> {
        match self {
            DeadPayload::Envelope(envelope) => Some(envelope),
            DeadPayload::Raw(_) => None,
        }
    }
}

/// What `Delivery::retry` did with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    /// It will be delivered again after the delay, with `attempt + 1`.
    Scheduled,
    /// It was the last attempt: it went to the dead letters.
    DeadLettered,
}

/// The reason recorded when the last attempt asks for a retry.
pub fn gave_up_reason(envelope: &Envelope, reason: &str) -> String {
    format!(
        "gave up after attempt {} of {}: {reason}",
        envelope.attempt, envelope.max_attempts
    )
}

/// The reason recorded when a message keeps coming back unacked (its consumer
/// died or lost it each time, e.g. a job that crashes its worker).
pub fn redelivered_reason(attempt: u32, max_attempts: u32) -> String {
    format!(
        "delivered {attempt} times (max {max_attempts}) without being acked: its consumers died or timed out"
    )
}
