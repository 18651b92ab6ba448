//! One reconnecting AMQP connection with a publisher-confirm channel.
//! Every operation goes through `run`, which re-opens the connection (and
//! re-declares the topology) on connection errors, retrying with backon
//! (exponential with jitter, bounded by the reconnect timeout), and maps
//! errors onto `BrokerError` at this edge.

use std::future::Future;
use std::time::Duration;

use backon::Retryable;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ErrorKind};
use tokio::sync::Mutex;

use super::topology;
use crate::config::QueueNames;
use crate::error::{redact_url, BrokerError};
use crate::reconnect::backoff;

/// The AMQP frame size asked for unless the URL names one (`?frame_max=`).
/// lapin keeps 32 frames of buffer each way per connection, so the
/// server's usual 128 KiB costs 8 MiB per connection; envelopes are a few
/// KiB, and a larger one is simply sent in several frames.
const DEFAULT_FRAME_MAX: u32 = 16 * 1024;

/// An operation's failure: the client's, or the broker refusing a message.
#[derive(Debug)]
pub enum OpError {
    Amqp(lapin::Error),
    Refused(String),
}

impl From<lapin::Error> for OpError {
    fn from(e: lapin::Error) -> Self {
        OpError::Amqp(e)
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpError::Amqp(e) => write!(f, "{e}"),
            OpError::Refused(message) => f.write_str(message),
        }
    }
}

impl OpError {
    /// The connection (or channel) broke: reconnecting can help.
    pub fn is_transient(&self) -> bool {
        let OpError::Amqp(e) = self else { return false };
        matches!(
            e.kind(),
            ErrorKind::IOError(_)
                | ErrorKind::InvalidConnectionState(_)
                | ErrorKind::InvalidChannelState(..)
                | ErrorKind::MissingHeartbeatError
        ) || e.is_amqp_hard_error()
    }
}

#[derive(Debug)]
pub struct Link {
    url: String,
    shown_url: String,
    connection_name: String,
    names: QueueNames,
    reconnect_timeout: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    connection: Option<Connection>,
    channel: Option<Channel>,
    /// Bumped on every new channel, so a failure seen on an old one does not
    /// throw away a fresh one another task just opened.
    generation: u64,
}

impl Link {
    pub fn new(
        url: &str,
        connection_name: &str,
        names: QueueNames,
        reconnect_timeout: Duration,
    ) -> Link {
        Link {
            url: url.to_string(),
            shown_url: redact_url(url),
            connection_name: connection_name.to_string(),
            names,
            reconnect_timeout,
            state: Mutex::new(State::default()),
        }
    }

    pub fn names(&self) -> &QueueNames {
        &self.names
    }

    /// Opens a connection of its own (consumers hold one each, so closing a
    /// consumer's connection gives back exactly its unacked messages).
    pub async fn open_connection(&self, name: &str) -> Result<Connection, lapin::Error> {
        let properties = ConnectionProperties::default().with_connection_name(name.into());
        match self.url.parse::<AMQPUri>() {
            Ok(mut uri) => {
                uri.query.frame_max.get_or_insert(DEFAULT_FRAME_MAX);
                Connection::connect_uri(uri, properties).await
            }
            // lapin words the parse error the same way.
            Err(_) => Connection::connect(&self.url, properties).await,
        }
    }

    /// The shared confirm channel, opening connection and channel (and
    /// declaring every queue) when there is none that works.
    async fn channel(&self) -> Result<(Channel, u64), lapin::Error> {
        let mut state = self.state.lock().await;
        if let Some(channel) = &state.channel {
            if channel.status().connected() {
                return Ok((channel.clone(), state.generation));
            }
        }
        let channel = self.open_channel(&mut state).await?;
        topology::declare_all(&channel, &self.names).await?;
        state.generation += 1;
        state.channel = Some(channel.clone());
        Ok((channel, state.generation))
    }

    /// A new confirm channel on the shared connection, for work that ends by
    /// closing its channel (peeking at dead letters).
    pub async fn fresh_channel(&self) -> Result<Channel, lapin::Error> {
        let mut state = self.state.lock().await;
        self.open_channel(&mut state).await
    }

    async fn open_channel(&self, state: &mut State) -> Result<Channel, lapin::Error> {
        let connection = match state.connection.take().filter(|c| c.status().connected()) {
            Some(connection) => connection,
            None => {
                state.channel = None;
                self.open_connection(&self.connection_name).await?
            }
        };
        let channel = connection.create_channel().await;
        state.connection = Some(connection);
        let channel = channel?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    }

    async fn forget(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state.generation == generation {
            state.channel = None;
        }
    }

    /// Runs `op` on the shared confirm channel, reconnecting and retrying
    /// while the failure is a connection problem.
    pub async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T, BrokerError>
    where
        F: Fn(Channel) -> Fut,
        Fut: Future<Output = Result<T, OpError>>,
    {
        let op = &op;
        let attempt = || async move {
            let (channel, generation) = self.channel().await?;
            let result = op(channel).await;
            if result.is_err() {
                // Any error may have closed the channel (AMQP closes it on
                // soft errors too); the next call opens a new one if so.
                self.forget(generation).await;
            }
            result
        };
        self.retrying(what, attempt).await
    }

    /// Retries `attempt` with backoff while it fails transiently.
    pub async fn retrying<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T, BrokerError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OpError>>,
    {
        attempt
            .retry(backoff(self.reconnect_timeout))
            .when(OpError::is_transient)
            .notify(|e, wait| {
                tracing::warn!(url = %self.shown_url, op = what, error = %e, ?wait, "RabbitMQ unavailable, retrying");
            })
            .await
            .map_err(|e| self.error(e))
    }

    pub fn error(&self, e: OpError) -> BrokerError {
        if e.is_transient() {
            BrokerError::Connect {
                url: self.shown_url.clone(),
                message: e.to_string(),
            }
        } else {
            BrokerError::Protocol(format!("RabbitMQ: {e}"))
        }
    }
}

/// Publishes one persistent message and waits for the broker's confirm.
/// Mandatory, so a message no queue would take comes back as an error
/// instead of vanishing.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
) -> Result<(), OpError> {
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let confirmation = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            options,
            body,
            properties,
        )
        .await?
        .await?;
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(returned)) => Err(OpError::Refused(format!(
            "no queue took the message for routing key {routing_key:?} (exchange {exchange:?}): {}",
            returned.reply_text
        ))),
        Confirmation::Nack(_) => Err(OpError::Refused(format!(
            "the broker refused (nacked) the message for {routing_key:?}"
        ))),
        Confirmation::NotRequested => Err(OpError::Refused(
            "publisher confirms are not enabled on this channel".into(),
        )),
    }
}

/// Persistent (delivery mode 2) JSON, tagged with the job id and attempt.
pub fn message_properties(id: &str, attempt: u32, published_at_secs: i64) -> BasicProperties {
    let mut headers = lapin::types::FieldTable::default();
    headers.insert(
        super::ATTEMPT_HEADER.into(),
        lapin::types::AMQPValue::LongUInt(attempt),
    );
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(id.into())
        .with_timestamp(u64::try_from(published_at_secs).unwrap_or(0))
        .with_headers(headers)
}
