//! Redis Streams backend.
//!
//! Each queue is a stream `{prefix}{queue}` read by one consumer group
//! (`dq`) with XREADGROUP; a delivered message sits in the group's pending
//! list (PEL) under its consumer until acked (XACK + XDEL, so the stream only
//! holds live messages). A message idle in the PEL longer than the
//! visibility timeout is taken over by another consumer with XAUTOCLAIM; a
//! running job resets its idle time with `extend` (XCLAIM JUSTID), so a long
//! job is not run twice (the Celery-on-Redis visibility-timeout bug). The
//! PEL's delivery count gives the attempt of a redelivered message.
//!
//! Delayed retries wait in the sorted set `{queue}:delayed`, scored by due
//! time, and consumers promote due ones atomically (Lua). Dead letters go to
//! the stream `{queue}:dead` with their reason.

mod admin;
mod consumer;
mod delivery;
mod link;
mod scripts;

use std::sync::Arc;
use std::time::Duration;

use dq_core::Queue;

use crate::config::{BrokerConfig, QueueNames};
use crate::envelope::Envelope;
use crate::error::BrokerError;

pub use consumer::RedisConsumer;
pub use delivery::RedisDelivery;
use link::Link;

/// The consumer group every worker joins.
const GROUP: &str = "dq";
/// Commands other than blocking reads answer fast; this only bounds a hang.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct RedisBroker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: BrokerConfig,
    names: QueueNames,
    link: Link,
}

impl RedisBroker {
    pub async fn connect(config: &BrokerConfig) -> Result<RedisBroker, BrokerError> {
        let link = Link::new(&config.url, RESPONSE_TIMEOUT, config.reconnect_timeout)?;
        let broker = RedisBroker {
            shared: Arc::new(Shared {
                config: config.clone(),
                names: config.names(),
                link,
            }),
        };
        for queue in Queue::ALL {
            broker.ensure_group(&broker.shared.link, queue).await?;
        }
        Ok(broker)
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.shared.config
    }

    /// Creates the stream and its group (reading from the start, so nothing
    /// published before the group existed is skipped). Idempotent.
    async fn ensure_group(&self, link: &Link, queue: Queue) -> Result<(), BrokerError> {
        let key = self.shared.names.main(queue);
        let key = &key;
        let created = link
            .run("create group", move |mut conn| async move {
                redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(key)
                    .arg(GROUP)
                    .arg("0")
                    .arg("MKSTREAM")
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
        match created {
            Err(BrokerError::Protocol(message)) if message.contains("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    pub async fn publish(&self, envelope: &Envelope) -> Result<(), BrokerError> {
        let body = envelope.encode()?;
        let key = self.shared.names.main(envelope.queue);
        let (key, body) = (&key, &body);
        self.shared
            .link
            .run("publish", move |mut conn| async move {
                redis::cmd("XADD")
                    .arg(key)
                    .arg("*")
                    .arg("body")
                    .arg(body.as_slice())
                    .query_async::<String>(&mut conn)
                    .await
            })
            .await?;
        Ok(())
    }

    pub async fn consumer(
        &self,
        queue: Queue,
        name: &str,
        prefetch: usize,
    ) -> Result<RedisConsumer, BrokerError> {
        let consumer = RedisConsumer::new(self.clone(), queue, name, prefetch);
        // Fails here, not on the first `next`, if the server is unreachable.
        self.ensure_group(consumer.link(), queue).await?;
        Ok(consumer)
    }
}

/// How often a consumer looks for due retries and expired claims, which is
/// also how long one blocking read waits: a fraction of the visibility
/// timeout, between 50 ms and 1 s.
fn poll_interval(visibility: Duration) -> Duration {
    (visibility / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

/// Milliseconds, for Redis arguments.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_follows_the_visibility_timeout() {
        for (visibility, poll) in [(300_000, 1_000), (1_000, 250), (100, 50)] {
            assert_eq!(
                poll_interval(Duration::from_millis(visibility)),
                Duration::from_millis(poll)
            );
        }
    }
}
