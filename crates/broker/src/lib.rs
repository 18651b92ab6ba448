//! dq-broker: the queues between the beat (publisher) and the workers
//! (consumers), with at-least-once delivery.
//!
//! One facade (`Broker`, `Consumer`, `Delivery`) over three backends, each
//! behind a Cargo feature so a build carries only the clients it uses:
//!
//! - in-process (always built): the embedded default, `memory://`;
//! - `redis`: Redis Streams with a consumer group, `redis://host:6379/0`;
//! - `amqp`: RabbitMQ through lapin, `amqp://user:pass@host:5672/%2f`.
//!
//! All three give the same semantics: a message is acked only after the job
//! is done; `retry` redelivers it after a delay with `attempt + 1` and dead-
//! letters it after `max_attempts`; a body that is not a readable envelope is
//! dead-lettered with the reason, never dropped and never fatal to the
//! consumer; a message whose consumer dies is delivered again, with its
//! attempt counted. Publishing and consuming reconnect with exponential
//! backoff and jitter after a broker restart. See README.md for the names
//! each backend uses and the broker settings the guarantees depend on.

mod broker;
mod config;
mod envelope;
mod error;
mod inprocess;
#[cfg(any(feature = "redis", feature = "amqp"))]
mod reconnect;
mod stats;

#[cfg(feature = "amqp")]
mod amqp;
#[cfg(feature = "redis")]
mod redis_streams;

pub use broker::{Broker, Consumer, Delivery};
pub use config::{
    BackendKind, BrokerConfig, QueueNames, DEFAULT_MAX_ATTEMPTS, DEFAULT_RECONNECT_TIMEOUT,
    DEFAULT_VISIBILITY_TIMEOUT,
};
pub use envelope::{Envelope, Job, JobRun, ENVELOPE_VERSION};
pub use error::{redact_url, BrokerError};
pub use inprocess::{InProcessBroker, InProcessConsumer, InProcessDelivery};
pub use stats::{DeadLetter, DeadPayload, QueueStats, RetryOutcome};

#[cfg(feature = "amqp")]
pub use amqp::{AmqpBroker, AmqpConsumer, AmqpDelivery};
#[cfg(feature = "redis")]
pub use redis_streams::{RedisBroker, RedisConsumer, RedisDelivery};
