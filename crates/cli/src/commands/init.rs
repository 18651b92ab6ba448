//! `dq init`: a new environment's `dq.toml` (commented, every section) and
//! an example manifest, ready for `dq load` and `dq doctor`. Without
//! options it is the embedded default (SQLite store, in-process broker)
//! plus a small SQLite example database to check; with `--store`,
//! `--broker` and `--target` it points at real services. A password in a
//! URL is never written: it becomes `${DQ_<NAME>_PASSWORD}`, and the user
//! is told which variables to set.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Executor};

use crate::cli::InitArgs;
use crate::exit;

const EXAMPLE_TARGET: &str = "example";
const EXAMPLE_DATABASE: &str = "data/example.db";
const MANIFEST: &str = "manifests/example.yaml";
const CONFIG: &str = "dq.toml";

/// A URL as written to dq.toml, and the variable its password moved to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Written {
    url: String,
    secret: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Secret {
    variable: String,
    /// The URL with its password masked, to say where the variable goes.
    shown: String,
}

pub async fn run(args: InitArgs) -> Result<u8> {
    for (name, _) in &args.targets {
        if dq_core::Identifier::new(name.as_str()).is_err() {
            bail!("--target {name}=...: a target name must be letters, digits and '_'");
        }
    }
    let dir = &args.dir;
    let embedded_target = args.targets.is_empty();
    let mut files = vec![PathBuf::from(CONFIG), PathBuf::from(MANIFEST)];
    if embedded_target {
        files.push(PathBuf::from(EXAMPLE_DATABASE));
    }
    let existing: Vec<String> = files
        .iter()
        .filter(|f| dir.join(f).exists())
        .map(|f| dir.join(f).display().to_string())
        .collect();
    if !existing.is_empty() && !args.force {
        eprintln!(
            "error: refusing to overwrite {} (use --force to replace)",
            existing.join(", ")
        );
        return Ok(exit::FAILED);
    }

    let store = without_password(args.store.as_deref().unwrap_or("sqlite://dq.db"), "STORE");
    let broker = without_password(args.broker.as_deref().unwrap_or("memory://"), "BROKER");
    let targets: Vec<(String, Written)> = if embedded_target {
        let url = format!("sqlite://{EXAMPLE_DATABASE}");
        vec![(
            EXAMPLE_TARGET.to_string(),
            without_password(&url, EXAMPLE_TARGET),
        )]
    } else {
        args.targets
            .iter()
            .map(|(name, url)| (name.clone(), without_password(url, name)))
            .collect()
    };

    std::fs::create_dir_all(dir.join("manifests"))
        .with_context(|| format!("cannot create {}", dir.join("manifests").display()))?;
    write(dir, CONFIG, &config_text(&store, &broker, &targets))?;
    let first_target = &targets[0].0;
    write(dir, MANIFEST, &manifest_text(first_target, embedded_target))?;
    if embedded_target {
        create_example_database(&dir.join(EXAMPLE_DATABASE)).await?;
    }

    println!("wrote {}", files_written(dir, &files));
    let secrets: Vec<&Secret> = std::iter::once(&store)
        .chain(std::iter::once(&broker))
        .chain(targets.iter().map(|(_, t)| t))
        .filter_map(|w| w.secret.as_ref())
        .collect();
    if !secrets.is_empty() {
        println!("\nPasswords are not written to dq.toml; set these variables (URL-encoded) before running dq:");
        for secret in secrets {
            println!("  {:<24} the password of {}", secret.variable, secret.shown);
        }
    }
    // From the directory it was written in, every command finds ./dq.toml.
    let here = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", dir.display())
    };
    println!("\nNext:");
    for (command, why) in [
        (
            "dq load manifests/example.yaml --dry-run",
            "validate the example rules",
        ),
        ("dq load manifests/example.yaml", "store them"),
        ("dq serve", "run them on their schedules"),
        ("dq doctor", "check every part"),
    ] {
        println!("  {here}{command:<42} # {why}");
    }
    Ok(exit::OK)
}

