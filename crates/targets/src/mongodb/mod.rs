//! The MongoDB backend: datasets are collections (`<database>.<collection>`,
//! or the collection alone in the URL's database). `connect` opens a
//! bounded pool and pings the server; `expr` turns row predicates and the
//! scope into aggregation expressions and a validated `$match`; `scan`
//! computes a plan's metrics (every aggregate of every rule on the
//! collection fused into ONE `$group`, one pipeline per duplicate column,
//! field presence and types from a bounded `$sample`, JSON Schema counts
//! with `$jsonSchema` or in the worker); `samples` fetches failing
//! documents with `$limit` for failed rules only; `values` converts BSON;
//! `hint` passes a rule's `query_hint` to the `$group` pass and samples.
//!
//! Targets only read: every command is an aggregate, find, count or
//! catalogue command, user pipelines may not `$out`/`$merge`, and filters
//! may not run JavaScript. Each command carries the rule's timeout as
//! `maxTimeMS`, so the server itself stops a runaway pipeline.

mod connect;
mod expr;
mod hint;
mod json_schema;
mod samples;
mod scan;
mod values;

use std::sync::Arc;
use std::time::Duration;

use dq_core::Dataset;
use mongodb::error::{Error, ErrorKind};
use mongodb::{Client, Collection};

use crate::error::{Context, TargetError};
use crate::stats::{QueryCounters, QueryKind, QueryStats};

pub(crate) use connect::{connect, is_mongodb_url};
pub(crate) use samples::fetch_samples;
pub(crate) use scan::compute;

/// The database a dataset without one is looked up in when the URL names
/// none: the mongo shell's default.
const DEFAULT_DATABASE: &str = "test";

/// How long past a command's `maxTimeMS` the client waits before giving up
/// on it: long enough for the server's own interruption to arrive first.
const CLIENT_GRACE: Duration = Duration::from_millis(500);

/// MongoDB's `MaxTimeMSExpired`.
const MAX_TIME_EXPIRED: i32 = 50;
/// `Unauthorized`, `AuthenticationFailed`.
const AUTH_CODES: [i32; 2] = [13, 18];

pub type Document = mongodb::bson::Document;

#[derive(Debug, Clone)]
pub struct MongoTarget {
    name: String,
    /// The URL with its password masked.
    url: String,
    client: Client,
    default_database: String,
    read_preference: String,
    counters: Arc<QueryCounters>,
}

impl MongoTarget {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server URL, password masked.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where reads go (`primary` unless the URL's `readPreference` says
    /// otherwise): `secondaryPreferred` runs checks on replicas.
    pub fn read_preference(&self) -> &str {
        &self.read_preference
    }

    /// The database a dataset without one lives in.
    pub fn default_database(&self) -> &str {
        &self.default_database
    }

    pub fn query_stats(&self) -> QueryStats {
        self.counters.snapshot()
    }

    pub(crate) fn record(&self, kind: QueryKind) {
        self.counters.record(kind);
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        self.client.clone().shutdown().await;
    }

    /// The database and collection a dataset names.
    pub(crate) fn namespace<'d>(&'d self, dataset: &'d Dataset) -> (&'d str, &'d str) {
        let database = dataset
            .schema
            .as_ref()
            .map_or(self.default_database.as_str(), |s| s.as_str());
        (database, dataset.name.as_str())
    }

    /// The `admin` database, for server-wide commands (`ping`, `serverStatus`).
    pub(crate) fn admin(&self) -> mongodb::Database {
        self.client.database("admin")
    }

    pub(crate) fn collection(&self, dataset: &Dataset) -> Collection<Document> {
        let (database, collection) = self.namespace(dataset);
        self.client.database(database).collection(collection)
    }

    fn connect_error(&self, cause: String) -> TargetError {
        TargetError::Connect {
            target: self.name.clone(),
            cause: format!("{}: {cause}", self.url),
        }
    }

    /// Maps a driver error onto what a person can act on: a server that
    /// cannot be reached is a connection error (retriable), `maxTimeMS`
    /// expiring is a timeout, the rest is a query error.
    pub(crate) fn map_error(
        &self,
        e: Error,
        context: Context<'_>,
        timeout: Duration,
    ) -> TargetError {
        match *e.kind {
            ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::Authentication { .. }
            | ErrorKind::DnsResolve { .. }
            | ErrorKind::InvalidTlsConfig { .. }
            | ErrorKind::Shutdown => self.connect_error(e.to_string()),
            ErrorKind::Command(ref command) => match command.code {
                MAX_TIME_EXPIRED => TargetError::Timeout { after: timeout },
                code if AUTH_CODES.contains(&code) => self.connect_error(command.message.clone()),
                26 if matches!(context, Context::Dataset(_)) => match context {
                    Context::Dataset(dataset) => TargetError::DatasetNotFound {
                        dataset: dataset.to_string(),
                        target: self.name.clone(),
                    },
                    Context::CustomSql => TargetError::query(command.message.clone()),
                },
                _ => TargetError::query(format!("{} ({})", command.message, command.code_name)),
            },
            _ => TargetError::query(e.to_string()),
        }
    }
}

/// `timeout` as the client bounds it.
pub(crate) fn client_timeout(timeout: Duration) -> Duration {
    timeout + CLIENT_GRACE
}

/// `work` under `timeout`, as the client bounds it.
pub(crate) async fn bounded<T>(
    timeout: Duration,
    work: impl std::future::Future<Output = Result<T, TargetError>>,
) -> Result<T, TargetError> {
    match tokio::time::timeout(client_timeout(timeout), work).await {
        Ok(result) => result,
        Err(_) => Err(TargetError::Timeout { after: timeout }),
    }
}
