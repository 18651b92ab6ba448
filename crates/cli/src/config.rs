//! `dq.toml`: where results are stored and which datasources rules may name.
//! Found via `--config`, then `DQ_CONFIG`, then `./dq.toml`; with none, the
//! embedded default (a SQLite store file in the current directory, no targets).
//!
//! ```toml
//! store = "sqlite://dq.db"            # relative paths are relative to this file
//! [targets.warehouse]
//! url = "${WAREHOUSE_URL}"            # secrets come from the environment
//! [alerts.channels.slack]             # alerting: see dq_alerts::config
//! type = "slack"
//! url_env = "DQ_SLACK_WEBHOOK_URL"    # the variable's name, never the URL
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

pub const DEFAULT_STORE_URL: &str = "sqlite://dq.db";
pub const CONFIG_FILE_NAME: &str = "dq.toml";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the configuration came from, for messages.
    pub origin: String,
    pub store_url: String,
    pub targets: BTreeMap<String, TargetConfig>,
    pub broker: BrokerSettings,
    /// `[alerts]`; `None` when the section is absent (nothing is sent).
    pub alerts: Option<dq_alerts::AlertsConfig>,
    /// `[retention]`; `None` when the section is absent (nothing is deleted).
    pub retention: Option<dq_beat::RetentionConfig>,
    pub api: ApiSettings,
}

/// `[api]`: the HTTP API of `dq api` and `dq serve`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    /// Address to listen on (`--listen` overrides it).
    pub listen: String,
    /// The bearer token, read from the variable `token_env` names
    /// (default `DQ_API_TOKEN`); without one, writes are refused.
    pub token: Option<String>,
    pub reads_need_token: bool,
}

pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_API_TOKEN_ENV: &str = "DQ_API_TOKEN";

impl ApiSettings {
    fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        ApiSettings {
            listen: DEFAULT_API_LISTEN.to_string(),
            token: token_from(env, DEFAULT_API_TOKEN_ENV),
            reads_need_token: false,
        }
    }
}

fn token_from(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|t| !t.trim().is_empty())
}

/// `[broker]`: the queues between beat and workers. `memory://` (the
/// default) only connects the beat and workers of one `dq serve` process.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerSettings {
    pub url: String,
    pub prefix: String,
    pub visibility_timeout: std::time::Duration,
    pub max_attempts: u32,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings {
            url: "memory://".into(),
            prefix: String::new(),
            visibility_timeout: std::time::Duration::from_secs(300),
            max_attempts: 3,
        }
    }
}

impl BrokerSettings {
    pub fn to_broker_config(&self) -> dq_broker::BrokerConfig {
        let mut config = dq_broker::BrokerConfig::new(self.url.clone());
        config.prefix = self.prefix.clone();
        config.visibility_timeout = self.visibility_timeout;
        config.max_attempts = self.max_attempts;
        config
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetConfig {
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    store: Option<String>,
    #[serde(default)]
    targets: BTreeMap<String, RawTarget>,
    broker: Option<RawBroker>,
    alerts: Option<dq_alerts::RawAlerts>,
    retention: Option<RawRetention>,
    api: Option<RawApi>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    listen: Option<String>,
    /// The NAME of the variable holding the token, never the token.
    token_env: Option<String>,
    #[serde(default)]
    reads_need_token: bool,
}

/// `[retention]`: the beat deletes runs older than `older_than` on
/// `schedule` (cron, UTC), archiving them to `archive_dir` if set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    older_than: String,
    schedule: Option<String>,
    archive_dir: Option<String>,
    batch_size: Option<u32>,
}

/// When retention runs unless `[retention] schedule` says otherwise: daily at 03:00 UTC.
pub const DEFAULT_RETENTION_SCHEDULE: &str = "0 3 * * *";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBroker {
    url: Option<String>,
    prefix: Option<String>,
    visibility_timeout: Option<String>,
    max_attempts: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    url: String,
}

impl Config {
    pub fn embedded_default() -> Self {
        Config {
            origin: "embedded default (no dq.toml found)".into(),
            store_url: DEFAULT_STORE_URL.into(),
            targets: BTreeMap::new(),
            broker: BrokerSettings::default(),
            alerts: None,
            retention: None,
            api: ApiSettings::from_env(&|name| std::env::var(name).ok()),
        }
    }

