//! The `[alerts]` section of dq.toml, read by serde as [`RawAlerts`] and
//! validated into [`AlertsConfig`]. Secrets and endpoint URLs never appear
//! here: a channel names the environment variables that hold them
//! (`url_env = "DQ_SLACK_WEBHOOK_URL"`), read when a dispatcher starts.
//!
//! ```toml
//! [alerts]
//! batch_window = "30s"
//! escalate_after = "30m"
//! [alerts.channels.slack]
//! type = "slack"
//! url_env = "DQ_SLACK_WEBHOOK_URL"
//! [[alerts.route]]
//! tag = "payments"
//! channels = ["payments_slack"]
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use dq_core::Severity;
use serde::Deserialize;

use crate::error::ConfigError;
use crate::routing::{RouteOverride, Routes};

pub const DEFAULT_BATCH_WINDOW: Duration = Duration::from_secs(30);
pub const DEFAULT_ESCALATE_AFTER: Duration = Duration::from_secs(30 * 60);
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(6 * 3600);
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// `[alerts]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// Run the dispatcher inside `dq worker` and `dq serve` (default true).
    pub dispatch: Option<bool>,
    pub batch_window: Option<String>,
    /// `"0s"` turns escalation off.
    pub escalate_after: Option<String>,
    pub escalate_min_severity: Option<String>,
    pub stale_after: Option<String>,
    pub max_attempts: Option<u32>,
    pub retry_min_delay: Option<String>,
    pub retry_max_delay: Option<String>,
    pub send_timeout: Option<String>,
    pub lease: Option<String>,
    pub poll_interval: Option<String>,
    /// Shown in messages next to `dq ack ID`, e.g. the web console.
    pub console_url: Option<String>,
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelConfig>,
    /// The default routes: severity name to channel names.
    #[serde(default)]
    pub severity: BTreeMap<String, Vec<String>>,
    /// Overrides by tag, owner or rule; the first that matches wins.
    #[serde(default)]
    pub route: Vec<RawRoute>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChannelConfig {
    Slack(SlackConfig),
    Email(EmailConfig),
    Pagerduty(PagerDutyConfig),
    Webhook(WebhookConfig),
}

impl ChannelConfig {
    /// The environment variables this channel cannot send without (an
    /// optional one only once the configuration names it).
    pub fn required_variables(&self) -> Vec<&str> {
        match self {
            ChannelConfig::Slack(c) => vec![c.url_env.as_str()],
            ChannelConfig::Webhook(c) => std::iter::once(c.url_env.as_str())
                .chain(c.secret_env.as_deref())
                .collect(),
            ChannelConfig::Pagerduty(c) => vec![c.routing_key_env.as_str()],
            ChannelConfig::Email(c) => match (&c.username_env, &c.password_env) {
                (Some(user), Some(password)) => vec![user.as_str(), password.as_str()],
                _ => Vec::new(),
            },
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ChannelConfig::Slack(_) => "slack",
            ChannelConfig::Email(_) => "email",
            ChannelConfig::Pagerduty(_) => "pagerduty",
            ChannelConfig::Webhook(_) => "webhook",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The variable holding the incoming-webhook URL.
    pub url_env: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required), port 587 by default.
    Starttls,
    /// TLS from the first byte ("SMTPS"), port 465 by default.
    Tls,
    /// No encryption: only for a relay on localhost.
    None,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub host: String,
    pub port: Option<u16>,
    #[serde(default = "default_tls")]
    pub tls: SmtpTls,
    pub from: String,
    pub to: Vec<String>,
    pub username_env: Option<String>,
    pub password_env: Option<String>,
}

fn default_tls() -> SmtpTls {
    SmtpTls::Starttls
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// The variable holding the Events API v2 integration (routing) key.
    pub routing_key_env: String,
    /// A variable overriding the events endpoint (a proxy, a test receiver).
    pub url_env: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url_env: String,
    /// The variable holding the HMAC-SHA256 key; unset: unsigned.
    pub secret_env: Option<String>,
}

/// One `[[alerts.route]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub name: Option<String>,
    pub tag: Option<String>,
    pub owner: Option<String>,
    pub rule: Option<String>,
    /// For every severity not given below.
    pub channels: Option<Vec<String>>,
    #[serde(rename = "INFO")]
    pub info: Option<Vec<String>>,
    #[serde(rename = "LOW")]
    pub low: Option<Vec<String>>,
    #[serde(rename = "MEDIUM")]
    pub medium: Option<Vec<String>>,
    #[serde(rename = "HIGH")]
    pub high: Option<Vec<String>>,
    #[serde(rename = "CRITICAL")]
    pub critical: Option<Vec<String>>,
}

