//! POSTing JSON and reading the answer the same way for every HTTP
//! channel: 2xx delivered; 429 retried after its Retry-After; 408 and 5xx
//! and network errors retried; any other status refused for good. Errors
//! never carry the URL (it is a secret for Slack and webhooks).

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

use super::{SendError, Sent};
use crate::error::AlertError;

/// How much of a refusal's body goes into the recorded error.
const BODY_SHOWN: usize = 300;

pub(super) fn client(timeout: Duration) -> Result<reqwest::Client, AlertError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("dq/", env!("CARGO_PKG_VERSION")))
        // A redirect would send the payload (and signature) elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| AlertError::Channel {
            channel: "http".into(),
            problem: e.without_url().to_string(),
        })
}

/// POSTs `body` (already serialised, so a signature covers these bytes).
pub(super) async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    headers: &[(&'static str, String)],
) -> Result<Sent, SendError> {
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.map_err(|e| SendError::Retry {
        status: None,
        error: format!("request failed: {}", e.without_url()),
        after: None,
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(Sent {
            status: Some(status.as_u16()),
        });
    }
    let after = retry_after(response.headers(), SystemTime::now());
    let text = response.text().await.unwrap_or_default();
    let shown: String = text.chars().take(BODY_SHOWN).collect();
    let error = format!("HTTP {}: {}", status.as_u16(), shown.trim());
    let code = Some(status.as_u16());
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        Err(SendError::Retry {
            status: code,
            error,
            after,
        })
    } else {
        Err(SendError::Permanent {
            status: code,
            error,
        })
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Sun, 29 Mar 2026 10:00:00 GMT").unwrap();
        let cases = [
            ("7", Some(7)),
            (" 0 ", Some(0)),
            ("Sun, 29 Mar 2026 10:00:30 GMT", Some(30)),
            ("Sun, 29 Mar 2026 09:00:00 GMT", Some(0)),
            ("soon", None),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, value.parse().unwrap());
            assert_eq!(
                retry_after(&headers, now).map(|d| d.as_secs()),
                expected,
                "{value}"
            );
        }
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
