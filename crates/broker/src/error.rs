//! The one error type of the crate. Backend errors (redis, lapin) are mapped
//! onto it at the edge, in each backend's module, so callers never see them.

/// What went wrong talking to a broker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The broker could not be reached, or the connection broke and could not
    /// be re-established within the reconnect budget. Retriable.
    #[error("cannot reach the broker at {url}: {message}")]
    Connect { url: String, message: String },
    /// The broker answered with something unexpected (a refused command, a
    /// queue declared with other arguments, an unconfirmed publish).
    #[error("broker protocol error: {0}")]
    Protocol(String),
    #[error("cannot encode the envelope for job {id}: {message}")]
    Encode { id: String, message: String },
    /// A body read from the broker is not an envelope this build can read.
    #[error("cannot decode the envelope: {0}")]
    Decode(String),
    /// The handle (consumer, channel) was closed and cannot be used again.
    #[error("the broker handle is closed: {0}")]
    Closed(String),
    /// This consumer no longer holds the message: its claim expired and another
    /// consumer took it over, or its channel closed. The message is (or will
    /// be) delivered again; the caller's writes must be idempotent anyway.
    #[error("lost the claim on message {id}: {message}")]
    Lost { id: String, message: String },
    /// The configuration names something this build cannot do.
    #[error("invalid broker configuration: {0}")]
    Config(String),
}

impl BrokerError {
    /// Whether trying again later can succeed (the broker was unreachable).
    pub fn is_retriable(&self) -> bool {
        matches!(self, BrokerError::Connect { .. })
    }
}

pub use dq_core::redact_url;

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_lose_their_passwords() {
        for (url, shown) in [
            (
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                "amqp://guest:***@127.0.0.1:5672/%2f",
            ),
            ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            ("memory://", "memory://"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
