//! One reconnecting Redis connection. Every command goes through `run`,
//! which reconnects and retries on connection errors (backon: exponential
//! with jitter, bounded by the reconnect timeout) and maps errors onto
//! `BrokerError` at this edge.
//!
//! A retried write may run twice when the connection broke after the server
//! applied it but before we read the answer; at-least-once delivery with
//! idempotent workers (run ids) makes that harmless.

use std::future::Future;
use std::time::Duration;

use backon::Retryable;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError, RetryMethod};
use tokio::sync::Mutex;

use crate::error::{redact_url, BrokerError};
use crate::reconnect::backoff;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Link {
    client: Client,
    shown_url: String,
    response_timeout: Duration,
    reconnect_timeout: Duration,
    slot: Mutex<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    conn: Option<MultiplexedConnection>,
    /// Bumped on every new connection, so a failure seen on an old one does
    /// not throw away a fresh one another task just made.
    generation: u64,
}

impl Link {
    /// `response_timeout` must exceed the longest blocking read sent on it.
    pub fn new(
        url: &str,
        response_timeout: Duration,
        reconnect_timeout: Duration,
    ) -> Result<Link, BrokerError> {
        let client = Client::open(url)
            .map_err(|e| BrokerError::Config(format!("bad Redis URL {}: {e}", redact_url(url))))?;
        Ok(Link {
            client,
            shown_url: redact_url(url),
            response_timeout,
            reconnect_timeout,
            slot: Mutex::new(Slot::default()),
        })
    }

    /// A second link to the same server (its own connection).
    pub fn sibling(&self, response_timeout: Duration) -> Link {
        Link {
            client: self.client.clone(),
            shown_url: self.shown_url.clone(),
            response_timeout,
            reconnect_timeout: self.reconnect_timeout,
            slot: Mutex::new(Slot::default()),
        }
    }

    async fn connection(&self) -> Result<(MultiplexedConnection, u64), RedisError> {
        let mut slot = self.slot.lock().await;
        if let Some(conn) = &slot.conn {
            return Ok((conn.clone(), slot.generation));
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(self.response_timeout));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        slot.generation += 1;
        slot.conn = Some(conn.clone());
        Ok((conn, slot.generation))
    }

    async fn forget(&self, generation: u64) {
        let mut slot = self.slot.lock().await;
        if slot.generation == generation {
            slot.conn = None;
        }
    }

    /// Runs `op` on the connection, reconnecting and retrying while the
    /// failure is a connection problem. `what` names the operation in logs.
    pub async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T, BrokerError>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let op = &op;
        let attempt = || async move {
            let (conn, generation) = self.connection().await?;
            let result = op(conn).await;
            if let Err(e) = &result {
                if needs_new_connection(e) {
                    self.forget(generation).await;
                }
            }
            result
        };
        attempt
            .retry(backoff(self.reconnect_timeout))
            .when(is_transient)
            .notify(|e, wait| {
                tracing::warn!(url = %self.shown_url, op = what, error = %e, ?wait, "Redis unavailable, retrying");
            })
            .await
            .map_err(|e| self.error(e))
    }

    pub fn error(&self, e: RedisError) -> BrokerError {
        if is_transient(&e) {
            BrokerError::Connect {
                url: self.shown_url.clone(),
                message: e.to_string(),
            }
        } else {
            BrokerError::Protocol(format!("Redis: {e}"))
        }
    }
}

fn needs_new_connection(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

/// Worth retrying: the connection failed, or the server asked us to wait
/// (LOADING while it replays its append-only file after a restart).
pub fn is_transient(e: &RedisError) -> bool {
    if e.kind() == ErrorKind::AuthenticationFailed {
        return false;
    }
    needs_new_connection(e)
        || e.is_connection_refusal()
        || matches!(
            e.retry_method(),
            RetryMethod::WaitAndRetry | RetryMethod::RetryImmediately
        )
}

/// The server lost the consumer group (restarted without persistence, or
/// the stream was deleted): it must be created again.
pub fn is_no_group(e: &BrokerError) -> bool {
    matches!(e, BrokerError::Protocol(m) if m.contains("NOGROUP"))
}
