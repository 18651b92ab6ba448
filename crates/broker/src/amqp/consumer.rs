//! Consuming from a queue, and settling deliveries.

use std::time::{Duration, Instant};

use dq_core::Queue;
use futures::StreamExt;
use lapin::message::Delivery as AmqpMessage;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Acker, Channel, Connection};

use super::link::OpError;
use super::{topology, AmqpBroker};
use crate::envelope::Envelope;
use crate::error::BrokerError;
use crate::stats::{gave_up_reason, redelivered_reason, RetryOutcome};

/// RabbitMQ closes a channel whose delivery stays unacked longer than its
/// `consumer_timeout` (30 min by default); warn as a job approaches that.
const CONSUMER_TIMEOUT_WARNING: Duration = Duration::from_secs(25 * 60);

/// A consumer's own connection and channel: closing them (dropping the
/// consumer) hands its unacked messages back to the queue.
struct Session {
    _connection: Connection,
    _channel: Channel,
    stream: lapin::Consumer,
}

pub struct AmqpConsumer {
    broker: AmqpBroker,
    queue: Queue,
    name: String,
    prefetch: u16,
    session: Option<Session>,
}

impl std::fmt::Debug for AmqpConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConsumer")
            .field("queue", &self.queue)
            .field("name", &self.name)
            .field("prefetch", &self.prefetch)
            .field("subscribed", &self.session.is_some())
            .finish()
    }
}

impl AmqpConsumer {
    pub(super) fn new(broker: AmqpBroker, queue: Queue, name: &str, prefetch: usize) -> Self {
        AmqpConsumer {
            broker,
            queue,
            name: name.to_string(),
            prefetch: u16::try_from(prefetch).unwrap_or(u16::MAX),
            session: None,
        }
    }

    /// Opens a connection and channel, declares the queue, and starts consuming.
    pub(super) async fn subscribe(&mut self) -> Result<(), BrokerError> {
        let link = self.broker.link();
        let (names, queue, name, prefetch) =
            (link.names(), self.queue, self.name.as_str(), self.prefetch);
        let main = names.main(queue);
        let main = main.as_str();
        let attempt = move || async move {
            let connection = link
                .open_connection(&format!("dq-broker consumer {}{name}", names.prefix()))
                .await?;
            let channel = connection.create_channel().await?;
            topology::declare(&channel, names, queue).await?;
            channel
                .basic_qos(prefetch, BasicQosOptions::default())
                .await?;
            let stream = channel
                .basic_consume(
                    main.into(),
                    name.into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, OpError>(Session {
                _connection: connection,
                _channel: channel,
                stream,
            })
        };
        self.session = Some(link.retrying("subscribe", attempt).await?);
        Ok(())
    }

    pub async fn next(&mut self) -> Result<AmqpDelivery, BrokerError> {
        loop {
            let Some(session) = self.session.as_mut() else {
                self.subscribe().await?;
                continue;
            };
            match session.stream.next().await {
                Some(Ok(message)) => {
                    if let Some(delivery) = self.admit(message).await? {
                        return Ok(delivery);
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(consumer = %self.name, error = %e, "AMQP consumer lost its channel; reconnecting");
                    self.session = None;
                }
                None => {
                    tracing::warn!(consumer = %self.name, "AMQP consumer was cancelled by the broker; subscribing again");
                    self.session = None;
                }
            }
        }
    }

    /// Hands a message out, or settles it here: unreadable bodies are buried,
    /// redelivered ones are re-published with their attempt counted.
    async fn admit(&self, message: AmqpMessage) -> Result<Option<AmqpDelivery>, BrokerError> {
        let AmqpMessage {
            data,
            acker,
            redelivered,
            ..
        } = message;
        if !acker.usable() {
            // Buffered before its channel died: RabbitMQ has requeued it and
            // will deliver it again; running it now could not be acked.
            tracing::debug!(consumer = %self.name, "skipping a delivery from a closed channel");
            return Ok(None);
        }
        // From here a cancelled call or an error hands the message back.
        let mut unsettled = Unsettled(Some(acker));
        let rerouted = match Envelope::decode(&data) {
            Err(reason) => {
                tracing::warn!(consumer = %self.name, %reason, "dead-lettering a message");
                self.broker.bury(self.queue, &data, &reason).await
            }
            Ok(envelope) if redelivered => {
                let next = envelope.next_attempt();
                if next.attempt > next.max_attempts.max(1) {
                    let reason = redelivered_reason(next.attempt, next.max_attempts);
                    tracing::warn!(consumer = %self.name, job = %next.id, %reason, "dead-lettering a message");
                    self.broker.bury(self.queue, &next.encode()?, &reason).await
                } else {
                    // Counted and put back at the tail; the ack below ends this copy.
                    self.broker.publish(&next).await
                }
            }
            Ok(envelope) => {
                return Ok(Some(AmqpDelivery {
                    broker: self.broker.clone(),
                    unsettled,
                    envelope,
                    received: Instant::now(),
                }))
            }
        };
        rerouted?;
        if let Err(e) = unsettled.ack().await {
            // The copy just sent stands; this one comes back once more.
            tracing::warn!(consumer = %self.name, error = %e, "could not ack a re-routed message");
        }
        Ok(None)
    }
}

/// The acker of a message not yet settled. Dropped while still holding it
/// (an error, a cancelled call, a delivery the caller let go), it hands the
/// message back with a nack and requeue, and it comes back as a redelivery.
struct Unsettled(Option<Acker>);

impl Unsettled {
    async fn ack(&mut self) -> Result<(), String> {
        let Some(acker) = self.0.take() else {
            return Err("already settled".into());
        };
        match acker.ack(BasicAckOptions::default()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err("its channel is closed".into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        let Some(acker) = self.0.take() else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                // If the channel is gone, RabbitMQ has requeued it already.
                let requeue = BasicNackOptions {
                    multiple: false,
                    requeue: true,
                };
                let _ = acker.nack(requeue).await;
            });
        }
    }
}

/// A message held until settled. Dropped unsettled, it is handed back
/// (see `Unsettled`) and comes back as a redelivery, attempt counted.
pub struct AmqpDelivery {
    broker: AmqpBroker,
    unsettled: Unsettled,
    envelope: Envelope,
    received: Instant,
}

impl std::fmt::Debug for AmqpDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpDelivery")
            .field("envelope", &self.envelope)
            .field("settled", &self.unsettled.0.is_none())
            .finish()
    }
}

