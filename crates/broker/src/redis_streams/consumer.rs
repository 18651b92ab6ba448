//! Taking messages from a stream, and settling them.
//!
//! Reading claims messages on the server (XREADGROUP, XAUTOCLAIM put them in
//! this consumer's pending list) even if the caller stops waiting, so the
//! reads run in a task of their own whose result the consumer keeps: a
//! `next()` cancelled by a timeout or a shutdown `select!` loses nothing,
//! and the following `next()` picks up where it left off.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dq_core::Queue;
use redis::streams::StreamReadReply;
use redis::Value;
use tokio::task::JoinHandle;

use super::delivery::{RedisDelivery, Settle};
use super::link::{is_no_group, Link};
use super::{millis, poll_interval, scripts, RedisBroker, GROUP, RESPONSE_TIMEOUT};
use crate::envelope::Envelope;
use crate::error::BrokerError;
use crate::stats::redelivered_reason;

/// Due retries promoted per sweep; the rest wait for the next sweep.
const PROMOTE_BATCH: usize = 100;

/// A message read from the stream, not yet handed out.
#[derive(Debug)]
struct Fetched {
    id: String,
    body: Option<Vec<u8>>,
    deliveries: u32,
    fetched_at: Instant,
}

/// What one background read brought back.
#[derive(Debug)]
struct Fetch {
    entries: Vec<Fetched>,
    /// Where the next XAUTOCLAIM scan resumes, if this read swept.
    cursor: Option<String>,
}

#[derive(Debug)]
pub struct RedisConsumer {
    broker: RedisBroker,
    /// Its own connection: a blocking XREADGROUP holds a connection while it waits.
    link: Arc<Link>,
    queue: Queue,
    name: String,
    prefetch: usize,
    poll: Duration,
    buffer: VecDeque<Fetched>,
    fetch: Option<JoinHandle<Result<Fetch, BrokerError>>>,
    /// Where the next XAUTOCLAIM scan resumes ('0-0' starts over).
    cursor: String,
    last_sweep: Option<Instant>,
}

impl Drop for RedisConsumer {
    fn drop(&mut self) {
        // Its connection closes with it, which also ends a blocked read
        // before the server can hand it anything.
        if let Some(fetch) = self.fetch.take() {
            fetch.abort();
        }
    }
}

impl RedisConsumer {
    pub(super) fn new(broker: RedisBroker, queue: Queue, name: &str, prefetch: usize) -> Self {
        let poll = poll_interval(broker.shared.config.visibility_timeout);
        let link = Arc::new(broker.shared.link.sibling(poll + RESPONSE_TIMEOUT));
        RedisConsumer {
            broker,
            link,
            queue,
            name: name.to_string(),
            prefetch,
            poll,
            buffer: VecDeque::new(),
            fetch: None,
            cursor: "0-0".into(),
            last_sweep: None,
        }
    }

    pub(super) fn link(&self) -> &Link {
        &self.link
    }

    fn visibility(&self) -> Duration {
        self.broker.shared.config.visibility_timeout
    }

    pub async fn next(&mut self) -> Result<RedisDelivery, BrokerError> {
        loop {
            if let Some(fetched) = self.buffer.front() {
                // Popped only once settled here, so a cancelled call retries it.
                let admitted = self.admit(fetched).await?;
                self.buffer.pop_front();
                match admitted {
                    Some(delivery) => return Ok(delivery),
                    None => continue,
                }
            }
            if self.fetch.is_none() {
                let sweep = self.last_sweep.is_none_or(|at| at.elapsed() >= self.poll);
                if sweep {
                    self.last_sweep = Some(Instant::now());
                }
                let reader = Reader {
                    broker: self.broker.clone(),
                    link: self.link.clone(),
                    queue: self.queue,
                    name: self.name.clone(),
                    prefetch: self.prefetch,
                    poll: self.poll,
                    cursor: sweep.then(|| self.cursor.clone()),
                };
                self.fetch = Some(tokio::spawn(reader.fetch()));
            }
            let Some(fetch) = self.fetch.as_mut() else {
                continue;
            };
            let fetched = fetch.await;
            self.fetch = None;
            let fetched = fetched
                .map_err(|e| BrokerError::Closed(format!("the Redis read task failed: {e}")))??;
            if let Some(cursor) = fetched.cursor {
                self.cursor = cursor;
            }
            self.buffer.extend(fetched.entries);
        }
    }
}

/// One background read: sweep (promote due retries, take over expired
/// claims) when due, then wait up to one poll interval for new messages.
struct Reader {
    broker: RedisBroker,
    link: Arc<Link>,
    queue: Queue,
    name: String,
    prefetch: usize,
    poll: Duration,
    /// Set when this read sweeps: where the XAUTOCLAIM scan resumes.
    cursor: Option<String>,
}

impl Reader {
    async fn fetch(self) -> Result<Fetch, BrokerError> {
        let mut fetch = Fetch {
            entries: Vec::new(),
            cursor: None,
        };
        if let Some(cursor) = &self.cursor {
            self.promote().await?;
            match self.reclaim(cursor).await {
                Err(e) if is_no_group(&e) => {
                    self.broker.ensure_group(&self.link, self.queue).await?;
                }
                Err(e) => return Err(e),
                Ok((next, entries)) => {
                    fetch.cursor = Some(next);
                    fetch.entries = entries;
                }
            }
        }
        if fetch.entries.is_empty() {
            fetch.entries = self.read_new().await?;
        }
        Ok(fetch)
    }