    /// `explicit` is `--config` (clap already folds in `DQ_CONFIG`).
    pub fn discover(explicit: Option<&Path>) -> Result<Self> {
        if let Some(path) = explicit {
            return Config::from_file(path);
        }
        let local = Path::new(CONFIG_FILE_NAME);
        if local.is_file() {
            return Config::from_file(local);
        }
        Ok(Config::embedded_default())
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration file {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, &path.display().to_string(), base, &|name| {
            std::env::var(name).ok()
        })
    }

    pub fn parse(
        text: &str,
        origin: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let raw: RawConfig =
            toml::from_str(text).with_context(|| format!("{origin}: invalid configuration"))?;
        let store = match raw.store {
            Some(store) => expand_env(&store, env).with_context(|| format!("{origin}: store"))?,
            None => DEFAULT_STORE_URL.to_string(),
        };
        let mut targets = BTreeMap::new();
        for (name, target) in raw.targets {
            if dq_core::Identifier::new(name.as_str()).is_err() {
                bail!("{origin}: targets.{name}: a target name must be letters, digits and '_'");
            }
            let url = expand_env(&target.url, env)
                .with_context(|| format!("{origin}: targets.{name}.url"))?;
            targets.insert(
                name,
                TargetConfig {
                    url: resolve_sqlite_path(&url, base),
                },
            );
        }
        let broker = match raw.broker {
            None => BrokerSettings::default(),
            Some(raw) => broker_settings(raw, env).with_context(|| format!("{origin}: broker"))?,
        };
        let alerts = raw
            .alerts
            .map(dq_alerts::AlertsConfig::from_raw)
            .transpose()
            .with_context(|| format!("{origin}: alerts"))?;
        let retention = raw
            .retention
            .map(|raw| retention_settings(raw, base, env))
            .transpose()
            .with_context(|| format!("{origin}: retention"))?;
        let api = match raw.api {
            None => ApiSettings::from_env(env),
            Some(raw) => {
                let token_env = raw.token_env.as_deref().unwrap_or(DEFAULT_API_TOKEN_ENV);
                ApiSettings {
                    listen: raw.listen.unwrap_or_else(|| DEFAULT_API_LISTEN.to_string()),
                    token: token_from(env, token_env),
                    reads_need_token: raw.reads_need_token,
                }
            }
        };
        Ok(Config {
            origin: origin.to_string(),
            store_url: resolve_sqlite_path(&store, base),
            targets,
            broker,
            alerts,
            retention,
            api,
        })
    }

