//! Settling a delivered message: ack, retry, dead letter, extend. The
//! retry and dead-letter paths and `extend` are fenced (see `scripts`).

use std::time::Duration;

use dq_core::Queue;

use super::link::Link;
use super::{millis, scripts, RedisBroker, GROUP};
use crate::envelope::Envelope;
use crate::error::BrokerError;
use crate::stats::{gave_up_reason, RetryOutcome};

/// Where a fenced settle sends the message.
#[derive(Debug, Clone, Copy)]
pub(super) enum Settle<'a> {
    Retry { delay: Duration },
    Dead { reason: &'a str },
}

impl RedisBroker {
    /// Acks the message and reschedules or buries `payload`, atomically and
    /// only if `consumer` still owns it. False: the claim was lost.
    pub(super) async fn settle(
        &self,
        link: &Link,
        queue: Queue,
        id: &str,
        consumer: &str,
        settle: Settle<'_>,
        payload: &[u8],
    ) -> Result<bool, BrokerError> {
        let names = &self.shared.names;
        let (mode, delay, reason) = match settle {
            Settle::Retry { delay } => ("retry", millis(delay), ""),
            Settle::Dead { reason } => ("dead", 0, reason),
        };
        let mut invocation = scripts::SETTLE.prepare_invoke();
        invocation
            .key(names.main(queue))
            .key(names.redis_delayed(queue))
            .key(names.redis_dead(queue))
            .arg(GROUP)
            .arg(id)
            .arg(consumer)
            .arg(mode)
            .arg(payload)
            .arg(delay)
            .arg(reason);
        let invocation = &invocation;
        let done = link
            .run("settle", move |mut conn| async move {
                invocation.invoke_async::<i64>(&mut conn).await
            })
            .await?;
        Ok(done == 1)
    }

    /// Resets the idle time of a message `consumer` owns. False: the claim was lost.
    pub(super) async fn extend(
        &self,
        link: &Link,
        queue: Queue,
        id: &str,
        consumer: &str,
    ) -> Result<bool, BrokerError> {
        let mut invocation = scripts::EXTEND.prepare_invoke();
        invocation
            .key(self.shared.names.main(queue))
            .arg(GROUP)
            .arg(id)
            .arg(consumer);
        let invocation = &invocation;
        let done = link
            .run("extend", move |mut conn| async move {
                invocation.invoke_async::<i64>(&mut conn).await
            })
            .await?;
        Ok(done == 1)
    }
}

#[derive(Debug)]
pub struct RedisDelivery {
    pub(super) broker: RedisBroker,
    pub(super) queue: Queue,
    /// The stream entry id.
    pub(super) id: String,
    pub(super) consumer: String,
    pub(super) envelope: Envelope,
}

impl RedisDelivery {
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Not fenced: the job is done, whoever holds the message now.
    pub async fn ack(self) -> Result<(), BrokerError> {
        let key = self.broker.shared.names.main(self.queue);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XACK")
            .arg(&key)
            .arg(GROUP)
            .arg(&self.id)
            .ignore()
            .cmd("XDEL")
            .arg(&key)
            .arg(&self.id)
            .ignore();
        let pipe = &pipe;
        self.broker
            .shared
            .link
            .run("ack", move |mut conn| async move {
                pipe.query_async::<()>(&mut conn).await
            })
            .await
    }

    pub async fn retry(self, delay: Duration, reason: &str) -> Result<RetryOutcome, BrokerError> {
        if self.envelope.is_last_attempt() {
            let reason = gave_up_reason(&self.envelope, reason);
            self.dead_letter(&reason).await?;
            return Ok(RetryOutcome::DeadLettered);
        }
        let payload = self.envelope.next_attempt().encode()?;
        self.settle(Settle::Retry { delay }, &payload).await?;
        Ok(RetryOutcome::Scheduled)
    }

    pub async fn dead_letter(self, reason: &str) -> Result<(), BrokerError> {
        let payload = self.envelope.encode()?;
        self.settle(Settle::Dead { reason }, &payload).await
    }

    pub async fn extend(&self) -> Result<(), BrokerError> {
        let link = &self.broker.shared.link;
        if self
            .broker
            .extend(link, self.queue, &self.id, &self.consumer)
            .await?
        {
            Ok(())
        } else {
            Err(self.lost())
        }
    }

    async fn settle(&self, settle: Settle<'_>, payload: &[u8]) -> Result<(), BrokerError> {
        let link = &self.broker.shared.link;
        if self
            .broker
            .settle(link, self.queue, &self.id, &self.consumer, settle, payload)
            .await?
        {
            Ok(())
        } else {
            Err(self.lost())
        }
    }

    fn lost(&self) -> BrokerError {
        BrokerError::Lost {
            id: self.envelope.id.clone(),
            message: format!(
                "stream entry {} is no longer pending for consumer {:?} (its claim expired and another consumer took it over)",
                self.id, self.consumer
            ),
        }
    }
}
