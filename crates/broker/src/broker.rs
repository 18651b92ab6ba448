//! The facade: one `Broker`, `Consumer` and `Delivery` type whatever the
//! backend, so services are written once. Each backend is a variant behind
//! its Cargo feature; a build without a feature has neither the variant nor
//! the client library.

use std::fmt;
use std::time::Duration;

use dq_core::Queue;

use crate::config::{BackendKind, BrokerConfig};
use crate::envelope::{Envelope, Job};
use crate::error::BrokerError;
use crate::inprocess::{InProcessBroker, InProcessConsumer, InProcessDelivery};
use crate::stats::{DeadLetter, QueueStats, RetryOutcome};

#[cfg(feature = "amqp")]
use crate::amqp::{AmqpBroker, AmqpConsumer, AmqpDelivery};
#[cfg(feature = "redis")]
use crate::redis_streams::{RedisBroker, RedisConsumer, RedisDelivery};

/// Runs the same expression on whichever backend a facade value holds.
macro_rules! dispatch {
    ($kind:ident, $value:expr, $inner:ident => $body:expr) => {
        match $value {
            $kind::InProcess($inner) => $body,
            #[cfg(feature = "redis")]
            $kind::Redis($inner) => $body,
            #[cfg(feature = "amqp")]
            $kind::Amqp($inner) => $body,
        }
    };
}

/// A handle on a broker; clones share connections and state.
#[derive(Clone)]
pub enum Broker {
    InProcess(InProcessBroker),
    #[cfg(feature = "redis")]
    Redis(RedisBroker),
    #[cfg(feature = "amqp")]
    Amqp(AmqpBroker),
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("backend", &self.kind_name())
            .finish()
    }
}

impl Broker {
    /// Connects (and declares the queues) for the backend the URL selects.
    /// `memory://` makes a new, private in-process broker: share it by cloning.
    pub async fn connect(config: &BrokerConfig) -> Result<Broker, BrokerError> {
        match config.backend()? {
            BackendKind::InProcess => Ok(Broker::InProcess(InProcessBroker::new(config))),
            #[cfg(feature = "redis")]
            BackendKind::Redis => Ok(Broker::Redis(RedisBroker::connect(config).await?)),
            #[cfg(feature = "amqp")]
            BackendKind::Amqp => Ok(Broker::Amqp(AmqpBroker::connect(config).await?)),
            #[allow(unreachable_patterns)]
            other => Err(BrokerError::Config(format!(
                "the {other:?} backend is not in this build (enable the dq-broker feature for it)"
            ))),
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Broker::InProcess(_) => "in-process",
            #[cfg(feature = "redis")]
            Broker::Redis(_) => "redis",
            #[cfg(feature = "amqp")]
            Broker::Amqp(_) => "amqp",
        }
    }

    pub fn config(&self) -> &BrokerConfig {
        dispatch!(Broker, self, b => b.config())
    }

    /// A first-attempt envelope for `job`, with this broker's `max_attempts`.
    pub fn envelope(&self, queue: Queue, job: Job) -> Envelope {
        Envelope::new(queue, job, self.config().max_attempts)
    }

    /// Durable when it returns `Ok` (Redis: written to the server, whose
    /// persistence settings decide the rest; AMQP: confirmed by the broker).
    /// A publish that could not be confirmed is an error, never dropped.
    pub async fn publish(&self, envelope: &Envelope) -> Result<(), BrokerError> {
        dispatch!(Broker, self, b => b.publish(envelope).await)
    }

    /// `consumer_name` identifies the consumer to the broker (Redis consumer
    /// name, AMQP consumer tag); `prefetch` is how many messages it may hold
    /// unacked (use the worker's concurrency).
    pub async fn consumer(
        &self,
        queue: Queue,
        consumer_name: &str,
        prefetch: usize,
    ) -> Result<Consumer, BrokerError> {
        Ok(match self {
            // One message at a time is all an in-process consumer ever holds
            // before the caller asks again; there is no network to amortise.
            Broker::InProcess(b) => {
                let _ = prefetch;
                Consumer::InProcess(b.consumer(queue, consumer_name))
            }
            #[cfg(feature = "redis")]
            Broker::Redis(b) => Consumer::Redis(Box::new(
                b.consumer(queue, consumer_name, prefetch.max(1)).await?,
            )),
            #[cfg(feature = "amqp")]
            Broker::Amqp(b) => Consumer::Amqp(Box::new(
                b.consumer(queue, consumer_name, prefetch.max(1)).await?,
            )),
        })
    }

    pub async fn queue_stats(&self, queue: Queue) -> Result<QueueStats, BrokerError> {
        match self {
            Broker::InProcess(b) => Ok(b.queue_stats(queue)),
            #[cfg(feature = "redis")]
            Broker::Redis(b) => b.queue_stats(queue).await,
            #[cfg(feature = "amqp")]
            Broker::Amqp(b) => b.queue_stats(queue).await,
        }
    }

