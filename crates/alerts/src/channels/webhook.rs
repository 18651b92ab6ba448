//! A generic JSON webhook: `{"version": 1, "delivery": ID, "items": [...]}`
//! with the items as stored. With a secret, the request carries
//! `X-DQ-Timestamp: <unix seconds>` and `X-DQ-Signature: sha256=<hex>`,
//! the HMAC-SHA256 of `<timestamp>.<body>` under the secret; receivers
//! recompute it and refuse stale timestamps. `X-DQ-Delivery` is the same for
//! every attempt of one delivery, for receivers that deduplicate.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{http, SendError, Sent};
use crate::item::AlertItem;

pub(super) struct Webhook {
    client: reqwest::Client,
    url: String,
    secret: Option<String>,
}

impl Webhook {
    pub(super) fn new(client: reqwest::Client, url: String, secret: Option<String>) -> Self {
        Webhook {
            client,
            url,
            secret,
        }
    }

    pub(super) async fn send(
        &self,
        delivery_id: i64,
        items: &[AlertItem],
    ) -> Result<Sent, SendError> {
        let body = serde_json::to_vec(&json!({
            "version": 1,
            "delivery": delivery_id,
            "items": items,
        }))
        .map_err(|e| SendError::Permanent {
            status: None,
            error: e.to_string(),
        })?;
        let mut headers = vec![("X-DQ-Delivery", delivery_id.to_string())];
        if let Some(secret) = &self.secret {
            let timestamp = chrono::Utc::now().timestamp().to_string();
            headers.push(("X-DQ-Signature", signature(secret, &timestamp, &body)));
            headers.push(("X-DQ-Timestamp", timestamp));
        }
        http::post(&self.client, &self.url, body, &headers).await
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `timestamp.body`.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_hmac() {
        // python3: hmac.new(b"Jefe", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
        let sig = signature("Jefe", "1700000000", br#"{"a":1}"#);
        assert_eq!(
            sig,
            "sha256=fa5f6481efc59da48b19c9dc10196c9953e5651f8304b3a318b6b87d70272e0a"
        );
    }
}
