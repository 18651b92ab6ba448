//! Opening a MongoDB target: the URL parsed by the driver (a bad one is a
//! configuration error, shown without its password), bounds put on what
//! the URL leaves open (pool size, server selection and connect timeouts),
//! then one `ping` so an unreachable server fails at connect time with its
//! real cause, as a retriable connection error.

use std::sync::Arc;
use std::time::Duration;

use mongodb::bson::doc;
use mongodb::options::{ClientOptions, ReadPreference, SelectionCriteria};
use mongodb::Client;

use super::{MongoTarget, DEFAULT_DATABASE};
use crate::error::{format_duration, redact_url, TargetError};
use crate::stats::QueryCounters;

/// Checks on one target run a handful of commands at once (a scan, the
/// duplicate and custom pipelines of a plan); more connections would only
/// count against the server's limit. The URL's `maxPoolSize` wins.
const MAX_POOL_SIZE: u32 = 4;
/// How long the driver looks for a suitable server before failing (its
/// own default is 30 s); the URL's `serverSelectionTimeoutMS` wins.
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn is_mongodb_url(url: &str) -> bool {
    url.starts_with("mongodb://") || url.starts_with("mongodb+srv://")
}

pub(crate) async fn connect(name: &str, url: &str) -> Result<MongoTarget, TargetError> {
    let shown = redact_url(url);
    let mut options = parse(name, url).await?;
    options.app_name.get_or_insert_with(|| "dq".to_string());
    options.max_pool_size.get_or_insert(MAX_POOL_SIZE);
    options
        .server_selection_timeout
        .get_or_insert(SERVER_SELECTION_TIMEOUT);
    options.connect_timeout.get_or_insert(CONNECT_TIMEOUT);
    let read_preference = read_preference_name(options.selection_criteria.as_ref());
    let default_database = options
        .default_database
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    let patience = options
        .server_selection_timeout
        .unwrap_or(SERVER_SELECTION_TIMEOUT)
        + CONNECT_TIMEOUT;
    let connect_error = |cause: String| TargetError::Connect {
        target: name.to_string(),
        cause: format!("{shown}: {}", scrub_password(&cause, url)),
    };
    let client = Client::with_options(options).map_err(|e| connect_error(e.to_string()))?;
    let admin = client.database("admin");
    let ping = admin.run_command(doc! { "ping": 1 });
    match tokio::time::timeout(patience, ping).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(connect_error(e.to_string())),
        Err(_) => {
            return Err(connect_error(format!(
                "no answer within {}",
                format_duration(patience)
            )))
        }
    }
    Ok(MongoTarget {
        name: name.to_string(),
        url: shown,
        client,
        default_database,
        read_preference,
        counters: Arc::new(QueryCounters::default()),
    })
}

/// The driver's reading of the URL; `mongodb+srv://` resolves DNS here,
/// so a failed lookup is a connection error, not a bad URL.
async fn parse(name: &str, url: &str) -> Result<ClientOptions, TargetError> {
    let shown = redact_url(url);
    ClientOptions::parse(url).await.map_err(|e| {
        let cause = scrub_password(&e.to_string(), url);
        match *e.kind {
            mongodb::error::ErrorKind::DnsResolve { .. } => TargetError::Connect {
                target: name.to_string(),
                cause: format!("{shown}: {cause}"),
            },
            _ => TargetError::InvalidUrl {
                target: name.to_string(),
                url: shown.clone(),
                cause,
            },
        }
    })
}

/// The URL's `readPreference` as its URI option spells it.
pub(crate) fn read_preference_name(criteria: Option<&SelectionCriteria>) -> String {
    let Some(SelectionCriteria::ReadPreference(preference)) = criteria else {
        return "primary".to_string();
    };
    match preference {
        ReadPreference::Primary => "primary",
        ReadPreference::Secondary { .. } => "secondary",
        ReadPreference::PrimaryPreferred { .. } => "primaryPreferred",
        ReadPreference::SecondaryPreferred { .. } => "secondaryPreferred",
        ReadPreference::Nearest { .. } => "nearest",
        _ => "custom",
    }
    .to_string()
}

/// Driver messages should never quote a password, but one that does must
/// not carry it into a run's error column.
fn scrub_password(cause: &str, url: &str) -> String {
    let password = url
        .find("://")
        .map(|i| &url[i + 3..])
        .and_then(|rest| {
            let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
            authority.rfind('@').map(|at| &authority[..at])
        })
        .and_then(|userinfo| userinfo.split_once(':').map(|(_, p)| p));
    match password {
        Some(p) if !p.is_empty() => cause.replace(p, "***"),
        _ => cause.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_passwords() {
        for (url, mongo) in [
            ("mongodb://localhost/app", true),
            ("mongodb+srv://cluster.example.com/app", true),
            ("postgres://localhost/db", false),
            ("mongo://localhost", false),
        ] {
            assert_eq!(is_mongodb_url(url), mongo, "{url}");
        }
        assert_eq!(
            scrub_password("auth failed: s3cret", "mongodb://dq:s3cret@db/app"),
            "auth failed: ***"
        );
        assert_eq!(scrub_password("refused", "mongodb://db/app"), "refused");
    }
}
