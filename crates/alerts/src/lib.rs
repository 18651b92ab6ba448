//! dq-alerts: telling people about violations without burying them.
//!
//! - [`config`]: the `[alerts]` section of dq.toml (channels, routes,
//!   timings); secrets and URLs only as names of environment variables.
//! - [`routing`]: severity to channels, overridden per tag, owner or rule.
//! - [`policy`]: the fatigue controls (incidents, repeats, cooldown,
//!   escalation, recovery, staleness), pure decisions over a rule's state.
//! - [`channels`]: Slack, email (SMTP), PagerDuty Events v2, JSON webhook.
//! - [`dispatcher`]: plans the store's outbox into deliveries and sends
//!   them, exactly once per delivery or never when in doubt.
//!
//! The outbox itself is written by dq-store with each run result, in the
//! same transaction: see `Store::finish_runs` and `Store::plan_alerts`.

pub mod channels;
pub mod config;
pub mod dispatcher;
mod error;
pub mod item;
pub mod policy;
pub mod routing;
#[cfg(test)]
mod testing;

pub use channels::{Channels, SendError, Sent};
pub use config::{AlertsConfig, ChannelConfig, RawAlerts};
pub use dispatcher::{Dispatcher, TickSummary};
pub use error::{AlertError, ConfigError};
pub use item::{AlertItem, ItemKind};