/// How deliveries are attempted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeliveryPolicy {
    /// Attempts of one delivery before it is FAILED.
    pub max_attempts: u32,
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// Ceiling on one attempt (HTTP request, SMTP session).
    pub send_timeout: Duration,
    /// How long a claimed delivery is a dispatcher's; longer than
    /// `send_timeout`, so only a dead dispatcher's lease expires.
    pub lease: Duration,
    pub poll_interval: Duration,
}

/// `[alerts]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertsConfig {
    pub dispatch: bool,
    pub batch_window: Duration,
    pub escalate_after: Option<Duration>,
    pub escalate_min_severity: Severity,
    /// Events older than this when planned are recorded, not sent (a
    /// dispatcher started after a long stop does not flood the channels).
    pub stale_after: Duration,
    pub delivery: DeliveryPolicy,
    pub console_url: Option<String>,
    pub channels: BTreeMap<String, ChannelConfig>,
    pub routes: Routes,
}

impl Default for AlertsConfig {
    /// No channel: events are planned and recorded, nothing is sent.
    fn default() -> Self {
        AlertsConfig::from_raw(RawAlerts::default()).expect("the empty configuration is valid")
    }
}

fn duration(field: &str, text: Option<&str>, default: Duration) -> Result<Duration, ConfigError> {
    match text {
        None => Ok(default),
        Some(text) => humantime::parse_duration(text).map_err(|_| {
            ConfigError::new(
                field,
                format!("{text:?} is not a duration such as 30s or 5m"),
            )
        }),
    }
}

impl AlertsConfig {
    pub fn from_raw(raw: RawAlerts) -> Result<Self, ConfigError> {
        let escalate_after = duration(
            "escalate_after",
            raw.escalate_after.as_deref(),
            DEFAULT_ESCALATE_AFTER,
        )?;
        let escalate_min_severity = match raw.escalate_min_severity.as_deref() {
            None => Severity::High,
            Some(s) => s
                .parse()
                .map_err(|e| ConfigError::new("escalate_min_severity", e))?,
        };
        let delivery = DeliveryPolicy {
            max_attempts: raw.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS),
            retry_min_delay: duration(
                "retry_min_delay",
                raw.retry_min_delay.as_deref(),
                Duration::from_secs(5),
            )?,
            retry_max_delay: duration(
                "retry_max_delay",
                raw.retry_max_delay.as_deref(),
                Duration::from_secs(600),
            )?,
            send_timeout: duration(
                "send_timeout",
                raw.send_timeout.as_deref(),
                DEFAULT_SEND_TIMEOUT,
            )?,
            lease: duration("lease", raw.lease.as_deref(), DEFAULT_LEASE)?,
            poll_interval: duration(
                "poll_interval",
                raw.poll_interval.as_deref(),
                DEFAULT_POLL_INTERVAL,
            )?,
        };
        if delivery.max_attempts == 0 {
            return Err(ConfigError::new("max_attempts", "must be at least 1"));
        }
        if delivery.lease <= delivery.send_timeout {
            return Err(ConfigError::new(
                "lease",
                format!(
                    "{:?} must be longer than send_timeout ({:?}): a lease that expires during \
                     an attempt makes a live dispatcher look dead",
                    delivery.lease, delivery.send_timeout
                ),
            ));
        }
        if delivery.poll_interval.is_zero() {
            return Err(ConfigError::new("poll_interval", "must be more than 0"));
        }
        for (name, channel) in &raw.channels {
            validate_channel(name, channel)?;
        }
        let routes = routes(&raw)?;
        Ok(AlertsConfig {
            dispatch: raw.dispatch.unwrap_or(true),
            batch_window: duration(
                "batch_window",
                raw.batch_window.as_deref(),
                DEFAULT_BATCH_WINDOW,
            )?,
            escalate_after: Some(escalate_after).filter(|d| !d.is_zero()),
            escalate_min_severity,
            stale_after: duration(
                "stale_after",
                raw.stale_after.as_deref(),
                DEFAULT_STALE_AFTER,
            )?,
            delivery,
            console_url: raw.console_url,
            channels: raw.channels,
            routes,
        })
    }

    /// Every environment variable the channels read, by channel, with
    /// whether it must be set.
    pub fn environment(&self) -> Vec<(String, String, bool)> {
        let mut vars = Vec::new();
        for (name, channel) in &self.channels {
            let mut add = |var: &str, required: bool| {
                vars.push((name.clone(), var.to_string(), required));
            };
            match channel {
                ChannelConfig::Slack(c) => add(&c.url_env, true),
                ChannelConfig::Webhook(c) => {
                    add(&c.url_env, true);
                    if let Some(s) = &c.secret_env {
                        add(s, true);
                    }
                }
                ChannelConfig::Pagerduty(c) => {
                    add(&c.routing_key_env, true);
                    if let Some(u) = &c.url_env {
                        add(u, false);
                    }
                }
                ChannelConfig::Email(c) => {
                    for var in [&c.username_env, &c.password_env].into_iter().flatten() {
                        add(var, true);
                    }
                }
            }
        }
        vars
    }
}