    async fn promote(&self) -> Result<(), BrokerError> {
        let names = &self.broker.shared.names;
        let mut promote = scripts::PROMOTE.prepare_invoke();
        promote
            .key(names.redis_delayed(self.queue))
            .key(names.main(self.queue))
            .arg(PROMOTE_BATCH);
        let promote = &promote;
        self.link
            .run("promote retries", move |mut conn| async move {
                promote.invoke_async::<i64>(&mut conn).await
            })
            .await?;
        Ok(())
    }

    /// Takes over messages idle longer than the visibility timeout.
    async fn reclaim(&self, cursor: &str) -> Result<(String, Vec<Fetched>), BrokerError> {
        let names = &self.broker.shared.names;
        let mut reclaim = scripts::RECLAIM.prepare_invoke();
        reclaim
            .key(names.main(self.queue))
            .arg(GROUP)
            .arg(&self.name)
            .arg(millis(self.broker.shared.config.visibility_timeout))
            .arg(cursor)
            .arg(self.prefetch);
        let reclaim = &reclaim;
        type Reclaimed = (String, Vec<(String, Vec<u8>, i64, i64)>);
        let (next, entries) = self
            .link
            .run("reclaim expired", move |mut conn| async move {
                reclaim.invoke_async::<Reclaimed>(&mut conn).await
            })
            .await?;
        let now = Instant::now();
        let entries = entries
            .into_iter()
            .map(|(id, body, has_body, count)| {
                tracing::info!(consumer = %self.name, %id, deliveries = count, "took over an expired claim");
                Fetched {
                    id,
                    body: (has_body == 1).then_some(body),
                    deliveries: u32::try_from(count).unwrap_or(u32::MAX).max(1),
                    fetched_at: now,
                }
            })
            .collect();
        Ok((next, entries))
    }

    async fn read_new(&self) -> Result<Vec<Fetched>, BrokerError> {
        let key = self.broker.shared.names.main(self.queue);
        let mut read = redis::cmd("XREADGROUP");
        read.arg("GROUP")
            .arg(GROUP)
            .arg(&self.name)
            .arg("COUNT")
            .arg(self.prefetch)
            .arg("BLOCK")
            .arg(millis(self.poll))
            .arg("STREAMS")
            .arg(&key)
            .arg(">");
        let read = &read;
        let reply = self
            .link
            .run("read", move |mut conn| async move {
                read.query_async::<Option<StreamReadReply>>(&mut conn).await
            })
            .await;
        let reply = match reply {
            Err(e) if is_no_group(&e) => {
                tracing::warn!(stream = %key, "consumer group missing (Redis lost its data?); creating it again");
                self.broker.ensure_group(&self.link, self.queue).await?;
                return Ok(Vec::new());
            }
            other => other?,
        };
        let now = Instant::now();
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|entry| {
                let body = match entry.map.get("body") {
                    Some(Value::BulkString(bytes)) => Some(bytes.clone()),
                    Some(Value::SimpleString(text)) => Some(text.clone().into_bytes()),
                    _ => None,
                };
                Fetched {
                    id: entry.id,
                    body,
                    deliveries: 1,
                    fetched_at: now,
                }
            })
            .collect())
    }
}

impl RedisConsumer {
    /// Hands a fetched message out, or buries it if it cannot be run.
    async fn admit(&self, fetched: &Fetched) -> Result<Option<RedisDelivery>, BrokerError> {
        // A message that waited in the buffer may have been taken over
        // meanwhile; refresh the claim (or learn it is gone) before running it.
        if fetched.fetched_at.elapsed() > self.visibility() / 2
            && !self
                .broker
                .extend(&self.link, self.queue, &fetched.id, &self.name)
                .await?
        {
            return Ok(None);
        }
        let Some(body) = &fetched.body else {
            let reason = "stream entry has no 'body' field";
            self.bury(&fetched.id, b"", reason).await?;
            return Ok(None);
        };
        let mut envelope = match Envelope::decode(body) {
            Ok(envelope) => envelope,
            Err(reason) => {
                self.bury(&fetched.id, body, &reason).await?;
                return Ok(None);
            }
        };
        envelope.attempt = envelope.attempt.saturating_add(fetched.deliveries - 1);
        if envelope.attempt > envelope.max_attempts.max(1) {
            let reason = redelivered_reason(envelope.attempt, envelope.max_attempts);
            self.bury(&fetched.id, &envelope.encode()?, &reason).await?;
            return Ok(None);
        }
        Ok(Some(RedisDelivery {
            broker: self.broker.clone(),
            queue: self.queue,
            id: fetched.id.clone(),
            consumer: self.name.clone(),
            envelope,
        }))
    }

    async fn bury(&self, id: &str, body: &[u8], reason: &str) -> Result<(), BrokerError> {
        tracing::warn!(consumer = %self.name, %id, %reason, "dead-lettering a message");
        let settle = Settle::Dead { reason };
        self.broker
            .settle(&self.link, self.queue, id, &self.name, settle, body)
            .await
            .map(|_| ())
    }
}
