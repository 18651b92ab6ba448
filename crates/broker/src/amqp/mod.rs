//! AMQP 0-9-1 (RabbitMQ) backend, through lapin on the caller's tokio
//! runtime (lapin's `tokio` feature: its I/O and executor run on the
//! current runtime, as lapin's documentation recommends for tokio users).
//!
//! Durable queues, persistent messages (delivery mode 2), publisher confirms
//! awaited on every publish, manual acks, `basic_qos(prefetch)` per
//! consumer. Delayed retries wait in `{queue}.retry` with a per-message
//! expiration and dead-letter back to the main queue; dead letters are
//! published with their reason to `{prefix}dq.dlx`, which routes them to
//! `{queue}.dead`. See `topology` for the declarations.
//!
//! AMQP has no visibility timeout: an unacked message stays with its
//! consumer until the consumer's channel closes (the consumer died, or
//! RabbitMQ's `consumer_timeout` fired), then it is delivered again with the
//! `redelivered` flag. Such a message is re-published with `attempt + 1`
//! (or dead-lettered past `max_attempts`) before it is handed out, so a job
//! that kills its workers cannot loop forever.

mod admin;
mod consumer;
mod link;
mod topology;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use dq_core::Queue;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::BasicProperties;

use crate::config::BrokerConfig;
use crate::envelope::Envelope;
use crate::error::BrokerError;

pub use consumer::{AmqpConsumer, AmqpDelivery};
use link::{message_properties, publish_confirmed, Link};

/// The attempt of the envelope, for people reading the management UI.
const ATTEMPT_HEADER: &str = "x-dq-attempt";
/// Why a message was dead-lettered, and when (RFC 3339).
const REASON_HEADER: &str = "x-dq-reason";
const DIED_AT_HEADER: &str = "x-dq-died-at";

#[derive(Debug, Clone)]
pub struct AmqpBroker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: BrokerConfig,
    link: Link,
}

impl AmqpBroker {
    pub async fn connect(config: &BrokerConfig) -> Result<AmqpBroker, BrokerError> {
        let name = format!("dq-broker publisher {}", config.prefix)
            .trim_end()
            .to_string();
        let link = Link::new(&config.url, &name, config.names(), config.reconnect_timeout);
        // Opens the connection and declares the topology now, so a bad URL
        // or an unreachable broker fails here.
        link.run("connect", |_channel| async { Ok(()) }).await?;
        Ok(AmqpBroker {
            shared: Arc::new(Shared {
                config: config.clone(),
                link,
            }),
        })
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.shared.config
    }

    fn link(&self) -> &Link {
        &self.shared.link
    }

    pub async fn publish(&self, envelope: &Envelope) -> Result<(), BrokerError> {
        let main = self.link().names().main(envelope.queue);
        self.send("publish", "", &main, envelope, None).await
    }

    /// Publishes `envelope` to `routing_key` through `exchange`, confirmed,
    /// with `expiration` when it is a delayed retry.
    async fn send(
        &self,
        what: &str,
        exchange: &str,
        routing_key: &str,
        envelope: &Envelope,
        expiration: Option<Duration>,
    ) -> Result<(), BrokerError> {
        let body = envelope.encode()?;
        let mut properties = message_properties(
            &envelope.id,
            envelope.attempt,
            envelope.published_at.timestamp(),
        );
        if let Some(delay) = expiration {
            properties = properties.with_expiration(delay.as_millis().to_string().into());
        }
        let (body, properties) = (&body, &properties);
        self.link()
            .run(what, move |channel| async move {
                publish_confirmed(&channel, exchange, routing_key, body, properties.clone()).await
            })
            .await
    }

    /// Delivers `envelope` to the main queue again after `delay`.
    async fn schedule_retry(
        &self,
        envelope: &Envelope,
        delay: Duration,
    ) -> Result<(), BrokerError> {
        let retry = self.link().names().amqp_retry(envelope.queue);
        self.send("schedule retry", "", &retry, envelope, Some(delay))
            .await
    }

    /// Sends `body` to the queue's dead letters with its reason.
    async fn bury(&self, queue: Queue, body: &[u8], reason: &str) -> Result<(), BrokerError> {
        let names = self.link().names();
        let (exchange, routing_key) = (names.amqp_dead_letter_exchange(), names.main(queue));
        let mut headers = FieldTable::default();
        headers.insert(
            REASON_HEADER.into(),
            AMQPValue::LongString(LongString::from(reason)),
        );
        headers.insert(
            DIED_AT_HEADER.into(),
            AMQPValue::LongString(LongString::from(Utc::now().to_rfc3339())),
        );
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_headers(headers);
        let (exchange, routing_key, properties) = (&exchange, &routing_key, &properties);
        self.link()
            .run("dead-letter", move |channel| async move {
                publish_confirmed(&channel, exchange, routing_key, body, properties.clone()).await
            })
            .await
    }

    pub async fn consumer(
        &self,
        queue: Queue,
        name: &str,
        prefetch: usize,
    ) -> Result<AmqpConsumer, BrokerError> {
        let mut consumer = AmqpConsumer::new(self.clone(), queue, name, prefetch);
        consumer.subscribe().await?;
        Ok(consumer)
    }
}