fn validate_channel(name: &str, channel: &ChannelConfig) -> Result<(), ConfigError> {
    let field = |f: &str| format!("channels.{name}.{f}");
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(ConfigError::new(
            &format!("channels.{name}"),
            "a channel name is letters, digits and '_'",
        ));
    }
    let env_name = |f: &str, var: &str| {
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Err(ConfigError::new(
                &field(f),
                format!("{var:?} is not an environment variable name (secrets and URLs come from the environment)"),
            ))
        } else {
            Ok(())
        }
    };
    match channel {
        ChannelConfig::Slack(c) => env_name("url_env", &c.url_env),
        ChannelConfig::Webhook(c) => {
            env_name("url_env", &c.url_env)?;
            c.secret_env
                .as_deref()
                .map_or(Ok(()), |s| env_name("secret_env", s))
        }
        ChannelConfig::Pagerduty(c) => {
            env_name("routing_key_env", &c.routing_key_env)?;
            c.url_env
                .as_deref()
                .map_or(Ok(()), |s| env_name("url_env", s))
        }
        ChannelConfig::Email(c) => {
            if c.host.trim().is_empty() {
                return Err(ConfigError::new(&field("host"), "is empty"));
            }
            if c.to.is_empty() {
                return Err(ConfigError::new(&field("to"), "needs at least one address"));
            }
            for address in std::iter::once(&c.from).chain(&c.to) {
                address.parse::<lettre::message::Mailbox>().map_err(|e| {
                    ConfigError::new(&field("from/to"), format!("{address:?}: {e}"))
                })?;
            }
            if c.username_env.is_some() != c.password_env.is_some() {
                return Err(ConfigError::new(
                    &field("username_env"),
                    "username_env and password_env go together",
                ));
            }
            for (f, var) in [
                ("username_env", &c.username_env),
                ("password_env", &c.password_env),
            ] {
                if let Some(var) = var {
                    env_name(f, var)?;
                }
            }
            Ok(())
        }
    }
}

fn severity_key(text: &str) -> Result<Severity, ConfigError> {
    text.parse()
        .map_err(|e| ConfigError::new(&format!("severity.{text}"), e))
}