impl AmqpDelivery {
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    pub async fn ack(mut self) -> Result<(), BrokerError> {
        let acked = self.unsettled.ack().await;
        acked.map_err(|why| self.lost(&why))
    }

    pub async fn retry(
        mut self,
        delay: Duration,
        reason: &str,
    ) -> Result<RetryOutcome, BrokerError> {
        if self.envelope.is_last_attempt() {
            let reason = gave_up_reason(&self.envelope, reason);
            self.dead_letter(&reason).await?;
            return Ok(RetryOutcome::DeadLettered);
        }
        self.broker
            .schedule_retry(&self.envelope.next_attempt(), delay)
            .await?;
        let acked = self.unsettled.ack().await;
        acked.map_err(|why| self.lost(&why))?;
        Ok(RetryOutcome::Scheduled)
    }

    pub async fn dead_letter(mut self, reason: &str) -> Result<(), BrokerError> {
        let body = self.envelope.encode()?;
        self.broker.bury(self.envelope.queue, &body, reason).await?;
        let acked = self.unsettled.ack().await;
        acked.map_err(|why| self.lost(&why))
    }

    /// AMQP has no visibility timeout to push out; only RabbitMQ's
    /// `consumer_timeout` bounds how long a job may hold its message.
    pub async fn extend(&self) -> Result<(), BrokerError> {
        let held = self.received.elapsed();
        if held > CONSUMER_TIMEOUT_WARNING {
            tracing::warn!(
                job = %self.envelope.id,
                held_secs = held.as_secs(),
                "job held for a long time: RabbitMQ's consumer_timeout (30 min by default) will close the channel and redeliver it"
            );
        }
        Ok(())
    }

    fn lost(&self, why: &str) -> BrokerError {
        BrokerError::Lost {
            id: self.envelope.id.clone(),
            message: format!("cannot ack: {why}; RabbitMQ delivers it again"),
        }
    }
}