    /// The oldest dead letters first, at most `limit`.
    pub async fn dead_letters(
        &self,
        queue: Queue,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BrokerError> {
        match self {
            Broker::InProcess(b) => Ok(b.dead_letters(queue, limit)),
            #[cfg(feature = "redis")]
            Broker::Redis(b) => b.dead_letters(queue, limit).await,
            #[cfg(feature = "amqp")]
            Broker::Amqp(b) => b.dead_letters(queue, limit).await,
        }
    }

    /// Replays dead letters (all, or the oldest `limit`) as first attempts.
    /// Bodies that are not readable envelopes stay dead. Returns how many
    /// were replayed.
    pub async fn requeue_dead(
        &self,
        queue: Queue,
        limit: Option<usize>,
    ) -> Result<usize, BrokerError> {
        match self {
            Broker::InProcess(b) => b.requeue_dead(queue, limit),
            #[cfg(feature = "redis")]
            Broker::Redis(b) => b.requeue_dead(queue, limit).await,
            #[cfg(feature = "amqp")]
            Broker::Amqp(b) => b.requeue_dead(queue, limit).await,
        }
    }

    /// Drops the waiting, delayed and dead messages of a queue (in-flight
    /// ones stay with their consumers). Returns how many were dropped.
    pub async fn purge(&self, queue: Queue) -> Result<u64, BrokerError> {
        match self {
            Broker::InProcess(b) => Ok(b.purge(queue)),
            #[cfg(feature = "redis")]
            Broker::Redis(b) => b.purge(queue).await,
            #[cfg(feature = "amqp")]
            Broker::Amqp(b) => b.purge(queue).await,
        }
    }

    /// Deletes every key, queue and exchange under this prefix, messages
    /// included. For tests and for decommissioning a prefix.
    pub async fn teardown(&self) -> Result<(), BrokerError> {
        match self {
            Broker::InProcess(b) => {
                b.teardown();
                Ok(())
            }
            #[cfg(feature = "redis")]
            Broker::Redis(b) => b.teardown().await,
            #[cfg(feature = "amqp")]
            Broker::Amqp(b) => b.teardown().await,
        }
    }
}

/// Takes messages from one queue.
pub enum Consumer {
    InProcess(InProcessConsumer),
    // Boxed: a network consumer carries its connection state and buffer.
    #[cfg(feature = "redis")]
    Redis(Box<RedisConsumer>),
    #[cfg(feature = "amqp")]
    Amqp(Box<AmqpConsumer>),
}

impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Consumer")
    }
}

impl Consumer {
    /// Waits for the next message. Unreadable bodies and messages
    /// redelivered past their attempts are dead-lettered on the way, never
    /// returned; expired claims of dead consumers are taken over (Redis,
    /// in-process). Connection errors are retried with backoff up to the
    /// reconnect timeout. Cancelling it loses nothing: a message read but
    /// not returned is redelivered after the visibility timeout.
    pub async fn next(&mut self) -> Result<Delivery, BrokerError> {
        Ok(match self {
            Consumer::InProcess(c) => Delivery::InProcess(c.next().await?),
            #[cfg(feature = "redis")]
            Consumer::Redis(c) => Delivery::Redis(c.next().await?),
            #[cfg(feature = "amqp")]
            Consumer::Amqp(c) => Delivery::Amqp(c.next().await?),
        })
    }
}

/// One message held by a consumer until it is settled (ack, retry, dead
/// letter). Dropping it unsettled gives it back: after the visibility
/// timeout (Redis, in-process), at once (AMQP).
pub enum Delivery {
    InProcess(InProcessDelivery),
    #[cfg(feature = "redis")]
    Redis(RedisDelivery),
    #[cfg(feature = "amqp")]
    Amqp(AmqpDelivery),
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("envelope", self.envelope())
            .finish()
    }
}

impl Delivery {
    /// The job, with `attempt` counting this delivery (redeliveries included).
    pub fn envelope(&self) -> &Envelope {
        dispatch!(Delivery, self, d => d.envelope())
    }

    /// Done: the message will not be delivered again.
    pub async fn ack(self) -> Result<(), BrokerError> {
        dispatch!(Delivery, self, d => d.ack().await)
    }

    /// Delivers the job again after `delay` with `attempt + 1`; on the last
    /// attempt it goes to the dead letters with `reason` instead.
    pub async fn retry(self, delay: Duration, reason: &str) -> Result<RetryOutcome, BrokerError> {
        dispatch!(Delivery, self, d => d.retry(delay, reason).await)
    }

    /// Straight to the dead letters (a poison job that no retry can fix).
    pub async fn dead_letter(self, reason: &str) -> Result<(), BrokerError> {
        dispatch!(Delivery, self, d => d.dead_letter(reason).await)
    }

    /// Keeps the claim alive: call it periodically (well within the
    /// visibility timeout) while the job runs. `BrokerError::Lost` means
    /// another consumer has taken the job over. A no-op on AMQP.
    pub async fn extend(&self) -> Result<(), BrokerError> {
        dispatch!(Delivery, self, d => d.extend().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing listens on port 1: a built backend reports a retriable
    /// connection error; a backend left out of the build says so.
    #[tokio::test]
    async fn unreachable_or_missing_backends_are_reported() {
        for (url, built) in [
            ("redis://127.0.0.1:1/0", cfg!(feature = "redis")),
            ("amqp://guest:guest@127.0.0.1:1/%2f", cfg!(feature = "amqp")),
        ] {
            let config = BrokerConfig::new(url).with_reconnect_timeout(Duration::ZERO);
            let err = Broker::connect(&config).await.unwrap_err();
            if built {
                assert!(err.is_retriable(), "{url}: {err}");
                assert!(
                    !err.to_string().contains(":guest@"),
                    "password shown: {err}"
                );
            } else {
                assert!(matches!(err, BrokerError::Config(_)), "{url}: {err}");
                assert!(err.to_string().contains("not in this build"), "{err}");
            }
        }
        let memory = Broker::connect(&BrokerConfig::default()).await.unwrap();
        assert!(matches!(memory, Broker::InProcess(_)));
    }
}