    pub fn is_known_target(&self, name: &str) -> bool {
        self.targets.contains_key(name)
    }
}

/// `archive_dir` is relative to dq.toml, like SQLite paths.
fn retention_settings(
    raw: RawRetention,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<dq_beat::RetentionConfig> {
    let older_than = humantime::parse_duration(&raw.older_than).with_context(|| {
        format!(
            "older_than: {:?} is not a duration such as 180d",
            raw.older_than
        )
    })?;
    if older_than.is_zero() {
        bail!("older_than: must be longer than 0s");
    }
    let expression = raw
        .schedule
        .as_deref()
        .unwrap_or(DEFAULT_RETENTION_SCHEDULE);
    let schedule = dq_core::Schedule::new(expression, "UTC").context("schedule")?;
    let mut config = dq_beat::RetentionConfig::new(older_than, schedule);
    if let Some(dir) = raw.archive_dir {
        let dir = expand_env(&dir, env).context("archive_dir")?;
        config.archive_dir = Some(base.join(dir));
    }
    if let Some(batch_size) = raw.batch_size {
        if batch_size == 0 {
            bail!("batch_size: must be at least 1");
        }
        config.batch_size = batch_size;
    }
    Ok(config)
}

fn broker_settings(raw: RawBroker, env: &dyn Fn(&str) -> Option<String>) -> Result<BrokerSettings> {
    let mut settings = BrokerSettings::default();
    if let Some(url) = raw.url {
        settings.url = expand_env(&url, env).context("url")?;
    }
    if let Some(prefix) = raw.prefix {
        settings.prefix = prefix;
    }
    if let Some(timeout) = raw.visibility_timeout {
        settings.visibility_timeout = humantime::parse_duration(&timeout).with_context(|| {
            format!("visibility_timeout: {timeout:?} is not a duration such as 5m")
        })?;
    }
    if let Some(max_attempts) = raw.max_attempts {
        if max_attempts == 0 {
            bail!("max_attempts: must be at least 1");
        }
        settings.max_attempts = max_attempts;
    }
    Ok(settings)
}

/// `${VAR}` and `${VAR:-default}`. A missing variable without a default is an
/// error naming it: a silently empty URL would point somewhere surprising.
pub fn expand_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            bail!("unterminated ${{...}} in {text:?}");
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        match (env(name), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => bail!("environment variable {name} is not set"),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// SQLite paths in dq.toml are relative to the file, not to wherever dq runs.
fn resolve_sqlite_path(url: &str, base: &Path) -> String {
    let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return url.to_string();
    };
    if path.starts_with(':') || Path::new(path).is_absolute() || base.as_os_str().is_empty() {
        return url.to_string();
    }
    let joined: PathBuf = base.join(path);
    format!("sqlite://{}", joined.display())
}

/// A URL fit for logs and terminals: the password replaced.
pub use dq_core::redact_url as redact;

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "WAREHOUSE_URL" => Some("postgres://dq:s3cret@db:5432/wh".into()),
            _ => None,
        }
    }

    /// The error `text` gets as a dq.toml, with every cause.
    fn parse_error(text: &str) -> String {
        let err = Config::parse(text, "dq.toml", Path::new(""), &env).unwrap_err();
        format!("{err:#}")
    }

    #[test]
    fn parses_targets_with_environment_references() {
        let config = Config::parse(
            "store = \"sqlite://results.db\"\n[targets.warehouse]\nurl = \"${WAREHOUSE_URL}\"\n[targets.local]\nurl = \"sqlite://data/shop.db\"\n",
            "dq.toml",
            Path::new("/etc/dq"),
            &env,
        )
        .unwrap();
        assert_eq!(config.store_url, "sqlite:///etc/dq/results.db");
        assert_eq!(
            config.targets["warehouse"].url,
            "postgres://dq:s3cret@db:5432/wh"
        );
        assert_eq!(config.targets["local"].url, "sqlite:///etc/dq/data/shop.db");
        assert!(config.is_known_target("local"));
        assert!(!config.is_known_target("nope"));
    }

    #[test]
    fn expansion_cases() {
        for (input, expected) in [
            ("plain", Ok("plain")),
            ("${WAREHOUSE_URL}", Ok("postgres://dq:s3cret@db:5432/wh")),
            ("${MISSING:-sqlite://x.db}", Ok("sqlite://x.db")),
            ("a${MISSING:-}b", Ok("ab")),
            ("${MISSING}", Err("environment variable MISSING is not set")),
            ("${OPEN", Err("unterminated ${...} in \"${OPEN\"")),
        ] {
            let got = expand_env(input, &env).map_err(|e| e.to_string());
            assert_eq!(
                got.as_deref(),
                expected.map_err(String::from).as_deref(),
                "{input}"
            );
        }
    }

    #[test]
    fn unknown_keys_and_missing_variables_are_errors() {
        let err = parse_error("stor = \"x\"");
        assert!(err.contains("unknown field `stor`"), "{err}");
        let err = parse_error("[targets.w]\nurl = \"${NOPE}\"");
        assert_eq!(
            err,
            "dq.toml: targets.w.url: environment variable NOPE is not set"
        );
    }

    #[test]
    fn broker_section() {
        let config = Config::parse(
            "[broker]\nurl = \"redis://127.0.0.1:6379/0\"\nprefix = \"prod_\"\nvisibility_timeout = \"10m\"\nmax_attempts = 5\n",
            "dq.toml",
            Path::new(""),
            &env,
        )
        .unwrap();
        assert_eq!(config.broker.url, "redis://127.0.0.1:6379/0");
        assert_eq!(config.broker.prefix, "prod_");
        assert_eq!(config.broker.visibility_timeout.as_secs(), 600);
        assert_eq!(config.broker.max_attempts, 5);
        assert_eq!(Config::embedded_default().broker.url, "memory://");
        let err = parse_error("[broker]\nmax_attempts = 0\n");
        assert_eq!(err, "dq.toml: broker: max_attempts: must be at least 1");
    }

    #[test]
    fn retention_section() {
        let config = Config::parse(
            "[retention]\nolder_than = \"180d\"\narchive_dir = \"archive\"\n",
            "dq.toml",
            Path::new("/etc/dq"),
            &env,
        )
        .unwrap();
        let retention = config.retention.unwrap();
        assert_eq!(retention.older_than.as_secs(), 180 * 86400);
        assert_eq!(retention.schedule.expression(), DEFAULT_RETENTION_SCHEDULE);
        assert_eq!(
            retention.archive_dir.as_deref(),
            Some(Path::new("/etc/dq/archive"))
        );
        assert_eq!(retention.batch_size, 1000);
        assert_eq!(Config::embedded_default().retention, None);
        let custom = Config::parse(
            "[retention]\nolder_than = \"90d\"\nschedule = \"30 2 * * 0\"\nbatch_size = 50\n",
            "dq.toml",
            Path::new(""),
            &env,
        )
        .unwrap()
        .retention
        .unwrap();
        assert_eq!(custom.schedule.expression(), "30 2 * * 0");
        assert_eq!((custom.batch_size, custom.archive_dir), (50, None));
        for (text, error) in [
            ("[retention]\n", "missing field `older_than`"),
            (
                "[retention]\nolder_than = \"soon\"\n",
                "older_than: \"soon\" is not a duration",
            ),
            (
                "[retention]\nolder_than = \"0s\"\n",
                "must be longer than 0s",
            ),
            (
                "[retention]\nolder_than = \"1d\"\nschedule = \"daily\"\n",
                "retention: schedule",
            ),
            (
                "[retention]\nolder_than = \"1d\"\nbatch_size = 0\n",
                "batch_size: must be at least 1",
            ),
        ] {
            let err = parse_error(text);
            assert!(err.contains(error), "{text}: {err}");
        }
    }

    #[test]
    fn alerts_section() {
        let config = Config::parse(
            r#"
[alerts]
batch_window = "1m"
escalate_after = "15m"
[alerts.channels.slack]
type = "slack"
url_env = "DQ_SLACK_WEBHOOK_URL"
[alerts.channels.payments]
type = "slack"
url_env = "DQ_PAYMENTS_SLACK_URL"
[alerts.channels.pagerduty]
type = "pagerduty"
routing_key_env = "DQ_PAGERDUTY_ROUTING_KEY"
[alerts.channels.email]
type = "email"
host = "smtp.example.com"
tls = "starttls"
from = "dq <dq@example.com>"
to = ["oncall@example.com"]
username_env = "DQ_SMTP_USER"
password_env = "DQ_SMTP_PASSWORD"
[[alerts.route]]
tag = "payments"
channels = ["payments"]
CRITICAL = ["payments", "pagerduty"]
"#,
            "dq.toml",
            Path::new(""),
            &env,
        )
        .unwrap();
        let alerts = config.alerts.unwrap();
        assert_eq!(alerts.batch_window.as_secs(), 60);
        assert_eq!(alerts.channels.len(), 4);
        assert_eq!(alerts.routes.overrides.len(), 1);
        assert_eq!(Config::embedded_default().alerts, None);
        let err = parse_error(
            "[alerts.channels.s]\ntype = \"slack\"\nurl = \"https://hooks.slack.com/x\"\n",
        );
        assert!(err.contains("unknown field `url`"), "{err}");
        let err = parse_error("[alerts.severity]\nHIGH = [\"pager\"]\n");
        assert_eq!(
            err,
            "dq.toml: alerts: severity.HIGH: channel \"pager\" is not defined under [alerts.channels]"
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://dq:s3cret@db/wh"),
            "postgres://dq:***@db/wh"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(redact("redis://db:6379"), "redis://db:6379");
    }
}
