//! The channels: Slack incoming webhooks (`slack.rs`), email over SMTP
//! (`email.rs`), PagerDuty Events API v2 (`pagerduty.rs`) and a generic
//! JSON webhook (`webhook.rs`), over one HTTP client (`http.rs`). A channel
//! is built from its configuration and the environment variables it names;
//! its secrets stay inside it (they are never logged, and errors never
//! carry a URL).
//!
//! A send either delivered, or failed in a way worth retrying (network,
//! timeout, 5xx, 429 with its Retry-After), or was refused for good (other
//! 4xx, a bad address): [`SendError`].

mod email;
mod http;
mod pagerduty;
mod render;
mod slack;
mod webhook;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{AlertsConfig, ChannelConfig};
use crate::error::AlertError;
use crate::item::AlertItem;

pub use render::{plain_text, subject};
pub use webhook::signature;

/// A delivered message: the receiver's status, where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub status: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again: after `after` at the earliest, when the receiver said so.
    #[error("{error}")]
    Retry {
        status: Option<u16>,
        error: String,
        after: Option<Duration>,
    },
    /// Trying again would fail the same way.
    #[error("{error}")]
    Permanent { status: Option<u16>, error: String },
}

enum Channel {
    Slack(slack::Slack),
    // Boxed: the SMTP transport is far larger than the HTTP channels.
    Email(Box<email::Email>),
    PagerDuty(pagerduty::PagerDuty),
    Webhook(webhook::Webhook),
}

/// Every configured channel, ready to send.
pub struct Channels {
    by_name: BTreeMap<String, Channel>,
    console_url: Option<String>,
}

impl std::fmt::Debug for Channels {
    /// Names only: the channels hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_name.keys()).finish()
    }
}

impl Channels {
    /// Reads each channel's variables through `env`; a missing one is an
    /// error naming it (and never showing a value).
    pub fn from_config(
        config: &AlertsConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, AlertError> {
        let client = http::client(config.delivery.send_timeout)?;
        let mut by_name = BTreeMap::new();
        for (name, channel) in &config.channels {
            let secret = |variable: &str| {
                env(variable)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| AlertError::MissingSecret {
                        channel: name.clone(),
                        variable: variable.to_string(),
                    })
            };
            let built = match channel {
                ChannelConfig::Slack(c) => {
                    Channel::Slack(slack::Slack::new(client.clone(), secret(&c.url_env)?))
                }
                ChannelConfig::Webhook(c) => Channel::Webhook(webhook::Webhook::new(
                    client.clone(),
                    secret(&c.url_env)?,
                    c.secret_env.as_deref().map(secret).transpose()?,
                )),
                ChannelConfig::Pagerduty(c) => Channel::PagerDuty(pagerduty::PagerDuty::new(
                    client.clone(),
                    c.url_env
                        .as_deref()
                        .and_then(env)
                        .unwrap_or_else(|| crate::config::PAGERDUTY_EVENTS_URL.to_string()),
                    secret(&c.routing_key_env)?,
                )),
                ChannelConfig::Email(c) => {
                    let credentials = match (&c.username_env, &c.password_env) {
                        (Some(user), Some(password)) => Some((secret(user)?, secret(password)?)),
                        _ => None,
                    };
                    Channel::Email(Box::new(
                        email::Email::new(c, credentials, config.delivery.send_timeout).map_err(
                            |problem| AlertError::Channel {
                                channel: name.clone(),
                                problem,
                            },
                        )?,
                    ))
                }
            };
            by_name.insert(name.clone(), built);
        }
        Ok(Channels {
            by_name,
            console_url: config.console_url.clone(),
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Sends [`AlertItem::test_message`] to every channel at once (`dq
    /// doctor --send-test`); nothing is recorded in the store. How each
    /// send went, by channel name.
    pub async fn send_test(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Vec<(String, Result<Sent, SendError>)> {
        let item = AlertItem::test_message(at);
        let sends = self.by_name.keys().map(|name| async {
            let sent = self.send(name, 0, std::slice::from_ref(&item)).await;
            (name.clone(), sent)
        });
        futures::future::join_all(sends).await
    }

    /// Sends one delivery's items as one message (PagerDuty: one event
    /// each). `delivery_id` identifies it to receivers that deduplicate.
    pub async fn send(
        &self,
        channel: &str,
        delivery_id: i64,
        items: &[AlertItem],
    ) -> Result<Sent, SendError> {
        let Some(target) = self.by_name.get(channel) else {
            return Err(SendError::Permanent {
                status: None,
                error: format!("channel {channel:?} is not configured (any more)"),
            });
        };
        let console = self.console_url.as_deref();
        match target {
            Channel::Slack(c) => c.send(items, console).await,
            Channel::Email(c) => c.send(items, console).await,
            Channel::PagerDuty(c) => c.send(items, console).await,
            Channel::Webhook(c) => c.send(delivery_id, items).await,
        }
    }
}
