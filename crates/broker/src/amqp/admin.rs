//! Looking at and repairing queues: statistics, dead letters, purge.

use chrono::{DateTime, Utc};
use dq_core::Queue;
use lapin::message::Delivery as AmqpMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueuePurgeOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::Channel;

use super::link::{message_properties, publish_confirmed, OpError};
use super::{topology, AmqpBroker, DIED_AT_HEADER, REASON_HEADER};
use crate::error::BrokerError;
use crate::stats::{DeadLetter, DeadPayload, QueueStats};

impl AmqpBroker {
    /// Depth, delayed, dead and consumers come from declaring the queues
    /// (which also recreates them if they are gone). In-flight counts and
    /// ages are not available over AMQP without disturbing the queue.
    pub async fn queue_stats(&self, queue: Queue) -> Result<QueueStats, BrokerError> {
        let names = self.link().names();
        let counts = self
            .link()
            .run("queue stats", move |channel| async move {
                Ok(topology::declare(&channel, names, queue).await?)
            })
            .await?;
        Ok(QueueStats {
            depth: counts.ready,
            in_flight: None,
            delayed: counts.delayed,
            dead: counts.dead,
            consumers: Some(counts.consumers),
            oldest_ready_age: None,
        })
    }

    /// Reads dead letters without removing them: takes them unacked on a
    /// channel of its own, then closes it, which puts them back in order.
    pub async fn dead_letters(
        &self,
        queue: Queue,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BrokerError> {
        let dead = self.link().names().amqp_dead(queue);
        let dead = dead.as_str();
        let link = self.link();
        let attempt = move || async move {
            let channel = link.fresh_channel().await?;
            let mut letters = Vec::new();
            while letters.len() < limit {
                match take_one(&channel, dead).await? {
                    Some(message) => letters.push(dead_letter(&message)),
                    None => break,
                }
            }
            close(&channel).await;
            Ok::<_, OpError>(letters)
        };
        link.retrying("read dead letters", attempt).await
    }

    pub async fn requeue_dead(
        &self,
        queue: Queue,
        limit: Option<usize>,
    ) -> Result<usize, BrokerError> {
        let limit = limit.unwrap_or(usize::MAX);
        let link = self.link();
        let (main, dead) = (link.names().main(queue), link.names().amqp_dead(queue));
        let channel = link
            .retrying("open channel", || async { Ok(link.fresh_channel().await?) })
            .await?;
        let mut requeued = 0;
        let outcome: Result<(), OpError> = async {
            while requeued < limit {
                let Some(message) = take_one(&channel, &dead).await? else {
                    break;
                };
                // Raw bodies stay dead (unacked until the channel closes):
                // replaying them would only kill them again.
                let DeadPayload::Envelope(envelope) = DeadPayload::from_body(&message.data) else {
                    continue;
                };
                let replayed = envelope.replayed();
                let body = replayed
                    .encode()
                    .map_err(|e| OpError::Refused(e.to_string()))?;
                let properties = message_properties(
                    &replayed.id,
                    replayed.attempt,
                    replayed.published_at.timestamp(),
                );
                publish_confirmed(&channel, "", &main, &body, properties).await?;
                message.acker.ack(BasicAckOptions::default()).await?;
                requeued += 1;
            }
            Ok(())
        }
        .await;
        close(&channel).await;
        outcome.map_err(|e| link.error(e))?;
        Ok(requeued)
    }

    pub async fn purge(&self, queue: Queue) -> Result<u64, BrokerError> {
        let names = self.link().names();
        self.link()
            .run("purge", move |channel| async move {
                let mut purged = 0;
                for name in [
                    names.main(queue),
                    names.amqp_retry(queue),
                    names.amqp_dead(queue),
                ] {
                    purged += u64::from(
                        channel
                            .queue_purge(name.into(), QueuePurgeOptions::default())
                            .await?,
                    );
                }
                Ok(purged)
            })
            .await
    }

    pub async fn teardown(&self) -> Result<(), BrokerError> {
        let names = self.link().names();
        self.link()
            .run("teardown", move |channel| async move {
                Ok(topology::delete_all(&channel, names).await?)
            })
            .await
    }
}

async fn take_one(channel: &Channel, queue: &str) -> Result<Option<AmqpMessage>, lapin::Error> {
    let got = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: false })
        .await?;
    Ok(got.map(|message| message.delivery))
}

/// Closing a channel requeues what it holds unacked; if the close itself
/// fails the connection is gone, which requeues them too.
async fn close(channel: &Channel) {
    let _ = channel.close(200, "OK".into()).await;
}

/// Our own dead letters carry their reason and time in headers; messages
/// RabbitMQ dead-lettered itself (rejected, expired) carry `x-death`.
fn dead_letter(message: &AmqpMessage) -> DeadLetter {
    let empty = FieldTable::default();
    let headers = message.properties.headers().as_ref().unwrap_or(&empty);
    let text = |key: &str| match headers.inner().get(key) {
        Some(AMQPValue::LongString(s)) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Some(AMQPValue::ShortString(s)) => Some(s.as_str().to_string()),
        _ => None,
    };
    let death = match headers.inner().get("x-death") {
        Some(AMQPValue::FieldArray(deaths)) => match deaths.as_slice().first() {
            Some(AMQPValue::FieldTable(first)) => Some(first.clone()),
            _ => None,
        },
        _ => None,
    };
    let death_reason = death.as_ref().and_then(|d| match d.inner().get("reason") {
        Some(AMQPValue::LongString(s)) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        _ => None,
    });
    let death_time = death.as_ref().and_then(|d| match d.inner().get("time") {
        Some(AMQPValue::Timestamp(secs)) => i64::try_from(*secs).ok(),
        _ => None,
    });
    let reason = text(REASON_HEADER)
        .or_else(|| death_reason.map(|r| format!("dead-lettered by RabbitMQ ({r})")))
        .unwrap_or_else(|| "unknown (no reason recorded)".into());
    let died_at = text(DIED_AT_HEADER)
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| death_time.and_then(|secs| DateTime::from_timestamp(secs, 0)))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    DeadLetter {
        payload: DeadPayload::from_body(&message.data),
        reason,
        died_at,
    }
}