fn routes(raw: &RawAlerts) -> Result<Routes, ConfigError> {
    let known = |place: &str, channels: &[String]| -> Result<(), ConfigError> {
        for channel in channels {
            if !raw.channels.contains_key(channel) {
                return Err(ConfigError::new(
                    place,
                    format!("channel {channel:?} is not defined under [alerts.channels]"),
                ));
            }
        }
        Ok(())
    };
    let mut defaults = Routes::builtin_defaults();
    // The built-in defaults name slack, email and pagerduty: only those
    // configured count. Routes written in the file must all exist.
    for channels in defaults.values_mut() {
        channels.retain(|c| raw.channels.contains_key(c));
    }
    for (severity, channels) in &raw.severity {
        let severity = severity_key(severity)?;
        known(&format!("severity.{severity}"), channels)?;
        defaults.insert(severity, channels.clone());
    }
    let mut overrides = Vec::new();
    for (i, route) in raw.route.iter().enumerate() {
        let place = format!("route[{i}]");
        if route.tag.is_none() && route.owner.is_none() && route.rule.is_none() {
            return Err(ConfigError::new(
                &place,
                "a route matches on tag, owner or rule (give at least one)",
            ));
        }
        let mut by_severity = BTreeMap::new();
        for (severity, channels) in [
            (Severity::Info, &route.info),
            (Severity::Low, &route.low),
            (Severity::Medium, &route.medium),
            (Severity::High, &route.high),
            (Severity::Critical, &route.critical),
        ] {
            if let Some(channels) = channels.as_ref().or(route.channels.as_ref()) {
                known(&place, channels)?;
                by_severity.insert(severity, channels.clone());
            }
        }
        if by_severity.is_empty() {
            return Err(ConfigError::new(
                &place,
                "a route needs `channels` or channels per severity (INFO ... CRITICAL)",
            ));
        }
        overrides.push(RouteOverride {
            name: route.name.clone().unwrap_or_else(|| format!("route{i}")),
            tag: route.tag.clone(),
            owner: route.owner.clone(),
            rule: route.rule.clone(),
            channels: by_severity,
        });
    }
    Ok(Routes {
        defaults,
        overrides,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AlertsConfig, String> {
        let raw: RawAlerts = toml_like(text)?;
        AlertsConfig::from_raw(raw).map_err(|e| e.to_string())
    }

    /// The tests write JSON (the crate has no TOML parser; dq.toml's
    /// parsing is the CLI's): the same serde shape.
    fn toml_like(json: &str) -> Result<RawAlerts, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_channels() {
        let config = parse(
            r#"{"channels": {
                "slack": {"type": "slack", "url_env": "DQ_SLACK_WEBHOOK_URL"},
                "pagerduty": {"type": "pagerduty", "routing_key_env": "DQ_PD_KEY"}
            }}"#,
        )
        .unwrap();
        assert!(config.dispatch);
        assert_eq!(config.batch_window, DEFAULT_BATCH_WINDOW);
        assert_eq!(config.escalate_after, Some(DEFAULT_ESCALATE_AFTER));
        // email is not configured, so the defaults leave it out.
        assert_eq!(config.routes.defaults[&Severity::Medium], ["slack"]);
        assert_eq!(
            config.routes.defaults[&Severity::Critical],
            ["slack", "pagerduty"]
        );
        assert_eq!(
            config.environment(),
            [
                ("pagerduty".into(), "DQ_PD_KEY".into(), true),
                ("slack".into(), "DQ_SLACK_WEBHOOK_URL".into(), true)
            ]
        );
        assert_eq!(AlertsConfig::default().channels.len(), 0);
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (r#"{"batch_window": "soon"}"#, "batch_window: \"soon\" is not a duration"),
            (r#"{"max_attempts": 0}"#, "max_attempts: must be at least 1"),
            (
                r#"{"lease": "5s", "send_timeout": "10s"}"#,
                "lease: 5s must be longer than send_timeout",
            ),
            (
                r#"{"channels": {"s": {"type": "slack", "url_env": "https://hooks.slack.com/x"}}}"#,
                "channels.s.url_env: \"https://hooks.slack.com/x\" is not an environment variable name",
            ),
            (
                r#"{"channels": {"s": {"type": "slack", "url": "x"}}}"#,
                "unknown field `url`",
            ),
            (r#"{"severity": {"HIGH": ["nope"]}}"#, "severity.HIGH: channel \"nope\" is not defined"),
            (r#"{"severity": {"URGENT": []}}"#, "severity.URGENT: unknown severity"),
            (r#"{"route": [{"channels": []}]}"#, "route[0]: a route matches on tag, owner or rule"),
            (
                r#"{"channels": {"m": {"type": "email", "host": "h", "from": "not an address", "to": ["a@b.c"]}}}"#,
                "channels.m.from/to: \"not an address\"",
            ),
            (r#"{"escalate_min_severity": "loud"}"#, "escalate_min_severity: unknown severity"),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn escalation_can_be_turned_off() {
        let config = parse(r#"{"escalate_after": "0s"}"#).unwrap();
        assert_eq!(config.escalate_after, None);
    }
}
