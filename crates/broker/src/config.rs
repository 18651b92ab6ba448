//! How to reach a broker and how its queues are named.

use std::time::Duration;

use dq_core::Queue;

use crate::error::BrokerError;

pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const DEFAULT_RECONNECT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// `memory://`, `redis://host:6379/0`, `amqp://guest:guest@host:5672/%2f`.
    pub url: String,
    /// Put in front of every key, queue and exchange name (tests use a unique
    /// one; two deployments can share one broker with different prefixes).
    pub prefix: String,
    /// How long a delivered, unacked message stays with its consumer before
    /// another consumer may take it (Redis, in-process). A running job keeps
    /// its claim with `Delivery::extend`. AMQP has no such timeout.
    pub visibility_timeout: Duration,
    /// Attempts per job, counting the first (`Envelope::max_attempts` of
    /// envelopes built with `Broker::envelope`).
    pub max_attempts: u32,
    /// How long one operation keeps reconnecting (exponential backoff with
    /// jitter) before it returns `BrokerError::Connect`.
    pub reconnect_timeout: Duration,
}

impl BrokerConfig {
    pub fn new(url: impl Into<String>) -> Self {
        BrokerConfig {
            url: url.into(),
            prefix: String::new(),
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            reconnect_timeout: DEFAULT_RECONNECT_TIMEOUT,
        }
    }

    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    pub fn with_visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout;
        self
    }

    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    pub fn with_reconnect_timeout(mut self, timeout: Duration) -> Self {
        self.reconnect_timeout = timeout;
        self
    }

    pub fn names(&self) -> QueueNames {
        QueueNames::new(self.prefix.clone())
    }

    /// Which backend the URL's scheme selects.
    pub fn backend(&self) -> Result<BackendKind, BrokerError> {
        let scheme = self
            .url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
            .ok_or_else(|| {
                // The URL itself is not shown: without a scheme we cannot tell
                // where a password would be.
                BrokerError::Config(
                    "the broker URL has no scheme (expected memory://, redis://host:6379/0 or amqp://user:pass@host:5672/%2f)".into(),
                )
            })?;
        match scheme.as_str() {
            "memory" => Ok(BackendKind::InProcess),
            "redis" | "redis+unix" | "unix" => Ok(BackendKind::Redis),
            "amqp" => Ok(BackendKind::Amqp),
            "rediss" | "amqps" => Err(BrokerError::Config(format!(
                "{scheme}:// (TLS) is not enabled in this build; use a TLS-terminating proxy or a plain URL on a private network"
            ))),
            other => Err(BrokerError::Config(format!(
                "unknown broker URL scheme {other:?} (expected memory, redis or amqp)"
            ))),
        }
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig::new("memory://")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    InProcess,
    Redis,
    Amqp,
}

/// Every name a backend gives a queue's parts, in one place so operators
/// can find them (`redis-cli`, the RabbitMQ management UI).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueNames {
    prefix: String,
}

impl QueueNames {
    pub fn new(prefix: impl Into<String>) -> Self {
        QueueNames {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The queue itself: `{prefix}dq_database` (a Redis stream, an AMQP queue).
    pub fn main(&self, queue: Queue) -> String {
        format!("{}{}", self.prefix, queue.as_str())
    }

    /// Redis: sorted set of delayed retries, scored by due time.
    pub fn redis_delayed(&self, queue: Queue) -> String {
        format!("{}:delayed", self.main(queue))
    }

    /// Redis: stream of dead letters.
    pub fn redis_dead(&self, queue: Queue) -> String {
        format!("{}:dead", self.main(queue))
    }

    /// AMQP: where delayed retries wait for their expiration.
    pub fn amqp_retry(&self, queue: Queue) -> String {
        format!("{}.retry", self.main(queue))
    }

    /// AMQP: where dead letters are kept.
    pub fn amqp_dead(&self, queue: Queue) -> String {
        format!("{}.dead", self.main(queue))
    }

    /// AMQP: the dead-letter exchange shared by all queues of this prefix.
    pub fn amqp_dead_letter_exchange(&self) -> String {
        format!("{}dq.dlx", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_select_backends() {
        for (url, expected) in [
            ("memory://", Some(BackendKind::InProcess)),
            ("redis://127.0.0.1:6379/0", Some(BackendKind::Redis)),
            ("REDIS://h", Some(BackendKind::Redis)),
            (
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                Some(BackendKind::Amqp),
            ),
            ("amqps://h", None),
            ("kafka://h", None),
            ("127.0.0.1:6379", None),
        ] {
            assert_eq!(BrokerConfig::new(url).backend().ok(), expected, "{url}");
        }
        let err = BrokerConfig::new("amqp:guest:secret@h")
            .backend()
            .unwrap_err();
        assert!(err.to_string().contains("no scheme"), "{err}");
    }

    #[test]
    fn names_carry_the_prefix() {
        let names = QueueNames::new("t_1_");
        assert_eq!(names.main(Queue::Database), "t_1_dq_database");
        assert_eq!(names.redis_delayed(Queue::Memory), "t_1_dq_memory:delayed");
        assert_eq!(names.redis_dead(Queue::Compute), "t_1_dq_compute:dead");
        assert_eq!(names.amqp_retry(Queue::Database), "t_1_dq_database.retry");
        assert_eq!(names.amqp_dead(Queue::Database), "t_1_dq_database.dead");
        assert_eq!(names.amqp_dead_letter_exchange(), "t_1_dq.dlx");
        assert_eq!(QueueNames::default().main(Queue::Database), "dq_database");
    }
}