fn files_written(dir: &Path, files: &[PathBuf]) -> String {
    let shown: Vec<String> = files
        .iter()
        .map(|f| dir.join(f).display().to_string())
        .collect();
    shown.join(", ")
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `scheme://user:password@host/...` becomes
/// `scheme://user:${DQ_<NAME>_PASSWORD}@host/...`; a URL without a
/// password, or whose password already is a `${...}` reference, is kept.
fn without_password(url: &str, name: &str) -> Written {
    let keep = Written {
        url: url.to_string(),
        secret: None,
    };
    let Some(scheme_end) = url.find("://") else {
        return keep;
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return keep;
    };
    let Some(colon) = authority[..at].find(':') else {
        return keep;
    };
    let password = &authority[colon + 1..at];
    if password.is_empty() || (password.starts_with("${") && password.ends_with('}')) {
        return keep;
    }
    let variable = format!("DQ_{}_PASSWORD", name.to_ascii_uppercase());
    let before = &url[..rest_start + colon + 1];
    let after = &url[rest_start + at..];
    Written {
        url: format!("{before}${{{variable}}}{after}"),
        secret: Some(Secret {
            shown: format!("{before}***{after}"),
            variable,
        }),
    }
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn config_text(store: &Written, broker: &Written, targets: &[(String, Written)]) -> String {
    let mut text = format!(
        r#"# dq configuration, written by `dq init`. Every dq command reads ./dq.toml
# (or --config FILE, or $DQ_CONFIG). Secrets never go in this file: write
# ${{VAR}} (or ${{VAR:-default}}) and set VAR in the environment.

# Where rules, runs, violations and metrics are kept: sqlite://PATH (relative
# to this file) or postgres://USER:${{DQ_STORE_PASSWORD}}@HOST:5432/DB
# (a schema of its own: ?options=-csearch_path%3Ddq). `dq migrate` sets it up.
store = {store}

[broker]
# memory:// only connects the beat and the workers of one `dq serve` process.
# For a fleet of `dq beat` and `dq worker` processes: redis://HOST:6379/0 or
# amqp://USER:${{DQ_BROKER_PASSWORD}}@HOST:5672/%2f
url = {broker}
# prefix = ""                  # in front of every queue/key name
# visibility_timeout = "5m"    # Redis: when a dead worker's job goes to another
# max_attempts = 3             # then the job goes to the dead letters

# The databases rules check, opened read-only; a rule says `target: NAME`.
# sqlite://PATH (relative to this file) or postgres://USER:${{VAR}}@HOST:5432/DB
"#,
        store = quoted(&store.url),
        broker = quoted(&broker.url),
    );
    for (name, target) in targets {
        text.push_str(&format!(
            "[targets.{name}]\nurl = {}\n\n",
            quoted(&target.url)
        ));
    }
    text.push_str(
        r#"[api]
# `dq api` and `dq serve`: health, /metrics, REST (`--listen` overrides).
listen = "127.0.0.1:8080"
token_env = "DQ_API_TOKEN"     # the NAME of the variable holding the bearer token

# Alerting: uncomment, set the variable, then `dq doctor --send-test`.
# [alerts]
# [alerts.channels.slack]
# type = "slack"
# url_env = "DQ_SLACK_WEBHOOK_URL"
# [alerts.channels.pagerduty]
# type = "pagerduty"
# routing_key_env = "DQ_PAGERDUTY_ROUTING_KEY"

# Retention: the leading beat deletes runs older than this (cron, UTC).
# [retention]
# older_than = "180d"
# schedule = "0 3 * * *"
# archive_dir = "archive"
"#,
    );
    text
}

fn manifest_text(target: &str, embedded: bool) -> String {
    let (intro, enabled, dataset) = if embedded {
        (
            "# It checks data/example.db, a small database `dq init` made (table\n\
             # `orders`); every rule passes. Replace it with your own tables.",
            "",
            "orders",
        )
    } else {
        (
            "# `my_table` and its columns are placeholders: name one of your tables,\n\
             # then remove `enabled: false` from the defaults so the beat runs them.",
            "  enabled: false                 # placeholders: enable once they name your data\n",
            "my_table",
        )
    };
    format!(
        r#"# An example dq manifest, written by `dq init`. Validate and store it:
#   dq load manifests/example.yaml --dry-run
#   dq load manifests/example.yaml
{intro}
# Every check kind, with every option: see the README's "Manifests".

version: 1

defaults:                         # what every rule gets unless it says otherwise
  target: {target}                # a [targets.NAME] of dq.toml
  severity: MEDIUM                # INFO < LOW < MEDIUM < HIGH < CRITICAL
  schedule: "*/5 * * * *"         # cron (5 fields, or 6 with seconds first), in timezone
  timezone: UTC
  owner: data-eng
{enabled}
rules:
  - name: example_not_empty
    description: The table is never empty
    dataset: {dataset}
    check: not_empty
    severity: HIGH

  - name: example_customer_id_nulls
    description: Almost every row has a customer
    dataset: {dataset}
    check: null_rate
    column: customer_id
    max: 0.01                     # fail above 1 % NULLs
    warn: 0.005                   # warn above 0.5 %

  - name: example_id_unique
    description: Ids are unique
    dataset: {dataset}
    check: duplicate_count
    column: id

  - name: example_status_values
    description: Only known statuses
    dataset: {dataset}
    check: accepted_values
    column: status
    values: [new, paid, shipped]
"#
    )
}

/// The table the embedded example's rules check: four orders, all valid.
async fn create_example_database(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .connect()
        .await
        .with_context(|| format!("cannot create {}", path.display()))?;
    conn.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, \
             status TEXT NOT NULL, amount REAL NOT NULL, created_at TEXT NOT NULL);\n\
         INSERT INTO orders VALUES \
             (1, 10, 'new', 12.5, '2026-01-01T10:00:00Z'), \
             (2, 11, 'paid', 30.0, '2026-01-01T11:00:00Z'), \
             (3, 10, 'shipped', 7.25, '2026-01-02T09:30:00Z'), \
             (4, 12, 'paid', 99.0, '2026-01-02T15:45:00Z');",
    )
    .await
    .with_context(|| format!("cannot fill {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_become_variable_references() {
        for (url, name, written, variable) in [
            (
                "postgres://dq:s3cret@db:5432/ops?options=-csearch_path%3Ddq",
                "STORE",
                "postgres://dq:${DQ_STORE_PASSWORD}@db:5432/ops?options=-csearch_path%3Ddq",
                Some("DQ_STORE_PASSWORD"),
            ),
            (
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                "BROKER",
                "amqp://guest:${DQ_BROKER_PASSWORD}@127.0.0.1:5672/%2f",
                Some("DQ_BROKER_PASSWORD"),
            ),
            (
                "redis://:pw@cache:6379/0",
                "BROKER",
                "redis://:${DQ_BROKER_PASSWORD}@cache:6379/0",
                Some("DQ_BROKER_PASSWORD"),
            ),
            (
                "postgres://u:p%40ss@h/db",
                "warehouse",
                "postgres://u:${DQ_WAREHOUSE_PASSWORD}@h/db",
                Some("DQ_WAREHOUSE_PASSWORD"),
            ),
            (
                "postgres://dq@db/ops",
                "STORE",
                "postgres://dq@db/ops",
                None,
            ),
            (
                "postgres://dq:${PW}@db/ops",
                "STORE",
                "postgres://dq:${PW}@db/ops",
                None,
            ),
            ("sqlite://dq.db", "STORE", "sqlite://dq.db", None),
            ("memory://", "BROKER", "memory://", None),
            (
                "sqlite://a:b@c.db",
                "x",
                "sqlite://a:${DQ_X_PASSWORD}@c.db",
                Some("DQ_X_PASSWORD"),
            ),
        ] {
            let got = without_password(url, name);
            assert_eq!(got.url, written, "{url}");
            assert_eq!(
                got.secret.as_ref().map(|s| s.variable.as_str()),
                variable,
                "{url}"
            );
            if let Some(secret) = got.secret {
                assert!(!secret.shown.contains("s3cret"), "{}", secret.shown);
            }
        }
    }

    #[test]
    fn the_config_parses_and_keeps_references() {
        let store = without_password("postgres://dq:s3cret@db/ops", "STORE");
        let broker = without_password("memory://", "BROKER");
        let targets = vec![(
            "wh".to_string(),
            without_password("postgres://u:pw@wh/db", "wh"),
        )];
        let text = config_text(&store, &broker, &targets);
        assert!(!text.contains("s3cret") && !text.contains(":pw@"), "{text}");
        let env = |name: &str| match name {
            "DQ_STORE_PASSWORD" => Some("s3cret".to_string()),
            "DQ_WH_PASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        let config = crate::config::Config::parse(&text, "dq.toml", Path::new(""), &env).unwrap();
        assert_eq!(config.store_url, "postgres://dq:s3cret@db/ops");
        assert_eq!(config.targets["wh"].url, "postgres://u:pw@wh/db");
        assert_eq!(config.broker.url, "memory://");
    }

    #[test]
    fn the_manifests_are_valid() {
        for (target, embedded) in [("example", true), ("wh", false)] {
            let text = manifest_text(target, embedded);
            let files = [dq_core::manifest::ManifestFile {
                path: "example.yaml",
                text: &text,
            }];
            let rules = dq_core::manifest::load_manifests(&files, &|name| name == target)
                .unwrap_or_else(|e| panic!("{target}: {e:?}"));
            assert_eq!(rules.len(), 4);
            assert!(rules.iter().all(|r| r.enabled == embedded));
        }
    }
}
