//! Looking at and repairing queues: statistics, dead letters, purge.

use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_core::Queue;
use redis::streams::StreamRangeReply;
use redis::Value;

use super::{millis, scripts, RedisBroker, GROUP};
use crate::error::BrokerError;
use crate::stats::{DeadLetter, DeadPayload, QueueStats};

/// Dead letters read per round trip when requeueing.
const REQUEUE_BATCH: usize = 100;

impl RedisBroker {
    pub async fn queue_stats(&self, queue: Queue) -> Result<QueueStats, BrokerError> {
        let names = &self.shared.names;
        let mut invocation = scripts::STATS.prepare_invoke();
        invocation
            .key(names.main(queue))
            .key(names.redis_delayed(queue))
            .key(names.redis_dead(queue))
            .arg(GROUP)
            .arg(millis(self.shared.config.visibility_timeout));
        let invocation = &invocation;
        type Reply = (u64, u64, u64, u64, u64, String, u64);
        let (len, pending, delayed, dead, consumers, oldest, now_ms) = self
            .shared
            .link
            .run("queue stats", move |mut conn| async move {
                invocation.invoke_async::<Reply>(&mut conn).await
            })
            .await?;
        let oldest_ready_age =
            entry_millis(&oldest).map(|since| Duration::from_millis(now_ms.saturating_sub(since)));
        Ok(QueueStats {
            depth: len.saturating_sub(pending),
            in_flight: Some(pending),
            delayed,
            dead,
            consumers: Some(consumers),
            oldest_ready_age,
        })
    }

    pub async fn dead_letters(
        &self,
        queue: Queue,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BrokerError> {
        let entries = self.read_dead(queue, "-", limit).await?;
        Ok(entries.into_iter().map(|(_, letter)| letter).collect())
    }

    /// Up to `count` dead letters from `start` (an id, `(id` to exclude it, or `-`).
    async fn read_dead(
        &self,
        queue: Queue,
        start: &str,
        count: usize,
    ) -> Result<Vec<(String, DeadLetter)>, BrokerError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut range = redis::cmd("XRANGE");
        range
            .arg(self.shared.names.redis_dead(queue))
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(count);
        let range = &range;
        let reply = self
            .shared
            .link
            .run("read dead letters", move |mut conn| async move {
                range.query_async::<StreamRangeReply>(&mut conn).await
            })
            .await?;
        Ok(reply
            .ids
            .into_iter()
            .map(|entry| {
                let field = |name: &str| match entry.map.get(name) {
                    Some(Value::BulkString(bytes)) => bytes.clone(),
                    Some(Value::SimpleString(text)) => text.clone().into_bytes(),
                    _ => Vec::new(),
                };
                let died_ms = String::from_utf8_lossy(&field("died_at_ms"))
                    .parse::<u64>()
                    .ok()
                    .or_else(|| entry_millis(&entry.id));
                let letter = DeadLetter {
                    payload: DeadPayload::from_body(&field("body")),
                    reason: String::from_utf8_lossy(&field("reason")).into_owned(),
                    died_at: died_ms
                        .and_then(|ms| DateTime::from_timestamp_millis(i64::try_from(ms).ok()?))
                        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
                };
                (entry.id, letter)
            })
            .collect())
    }

    pub async fn requeue_dead(
        &self,
        queue: Queue,
        limit: Option<usize>,
    ) -> Result<usize, BrokerError> {
        let limit = limit.unwrap_or(usize::MAX);
        let names = &self.shared.names;
        let (main, dead) = (names.main(queue), names.redis_dead(queue));
        let mut requeued = 0;
        let mut start = "-".to_string();
        while requeued < limit {
            let batch = self.read_dead(queue, &start, REQUEUE_BATCH).await?;
            let Some((last, _)) = batch.last() else { break };
            start = format!("({last}");
            for (id, letter) in batch {
                // Raw bodies stay dead: replaying them would only kill them again.
                let Some(envelope) = letter.payload.envelope() else {
                    continue;
                };
                let body = envelope.replayed().encode()?;
                let mut pipe = redis::pipe();
                pipe.atomic()
                    .cmd("XADD")
                    .arg(&main)
                    .arg("*")
                    .arg("body")
                    .arg(body.as_slice())
                    .ignore()
                    .cmd("XDEL")
                    .arg(&dead)
                    .arg(&id)
                    .ignore();
                let pipe = &pipe;
                self.shared
                    .link
                    .run("requeue dead letter", move |mut conn| async move {
                        pipe.query_async::<()>(&mut conn).await
                    })
                    .await?;
                requeued += 1;
                if requeued == limit {
                    break;
                }
            }
        }
        Ok(requeued)
    }

    pub async fn purge(&self, queue: Queue) -> Result<u64, BrokerError> {
        let names = &self.shared.names;
        let mut invocation = scripts::PURGE.prepare_invoke();
        invocation
            .key(names.main(queue))
            .key(names.redis_delayed(queue))
            .key(names.redis_dead(queue))
            .arg(GROUP);
        let invocation = &invocation;
        self.shared
            .link
            .run("purge", move |mut conn| async move {
                invocation.invoke_async::<u64>(&mut conn).await
            })
            .await
    }

    pub async fn teardown(&self) -> Result<(), BrokerError> {
        let names = &self.shared.names;
        let mut del = redis::cmd("DEL");
        for queue in Queue::ALL {
            del.arg(names.main(queue))
                .arg(names.redis_delayed(queue))
                .arg(names.redis_dead(queue));
        }
        let del = &del;
        self.shared
            .link
            .run("teardown", move |mut conn| async move {
                del.query_async::<()>(&mut conn).await
            })
            .await
    }
}

/// The millisecond part of a stream entry id (`1700000000000-0`).
fn entry_millis(id: &str) -> Option<u64> {
    id.split_once('-')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::entry_millis;

    #[test]
    fn entry_ids_carry_their_time() {
        assert_eq!(entry_millis("1700000000123-4"), Some(1_700_000_000_123));
        assert_eq!(entry_millis(""), None);
        assert_eq!(entry_millis("0-0"), Some(0));
    }
}
